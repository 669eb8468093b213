//! What a dealer does with its own network and money, as domain functions the dealer console's
//! pages (and tests) call: asking the operator to credit money the bank received
//! ([`top_ups`]); certifying and revoking its points' keys ([`keys`]); registering, switching
//! and configuring points ([`points`]) and their cashiers ([`cashiers`]); setting a point's
//! limits ([`limits`]). Every function is limited to the dealer it is given (another dealer's
//! key, point or cashier is [`DealerError::NotFound`]) and writes its audit row in the
//! caller's transaction; nothing here knows about HTTP.

pub mod cashiers;
pub mod keys;
pub mod limits;
pub mod points;
pub mod top_ups;

/// What a dealer's operation on its network can fail with. The ones a person can act on have
/// a catalogue key ([`DealerError::message_key`]) the console shows in the user's language.
#[derive(Debug, thiserror::Error)]
pub enum DealerError {
    /// No such key, point or cashier of this dealer, or not in the state the operation needs
    /// (certifying a key that is not pending, unblocking a point that is not blocked).
    #[error("not found")]
    NotFound,
    /// A letter quota outside [`points::MESSAGE_QUOTA`].
    #[error("the letter quota must be 1 to 1000 per hour")]
    BadMessageQuota,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl DealerError {
    /// The catalogue key of the message a person reads.
    pub fn message_key(&self) -> &'static str {
        match self {
            DealerError::NotFound => "errors.not_found",
            DealerError::BadMessageQuota => "points.bad_message_quota",
            DealerError::Database(_) => "errors.internal",
        }
    }
}
