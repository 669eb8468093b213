-- Point keys (CyberplatMobile manual §2–4, §9): the cashiers of a point, the point's limits,
-- key cards and the keys registered under them, and what protects the two password logins
-- (throttled attempts, dealer-console sessions). Portable SQL: see README.md in this directory.

-- A cashier ("operator" of a point in the manual): every signed request names one, so a dealer
-- can block one person without blocking the kiosk. Codes are unique within their point.
CREATE TABLE cashiers (
    point_code    TEXT NOT NULL REFERENCES points (code),
    code          TEXT NOT NULL,
    name          TEXT NOT NULL,
    active        SMALLINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (point_code, code)
);

-- The point's limits, set by the dealer. NULL = no limit of that kind.
ALTER TABLE points ADD COLUMN payment_limit_tiyn BIGINT CHECK (payment_limit_tiyn > 0);
ALTER TABLE points ADD COLUMN daily_limit_tiyn BIGINT CHECK (daily_limit_tiyn > 0);
-- What the phone may take without a network (sent on the key card): 50 000 tenge per payment,
-- 200 000 tenge waiting at once, 72 hours before a deferred payment is refused.
ALTER TABLE points ADD COLUMN offline_max_payment_tiyn BIGINT NOT NULL DEFAULT 5000000
    CHECK (offline_max_payment_tiyn >= 0);
ALTER TABLE points ADD COLUMN offline_max_total_tiyn BIGINT NOT NULL DEFAULT 20000000
    CHECK (offline_max_total_tiyn >= 0);
ALTER TABLE points ADD COLUMN offline_max_age_ms BIGINT NOT NULL DEFAULT 259200000
    CHECK (offline_max_age_ms >= 0);
-- How many key cards the point has been issued: the next serial is '<point>-<n+1>'. A counter
-- rather than MAX() over key_cards, so two phones asking at once never get the same serial.
ALTER TABLE points ADD COLUMN key_cards_issued BIGINT NOT NULL DEFAULT 0;

-- A key card handed to a phone: the serial its new key will be registered under.
CREATE TABLE key_cards (
    serial        TEXT PRIMARY KEY,
    point_code    TEXT NOT NULL REFERENCES points (code),
    cashier_code  TEXT NOT NULL,
    issued_at_ms  BIGINT NOT NULL,
    FOREIGN KEY (point_code, cashier_code) REFERENCES cashiers (point_code, code)
);
CREATE INDEX key_cards_point_code ON key_cards (point_code);

-- A point's public key, registered by the phone under its card's serial. 'pending' until the
-- dealer has compared fingerprints and certified it; only a 'certified' key may move money.
-- One key per card (the primary key) and one card per key (UNIQUE public_key).
CREATE TABLE keys (
    serial           TEXT PRIMARY KEY REFERENCES key_cards (serial),
    point_code       TEXT NOT NULL REFERENCES points (code),
    -- Unpadded base64url, as on the wire; the fingerprint is stored for the console and reports.
    public_key       TEXT NOT NULL UNIQUE,
    fingerprint      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'certified', 'revoked')),
    registered_at_ms BIGINT NOT NULL,
    certified_at_ms  BIGINT,
    -- The console user's e-mail.
    certified_by     TEXT,
    revoked_at_ms    BIGINT,
    -- A console user's e-mail, or 'key:<serial>' when the phone revoked its own key.
    revoked_by       TEXT
);
CREATE INDEX keys_point_code ON keys (point_code);

-- Failed password attempts per subject ('point:P1001', 'ip:203.0.113.7', 'console:a@b.kz'),
-- so guessing is slowed down however the attacker spreads the attempts.
CREATE TABLE login_attempts (
    subject             TEXT PRIMARY KEY,
    failures            BIGINT NOT NULL,
    first_failure_at_ms BIGINT NOT NULL,
    last_failure_at_ms  BIGINT NOT NULL,
    -- 0 when not blocked.
    blocked_until_ms    BIGINT NOT NULL DEFAULT 0
);

-- A logged-in dealer-console user. Only the SHA-256 of the cookie's token is kept: someone who
-- reads the database (or a backup) cannot turn a row back into a working cookie.
CREATE TABLE console_sessions (
    id_hash         TEXT PRIMARY KEY,
    email           TEXT NOT NULL REFERENCES dealer_users (email),
    -- Put in every form of the session and checked on every POST.
    csrf_token      TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    last_seen_at_ms BIGINT NOT NULL,
    -- The absolute end, however active the session is.
    expires_at_ms   BIGINT NOT NULL
);
CREATE INDEX console_sessions_email ON console_sessions (email);
