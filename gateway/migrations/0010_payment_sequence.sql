-- What a phone can tell about payments it signed but the gateway never saw (issue 13, item 5).
--
-- Every cash payment a phone signs carries its key's next number (1, 2, 3…, signed inside the
-- request). The gateway keeps each number it received with the payment's session, whatever
-- became of the payment (a refusal with 902 or 53 stores no payment, but the phone still has
-- it). A number below the key's highest that is not here is a payment the phone signed and
-- the gateway never received: the dealer's console lists these gaps on the point's page.
CREATE TABLE payment_sequence (
    key_serial     TEXT NOT NULL REFERENCES keys (serial),
    seq            BIGINT NOT NULL CHECK (seq > 0),
    session        TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (key_serial, seq)
);

-- A phone whose browser cleared its storage says so (with the serial of the key that went
-- with it) on its next signed request: the payments that waited in its outbox are lost, and
-- the console warns on the point's page. NULL: no such report.
ALTER TABLE keys ADD COLUMN outbox_lost_at_ms BIGINT;
