-- Shift reports (issue 16): when a cashier closes a shift, the phone counts the shift's payments
-- (per state, per provider, the cash to hand over, what still waits) and sends the report signed
-- with the point key as the `shift` step. The dealer's console shows each report beside the
-- gateway's own figures for the same point, key and time span.
--
-- The session the phone chose is the idempotency key, as for payments: the same report sent
-- again (a phone that got no answer) is stored once; the same session with other figures is
-- refused with code 1.
CREATE TABLE shift_reports (
    point_code        TEXT NOT NULL REFERENCES points (code),
    session           TEXT NOT NULL,
    dealer_code       TEXT NOT NULL REFERENCES dealers (code),
    cashier_code      TEXT NOT NULL,
    -- The key that signed it: the gateway's figures are that key's payments.
    key_serial        TEXT NOT NULL REFERENCES keys (serial),
    -- The shift, by the time the phone signs with (UTC milliseconds): payments created in
    -- [opened_at_ms, closed_at_ms) belong to it.
    opened_at_ms      BIGINT NOT NULL,
    closed_at_ms      BIGINT NOT NULL CHECK (closed_at_ms > opened_at_ms),
    -- The cash the cashier hands over, as the phone counted it (tiyn).
    cash_tiyn         BIGINT NOT NULL CHECK (cash_tiyn >= 0),
    -- The figures as the phone sent them: the protocol's ShiftReport as JSON (states,
    -- providers, waiting), read back whole; a list of lines does not fit columns.
    report            TEXT NOT NULL,
    -- SHA-256 (hex) of `report`: the same session with the same hash is the same report.
    content_hash      TEXT NOT NULL,
    -- Proof of what the point said: the exact signed bytes (standard base64) and signature.
    request_body      TEXT NOT NULL,
    request_signature TEXT NOT NULL,
    received_at_ms    BIGINT NOT NULL,
    PRIMARY KEY (point_code, session)
);
-- The point's page lists its newest reports.
CREATE INDEX shift_reports_point ON shift_reports (point_code, closed_at_ms);
