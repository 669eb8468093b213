//! Pieces every page shares.

mod connection_indicator;
mod header;
mod update_prompt;

pub use connection_indicator::ConnectionIndicator;
pub use header::Header;
pub use update_prompt::UpdatePrompt;
