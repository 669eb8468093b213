//! The page frame and router: the header with the connection indicator and the update prompt
//! stay on every page; the main menu's four sections are routes, and Settings → Keys has its
//! screens below `/settings/keys`.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::{Header, UpdatePrompt};
use crate::connection::provide_connection;
use crate::language::LanguageProvider;
use crate::pages::{
    DeleteKeyPage, GenerateKeyPage, HistoryPage, HomePage, KeyCardPage, KeysPage, MessagePage,
    NotFoundPage, PaymentsPage, RegisterKeyPage, SettingsPage, ViewKeyPage,
};
use crate::service_worker::provide_service_worker;
use crate::session::provide_key_session;

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
    // Above the router: the unlocked key and an enrolment in progress outlive page changes.
    provide_key_session();
    view! {
        <Router>
            <a class="skip" href="#main">{tr!(skip_to_content)}</a>
            <Header />
            <UpdatePrompt />
            <main id="main">
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=HomePage />
                    <Route path=path!("/pay") view=PaymentsPage />
                    <Route path=path!("/history") view=HistoryPage />
                    <Route path=path!("/message") view=MessagePage />
                    <Route path=path!("/settings") view=SettingsPage />
                    <Route path=path!("/settings/keys") view=KeysPage />
                    <Route path=path!("/settings/keys/card") view=KeyCardPage />
                    <Route path=path!("/settings/keys/generate") view=GenerateKeyPage />
                    <Route path=path!("/settings/keys/register") view=RegisterKeyPage />
                    <Route path=path!("/settings/keys/view") view=ViewKeyPage />
                    <Route path=path!("/settings/keys/delete") view=DeleteKeyPage />
                </Routes>
            </main>
        </Router>
    }
}
