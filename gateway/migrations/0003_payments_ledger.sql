-- Payments (CyberplatMobile manual §10–11, §14–15): the payments a point made or was refused,
-- the dealer's ledger that every balance change goes through, the dealer's own limits, and
-- what the dealer earns per provider. Portable SQL: see README.md in this directory.

-- The dealer's limits, over all its points together (codes 83, 84). NULL = no limit.
ALTER TABLE dealers ADD COLUMN payment_limit_tiyn BIGINT CHECK (payment_limit_tiyn > 0);
ALTER TABLE dealers ADD COLUMN daily_limit_tiyn BIGINT CHECK (daily_limit_tiyn > 0);
-- How many transaction ids the dealer's payments have been given: the next is
-- '<dealer>-<n+1>'. A counter rather than MAX() so two payments never get the same id, and its
-- UPDATE is the first statement of every payment transaction, which locks the dealer's row:
-- payments of one dealer are decided one at a time on PostgreSQL too (see src/payments/pay.rs).
ALTER TABLE dealers ADD COLUMN transactions_issued BIGINT NOT NULL DEFAULT 0;

-- What the dealer earns on a payment to this provider, in basis points of the provider amount
-- (100 = 1 %). Accrued by the console's commission run, not at payment time.
ALTER TABLE providers ADD COLUMN dealer_commission_bp BIGINT NOT NULL DEFAULT 100
    CHECK (dealer_commission_bp >= 0 AND dealer_commission_bp <= 10000);
-- When the provider's row last changed: the catalogue's `updated_at_ms` is the latest of them.
ALTER TABLE providers ADD COLUMN updated_at_ms BIGINT NOT NULL DEFAULT 0;

-- A payment the gateway decided: accepted (the dealer's balance paid it) or rejected for good
-- with its result code. The session id the phone chose is the idempotency key, unique per
-- point. Transient failures (code 999) are never stored, so the phone can try again.
CREATE TABLE payments (
    point_code           TEXT NOT NULL REFERENCES points (code),
    session              TEXT NOT NULL,
    -- '<dealer>-<n>', shown on the customer's receipt.
    transaction_id       TEXT NOT NULL UNIQUE,
    dealer_code          TEXT NOT NULL REFERENCES dealers (code),
    cashier_code         TEXT NOT NULL,
    key_serial           TEXT NOT NULL REFERENCES keys (serial),
    -- No foreign key: a payment to an unknown provider is stored too, rejected with 908.
    provider             TEXT NOT NULL,
    -- Normalised (ten digits for a phone) when it fits the provider's rule, else as sent.
    account              TEXT NOT NULL,
    amount_tiyn          BIGINT NOT NULL,
    customer_amount_tiyn BIGINT NOT NULL,
    comment              TEXT,
    -- SHA-256 (hex) of the payment's content (src/payments/mod.rs, `content_hash`): the same
    -- session with the same hash gets the stored answer again, with another hash code 1.
    content_hash         TEXT NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('accepted', 'rejected')),
    -- The result code answered: 0 for accepted.
    code                 BIGINT NOT NULL,
    -- When the phone created the payment (signed; a deferred payment keeps the time the
    -- customer paid): the duplicate rule and the offline age use it.
    created_at_ms        BIGINT NOT NULL,
    -- When the gateway decided: daily limits count by it.
    received_at_ms       BIGINT NOT NULL,
    accepted_at_ms       BIGINT,
    -- Proof of what the point asked for: the exact signed bytes (standard base64) and the
    -- signature as it came in the header.
    request_body         TEXT NOT NULL,
    request_signature    TEXT NOT NULL,
    -- The exact bytes answered (standard base64), sent again byte for byte on a replay.
    response_body        TEXT NOT NULL,
    PRIMARY KEY (point_code, session),
    CHECK ((state = 'accepted' AND code = 0 AND accepted_at_ms IS NOT NULL)
        OR (state = 'rejected' AND code <> 0 AND accepted_at_ms IS NULL))
);
-- The duplicate rule: the same point, provider, account and amount accepted within an hour.
CREATE INDEX payments_duplicates
    ON payments (point_code, provider, account, amount_tiyn, state, created_at_ms);
-- Today's accepted sums, per point and per dealer.
CREATE INDEX payments_point_day ON payments (point_code, state, received_at_ms);
CREATE INDEX payments_dealer_day ON payments (dealer_code, state, received_at_ms);

-- Every change of a dealer's balance. `dealers.balance_tiyn` is the running balance and always
-- equals the sum of the dealer's entries: both change in the same transaction.
CREATE TABLE ledger_entries (
    -- '<kind>:<reference>', made by the application; a repeated top-up is refused by it.
    id                 TEXT PRIMARY KEY,
    dealer_code        TEXT NOT NULL REFERENCES dealers (code),
    kind               TEXT NOT NULL
        CHECK (kind IN ('top_up', 'payment', 'commission', 'correction')),
    -- Signed: a payment takes money away (negative), a top-up or commission brings it.
    amount_tiyn        BIGINT NOT NULL CHECK (amount_tiyn <> 0),
    balance_after_tiyn BIGINT NOT NULL CHECK (balance_after_tiyn >= 0),
    -- The payment's transaction id, the top-up's bank reference, ...
    reference          TEXT NOT NULL,
    -- The point that paid, for payments.
    point_code         TEXT REFERENCES points (code),
    created_at_ms      BIGINT NOT NULL,
    CHECK (kind <> 'payment' OR amount_tiyn < 0),
    CHECK (kind <> 'top_up' OR amount_tiyn > 0)
);
CREATE INDEX ledger_entries_dealer ON ledger_entries (dealer_code, created_at_ms);

-- Balances that exist already become opening entries, so the sum rule holds from now on.
INSERT INTO ledger_entries
    (id, dealer_code, kind, amount_tiyn, balance_after_tiyn, reference, point_code, created_at_ms)
SELECT 'top_up:opening-' || code, code, 'top_up', balance_tiyn, balance_tiyn, 'opening-' || code,
       NULL, created_at_ms
FROM dealers WHERE balance_tiyn > 0;
