//! The cashier's shift (issue 16): open it, close it, and see its totals — per state, per
//! provider, the cash to hand over, what still waits — then the last reports kept on the phone
//! ([`tolem_outbox::shifts::SHIFTS_KEEP`]). Closing signs the report with the point key; it
//! waits in the outbox and goes to the gateway like a letter, now or when the network returns.
//!
//! Opening needs no key (it only notes the time); closing does, so a locked phone shows the
//! unlock form beside the button.

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_outbox::lock::{self, LockError, Wait};
use tolem_outbox::shifts::{self, OpenShift, ShiftRecord};
use tolem_outbox::store::{self, StoreError};
use tolem_outbox::{changes, shift};
use tolem_protocol::ids::SessionId;
use tolem_protocol::messages::KeyCard;
use tolem_protocol::shift::{Figures, ShiftReport, ShiftState};

use crate::components::{StateBadge, UnlockForm, local_time, money};
use crate::i18n::*;
use crate::language::text;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::outbox::use_outbox;
use crate::pages::{PageFrame, TextKey};
use crate::session::use_key_session;

/// Where the page's path is.
pub const SHIFT_PATH: &str = "/shift";

/// What the phone knows of the shift.
#[derive(Clone, Debug, PartialEq)]
enum Now {
    /// Not read from the phone's storage yet.
    Loading,
    Closed,
    Open(OpenShift),
}

/// The label of a report line's state.
fn state_text(state: ShiftState) -> TextKey {
    match state {
        ShiftState::Accepted => |l| td_string!(l, state_accepted),
        ShiftState::Card => |l| td_string!(l, state_paid_by_card),
        ShiftState::Refunded => |l| td_string!(l, shift_state_refunded),
        ShiftState::Rejected => |l| td_string!(l, state_rejected),
        ShiftState::Deferred => |l| td_string!(l, state_deferred),
        ShiftState::Held => |l| td_string!(l, state_held),
        ShiftState::Unknown => |l| td_string!(l, state_unknown),
        ShiftState::AwaitingCard => |l| td_string!(l, state_awaiting_card),
        ShiftState::Unpaid => |l| td_string!(l, shift_state_unpaid),
    }
}

/// `2 · 300,00 ₸`: how many and how much.
fn figures(f: Figures) -> impl IntoView {
    view! { {f.count} " · " {money(f.sum_tiyn)} }
}

/// A report's figures: the cash to hand over and what waits first, then each state and provider.
#[component]
fn Totals(report: ShiftReport) -> impl IntoView {
    let total = report.total();
    view! {
        <dl class="figures shift-totals">
            <dt>{tr!(shift_cash)}</dt>
            <dd class="number shift-cash" data-tiyn=report.cash_tiyn>{money(report.cash_tiyn)}</dd>
            <dt>{tr!(shift_waiting)}</dt>
            <dd class="number shift-waiting" data-count=report.waiting.count data-tiyn=report.waiting.sum_tiyn>
                {figures(report.waiting)}
            </dd>
            <dt>{tr!(shift_total)}</dt>
            <dd class="number shift-total">{figures(total)}</dd>
        </dl>
        <h3>{tr!(shift_by_state)}</h3>
        <dl class="figures shift-states">
            {report
                .states
                .iter()
                .map(|line| view! {
                    <dt>{text(state_text(line.state))}</dt>
                    <dd class="number" data-state=line.state.name()>{figures(line.figures)}</dd>
                })
                .collect_view()}
        </dl>
        {(!report.providers.is_empty()).then(|| view! {
            <h3>{tr!(shift_by_provider)}</h3>
            <dl class="figures shift-providers">
                {report
                    .providers
                    .iter()
                    .map(|line| view! {
                        <dt>{line.provider.clone()}</dt>
                        <dd class="number" data-provider=line.provider.clone()>{figures(line.figures)}</dd>
                    })
                    .collect_view()}
            </dl>
        })}
    }
}

/// Sends a stored report under the replay lock (waiting for a replayer at work; if the turn
/// does not come, the report is left for the replay).
async fn send_stored(session: &SessionId, card: &KeyCard) -> Result<ShiftRecord, StoreError> {
    match lock::with_replay_lock(Wait::Queue, |_held| shifts::settle(session, card)).await {
        Ok(sent) => sent,
        Err(LockError::Storage(error)) => Err(error.into()),
        Err(LockError::Busy) => shifts::get(session).await?.ok_or(StoreError::NotFound),
    }
}

#[component]
pub fn ShiftPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let outbox = use_outbox();
    let (now, set_now) = signal(Now::Loading);
    let reports = RwSignal::new(Vec::<ShiftRecord>::new());
    let (busy, set_busy) = signal(false);
    let (problem, set_problem) = signal(None::<String>);
    // The report just closed: shown open at the top.
    let (closed, set_closed) = signal(None::<SessionId>);

    let reload = move || {
        spawn_local(async move {
            match shifts::open_shift().await {
                Ok(Some(open)) => set_now.set(Now::Open(open)),
                Ok(None) => set_now.set(Now::Closed),
                Err(error) => set_problem.set(Some(error.explain(i18n.get_locale_untracked()))),
            }
            if let Ok(all) = shifts::all().await {
                reports.set(all);
            }
        })
    };
    reload();
    let subscription = changes::subscribe(move |_| reload());
    StoredValue::new_local(subscription);

    let open = move |_| {
        set_busy.set(true);
        spawn_local(async move {
            match shifts::open(tolem_outbox::clock::now_ms()).await {
                Ok(open) => {
                    set_now.set(Now::Open(open));
                    // The shift is open now: whatever went wrong before is no longer the news.
                    set_problem.set(None);
                }
                Err(error) => set_problem.set(Some(error.explain(i18n.get_locale_untracked()))),
            }
            set_busy.set(false);
        });
    };

    let close = move |_| {
        let Some(card) = session.record_untracked().map(|r| r.card) else {
            return;
        };
        let Now::Open(open) = now.get_untracked() else {
            return;
        };
        let random = match crate::crypto::random_bytes::<8>() {
            Ok(random) => random,
            Err(error) => {
                set_problem.set(Some(error.explain(i18n.get_locale_untracked())));
                return;
            }
        };
        set_busy.set(true);
        set_problem.set(None);
        spawn_local(async move {
            let locale = i18n.get_locale_untracked();
            let payments = match store::history().await {
                Ok(payments) => payments,
                Err(error) => {
                    set_problem.set(Some(error.explain(locale)));
                    set_busy.set(false);
                    return;
                }
            };
            let closed_at = tolem_outbox::clock::now_ms().max(open.opened_at_ms + 1);
            let report = shift::totals(&payments, open.opened_at_ms, closed_at);
            let signed =
                session.with_key(|key| shifts::sign(report, &card, key, closed_at, random));
            let record = match signed {
                // Locked meanwhile: the unlock form is on the page.
                None => {
                    set_busy.set(false);
                    return;
                }
                Some(Err(error)) => {
                    set_problem.set(Some(error.explain(locale)));
                    set_busy.set(false);
                    return;
                }
                Some(Ok(record)) => record,
            };
            if let Err(error) = shifts::save_closed(&record).await {
                set_problem.set(Some(error.explain(locale)));
                set_busy.set(false);
                return;
            }
            set_now.set(Now::Closed);
            set_closed.set(Some(record.session.clone()));
            set_busy.set(false);
            let sent = send_stored(&record.session, &card).await.unwrap_or(record);
            if !sent.state.is_final() {
                outbox.kick();
            }
            reload();
        });
    };

    let controls = move || {
        match now.get() {
        Now::Loading => view! {
            <p id="shift-loading" class="progress" role="status">{tr!(shift_loading)}</p>
        }
        .into_any(),
        Now::Closed => view! {
            <section class="card">
                <p id="shift-state" data-state="closed">{tr!(shift_none_open)}</p>
                <div class="actions">
                    <button id="shift-open" type="button" class="primary" disabled=busy on:click=open>
                        {tr!(shift_open)}
                    </button>
                </div>
            </section>
        }
        .into_any(),
        Now::Open(open) => view! {
            <section class="card">
                <p id="shift-state" data-state="open" data-opened=open.opened_at_ms>
                    {tr!(shift_open_since)} " " <strong>{local_time(open.opened_at_ms)}</strong>
                </p>
                <div class="actions">
                    <button
                        id="shift-close"
                        type="button"
                        class="primary"
                        disabled=move || busy.get() || !session.is_unlocked()
                        on:click=close
                    >
                        {tr!(shift_close)}
                    </button>
                </div>
            </section>
            <Show when=move || session.record().is_some() && !session.is_unlocked()>
                <UnlockForm />
            </Show>
            <Show when=move || session.is_loaded() && session.record().is_none()>
                <p id="shift-no-key" class="error" role="alert">{tr!(pay_no_key)}</p>
            </Show>
        }
        .into_any(),
    }
    };

    let list = move || {
        let all = reports.get();
        let just_closed = closed.get();
        (!all.is_empty()).then(|| {
            view! {
                <section class="card">
                    <h2>{tr!(shift_reports)}</h2>
                    <ul id="shift-list" class="shift-reports">
                        {all
                            .into_iter()
                            .map(|record| {
                                let is_new = just_closed.as_ref() == Some(&record.session);
                                let report = record.report.clone();
                                view! {
                                    <li
                                        class="shift-report"
                                        data-session=record.session.to_string()
                                        data-state=record.state.name()
                                    >
                                        <details open=is_new>
                                            <summary>
                                                <StateBadge state=record.state />
                                                " " {local_time(report.opened_at_ms)} " — "
                                                {local_time(report.closed_at_ms)}
                                            </summary>
                                            <Totals report=report />
                                        </details>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </section>
            }
        })
    };

    view! {
        <PageFrame title=|l| td_string!(l, shift_title)>
            <p class="hint">{tr!(shift_intro)}</p>
            {controls}
            {move || problem.get().map(|why| view! {
                <p id="shift-error" class="error" role="alert">{why}</p>
            })}
            {list}
        </PageFrame>
    }
}
