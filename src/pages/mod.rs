//! One module per screen of the main menu: `pay/` the providers and the payment, `history/`
//! the history, a payment and its receipt, `commission` and `keys/` the screens under Settings, `shift` the cashier's shift.

mod about;
pub mod commission;
mod frame;
pub mod history;
mod home;
pub mod keys;
mod lazy;
mod message;
mod not_found;
pub mod pay;
mod settings;
mod shift;

pub use about::{ABOUT_PATH, AboutPage};
pub use commission::{CommissionListPage, CommissionPage};
pub use frame::{PageFrame, TextKey};
pub use history::{HistoryPage, PaymentDetailPage, ReceiptPage};
pub use home::HomePage;
pub use keys::{
    ChangePassphrasePage, DeleteKeyPage, GenerateKeyPage, KeyCardPage, KeysPage, RegisterKeyPage,
    ViewKeyPage,
};
pub use lazy::{LazyBill, LazyScreen, Screen, preload_payments};
pub use message::MessagePage;
pub use not_found::NotFoundPage;
pub use pay::{PaymentPage, ProvidersPage};
pub use settings::SettingsPage;
pub use shift::{SHIFT_PATH, ShiftPage};
