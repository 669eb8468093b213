//! The page frame and router: the header with the connection indicator and the update prompt
//! stay on every page; the main menu's four sections are routes — `/pay/<provider>` pays one
//! provider, `/history/<session>` shows one payment and `/history/<session>/receipt` its
//! receipt — and Settings has Commission and Keys below it.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::balance::provide_balance;
use crate::canary::{OutboxLostBanner, provide_canary};
use crate::components::{ClockWarning, Header, UpdatePrompt};
use crate::connection::provide_connection;
use crate::deliveries::provide_deliveries;
use crate::language::LanguageProvider;
use crate::outbox::provide_outbox;
use crate::pages::{HomePage, LazyScreen, NotFoundPage, PaymentPage, ProvidersPage, Screen};
use crate::providers::provide_providers;
use crate::service_worker::provide_service_worker;
use crate::session::provide_key_session;
use crate::task::spawn_in_own_task;

/// The whole cashier app.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <LanguageProvider>
            <Shell />
        </LanguageProvider>
    }
}

/// Everything inside the language context, so every string below can be translated.
#[component]
fn Shell() -> impl IntoView {
    // The app is built over three browser tasks (the providers below, then the frame, then the
    // screen): built in one, V8 compiling each function on its first call, it was one task of
    // 300–700 ms on a 4× slower processor (issue 14, Lighthouse's blocking time), and a tap
    // waited for all of it. index.html's first paint (`#boot`) stays meanwhile, and style.css
    // hides the app behind it; the boot leaves in the task that builds the screen, so the browser
    // paints the app's bar and screen at once, where the boot's were.
    let built = RwSignal::new(Built::Providers);
    spawn_in_own_task(async move { built.set(Built::Frame) });
    spawn_in_own_task(async move {
        if let Some(boot) = document().get_element_by_id("boot") {
            boot.remove();
        }
        built.set(Built::Screen);
    });
    // The start-up jobs the providers spawn (reading IndexedDB, asking the gateway) each take a
    // task of their own too, after these two (task.rs).
    provide_connection();
    provide_service_worker();
    // Above the router: the unlocked key and an enrolment in progress outlive page changes.
    provide_key_session();
    // Whether the browser cleared the phone's storage since the last start (issue 13 item 5).
    provide_canary();
    // Above the router too: the catalogue and the balance are kept fresh whatever page is open.
    provide_providers();
    provide_balance();
    // The outbox replays from here, whatever page is open (it needs the connection state).
    provide_outbox();
    // Accepted payments are followed to their provider while a screen shows them.
    provide_deliveries();
    view! {
        <Router>
            <Show when=move || { built.get() >= Built::Frame }>
                <a class="skip" href="#main">{tr!(skip_to_content)}</a>
                <Header />
                <ClockWarning />
                <UpdatePrompt />
                <OutboxLostBanner />
            </Show>
            <main id="main">
                // The main menu, the providers and the payment are in the app's module; the other
                // screens are loaded on first use (pages/lazy.rs, issue 14).
                <Show when=move || { built.get() == Built::Screen }>
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=HomePage />
                    <Route path=path!("/pay") view=ProvidersPage />
                    <Route path=path!("/pay/:provider") view=PaymentPage />
                    <Route path=path!("/history") view=|| view! { <LazyScreen screen=Screen::History /> } />
                    <Route path=path!("/history/:session") view=|| view! { <LazyScreen screen=Screen::PaymentDetail /> } />
                    <Route path=path!("/history/:session/receipt") view=|| view! { <LazyScreen screen=Screen::Receipt /> } />
                    <Route path=path!("/message") view=|| view! { <LazyScreen screen=Screen::Message /> } />
                    <Route path=path!("/shift") view=|| view! { <LazyScreen screen=Screen::Shift /> } />
                    <Route path=path!("/settings") view=|| view! { <LazyScreen screen=Screen::Settings /> } />
                    <Route path=path!("/settings/commission") view=|| view! { <LazyScreen screen=Screen::CommissionList /> } />
                    <Route path=path!("/settings/commission/:provider") view=|| view! { <LazyScreen screen=Screen::Commission /> } />
                    <Route path=path!("/settings/about") view=|| view! { <LazyScreen screen=Screen::About /> } />
                    <Route path=path!("/settings/keys") view=|| view! { <LazyScreen screen=Screen::Keys /> } />
                    <Route path=path!("/settings/keys/card") view=|| view! { <LazyScreen screen=Screen::KeyCard /> } />
                    <Route path=path!("/settings/keys/generate") view=|| view! { <LazyScreen screen=Screen::GenerateKey /> } />
                    <Route path=path!("/settings/keys/register") view=|| view! { <LazyScreen screen=Screen::RegisterKey /> } />
                    <Route path=path!("/settings/keys/view") view=|| view! { <LazyScreen screen=Screen::ViewKey /> } />
                    <Route path=path!("/settings/keys/delete") view=|| view! { <LazyScreen screen=Screen::DeleteKey /> } />
                    <Route path=path!("/settings/keys/passphrase") view=|| view! { <LazyScreen screen=Screen::ChangePassphrase /> } />
                </Routes>
                </Show>
            </main>
        </Router>
    }
}

/// How much of the app is built, in the order [`Shell`] builds it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Built {
    Providers,
    Frame,
    Screen,
}
