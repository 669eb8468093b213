//! One module per screen of the main menu; `keys/` holds the screens under Settings → Keys.

mod frame;
mod history;
mod home;
pub mod keys;
mod message;
mod not_found;
mod payments;
mod settings;

pub use frame::{PageFrame, TextKey};
pub use history::HistoryPage;
pub use home::HomePage;
pub use keys::{
    DeleteKeyPage, GenerateKeyPage, KeyCardPage, KeysPage, RegisterKeyPage, ViewKeyPage,
};
pub use message::MessagePage;
pub use not_found::NotFoundPage;
pub use payments::PaymentsPage;
pub use settings::SettingsPage;
