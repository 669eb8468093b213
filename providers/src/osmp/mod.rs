//! The OSMP provider protocol: how a biller takes payments from an aggregator.
//!
//! This is the QIWI (OSMP) "Протокол взаимодействия с провайдерами", the de facto standard
//! between billers and payment aggregators in Kazakhstan and the CIS (QIWI, Kassa24 and many
//! more), as implemented by many public provider servers. The aggregator sends an HTTP GET
//! with `command=check` (does the account exist, may it be paid) or `command=pay` (credit it);
//! the provider answers a small XML document with a result code.
//!
//! Wire types only, no I/O: the client ([`crate::client`]) and the emulator
//! ([`crate::emulator`]) both speak through these, so they cannot disagree on the format.

pub mod answer;
pub mod command;
pub mod money;
pub mod result_code;
pub mod txn_date;

pub use answer::{AnswerError, Response};
pub use command::{CheckRequest, Command, PayRequest, RequestError};
pub use money::{SumError, format_sum, parse_sum};
pub use result_code::{ResultCode, Verdict, classify};
pub use txn_date::format_txn_date;

/// The `Content-Type` of an answer.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";
