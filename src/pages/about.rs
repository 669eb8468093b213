//! About and contacts (CyberplatMobile manual §17, §19): the app's version, whom this phone
//! works for and how to reach the dealer's support (from the key card), and the gateway's
//! address and whether it answers now — what a cashier reads out when they call for help.

use leptos::prelude::*;

use crate::connection::{Connection, use_connection};
use crate::i18n::*;
use crate::pages::PageFrame;
use crate::session::use_key_session;

/// Where the screen is.
pub const ABOUT_PATH: &str = "/settings/about";

#[component]
pub fn AboutPage() -> impl IntoView {
    let session = use_key_session();
    let connection = use_connection();
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();

    let dealer = move || {
        if !session.is_loaded() {
            return None;
        }
        Some(match session.record() {
            None => {
                view! { <p id="about-no-card" class="hint">{tr!(about_no_card)}</p> }.into_any()
            }
            Some(record) => {
                let card = record.card;
                let contact = card.dealer_contact.clone();
                view! {
                    <dl class="figures">
                        <dt>{tr!(about_dealer)}</dt>
                        <dd id="about-dealer">{card.dealer_name} " (" {card.dealer} ")"</dd>
                        <dt>{tr!(about_point)}</dt>
                        <dd id="about-point">{card.point_name} " (" {card.point} ")"</dd>
                        <dt>{tr!(about_cashier)}</dt>
                        <dd id="about-cashier">{card.cashier}</dd>
                        <dt>{tr!(about_contact)}</dt>
                        <dd id="about-contact">
                            {match contact {
                                Some(contact) => contact.into_any(),
                                None => tr!(about_no_contact).into_any(),
                            }}
                        </dd>
                    </dl>
                }
                .into_any()
            }
        })
    };

    view! {
        <PageFrame title=|l| td_string!(l, about_title)>
            <section class="card">
                <h2>{tr!(app_name)}</h2>
                <p id="about-version">{tr!(about_version)} " " {env!("CARGO_PKG_VERSION")}</p>
            </section>
            <section class="card">
                <h2>{tr!(about_support)}</h2>
                {dealer}
            </section>
            <section class="card">
                <h2>{tr!(about_gateway)}</h2>
                <p id="about-gateway-address" class="wrap">{origin}</p>
                <p
                    id="about-gateway-state"
                    data-state=move || match connection.get() {
                        Connection::Online => "online",
                        Connection::Offline => "offline",
                    }
                >
                    {move || match connection.get() {
                        Connection::Online => tr!(connection_online).into_any(),
                        Connection::Offline => tr!(connection_offline).into_any(),
                    }}
                </p>
            </section>
        </PageFrame>
    }
}
