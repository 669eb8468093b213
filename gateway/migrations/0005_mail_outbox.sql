-- Signed messages by e-mail (CyberplatMobile manual §16, §12.3): a point's letter, signed by its
-- key and countersigned by the gateway, waits in `mail_outbox` until the mail transport has
-- taken it, and is retried with backoff until then — never dropped. Each point may queue at
-- most `points.messages_per_hour` letters in any hour, so a stolen phone cannot spam.
-- Portable SQL: see README.md in this directory.

-- How many letters the point may queue in any 60 minutes (code 911 beyond); 0 = none. Set per
-- point by the gateway's operator: UPDATE points SET messages_per_hour = 50 WHERE code = '…'.
ALTER TABLE points ADD COLUMN messages_per_hour BIGINT NOT NULL DEFAULT 20
    CHECK (messages_per_hour >= 0);
-- How many message ids the point has been given: the next is '<point>-M<n+1>'. Its UPDATE is
-- the first statement of every queueing transaction, which locks the point's row on
-- PostgreSQL: one point's letters are counted against its limit one at a time.
ALTER TABLE points ADD COLUMN messages_issued BIGINT NOT NULL DEFAULT 0;

-- A letter relayed for a point. (point_code, session) is the idempotency key, as for payments:
-- the same signed letter sent again gets the same message id and no second e-mail.
CREATE TABLE mail_outbox (
    -- '<point>-M<n>', answered to the phone and shown in the e-mail and the console.
    message_id         TEXT PRIMARY KEY,
    point_code         TEXT NOT NULL REFERENCES points (code),
    session            TEXT NOT NULL,
    dealer_code        TEXT NOT NULL REFERENCES dealers (code),
    cashier_code       TEXT NOT NULL,
    key_serial         TEXT NOT NULL REFERENCES keys (serial),
    recipient          TEXT NOT NULL,
    -- SHA-256 (hex) of the letter (recipient and text): the same session with another letter
    -- is refused with code 1.
    content_hash       TEXT NOT NULL,
    -- Proof of what the point asked for: the exact signed bytes (standard base64) and the
    -- signature as it came in the header. The e-mail carries both, with the gateway's own.
    request_body       TEXT NOT NULL,
    request_signature  TEXT NOT NULL,
    -- The e-mail as composed when the letter was queued (plain UTF-8 text): every attempt
    -- sends exactly this.
    subject            TEXT NOT NULL,
    body               TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed_temporarily')),
    -- Delivery attempts that failed (a sent letter keeps the count of failures before it).
    attempts           BIGINT NOT NULL DEFAULT 0,
    -- When the worker may try next; while one tries, pushed ahead as a lease so no other
    -- worker (another gateway on the same database) sends the letter at the same time.
    next_attempt_at_ms BIGINT NOT NULL,
    -- What the mail server or the file system said last time (never a password).
    last_error         TEXT,
    -- When the gateway queued the letter (the e-mail's Date).
    created_at_ms      BIGINT NOT NULL,
    sent_at_ms         BIGINT,
    UNIQUE (point_code, session),
    CHECK ((state = 'sent' AND sent_at_ms IS NOT NULL)
        OR (state <> 'sent' AND sent_at_ms IS NULL))
);
-- What the worker sends next.
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at_ms);
-- The hourly limit of a point.
CREATE INDEX mail_outbox_point_hour ON mail_outbox (point_code, created_at_ms);
-- The console's list.
CREATE INDEX mail_outbox_dealer ON mail_outbox (dealer_code, created_at_ms);
