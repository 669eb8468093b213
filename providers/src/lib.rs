//! How the Tolem gateway pays billers.
//!
//! * [`osmp`]: the OSMP provider protocol's wire types (requests, answers, result codes).
//! * [`connection`]: how to reach one provider (URL, credentials, timeout, its CA).
//! * [`adapter`]: the trait the gateway calls, and what one exchange with a provider gave.
//! * [`client`]: [`client::OsmpAdapter`], the trait spoken over HTTP.
//! * [`emulator`]: a provider of our own, for tests and demos (the `tolem-provider-emulator`
//!   binary), sharing only the protocol's types with the client.

pub mod adapter;
pub mod client;
pub mod connection;
pub mod emulator;
pub mod osmp;
