//! Providers & payments (manual §10–12.1): the provider list, and the payment of one provider
//! — form, confirmation, progress, outcome. `form` holds the form's rules apart from its looks;
//! `check` asks the provider about the number before paying; `bill` shows a bill the customer
//! pays by card on their own phone.

pub mod bill;
pub mod check;
pub mod form;
mod payment;
mod providers;

pub use payment::PaymentPage;
pub use providers::{ProvidersPage, matches, payment_path};
