-- The dealer console (CyberplatMobile manual §2–4, §18; Kaspi Business agreement §1–2): one-time
-- codes of full-access users, points' working hours and blocking, operations prepared by one
-- user for another to confirm, the dealer's commission accrued per payment and credited daily,
-- and the hash-chained audit trail. Portable SQL: see README.md in this directory.

-- TOTP (RFC 6238) of a console user. `totp_secret` is the base32 secret once the user has
-- confirmed a first code (shown as a QR code once, never again); `totp_pending_secret` the one
-- offered on the enrolment page until then. `totp_last_step` is the time step (unix seconds / 30)
-- of the last code accepted: a code is accepted only for a later step, so none works twice.
ALTER TABLE dealer_users ADD COLUMN totp_secret TEXT;
ALTER TABLE dealer_users ADD COLUMN totp_pending_secret TEXT;
ALTER TABLE dealer_users ADD COLUMN totp_enrolled_at_ms BIGINT;
ALTER TABLE dealer_users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- When the point is open, as the dealer writes it ("Mon–Sat 09:00–21:00").
ALTER TABLE points ADD COLUMN working_hours TEXT NOT NULL DEFAULT '';
-- `active = 0` is either "not activated yet" (a new point) or "blocked" (this is set): the
-- console shows which. Cleared when the point is unblocked.
ALTER TABLE points ADD COLUMN blocked_at_ms BIGINT;

-- Numbers handed out one by one (new point codes, operation ids). A row per counter, bumped
-- with an upsert inside the transaction that uses the number, which locks the row on
-- PostgreSQL: two console users never get the same number.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- An operation a create-and-view user prepared and a full-access user confirms (or cancels),
-- as payment documents in the bank's "create and view" level. `payload` is the JSON of what
-- will be done, fixed when prepared: the confirming user sees exactly what they confirm.
CREATE TABLE operations (
    id             TEXT PRIMARY KEY,
    dealer_code    TEXT NOT NULL REFERENCES dealers (code),
    kind           TEXT NOT NULL CHECK (kind IN ('top_up', 'point_limits')),
    payload        TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('prepared', 'confirmed', 'cancelled')),
    prepared_by    TEXT NOT NULL,
    prepared_at_ms BIGINT NOT NULL,
    decided_by     TEXT,
    decided_at_ms  BIGINT,
    CHECK ((state = 'prepared' AND decided_at_ms IS NULL)
        OR (state <> 'prepared' AND decided_at_ms IS NOT NULL))
);
CREATE INDEX operations_dealer ON operations (dealer_code, state, prepared_at_ms);

-- The dealer's commission on each accepted payment (manual §18), written in the payment's own
-- transaction at the provider's `dealer_commission_bp` of that moment, rounded down to the
-- tiyn. (Migration 0003 planned to accrue it later in a run; accruing at payment time keeps
-- the rate that applied and makes "accrued today" exact.) `day_start_ms` is the start (UTC) of
-- the payment's business day in Kazakhstan (UTC+5), the day it is credited for.
CREATE TABLE commission_accruals (
    transaction_id  TEXT PRIMARY KEY REFERENCES payments (transaction_id),
    dealer_code     TEXT NOT NULL REFERENCES dealers (code),
    provider        TEXT NOT NULL,
    amount_tiyn     BIGINT NOT NULL,
    rate_bp         BIGINT NOT NULL CHECK (rate_bp >= 0 AND rate_bp <= 10000),
    commission_tiyn BIGINT NOT NULL CHECK (commission_tiyn >= 0),
    day_start_ms    BIGINT NOT NULL,
    accrued_at_ms   BIGINT NOT NULL
);
CREATE INDEX commission_accruals_day ON commission_accruals (dealer_code, day_start_ms);

-- A business day whose commission has been credited to the dealer: one `commission` ledger
-- entry (none when the sum is 0). The primary key makes the daily run idempotent.
CREATE TABLE commission_credits (
    dealer_code     TEXT NOT NULL REFERENCES dealers (code),
    day_start_ms    BIGINT NOT NULL,
    commission_tiyn BIGINT NOT NULL CHECK (commission_tiyn >= 0),
    payments        BIGINT NOT NULL,
    credited_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (dealer_code, day_start_ms)
);

-- Payments accepted before this migration accrue at today's rates, so the first run credits
-- their days too.
INSERT INTO commission_accruals (transaction_id, dealer_code, provider, amount_tiyn, rate_bp,
    commission_tiyn, day_start_ms, accrued_at_ms)
SELECT p.transaction_id, p.dealer_code, p.provider, p.amount_tiyn, pr.dealer_commission_bp,
       p.amount_tiyn * pr.dealer_commission_bp / 10000,
       (p.received_at_ms + 18000000) / 86400000 * 86400000 - 18000000,
       p.received_at_ms
FROM payments p JOIN providers pr ON pr.code = p.provider
WHERE p.state = 'accepted';

-- The audit trail: every console action and every key event, append-only and hash-chained.
-- `hash` = SHA-256 (hex) of `prev_hash` (hex) followed by the row's canonical JSON (see
-- src/audit.rs); `seq` counts up by one. Changing, inserting or deleting a row breaks the
-- chain, which `tolem-gateway verify-audit` reports. Kept 5 years (purge: src/audit/chain.rs).
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at_ms       BIGINT NOT NULL,
    -- A console user's e-mail, 'point:P1001', 'key:P1001-1' or 'system'.
    actor       TEXT NOT NULL,
    -- Whose trail it is (the console shows a dealer only its own); NULL for an unknown login.
    dealer_code TEXT,
    ip          TEXT NOT NULL,
    action      TEXT NOT NULL,
    -- What the action is about: 'key:P1001-1', 'point:P1002', 'operation:op-3'...
    subject     TEXT NOT NULL,
    -- JSON: the changed fields before and after, or what was done.
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_dealer ON audit_log (dealer_code, seq);
CREATE INDEX audit_log_at ON audit_log (at_ms);

-- The chain's two ends. `head_*`: the last row written, updated in the same transaction as the
-- row (its UPDATE also serialises writers on PostgreSQL), so deleting the newest rows is
-- noticed too. `anchor_*`: the last row purged (0 and 64 zeros before any purge), where
-- verification starts.
CREATE TABLE audit_chain (
    id           SMALLINT PRIMARY KEY CHECK (id = 1),
    head_seq     BIGINT NOT NULL,
    head_hash    TEXT NOT NULL,
    anchor_seq   BIGINT NOT NULL,
    anchor_hash  TEXT NOT NULL,
    purged_at_ms BIGINT
);
INSERT INTO audit_chain (id, head_seq, head_hash, anchor_seq, anchor_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0,
        '0000000000000000000000000000000000000000000000000000000000000000');
