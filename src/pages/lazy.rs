//! Every screen but the main menu — the providers and the payment, settings and keys, the
//! history and receipts, the shift, the message, the card bill — as code loaded on first use
//! (issue 14 item 1). A new phone has no key: its first screens are the key's, and it pays only
//! once the dealer has certified that key, by when the worker has cached every chunk. On a
//! phone the worker already serves, the payment screens' chunk is loaded from that cache as
//! soon as the menu is up ([`preload_payments`], src/app.rs), so *Payments* opens at once. The
//! card bill ([`LazyBill`]) is a stage of the payment page rather than a route: a cash payment
//! never shows it, and it brings the QR code encoder with it.
//!
//! With the `split` feature (the release build, scripts/build-app.sh) each group below is a
//! split point (`wasm_split`, what Leptos' `#[lazy]` is built on): wasm-split moves the code
//! only it reaches into a chunk of its own, which the page fetches the first time one of the
//! group's screens opens, and which the service worker precaches with the rest of the build, so
//! every screen still opens offline. Without the feature (the browser tests, whose runner links
//! no chunks) the screens render directly, as before: the same components, with nothing to wait
//! for.

use leptos::prelude::*;
use tolem_outbox::record::PaymentRecord;

/// A screen loaded on first use, with the parameter its address names; `group` says which
/// chunk holds it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Screen {
    Settings,
    CommissionList,
    /// One provider's commission, by the provider's code.
    Commission(String),
    About,
    Keys,
    KeyCard,
    GenerateKey,
    RegisterKey,
    ViewKey,
    DeleteKey,
    ChangePassphrase,
    History,
    /// One payment, by its session id as the address gives it.
    PaymentDetail(String),
    /// One payment's receipt, by its session id as the address gives it.
    Receipt(String),
    Shift,
    Message,
    /// The provider list.
    Providers,
    /// The payment of one provider, by the provider's code.
    Payment(String),
}

/// The chunks: screens that share most of their code travel together.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Group {
    Settings,
    History,
    Shift,
    Message,
    Pay,
}

impl Screen {
    /// The providers or a payment: the screens [`preload_payments`] loads ahead.
    pub fn is_payment(&self) -> bool {
        self.group() == Group::Pay
    }

    fn group(&self) -> Group {
        match self {
            Screen::Settings
            | Screen::CommissionList
            | Screen::Commission(_)
            | Screen::About
            | Screen::Keys
            | Screen::KeyCard
            | Screen::GenerateKey
            | Screen::RegisterKey
            | Screen::ViewKey
            | Screen::DeleteKey
            | Screen::ChangePassphrase => Group::Settings,
            Screen::History | Screen::PaymentDetail(_) | Screen::Receipt(_) => Group::History,
            Screen::Shift => Group::Shift,
            Screen::Message => Group::Message,
            Screen::Providers | Screen::Payment(_) => Group::Pay,
        }
    }
}

/// The settings, commission and key screens.
fn settings_screen(screen: Screen) -> AnyView {
    use super::{
        AboutPage, ChangePassphrasePage, CommissionListPage, CommissionPage, DeleteKeyPage,
        GenerateKeyPage, KeyCardPage, KeysPage, RegisterKeyPage, SettingsPage, ViewKeyPage,
    };
    match screen {
        Screen::CommissionList => view! { <CommissionListPage /> }.into_any(),
        Screen::Commission(provider) => view! { <CommissionPage provider /> }.into_any(),
        Screen::About => view! { <AboutPage /> }.into_any(),
        Screen::Keys => view! { <KeysPage /> }.into_any(),
        Screen::KeyCard => view! { <KeyCardPage /> }.into_any(),
        Screen::GenerateKey => view! { <GenerateKeyPage /> }.into_any(),
        Screen::RegisterKey => view! { <RegisterKeyPage /> }.into_any(),
        Screen::ViewKey => view! { <ViewKeyPage /> }.into_any(),
        Screen::DeleteKey => view! { <DeleteKeyPage /> }.into_any(),
        Screen::ChangePassphrase => view! { <ChangePassphrasePage /> }.into_any(),
        _ => view! { <SettingsPage /> }.into_any(),
    }
}

/// The history, one payment and its receipt.
fn history_screen(screen: Screen) -> AnyView {
    use super::{HistoryPage, PaymentDetailPage, ReceiptPage};
    match screen {
        Screen::PaymentDetail(session) => view! { <PaymentDetailPage session /> }.into_any(),
        Screen::Receipt(session) => view! { <ReceiptPage session /> }.into_any(),
        _ => view! { <HistoryPage /> }.into_any(),
    }
}

fn shift_screen() -> AnyView {
    view! { <super::ShiftPage /> }.into_any()
}

fn message_screen() -> AnyView {
    view! { <super::MessagePage /> }.into_any()
}

/// The provider list and one provider's payment.
fn pay_screen(screen: Screen) -> AnyView {
    use super::{PaymentPage, ProvidersPage};
    match screen {
        Screen::Payment(provider) => view! { <PaymentPage provider /> }.into_any(),
        _ => view! { <ProvidersPage /> }.into_any(),
    }
}

/// What the card bill's screen is made of, in one box: one pointer across the split point.
struct Bill {
    record: PaymentRecord,
    account: String,
    on_final: Option<Callback<PaymentRecord>>,
}

fn bill_screen(bill: Box<Bill>) -> AnyView {
    use super::pay::bill::BillScreen;
    let Bill {
        record,
        account,
        on_final,
    } = *bill;
    match on_final {
        Some(on_final) => view! { <BillScreen record account on_final /> }.into_any(),
        None => view! { <BillScreen record account /> }.into_any(),
    }
}

/// The card bill of `record` ([`super::pay::bill::BillScreen`]); in the split build, once its
/// chunk is loaded, or the same message as a screen whose chunk cannot be fetched.
#[component]
pub fn LazyBill(
    record: PaymentRecord,
    /// The account as the cashier reads it (a phone in its mask).
    account: String,
    #[prop(optional, into)] on_final: Option<Callback<PaymentRecord>>,
) -> impl IntoView {
    let bill = Box::new(Bill {
        record,
        account,
        on_final,
    });
    #[cfg(not(feature = "split"))]
    {
        bill_screen(bill)
    }
    #[cfg(feature = "split")]
    {
        loaded(split::bill_chunk(bill))
    }
}

/// Starts loading the payment screens' chunk ahead of need (the app decides when, src/app.rs);
/// the screen, once opened, waits for the same load. Without the `split` feature there is
/// nothing to load.
pub fn preload_payments() {
    #[cfg(feature = "split")]
    leptos::task::spawn_local(async {
        // A chunk that cannot be loaded now is loaded, or says so, when the screen opens.
        let _ = split::pay_chunk(None).await;
    });
}

#[cfg(not(feature = "split"))]
fn render(screen: Screen) -> AnyView {
    match screen.group() {
        Group::Settings => settings_screen(screen),
        Group::History => history_screen(screen),
        Group::Shift => shift_screen(),
        Group::Message => message_screen(),
        Group::Pay => pay_screen(screen),
    }
}

/// Renders `screen`; in the split build, once its chunk is loaded.
#[cfg(not(feature = "split"))]
#[component]
pub fn LazyScreen(screen: Screen) -> impl IntoView {
    render(screen)
}

/// Renders `screen` once its chunk is loaded (from the worker's cache after the first visit).
/// A chunk that cannot be fetched (the very first visit cut off before the worker had cached
/// it) says so instead of taking the app down; opening the screen again tries again.
#[cfg(feature = "split")]
#[component]
pub fn LazyScreen(screen: Screen) -> impl IntoView {
    loaded(split::load(Box::new(screen)))
}

/// What `chunk` renders once it is loaded; *Loading…* until then, and a message if it cannot be.
#[cfg(feature = "split")]
fn loaded(
    chunk: impl Future<Output = Result<AnyView, leptos::wasm_split::SplitLoaderError>> + Send + 'static,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="loading">{tr!(loading)}</p> }>
            {Suspend::new(async move {
                chunk.await.unwrap_or_else(|_| {
                    view! { <p id="screen-not-loaded" class="error" role="alert">{tr!(screen_not_loaded)}</p> }
                        .into_any()
                })
            })}
        </Suspense>
    }
}

/// One split point per group: all a group's screens are one chunk, fetched once.
///
/// wasm-split's own macro rather than Leptos' `#[lazy]`, for its `fallible` option: `#[lazy]`
/// panics when a chunk cannot be fetched, and a panic aborts the whole module.
#[cfg(feature = "split")]
mod split {
    use super::{Bill, Group, Screen};
    use leptos::prelude::*;
    use leptos::wasm_split::{SplitLoaderError, wasm_split};

    #[wasm_split(tolem_settings, wasm_split_path = ::leptos::wasm_split, fallible)]
    fn settings_chunk(screen: Box<Screen>) -> Result<AnyView, SplitLoaderError> {
        Ok(super::settings_screen(*screen))
    }

    #[wasm_split(tolem_history, wasm_split_path = ::leptos::wasm_split, fallible)]
    fn history_chunk(screen: Box<Screen>) -> Result<AnyView, SplitLoaderError> {
        Ok(super::history_screen(*screen))
    }

    #[wasm_split(tolem_shift, wasm_split_path = ::leptos::wasm_split, fallible)]
    fn shift_chunk() -> Result<AnyView, SplitLoaderError> {
        Ok(super::shift_screen())
    }

    #[wasm_split(tolem_message, wasm_split_path = ::leptos::wasm_split, fallible)]
    fn message_chunk() -> Result<AnyView, SplitLoaderError> {
        Ok(super::message_screen())
    }

    /// With no screen, only loads the chunk ([`super::preload_payments`]).
    #[wasm_split(tolem_pay, wasm_split_path = ::leptos::wasm_split, fallible)]
    pub fn pay_chunk(screen: Option<Box<Screen>>) -> Result<Option<AnyView>, SplitLoaderError> {
        Ok(screen.map(|screen| super::pay_screen(*screen)))
    }

    #[wasm_split(tolem_bill, wasm_split_path = ::leptos::wasm_split, fallible)]
    pub fn bill_chunk(bill: Box<Bill>) -> Result<AnyView, SplitLoaderError> {
        Ok(super::bill_screen(bill))
    }

    /// `screen` is boxed: one pointer across the split point, as the bill's.
    pub async fn load(screen: Box<Screen>) -> Result<AnyView, SplitLoaderError> {
        match screen.group() {
            Group::Settings => settings_chunk(screen).await,
            Group::History => history_chunk(screen).await,
            Group::Shift => shift_chunk().await,
            Group::Message => message_chunk().await,
            Group::Pay => Ok(pay_chunk(Some(screen))
                .await?
                .unwrap_or_else(|| ().into_any())),
        }
    }
}
