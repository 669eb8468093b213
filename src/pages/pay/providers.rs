//! The provider list (manual §10–11, step 2): groups — mobile, internet, utilities — and a
//! search box; a listbox that works with the arrow keys (one option in the tab order, focus
//! moving with Up/Down/Home/End, Enter opening it) as well as with a tap. The list comes from
//! the catalogue kept on the phone, so it works offline once it has been downloaded.

use leptos::prelude::*;
use tolem_protocol::account::AccountRule;
use tolem_protocol::providers::{ProviderGroup, ProviderInfo};
use wasm_bindgen::JsCast;

use crate::components::Notice;
use crate::format::local_date_time;
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::pages::PageFrame;
use crate::providers::use_providers;
use crate::routing::use_address;

/// The groups in the order the list shows them.
const GROUPS: [ProviderGroup; 3] = [
    ProviderGroup::Mobile,
    ProviderGroup::Internet,
    ProviderGroup::Utilities,
];

fn group_name(group: ProviderGroup) -> &'static str {
    match group {
        ProviderGroup::Mobile => "mobile",
        ProviderGroup::Internet => "internet",
        ProviderGroup::Utilities => "utilities",
    }
}

fn group_title(locale: Locale, group: ProviderGroup) -> &'static str {
    match group {
        ProviderGroup::Mobile => td_string!(locale, group_mobile),
        ProviderGroup::Internet => td_string!(locale, group_internet),
        ProviderGroup::Utilities => td_string!(locale, group_utilities),
    }
}

/// Whether `provider` matches what was typed in the search box: its name, label or code, or —
/// for digits — the start of its numbers (typing `701` finds the operators of +7 701).
pub fn matches(provider: &ProviderInfo, query: &str) -> bool {
    let query = query.trim().to_lowercase();
    if query.is_empty() {
        return true;
    }
    let in_text = [&provider.name, &provider.short_label, &provider.code]
        .iter()
        .any(|text| text.to_lowercase().contains(&query));
    let digits: String = query.chars().filter(char::is_ascii_digit).collect();
    let by_prefix = !digits.is_empty()
        && digits.len() == query.chars().filter(|c| !c.is_whitespace()).count()
        && provider
            .account_rule
            .parse::<AccountRule>()
            .is_ok_and(|rule| {
                rule.prefixes
                    .iter()
                    .any(|p| p.starts_with(&digits) || digits.starts_with(p.as_str()))
            });
    in_text || by_prefix
}

/// Where the payment form of `code` lives.
pub fn payment_path(code: &str) -> String {
    format!("/pay/{code}")
}

fn focus_option(code: &str) {
    if let Some(element) = document().get_element_by_id(&format!("provider-{code}")) {
        let _ = element.unchecked_into::<web_sys::HtmlElement>().focus();
    }
}

#[component]
pub fn ProvidersPage() -> impl IntoView {
    let i18n = use_i18n();
    let providers = use_providers();
    providers.refresh();
    let address = use_address();
    let (query, set_query) = signal(String::new());
    // The option in the tab order (an index into `shown`).
    let (active, set_active) = signal(0_usize);

    // Group by group, in the catalogue's order within each: the order the arrow keys follow.
    let shown = Memo::new(move |_| {
        let query = query.get();
        let list = providers.list();
        GROUPS
            .iter()
            .flat_map(|group| {
                list.iter()
                    .filter(|p| p.group == *group && matches(p, &query))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    });
    Effect::new(move |_| {
        // A new search starts at the first match.
        query.track();
        set_active.set(0);
    });

    let open = move |code: &str| address.open(&payment_path(code));
    let open_active = move || {
        if let Some(provider) = shown.with_untracked(|s| s.get(active.get_untracked()).cloned()) {
            open(&provider.code);
        }
    };
    let move_to = move |index: usize| {
        let Some(code) = shown.with_untracked(|s| s.get(index).map(|p| p.code.clone())) else {
            return;
        };
        set_active.set(index);
        focus_option(&code);
    };
    let on_list_key = move |ev: leptos::ev::KeyboardEvent| {
        let last = shown.with_untracked(Vec::len).saturating_sub(1);
        let at = active.get_untracked();
        match ev.key().as_str() {
            "ArrowDown" => move_to((at + 1).min(last)),
            "ArrowUp" => move_to(at.saturating_sub(1)),
            "Home" => move_to(0),
            "End" => move_to(last),
            "Enter" | " " => open_active(),
            _ => return,
        }
        ev.prevent_default();
    };
    let on_search_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "ArrowDown" => {
            ev.prevent_default();
            move_to(0);
        }
        "Enter" => {
            ev.prevent_default();
            open_active();
        }
        _ => {}
    };

    let option = move |provider: ProviderInfo, index: usize| {
        let code = provider.code.clone();
        let is_active = move || active.get() == index;
        view! {
            <li
                role="option"
                id=format!("provider-{}", provider.code)
                class="provider"
                data-provider=provider.code.clone()
                tabindex=move || if is_active() { "0" } else { "-1" }
                aria-selected=move || if is_active() { "true" } else { "false" }
                on:focus=move |_| set_active.set(index)
                on:click=move |_| open(&code)
            >
                <span class="provider-label" aria-hidden="true">{provider.short_label.clone()}</span>
                <span class="provider-name">{provider.name.clone()}</span>
            </li>
        }
    };

    let list = move || {
        let all = shown.get();
        if all.is_empty() {
            return view! {
                <p id="providers-none-found" class="lead" role="status">{tr!(providers_none_found)}</p>
            }
            .into_any();
        }
        let mut index = 0;
        let groups = GROUPS
            .iter()
            .filter_map(|group| {
                let members: Vec<(ProviderInfo, usize)> = all
                    .iter()
                    .filter(|p| p.group == *group)
                    .map(|p| {
                        index += 1;
                        (p.clone(), index - 1)
                    })
                    .collect();
                if members.is_empty() {
                    return None;
                }
                let group = *group;
                let title_id = format!("group-{}", group_name(group));
                Some(view! {
                    <li role="presentation" class="provider-group">
                        <h2 id=title_id.clone() class="group-title">
                            {move || group_title(i18n.get_locale(), group)}
                        </h2>
                        <ul role="group" aria-labelledby=title_id>
                            {members.into_iter().map(|(p, i)| option(p, i)).collect_view()}
                        </ul>
                    </li>
                })
            })
            .collect_view();
        view! {
            <ul
                id="provider-list"
                class="provider-list"
                role="listbox"
                aria-label=tr!(providers_list_label)
                on:keydown=on_list_key
            >
                {groups}
            </ul>
        }
        .into_any()
    };

    let content = move || {
        if !providers.is_loaded() {
            return view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any();
        }
        if !providers.has_catalogue() {
            if providers.is_refreshing() {
                return view! {
                    <p id="providers-loading" class="progress" role="status">
                        <span class="spinner" aria-hidden="true"></span>
                        {tr!(providers_downloading)}
                    </p>
                }
                .into_any();
            }
            return view! {
                <section id="providers-empty" class="card result bad" role="alert">
                    <p><strong>{tr!(providers_empty)}</strong></p>
                    <Notice
                        id="providers-error"
                        class="hint"
                        text=Signal::derive(move || providers.error().map(|e| e.explain(i18n.get_locale())))
                    />
                    <button id="providers-retry" type="button" on:click=move |_| providers.refresh()>
                        {tr!(retry_button)}
                    </button>
                </section>
            }
            .into_any();
        }
        view! {
            <div class="search">
                <label for="provider-search" class="visually-hidden">{tr!(providers_search_label)}</label>
                <input
                    id="provider-search"
                    type="search"
                    autocomplete="off"
                    placeholder=tr!(providers_search_placeholder)
                    aria-controls="provider-list"
                    bind:value=(query, set_query)
                    on:keydown=on_search_key
                />
            </div>
            {move || {
                (providers.error().is_some())
                    .then(|| {
                        let checked = providers.checked_at_ms();
                        view! {
                            <p id="providers-stale" class="hint" role="status">
                                {tr!(providers_saved_copy)}
                                {checked.map(|ms| format!(" ({})", local_date_time(ms, i18n.get_locale())))}
                            </p>
                        }
                    })
            }}
            {list}
        }
        .into_any()
    };

    view! {
        <PageFrame title=|l| td_string!(l, payments_title)>
            {content}
        </PageFrame>
    }
}
