//! Trying Tolem on a phone on the same network (`scripts/run.sh --lan`): a local certificate
//! authority and a certificate for this machine's addresses ([`certificate`]), and the
//! banner's part for the phone — the URL as a QR code drawn in the terminal ([`qr`]) and how
//! to trust the authority on Android and iOS ([`phone`]).

pub mod certificate;
pub mod phone;
pub mod qr;
