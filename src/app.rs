//! The page frame and its screens: the header with the connection indicator and the update
//! prompt stay on every page; the main menu's sections are addresses — `/pay/<provider>` pays one
//! provider, `/history/<session>` shows one payment and `/history/<session>/receipt` its
//! receipt — and Settings has Commission and Keys below it.

use leptos::prelude::*;

use crate::balance::provide_balance;
use crate::canary::{OutboxLostBanner, provide_canary};
use crate::components::{ClockWarning, Header, UpdatePrompt};
use crate::connection::provide_connection;
use crate::deliveries::provide_deliveries;
use crate::language::{LanguageLoadError, LanguageProvider};
use crate::outbox::provide_outbox;
use crate::pages::{HomePage, LazyScreen, NotFoundPage, Screen, preload_payments};
use crate::providers::provide_providers;
use crate::routing::{self, provide_address};
use crate::service_worker::{controls_page, provide_service_worker};
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
    // The app is built over six browser tasks, none long on a slow phone (issue 14): this one
    // mounts the frame's empty places; the next two set up what every screen reaches (the
    // contexts below, in two halves); then the top bar, the rest of the frame, and the screen.
    // Built in one, V8 compiling each function on its first call, it was one task of 300–700 ms
    // on a 4× slower processor (Lighthouse's blocking time and time to interactive), and a tap
    // waited for all of it. index.html's first paint (`#boot`) stays meanwhile, and style.css
    // hides the app behind it; the boot leaves in the task that builds the screen, so the browser
    // paints the app's bar and screen at once, where the boot's were.
    let built = RwSignal::new(Built::Nothing);
    let owner = Owner::current().expect("the shell runs inside the app's owner");
    // What the contexts' start-up jobs do (reading IndexedDB, asking the gateway) takes a task of
    // its own too, after these (task.rs). The screens find the contexts on this component's
    // owner, whichever task provided them: nothing below it is built before `Built::Header`.
    let set_up = owner.clone();
    spawn_in_own_task(async move {
        set_up.with(|| {
            provide_connection();
            provide_service_worker();
            // Above the screens: the unlocked key and an enrolment in progress outlive page
            // changes.
            provide_key_session();
            // Whether the browser cleared the phone's storage since the last start (issue 13
            // item 5).
            provide_canary();
        });
    });
    spawn_in_own_task(async move {
        owner.with(|| {
            // The catalogue and the balance are kept fresh whatever page is open.
            provide_providers();
            provide_balance();
            // The outbox replays from here, whatever page is open (it needs the connection
            // state).
            provide_outbox();
            // Accepted payments are followed to their provider while a screen shows them.
            provide_deliveries();
        });
    });
    spawn_in_own_task(async move { built.set(Built::Header) });
    spawn_in_own_task(async move { built.set(Built::Frame) });
    spawn_in_own_task(async move {
        if let Some(boot) = document().get_element_by_id("boot") {
            boot.remove();
        }
        built.set(Built::Screen);
        // The payment screens are a chunk (pages/lazy.rs): on a phone the worker already
        // serves, it is loaded from the worker's cache once the screen is up, so *Payments*
        // opens at once. Not on a first visit: the worker is fetching the chunks to precache
        // them, and the page would fetch them a second time over the cashier's slow line.
        if controls_page() {
            preload_payments();
        }
    });
    // The address the screens are built for (it changes only to another address).
    let address = provide_address();
    // A payment screen opened by its address (a reload in the middle of a payment) starts
    // loading its chunk now, beside the start-up, instead of once the screen is built.
    if let Route::Lazy(screen) = route(&address.get_untracked())
        && screen.is_payment()
    {
        preload_payments();
    }
    view! {
        <Show when=move || { built.get() >= Built::Header }>
            <a class="skip" href="#main">{tr!(skip_to_content)}</a>
            <Header />
        </Show>
        <Show when=move || { built.get() >= Built::Frame }>
            <ClockWarning />
            <UpdatePrompt />
            <LanguageLoadError />
            <OutboxLostBanner />
        </Show>
        <main id="main">
            <Show when=move || { built.get() == Built::Screen }>
                {move || route(&address.get()).view()}
            </Show>
        </main>
    }
}

/// What an address shows. The main menu is in the app's module; the other screens are loaded
/// on first use (pages/lazy.rs, issue 14).
enum Route {
    Home,
    Lazy(Screen),
    NotFound,
}

impl Route {
    fn view(self) -> AnyView {
        match self {
            Route::Home => view! { <HomePage /> }.into_any(),
            Route::Lazy(screen) => view! { <LazyScreen screen /> }.into_any(),
            Route::NotFound => view! { <NotFoundPage /> }.into_any(),
        }
    }
}

/// The one place that reads addresses: the screen and the start-up's preload both ask it.
fn route(address: &str) -> Route {
    let segments = routing::segments(address);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let screen = match segments.as_slice() {
        [] => return Route::Home,
        ["pay"] => Screen::Providers,
        ["pay", provider] => Screen::Payment(provider.to_string()),
        ["history"] => Screen::History,
        ["history", session] => Screen::PaymentDetail(session.to_string()),
        ["history", session, "receipt"] => Screen::Receipt(session.to_string()),
        ["message"] => Screen::Message,
        ["shift"] => Screen::Shift,
        ["settings"] => Screen::Settings,
        ["settings", "commission"] => Screen::CommissionList,
        ["settings", "commission", provider] => Screen::Commission(provider.to_string()),
        ["settings", "about"] => Screen::About,
        ["settings", "keys"] => Screen::Keys,
        ["settings", "keys", "card"] => Screen::KeyCard,
        ["settings", "keys", "generate"] => Screen::GenerateKey,
        ["settings", "keys", "register"] => Screen::RegisterKey,
        ["settings", "keys", "view"] => Screen::ViewKey,
        ["settings", "keys", "delete"] => Screen::DeleteKey,
        ["settings", "keys", "passphrase"] => Screen::ChangePassphrase,
        _ => return Route::NotFound,
    };
    Route::Lazy(screen)
}

/// How much of the app is built, in the order [`Shell`] builds it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Built {
    /// The contexts are being set up.
    Nothing,
    /// The top bar: the brand, the outbox and bills summaries, connection and language.
    Header,
    /// The rest of the frame: warnings and prompts above the screen.
    Frame,
    Screen,
}
