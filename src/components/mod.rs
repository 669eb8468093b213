//! Pieces every page shares.

mod clock_warning;
mod connection_indicator;
mod delivery;
mod header;
mod lock_state;
mod outbox_summary;
mod payment_state;
mod qr_code;
mod texts;
mod unlock_form;
mod update_prompt;

pub use clock_warning::ClockWarning;
pub use connection_indicator::ConnectionIndicator;
pub use delivery::{
    DeliveryNote, LiveDelivery, delivery_name, delivery_summary, delivery_text, refund_text,
    refusal_text,
};
pub use header::Header;
pub use lock_state::LockState;
pub use outbox_summary::{BillsSummary, OutboxSummary};
pub use payment_state::{StateBadge, held_reason, record_label, state_label, state_reason};
pub use qr_code::{QrCode, qr_svg};
pub use texts::{Notice, local_time, money, money_or_dash};
pub use unlock_form::UnlockForm;
pub use update_prompt::UpdatePrompt;
