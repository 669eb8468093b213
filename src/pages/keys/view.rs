//! Viewing the key (manual 9.4): the public key, then `=` and its fingerprint in big grouped
//! digits for reading aloud, and a QR code of the same text. The dealer certifies the key only
//! after comparing it with the one in the console. A signed request to the gateway tells the
//! phone whether that has happened.

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::messages::{KeyState, Step};

use crate::api::ApiError;
use crate::components::{QrCode, UnlockForm};
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::pages::PageFrame;
use crate::pages::keys::{KEYS_PATH, back_to_keys, loading, progress, state_name, state_text};
use crate::session::{KeySession, SignedStepError, use_key_session};

/// What the last check with the gateway found.
#[derive(Clone, Debug)]
enum Check {
    NotAsked,
    Asking,
    /// The gateway's verdict on the key (what the state line now shows).
    Answered(Option<KeyState>),
    Failed(SignedStepError),
}

/// Asks the gateway with a signed request that moves no money (the balance): a certified key is
/// answered, any other key gets the code that says where it stands.
async fn check_with_gateway(session: KeySession) -> Check {
    let verdict = match session.send(Step::Balance).await {
        Ok(_) => Some(KeyState::Certified),
        Err(SignedStepError::Api(ApiError::Rejected(code, _))) => match code {
            ResultCode::KeyNotCertified => Some(KeyState::Pending),
            ResultCode::KeyRevoked => Some(KeyState::Revoked),
            ResultCode::KeyNotRegistered => None,
            _ => return Check::Failed(SignedStepError::Api(ApiError::Rejected(code, None))),
        },
        Err(error) => return Check::Failed(error),
    };
    session.set_state(verdict).await;
    Check::Answered(verdict)
}

#[component]
pub fn ViewKeyPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let (check, set_check) = signal(Check::NotAsked);

    let on_check = move |_| {
        if matches!(check.get_untracked(), Check::Asking) {
            return;
        }
        set_check.set(Check::Asking);
        spawn_local(async move { set_check.set(check_with_gateway(session).await) });
    };

    let check_result = move || match check.get() {
        Check::NotAsked => None,
        Check::Asking => Some(progress("key-check-progress", tr!(check_working)).into_any()),
        Check::Answered(state) => Some(
            view! {
                <p id="key-check-result" class="result-line" data-key-state=state_name(state)>
                    {move || {
                        if state == Some(KeyState::Certified) {
                            td_string!(i18n.get_locale(), check_certified)
                        } else {
                            state_text(i18n.get_locale(), state)
                        }
                    }}
                </p>
            }
            .into_any(),
        ),
        Check::Failed(error) => Some(
            view! {
                <p id="key-check-result" class="error" role="alert" data-key-state="unknown">
                    {move || error.explain(i18n.get_locale())}
                </p>
            }
            .into_any(),
        ),
    };

    let content = move || {
        if !session.is_loaded() {
            return loading().into_any();
        }
        let Some(record) = session.record() else {
            return view! {
                <p id="view-no-key" class="error">{tr!(no_key)}</p>
                <nav class="actions">
                    <a href="/settings/keys/card" class="button primary">
                        {tr!(keys_get_card)}
                    </a>
                </nav>
            }
            .into_any();
        };
        let key = record.public_key;
        let shown = key.with_fingerprint();
        let fingerprint = key.fingerprint().to_string();
        // Groups as separate boxes for the eye, separated by plain spaces so the text itself
        // (copied, or read by a screen reader or a test) is exactly the fingerprint.
        let groups = fingerprint
            .split(' ')
            .enumerate()
            .map(|(i, group)| {
                view! {
                    {(i > 0).then_some(" ")}
                    <span class="group">{group.to_owned()}</span>
                }
            })
            .collect_view();
        let state = record.state;
        view! {
            <section id="key-view" class="card key-view" data-with-fingerprint=shown.clone()>
                <p class="hint">{tr!(view_hint)}</p>
                <h2>{tr!(public_key_label)}</h2>
                <p id="key-public" class="public-key">
                    <code>{key.to_string()}</code>
                    <span class="equals" aria-hidden="true">"="</span>
                </p>
                <h2>{tr!(fingerprint_label)}</h2>
                <p id="key-fingerprint" class="fingerprint" data-fingerprint=fingerprint.clone()>
                    {groups}
                </p>
                <QrCode
                    id="key-qr"
                    text=shown.clone()
                    label=|l| td_string!(l, qr_label)
                />
                <h2>{tr!(key_state_label)}</h2>
                <p id="key-state" data-key-state=state_name(state)>
                    {move || state_text(i18n.get_locale(), state)}
                </p>
            </section>
        }
        .into_any()
    };

    view! {
        <PageFrame
            title=|l| td_string!(l, view_title)
            back=KEYS_PATH
            back_label=back_to_keys
        >
            {content}
            <Show when=move || session.is_loaded() && session.record().is_some()>
                <Show when=move || session.is_unlocked() fallback=UnlockForm>
                    <section class="card">
                        {check_result}
                        <button id="key-check" type="button" on:click=on_check>
                            {tr!(key_check_button)}
                        </button>
                    </section>
                </Show>
            </Show>
        </PageFrame>
    }
}
