-- Card payments on the customer's own phone (issue 12): the cashier's phone signs a bill, the
-- customer brings it (a QR code) to the gateway, pays on a payment service's hosted page, and
-- the service's signed notification settles it as a payment under the bill's session. See
-- src/card/.

-- One row per bill the gateway has seen (opened by the customer, or cancelled by the cashier
-- before anyone opened it). `invoice` is the number the payment service knows it by
-- (TipTop Pay's InvoiceId, Robokassa's InvId: a positive 31-bit integer), from the `counters`
-- row 'card_invoice'. `state`: awaiting (may be paid) → paid (a payment row exists with the
-- same point and session) | expired | cancelled. A bill cancelled before it was opened has
-- no content (`request_body` NULL): it only blocks the session.
CREATE TABLE bills (
    invoice            BIGINT PRIMARY KEY,
    point_code         TEXT NOT NULL REFERENCES points (code),
    session            TEXT NOT NULL,
    dealer_code        TEXT NOT NULL REFERENCES dealers (code),
    state              TEXT NOT NULL CHECK (state IN ('awaiting', 'paid', 'expired', 'cancelled')),
    provider           TEXT,
    account            TEXT,
    amount_tiyn        BIGINT,
    customer_amount_tiyn BIGINT,
    -- The payment's idempotency fingerprint (payments::content_hash).
    content_hash       TEXT,
    created_at_ms      BIGINT NOT NULL,
    -- When it stops being payable: the signed expiry, cut to the gateway's bill lifetime.
    expires_at_ms      BIGINT NOT NULL,
    -- The exact signed bytes and the signature, as the customer's phone brought them.
    request_body       TEXT,
    request_signature  TEXT,
    -- The payment service that took (or will take) the card: 'tiptop' or 'robokassa'.
    service            TEXT,
    -- Where the customer's browser was sent to pay, and the service's order id.
    page_url           TEXT,
    service_order      TEXT,
    -- The customer's address for the receipt, if given; the page language (ru, kk, en).
    email              TEXT,
    language           TEXT NOT NULL DEFAULT 'ru',
    -- Why the customer's last card was refused (protocol CardRefusal, snake_case), and the
    -- service's own words.
    decline            TEXT,
    decline_reason     TEXT,
    -- The card transaction that paid it (what a refund names), and the payment it became.
    card_transaction   TEXT,
    transaction_id     TEXT,
    opened_at_ms       BIGINT,
    finished_at_ms     BIGINT,
    updated_at_ms      BIGINT NOT NULL,
    UNIQUE (point_code, session),
    CHECK ((state = 'paid') = (transaction_id IS NOT NULL))
);
CREATE INDEX bills_state ON bills (state, expires_at_ms);

-- Money back to a customer's card: after a provider's final refusal (automatic), a charge the
-- gateway could not settle (automatic: a bill expired, cancelled or paid already, another
-- amount), or a console refund (confirmed with a one-time code). One per card transaction: a
-- card payment is refunded in full, once. The refund worker asks the payment service until it
-- answers; `key` is the idempotency key it is sent with.
CREATE TABLE card_refunds (
    key                TEXT PRIMARY KEY,
    invoice            BIGINT NOT NULL REFERENCES bills (invoice),
    -- The card transaction refunded (Robokassa names none: the invoice is enough there).
    card_transaction   TEXT,
    amount_tiyn        BIGINT NOT NULL CHECK (amount_tiyn > 0),
    -- pending (not confirmed by the service yet) → done | failed (the service refused: the
    -- operator must act; shown in the console).
    state              TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    -- 'provider_refused', 'not_settled' or 'console'.
    reason             TEXT NOT NULL,
    -- The console user who asked for it, for console refunds.
    requested_by       TEXT,
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    refund_id          TEXT,
    error              TEXT,
    requested_at_ms    BIGINT NOT NULL,
    finished_at_ms     BIGINT
);
CREATE INDEX card_refunds_due ON card_refunds (state, next_attempt_at_ms);

-- Every notification a payment service sent, verified or not: the console shows them, and a
-- forged one is kept as evidence (never acted on).
CREATE TABLE card_notifications (
    id                 TEXT PRIMARY KEY,
    service            TEXT NOT NULL,
    kind               TEXT NOT NULL,
    invoice            BIGINT,
    verified           SMALLINT NOT NULL CHECK (verified IN (0, 1)),
    verdict            TEXT NOT NULL,
    amount_tiyn        BIGINT,
    card_transaction   TEXT,
    received_at_ms     BIGINT NOT NULL
);
CREATE INDEX card_notifications_invoice ON card_notifications (invoice, received_at_ms);

-- How each payment was paid: 'cash' (the dealer's balance paid the provider) or 'card' (a bill
-- the customer paid by card).
ALTER TABLE payments ADD COLUMN method TEXT NOT NULL DEFAULT 'cash';

-- The ledger gains `card_payment` (a customer's card paid the point's bill: positive, credited
-- just before the payment's own debit, so the dealer's balance does not pay what the card
-- paid) and `card_refund` (that money back to the card: negative).
CREATE TABLE ledger_entries_v8 (
    id                 TEXT PRIMARY KEY,
    dealer_code        TEXT NOT NULL REFERENCES dealers (code),
    kind               TEXT NOT NULL
        CHECK (kind IN ('top_up', 'payment', 'commission', 'correction', 'refund',
                        'card_payment', 'card_refund')),
    amount_tiyn        BIGINT NOT NULL CHECK (amount_tiyn <> 0),
    balance_after_tiyn BIGINT NOT NULL CHECK (balance_after_tiyn >= 0),
    reference          TEXT NOT NULL,
    point_code         TEXT REFERENCES points (code),
    created_at_ms      BIGINT NOT NULL,
    CHECK (kind <> 'payment' OR amount_tiyn < 0),
    CHECK (kind <> 'top_up' OR amount_tiyn > 0),
    CHECK (kind <> 'refund' OR amount_tiyn > 0),
    CHECK (kind <> 'card_payment' OR amount_tiyn > 0),
    CHECK (kind <> 'card_refund' OR amount_tiyn < 0)
);
INSERT INTO ledger_entries_v8
    (id, dealer_code, kind, amount_tiyn, balance_after_tiyn, reference, point_code, created_at_ms)
SELECT id, dealer_code, kind, amount_tiyn, balance_after_tiyn, reference, point_code, created_at_ms
FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_v8 RENAME TO ledger_entries;
CREATE INDEX ledger_entries_dealer ON ledger_entries (dealer_code, created_at_ms);
