//! Who sent a signed request, once every check of the signed-step pipeline has passed
//! (`http::signed`): the request and the exact bytes signed, the key, and the dealer, point and
//! cashier it speaks for. The domain (payments, letters) takes this value, never an HTTP
//! extractor, so a test, a batch step or another protocol can hand it the same thing.

use axum::body::Bytes;
use tolem_protocol::{keys::Signature, messages::Request as SignedRequest};

use crate::db::{
    keys::Key,
    network::{Cashier, Dealer, Point},
};

/// A signed request whose signature, key, dealer, point and cashier were all checked.
#[derive(Debug)]
pub struct Sender {
    pub request: SignedRequest,
    /// The exact bytes that were signed (a payment keeps them as proof).
    pub body: Bytes,
    /// The signature over [`Self::body`], as it came in the header.
    pub signature: Signature,
    pub key: Key,
    pub dealer: Dealer,
    pub point: Point,
    pub cashier: Cashier,
}
