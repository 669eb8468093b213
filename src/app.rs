//! The page frame and router: the header with the connection indicator and the update prompt
//! stay on every page; the main menu's four sections are routes.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::{Header, UpdatePrompt};
use crate::connection::provide_connection;
use crate::i18n::*;
use crate::language::LanguageProvider;
use crate::pages::{HistoryPage, HomePage, MessagePage, NotFoundPage, PaymentsPage, SettingsPage};
use crate::service_worker::provide_service_worker;

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
    provide_connection();
    provide_service_worker();
    let i18n = use_i18n();
    view! {
        <Router>
            <a class="skip" href="#main">{t!(i18n, skip_to_content)}</a>
            <Header />
            <UpdatePrompt />
            <main id="main">
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=HomePage />
                    <Route path=path!("/pay") view=PaymentsPage />
                    <Route path=path!("/history") view=HistoryPage />
                    <Route path=path!("/message") view=MessagePage />
                    <Route path=path!("/settings") view=SettingsPage />
                </Routes>
            </main>
        </Router>
    }
}
