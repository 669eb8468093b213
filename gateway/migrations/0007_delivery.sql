-- Delivery to providers (issue 11): every accepted payment is carried to its provider by a
-- delivery job written in the payment's own transaction (store and forward); a provider's
-- final refusal reverses the payment — the dealer's ledger is credited back and the dealer's
-- commission on it is reversed — in one transaction. See src/delivery/.

-- How the gateway reaches a provider. One row per provider; a provider without one keeps its
-- payments queued (shown in the console) until the operator connects it.
CREATE TABLE provider_connections (
    provider       TEXT PRIMARY KEY REFERENCES providers (code),
    -- The provider protocol: 'osmp' today (tolem-providers), more as adapters are added.
    protocol       TEXT NOT NULL CHECK (protocol IN ('osmp')),
    url            TEXT NOT NULL,
    -- HTTP Basic credentials, when the provider asks for them. Never logged or shown back.
    username       TEXT,
    password       TEXT,
    timeout_ms     BIGINT NOT NULL CHECK (timeout_ms > 0),
    -- An extra root certificate (PEM) for a provider whose HTTPS uses its own CA.
    ca_cert_pem    TEXT,
    updated_at_ms  BIGINT NOT NULL
);

-- A payment's way to its provider. `state`: queued (not sent yet) → sent (an attempt is in
-- flight: `next_attempt_at_ms` is then the claim's expiry) → delivered | retrying (a
-- temporary answer or no answer: asked again with the same `txn_id`) | failed (a final
-- refusal; the payment was reversed in the same transaction).
CREATE TABLE deliveries (
    transaction_id      TEXT PRIMARY KEY REFERENCES payments (transaction_id),
    provider            TEXT NOT NULL,
    state               TEXT NOT NULL
        CHECK (state IN ('queued', 'sent', 'retrying', 'delivered', 'failed')),
    -- The number the provider knows the payment by (OSMP `txn_id`, digits only): given at the
    -- first claim from the `counters` row 'delivery_txn', then never changed, so a retry can
    -- never become a second payment.
    txn_id              BIGINT UNIQUE,
    attempts            BIGINT NOT NULL DEFAULT 0,
    -- When the job is due: for queued/retrying the next attempt, for sent the claim's expiry
    -- (a worker that died mid-attempt leaves it to expire and the job is tried again).
    next_attempt_at_ms  BIGINT NOT NULL,
    -- The provider's own number, once delivered.
    provider_txn        TEXT,
    -- The provider's last result code and comment (the refusal's, once failed).
    result_code         BIGINT,
    comment             TEXT,
    -- Why it failed, as the phone is told it (protocol `ProviderRefusal`, snake_case).
    refusal             TEXT,
    queued_at_ms        BIGINT NOT NULL,
    updated_at_ms       BIGINT NOT NULL,
    finished_at_ms      BIGINT,
    -- Set when someone entitled marked it delivered by hand (a dispute): their e-mail.
    marked_by           TEXT,
    CHECK ((state IN ('delivered', 'failed')) = (finished_at_ms IS NOT NULL)),
    CHECK (state <> 'delivered' OR provider_txn IS NOT NULL)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at_ms);
CREATE INDEX deliveries_provider ON deliveries (provider, state, queued_at_ms);

-- Every exchange with a provider: what was asked (no secret in it), what came back, how long
-- it took. The console shows them on the payment's page.
CREATE TABLE delivery_attempts (
    transaction_id TEXT NOT NULL REFERENCES deliveries (transaction_id),
    attempt        BIGINT NOT NULL,
    at_ms          BIGINT NOT NULL,
    request        TEXT NOT NULL,
    answer         TEXT,
    -- 'delivered', 'later', 'refused' or 'unreachable' (timeout, connection, HTTP error).
    outcome        TEXT NOT NULL
        CHECK (outcome IN ('delivered', 'later', 'refused', 'unreachable')),
    result_code    BIGINT,
    error          TEXT,
    latency_ms     BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, attempt)
);

-- A refunded payment keeps `state = 'accepted'` (the gateway did accept and debit it) and
-- records the reversal here; limits and the duplicate rule no longer count it.
ALTER TABLE payments ADD COLUMN refunded_at_ms BIGINT;
-- The commission accrued on a payment that was reversed: left out of its day's credit, or, if
-- the day was credited already, taken back by a negative `commission` ledger entry.
ALTER TABLE commission_accruals ADD COLUMN reversed_at_ms BIGINT;

-- The ledger gains the kind `refund` (a reversed payment's money back, positive). SQLite
-- cannot change a CHECK, so the table is rebuilt with the same rows.
CREATE TABLE ledger_entries_v7 (
    id                 TEXT PRIMARY KEY,
    dealer_code        TEXT NOT NULL REFERENCES dealers (code),
    kind               TEXT NOT NULL
        CHECK (kind IN ('top_up', 'payment', 'commission', 'correction', 'refund')),
    amount_tiyn        BIGINT NOT NULL CHECK (amount_tiyn <> 0),
    balance_after_tiyn BIGINT NOT NULL CHECK (balance_after_tiyn >= 0),
    reference          TEXT NOT NULL,
    point_code         TEXT REFERENCES points (code),
    created_at_ms      BIGINT NOT NULL,
    CHECK (kind <> 'payment' OR amount_tiyn < 0),
    CHECK (kind <> 'top_up' OR amount_tiyn > 0),
    CHECK (kind <> 'refund' OR amount_tiyn > 0)
);
INSERT INTO ledger_entries_v7
    (id, dealer_code, kind, amount_tiyn, balance_after_tiyn, reference, point_code, created_at_ms)
SELECT id, dealer_code, kind, amount_tiyn, balance_after_tiyn, reference, point_code, created_at_ms
FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_v7 RENAME TO ledger_entries;
CREATE INDEX ledger_entries_dealer ON ledger_entries (dealer_code, created_at_ms);

-- Payments accepted before delivery existed were never sent anywhere: they are queued now,
-- so nothing accepted stays undelivered.
INSERT INTO deliveries (transaction_id, provider, state, next_attempt_at_ms, queued_at_ms,
    updated_at_ms)
SELECT transaction_id, provider, 'queued', received_at_ms, received_at_ms, received_at_ms
FROM payments WHERE state = 'accepted';
