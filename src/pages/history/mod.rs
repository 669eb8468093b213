//! History & balance (manual §12.2, §14, §15): the dealer's balance with the point's limits, and
//! the payments on this phone, newest first, filterable by provider, each with its state — kept
//! live as payments change here, in another tab or in the service worker. One module per screen:
//! this list, a payment's page (`detail`) and its receipt (`receipt`, drawn as a picture by
//! `receipt_image`).

mod balance;
mod detail;
mod receipt;
mod receipt_image;

pub use detail::{PaymentDetailPage, failure_text, mail_text};
pub use receipt::{
    Issuer, ReceiptPage, Shared, document_lines, issuer, receipt_lines, receipt_text, share,
};

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_outbox::record::PaymentRecord;
use tolem_outbox::store;

use crate::components::{DeliveryNote, StateBadge, delivery_name, local_time, money};
use crate::deliveries::use_deliveries;
use crate::format::account_guess;
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::pages::PageFrame;
use crate::payments::on_payment_change;
use balance::BalanceCard;

/// Where the page of a payment lives.
pub fn payment_path(session: &str) -> String {
    format!("/history/{session}")
}

/// The providers that appear in `records`, by code, with the name each was paid under, in
/// order of first appearance.
pub fn providers_in(records: &[PaymentRecord]) -> Vec<(String, String)> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for record in records {
        if !seen
            .iter()
            .any(|(code, _)| *code == record.payment.provider)
        {
            seen.push((
                record.payment.provider.clone(),
                record.payment.provider_name.clone(),
            ));
        }
    }
    seen
}

#[component]
pub fn HistoryPage() -> impl IntoView {
    let i18n = use_i18n();
    let records = RwSignal::new(Vec::<PaymentRecord>::new());
    let (loaded, set_loaded) = signal(false);
    let (error, set_error) = signal(None::<store::StoreError>);
    let (filter, set_filter) = signal(String::new());

    let reload = move || {
        spawn_local(async move {
            match store::history().await {
                Ok(list) => {
                    records.set(list);
                    set_error.set(None);
                }
                Err(e) => set_error.set(Some(e)),
            }
            set_loaded.set(true);
        })
    };
    reload();
    on_payment_change(reload);
    // Accepted payments on their way to the provider are asked about while the list is open.
    use_deliveries().watch();

    let shown = move || {
        let filter = filter.get();
        records.with(|all| {
            all.iter()
                .filter(|r| filter.is_empty() || r.payment.provider == filter)
                .cloned()
                .collect::<Vec<_>>()
        })
    };

    let row = move |record: PaymentRecord| {
        let session = record.session().to_string();
        let state = record.state;
        let delivery = record.delivery;
        let delivery_state = delivery.as_ref().map(|d| delivery_name(d.state));
        let payment = record.payment;
        let by_card = payment.is_bill();
        view! {
            <li
                class="payment"
                data-session=session.clone()
                data-state=state.name()
                data-method=by_card.then_some("card")
                data-provider=payment.provider.clone()
                data-delivery=delivery_state
                data-code=match state {
                    tolem_outbox::State::Rejected(code) => code.number().to_string(),
                    _ => String::new(),
                }
            >
                <a href=payment_path(&session)>
                    <span class="payment-line">
                        <StateBadge state=state with_reason=true by_card=by_card />
                        <span class="payment-amount">
                            {money(payment.customer_amount_tiyn)}
                        </span>
                    </span>
                    <span class="payment-line muted">
                        <span>{payment.provider_name.clone()} " · " {account_guess(&payment.account)}</span>
                        <span>{local_time(payment.created_at_ms)}</span>
                    </span>
                    {delivery.map(|delivery| view! {
                        <DeliveryNote delivery customer_tiyn=payment.customer_amount_tiyn brief=true />
                    })}
                </a>
            </li>
        }
    };

    let list = move || {
        if !loaded.get() {
            return view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any();
        }
        if let Some(e) = error.get() {
            return view! {
                <p id="history-error" class="error" role="alert">{move || e.explain(i18n.get_locale())}</p>
            }
            .into_any();
        }
        let shown = shown();
        if shown.is_empty() {
            return view! { <p id="history-empty" class="lead">{tr!(history_empty)}</p> }
                .into_any();
        }
        view! {
            <ul id="history-list" class="payments">
                {shown.into_iter().map(row).collect_view()}
            </ul>
        }
        .into_any()
    };

    view! {
        <PageFrame title=|l| td_string!(l, history_title)>
            <BalanceCard />
            <section class="card">
                <h2>{tr!(history_payments)}</h2>
                <p class="hint">{tr!(history_hint)}</p>
                <label for="history-filter" class="filter-label">{tr!(history_filter_label)}</label>
                <select
                    id="history-filter"
                    class="wide"
                    on:change=move |ev| set_filter.set(event_target_value(&ev))
                    prop:value=filter
                >
                    <option value="">{tr!(history_filter_all)}</option>
                    {move || {
                        records
                            .with(|all| providers_in(all))
                            .into_iter()
                            .map(|(code, name)| {
                                // Options come and go as payments load: each says itself
                                // whether it is the chosen one.
                                let chosen = filter.get_untracked() == code;
                                view! { <option value=code selected=chosen>{name}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </section>
            {list}
        </PageFrame>
    }
}
