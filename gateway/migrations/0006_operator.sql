-- The operator (the processing centre above the dealers: Cyberplat in the manual, §3, §18):
-- its console users, the dealers it registers and the details they are registered with, money
-- in the four-eyes way (a dealer requests a top-up, the operator confirms it), the provider
-- catalogue it keeps, and per-dealer commission rates. Portable SQL: see README.md here.

-- Console users of both parties. `dealer_code` NULL = a user of the operator; otherwise the
-- dealer whose console it is. Replaces `dealer_users` (same rows, same columns, plus the
-- first-login and blocking state); sessions are rebuilt on it, so everyone logs in again once.
CREATE TABLE console_users (
    email               TEXT PRIMARY KEY,
    dealer_code         TEXT REFERENCES dealers (code),
    password_hash       TEXT NOT NULL,
    access_level        TEXT NOT NULL CHECK (access_level IN ('full', 'create_view')),
    created_at_ms       BIGINT NOT NULL,
    -- Who created the user ('cli' for the first operator user, 'seed' for demo data).
    created_by          TEXT NOT NULL DEFAULT '',
    totp_secret         TEXT,
    totp_pending_secret TEXT,
    totp_enrolled_at_ms BIGINT,
    totp_last_step      BIGINT NOT NULL DEFAULT 0,
    -- 1 while the password is one somebody else chose (an invitation, a reset): the user must
    -- choose their own before anything else.
    must_change_password SMALLINT NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
    password_changed_at_ms BIGINT,
    -- When the user was blocked; NULL = may log in.
    blocked_at_ms       BIGINT
);
INSERT INTO console_users (email, dealer_code, password_hash, access_level, created_at_ms,
    totp_secret, totp_pending_secret, totp_enrolled_at_ms, totp_last_step)
SELECT email, dealer_code, password_hash, access_level, created_at_ms,
    totp_secret, totp_pending_secret, totp_enrolled_at_ms, totp_last_step
FROM dealer_users;
CREATE INDEX console_users_dealer_code ON console_users (dealer_code);

DROP TABLE console_sessions;
DROP TABLE dealer_users;
CREATE TABLE console_sessions (
    id_hash         TEXT PRIMARY KEY,
    email           TEXT NOT NULL REFERENCES console_users (email),
    csrf_token      TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    last_seen_at_ms BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL
);
CREATE INDEX console_sessions_email ON console_sessions (email);

-- A dealer's registration details (manual §3). The BIN/IIN (12 digits) is unique among dealers.
ALTER TABLE dealers ADD COLUMN bin TEXT;
ALTER TABLE dealers ADD COLUMN legal_address TEXT NOT NULL DEFAULT '';
-- IBAN of the dealer's bank account (KZ + 18 characters).
ALTER TABLE dealers ADD COLUMN bank_account TEXT NOT NULL DEFAULT '';
-- A person and a phone or e-mail the operator calls.
ALTER TABLE dealers ADD COLUMN contact TEXT NOT NULL DEFAULT '';
-- `active = 0` with this set = blocked by the operator (phones get 52).
ALTER TABLE dealers ADD COLUMN blocked_at_ms BIGINT;
ALTER TABLE dealers ADD COLUMN updated_at_ms BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX dealers_bin ON dealers (bin);

-- Money in, the four-eyes way: a dealer's user asks the operator to credit money the bank
-- received; only the operator's confirmation (after checking the bank statement, with a
-- one-time code) posts the `top_up` ledger entry. A reference may be asked again only after
-- the operator rejected it (a typo in the amount).
CREATE TABLE top_up_requests (
    id              TEXT PRIMARY KEY,
    dealer_code     TEXT NOT NULL REFERENCES dealers (code),
    amount_tiyn     BIGINT NOT NULL CHECK (amount_tiyn > 0),
    -- The bank's payment order number, as on the statement.
    bank_reference  TEXT NOT NULL,
    -- The day the bank paid, as on the statement (YYYY-MM-DD).
    paid_on         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('requested', 'confirmed', 'rejected')),
    requested_by    TEXT NOT NULL,
    requested_at_ms BIGINT NOT NULL,
    decided_by      TEXT,
    decided_at_ms   BIGINT,
    -- Why it was rejected (shown to the dealer).
    decision_note   TEXT NOT NULL DEFAULT '',
    CHECK ((state = 'requested' AND decided_at_ms IS NULL)
        OR (state <> 'requested' AND decided_at_ms IS NOT NULL))
);
CREATE UNIQUE INDEX top_up_requests_reference ON top_up_requests (dealer_code, bank_reference)
    WHERE state <> 'rejected';
CREATE INDEX top_up_requests_state ON top_up_requests (state, requested_at_ms);

-- A top-up the dealer prepared for itself under the old rules can no longer be confirmed by
-- the dealer: it is cancelled here, and the dealer asks the operator instead.
UPDATE operations SET state = 'cancelled', decided_by = 'system', decided_at_ms = prepared_at_ms
WHERE kind = 'top_up' AND state = 'prepared';

-- The operator's corrections of a dealer's balance, with the reason; a correction can be
-- reversed once (a second, opposite ledger entry).
CREATE TABLE corrections (
    id               TEXT PRIMARY KEY,
    dealer_code      TEXT NOT NULL REFERENCES dealers (code),
    -- Signed: negative takes money away.
    amount_tiyn      BIGINT NOT NULL CHECK (amount_tiyn <> 0),
    reason           TEXT NOT NULL,
    made_by          TEXT NOT NULL,
    made_at_ms       BIGINT NOT NULL,
    reversed_by      TEXT,
    reversed_at_ms   BIGINT,
    reversal_reason  TEXT
);
CREATE INDEX corrections_dealer ON corrections (dealer_code, made_at_ms);

-- The provider catalogue as the operator keeps it: what the cashier sees as the account's
-- format ("7XX XXX XX XX"), and when and by whom it last changed.
ALTER TABLE providers ADD COLUMN account_format TEXT NOT NULL DEFAULT '';
ALTER TABLE providers ADD COLUMN created_at_ms BIGINT NOT NULL DEFAULT 0;

-- A dealer's own commission rate for a provider, where it differs from the provider's
-- `dealer_commission_bp`. Basis points (1 % = 100).
CREATE TABLE dealer_rates (
    dealer_code   TEXT NOT NULL REFERENCES dealers (code),
    provider      TEXT NOT NULL REFERENCES providers (code),
    rate_bp       BIGINT NOT NULL CHECK (rate_bp >= 0 AND rate_bp <= 10000),
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (dealer_code, provider)
);
