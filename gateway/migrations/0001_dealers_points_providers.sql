-- The network a payment passes through: the dealer who owns the money, the points (kiosks,
-- phones) that take cash on the dealer's behalf, the people who run the dealer console, and the
-- providers a payment can go to. Portable SQL: see README.md in this directory.

-- A dealer: owns an account with the gateway; its balance must cover a payment before it is made.
CREATE TABLE dealers (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    -- Money in tiyn (1 tenge = 100 tiyn). Never negative: payments are refused, not overdrawn.
    balance_tiyn  BIGINT NOT NULL DEFAULT 0 CHECK (balance_tiyn >= 0),
    active        SMALLINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at_ms BIGINT NOT NULL
);

-- A payment point: the code and password the dealer hands to a cashier to register a key.
CREATE TABLE points (
    code          TEXT PRIMARY KEY,
    dealer_code   TEXT NOT NULL REFERENCES dealers (code),
    name          TEXT NOT NULL,
    address       TEXT NOT NULL DEFAULT '',
    -- Argon2id PHC string ($argon2id$v=19$...); the password itself is never stored.
    password_hash TEXT NOT NULL,
    -- A new point stays inactive until the dealer has certified its key.
    active        SMALLINT NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX points_dealer_code ON points (dealer_code);

-- A person who logs in to the dealer console. 'full' may confirm (certify keys, activate
-- points); 'create_view' may only create and look, as in the bank's access levels.
CREATE TABLE dealer_users (
    email         TEXT PRIMARY KEY,
    dealer_code   TEXT NOT NULL REFERENCES dealers (code),
    password_hash TEXT NOT NULL,
    access_level  TEXT NOT NULL CHECK (access_level IN ('full', 'create_view')),
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX dealer_users_dealer_code ON dealer_users (dealer_code);

-- A provider ("operator" in the CyberplatMobile manual) a payment is made to.
CREATE TABLE providers (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    -- What fits on a button of a small phone screen.
    short_label   TEXT NOT NULL,
    grp           TEXT NOT NULL CHECK (grp IN ('mobile', 'internet', 'utilities')),
    account_kind  TEXT NOT NULL CHECK (account_kind IN ('phone', 'account')),
    -- How to check a number before sending it, e.g. 'digits=10;prefixes=705,771,776,777'
    -- (format documented in src/db/seed.rs). Kept simple so the phone can check it offline
    -- without shipping a regex engine in the wasm.
    account_rule  TEXT NOT NULL,
    min_tiyn      BIGINT NOT NULL CHECK (min_tiyn > 0),
    max_tiyn      BIGINT NOT NULL,
    active        SMALLINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    CHECK (max_tiyn >= min_tiyn)
);
