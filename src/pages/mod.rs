//! One module per screen of the main menu.

mod frame;
mod history;
mod home;
mod message;
mod not_found;
mod payments;
mod settings;

pub use frame::PageFrame;
pub use history::HistoryPage;
pub use home::HomePage;
pub use message::MessagePage;
pub use not_found::NotFoundPage;
pub use payments::PaymentsPage;
pub use settings::SettingsPage;
