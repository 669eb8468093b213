-- A card payment's fee (what the customer paid above the provider's amount) and the dealer's
-- commission on it become the dealer's only once the provider took the payment
-- (src/card/earn.rs). Before, the settlement credited the whole customer amount: a dealer who
-- spent the fee before the provider refused the payment left the balance too low to give the
-- card its money back, and the reversal was refused for ever — the card never refunded.
--
-- The accepted card payments whose fee and commission wait for their delivery, with the
-- dealer's commission rate when the card paid (what a cash payment of that moment accrues at).
-- Card payments settled before this migration were credited in full at settlement and have no
-- row: nothing more is due for them. The fee is a `card_payment` ledger entry (reference
-- `fee-<transaction>`), so the ledger's table and its checks stay as they are.
CREATE TABLE card_earnings_due (
    transaction_id TEXT PRIMARY KEY REFERENCES payments (transaction_id),
    invoice        BIGINT NOT NULL REFERENCES bills (invoice),
    rate_bp        BIGINT NOT NULL,
    created_at_ms  BIGINT NOT NULL
);
