//! Settings → Commission (manual §13): the point's extra commission per provider — a
//! percentage, the formula (on top of the provider amount, or included in the customer amount),
//! an amount below which a fixed minimum applies and that minimum, an amount above which a fixed
//! maximum applies and that maximum. *Save* keeps them on the phone; *Back* leaves unsaved.

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_protocol::commission::{CommissionError, CommissionSettings, Formula};
use tolem_protocol::providers::ProviderInfo;

use crate::components::Notice;
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::{Explain, with_value};
use crate::money::{
    AmountError, format_percent, format_tenge, parse_percent, parse_tenge, percent_for_input,
    tenge_for_input,
};
use crate::pages::PageFrame;
use crate::providers::use_providers;
use crate::storage::commission;

/// Where the commission settings live.
pub const COMMISSION_PATH: &str = "/settings/commission";

/// The settings' fields as typed (amounts in tenge, the percentage in percent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommissionForm {
    pub percent: String,
    pub formula: Option<Formula>,
    pub min_below: String,
    pub min_fixed: String,
    pub max_above: String,
    pub max_fixed: String,
}

/// A field of the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommissionField {
    Percent,
    MinBelow,
    MinFixed,
    MaxAbove,
    MaxFixed,
}

/// What is wrong with a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommissionProblem {
    Unreadable(AmountError),
    Rule(CommissionError),
}

impl CommissionForm {
    /// The form filled from stored settings.
    pub fn from_settings(settings: &CommissionSettings, locale: Locale) -> CommissionForm {
        let amount = |tiyn: i64| {
            if tiyn == 0 {
                String::new()
            } else {
                tenge_for_input(tiyn, locale)
            }
        };
        CommissionForm {
            percent: percent_for_input(settings.percent_bp, locale),
            formula: Some(settings.formula),
            min_below: amount(settings.min_below_tiyn),
            min_fixed: amount(settings.min_fixed_tiyn),
            max_above: amount(settings.max_above_tiyn),
            max_fixed: amount(settings.max_fixed_tiyn),
        }
    }

    /// The settings, or each field that is wrong with why. An empty field is zero (no
    /// percentage, no threshold).
    pub fn check(&self) -> Result<CommissionSettings, Vec<(CommissionField, CommissionProblem)>> {
        let mut problems = Vec::new();
        let mut read = |field, text: &str, parse: fn(&str) -> Result<i64, AmountError>| {
            if text.trim().is_empty() {
                return 0;
            }
            parse(text).unwrap_or_else(|e| {
                problems.push((field, CommissionProblem::Unreadable(e)));
                0
            })
        };
        let settings = CommissionSettings {
            percent_bp: read(CommissionField::Percent, &self.percent, parse_percent),
            formula: self.formula.unwrap_or(Formula::OnTop),
            min_below_tiyn: read(CommissionField::MinBelow, &self.min_below, parse_tenge),
            min_fixed_tiyn: read(CommissionField::MinFixed, &self.min_fixed, parse_tenge),
            max_above_tiyn: read(CommissionField::MaxAbove, &self.max_above, parse_tenge),
            max_fixed_tiyn: read(CommissionField::MaxFixed, &self.max_fixed, parse_tenge),
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        settings.validate().map_err(|error| {
            let field = match error {
                CommissionError::PercentOutOfRange | CommissionError::Negative => {
                    CommissionField::Percent
                }
                CommissionError::MinimumBelowRate => CommissionField::MinFixed,
                CommissionError::MaximumAboveRate => CommissionField::MaxFixed,
                CommissionError::ThresholdsCrossed => CommissionField::MaxAbove,
            };
            vec![(field, CommissionProblem::Rule(error))]
        })?;
        Ok(settings)
    }
}

/// A one-line summary of settings: `1,5 % сверху; мин. 50,00 ₸ ниже 1 000,00 ₸`.
pub fn summary(settings: &CommissionSettings, locale: Locale) -> String {
    if *settings == CommissionSettings::default() {
        return td_string!(locale, commission_none).to_owned();
    }
    let mut text = format!(
        "{} {}",
        format_percent(settings.percent_bp, locale),
        match settings.formula {
            Formula::OnTop => td_string!(locale, formula_on_top_short),
            Formula::Included => td_string!(locale, formula_included_short),
        }
    );
    if settings.min_below_tiyn > 0 {
        let part = with_value(
            td_string!(locale, commission_summary_min),
            "fixed",
            &format_tenge(settings.min_fixed_tiyn, locale),
        );
        text.push_str("; ");
        text.push_str(&with_value(
            &part,
            "below",
            &format_tenge(settings.min_below_tiyn, locale),
        ));
    }
    if settings.max_above_tiyn > 0 {
        let part = with_value(
            td_string!(locale, commission_summary_max),
            "fixed",
            &format_tenge(settings.max_fixed_tiyn, locale),
        );
        text.push_str("; ");
        text.push_str(&with_value(
            &part,
            "above",
            &format_tenge(settings.max_above_tiyn, locale),
        ));
    }
    text
}

/// The providers, each with its current settings.
#[component]
pub fn CommissionListPage() -> impl IntoView {
    let i18n = use_i18n();
    let providers = use_providers();
    let (settings, set_settings) = signal(None::<Vec<(ProviderInfo, CommissionSettings)>>);
    Effect::new(move |_| {
        let list = providers.list();
        spawn_local(async move {
            let mut all = Vec::with_capacity(list.len());
            for provider in list {
                let settings = commission::load(&provider.code).await;
                all.push((provider, settings));
            }
            set_settings.set(Some(all));
        });
    });
    let content = move || {
        if !providers.has_catalogue() {
            return view! { <p id="commission-no-providers" class="lead">{tr!(providers_empty)}</p> }.into_any();
        }
        let Some(all) = settings.get() else {
            return view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any();
        };
        view! {
            <ul id="commission-providers" class="links">
                {all
                    .into_iter()
                    .map(|(provider, settings): (ProviderInfo, CommissionSettings)| {
                        view! {
                            <li>
                                <a href=format!("{COMMISSION_PATH}/{}", provider.code) id=format!("commission-{}", provider.code)>
                                    <strong>{provider.name.clone()}</strong>
                                    <span class="hint">{move || summary(&settings, i18n.get_locale())}</span>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <PageFrame
            title=|l| td_string!(l, commission_title)
            back="/settings"
            back_label=|l| td_string!(l, back_to_settings)
        >
            <p class="hint">{tr!(commission_hint)}</p>
            {content}
        </PageFrame>
    }
}

/// The settings of one provider.
#[component]
pub fn CommissionPage(
    /// The provider's code, as its address gives it.
    provider: String,
) -> impl IntoView {
    let i18n = use_i18n();
    let providers = use_providers();
    let code = StoredValue::new(provider);
    let code = move || code.get_value();
    let form = RwSignal::new(CommissionForm::default());
    // The form is shown only once the stored settings are in it: a quick cashier on a slow
    // phone must never see what they typed replaced by the stored values arriving late.
    let (loaded, set_loaded) = signal(false);
    let (problems, set_problems) = signal(Vec::<(CommissionField, CommissionProblem)>::new());
    let (saved, set_saved) = signal(None::<bool>);

    Effect::new(move |_| {
        let code = code();
        set_loaded.set(false);
        spawn_local(async move {
            let stored = commission::load(&code).await;
            form.set(CommissionForm::from_settings(
                &stored,
                i18n.get_locale_untracked(),
            ));
            set_loaded.set(true);
        });
    });

    let on_save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_saved.set(None);
        match form.get_untracked().check() {
            Err(found) => set_problems.set(found),
            Ok(settings) => {
                set_problems.set(Vec::new());
                let code = code();
                spawn_local(async move {
                    set_saved.set(Some(commission::save(&code, &settings).await.is_ok()));
                });
            }
        }
    };

    let problem_of = move |field: CommissionField| {
        problems.with(|all| {
            all.iter()
                .find(|(f, _)| *f == field)
                .map(|(_, p)| p.clone())
        })
    };

    let field = move |field: CommissionField,
                      id: &'static str,
                      label: crate::pages::TextKey,
                      get: fn(&CommissionForm) -> &String,
                      set: fn(&mut CommissionForm, String)| {
        let error_id = format!("{id}-error");
        view! {
            <label for=id>{crate::language::text(label)}</label>
            <input
                id=id
                type="text"
                inputmode="decimal"
                autocomplete="off"
                prop:value=move || form.with(|f| get(f).clone())
                on:input=move |ev| form.update(|f| set(f, event_target_value(&ev)))
                aria-invalid=move || problem_of(field).is_some().to_string()
                aria-describedby=error_id.clone()
            />
            <Notice
                id=error_id
                text=Signal::derive(move || problem_of(field).map(|p| p.explain(i18n.get_locale())))
            />
        }
    };

    let formula_choice = move |formula: Formula, id: &'static str, label: crate::pages::TextKey| {
        view! {
            <label class="choice">
                <input
                    id=id
                    type="radio"
                    name="commission-formula"
                    prop:checked=move || form.with(|f| f.formula == Some(formula))
                    on:change=move |_| form.update(|f| f.formula = Some(formula))
                />
                {crate::language::text(label)}
            </label>
        }
    };

    let content = move || {
        let Some(provider) = providers.find(&code()) else {
            if !providers.is_loaded() {
                return view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any();
            }
            return view! { <p id="pay-unknown-provider" class="error">{tr!(pay_unknown_provider)}</p> }.into_any();
        };
        if !loaded.get() {
            return view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any();
        }
        view! {
            <form id="commission-form" class="card form" novalidate on:submit=on_save>
                <h2 id="commission-provider">{provider.name.clone()}</h2>
                {field(CommissionField::Percent, "commission-percent", |l| td_string!(l, commission_percent), |f| &f.percent, |f, v| f.percent = v)}
                <fieldset class="toggle">
                    <legend>{tr!(commission_formula)}</legend>
                    {formula_choice(Formula::OnTop, "commission-formula-on-top", |l| td_string!(l, formula_on_top))}
                    {formula_choice(Formula::Included, "commission-formula-included", |l| td_string!(l, formula_included))}
                </fieldset>
                {field(CommissionField::MinBelow, "commission-min-below", |l| td_string!(l, commission_min_below), |f| &f.min_below, |f, v| f.min_below = v)}
                {field(CommissionField::MinFixed, "commission-min-fixed", |l| td_string!(l, commission_min_fixed), |f| &f.min_fixed, |f, v| f.min_fixed = v)}
                {field(CommissionField::MaxAbove, "commission-max-above", |l| td_string!(l, commission_max_above), |f| &f.max_above, |f, v| f.max_above = v)}
                {field(CommissionField::MaxFixed, "commission-max-fixed", |l| td_string!(l, commission_max_fixed), |f| &f.max_fixed, |f, v| f.max_fixed = v)}
                {move || match saved.get() {
                    Some(true) => Some(view! { <p id="commission-saved" class="result-line" role="status">{tr!(commission_saved)}</p> }.into_any()),
                    Some(false) => Some(view! { <p id="commission-saved" class="error" role="alert">{tr!(error_storage)}</p> }.into_any()),
                    None => None,
                }}
                <div class="actions">
                    <a href=COMMISSION_PATH id="commission-back" class="button">{tr!(back_button)}</a>
                    <button id="commission-save" type="submit" class="primary">{tr!(save_button)}</button>
                </div>
            </form>
        }
        .into_any()
    };

    view! {
        <PageFrame
            title=|l| td_string!(l, commission_title)
            back=COMMISSION_PATH
            back_label=|l| td_string!(l, commission_title)
        >
            {content}
        </PageFrame>
    }
}
