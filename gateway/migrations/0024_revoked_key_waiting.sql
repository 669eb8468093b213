-- The sessions a phone named as still waiting on it when it revoked its own key (the signed
-- `revoke` step's list): payments and bills the cashier saved to a file before deleting the
-- key, for a dealer or support to send later. A `pay` of one of them, signed by that key, is
-- decided as if the key were still in force, for that request only; a `status` of one of them
-- is answered. Written with the revocation, in its transaction, and never changed: a key is
-- revoked once. A key the dealer revoked from the console has no rows here.
CREATE TABLE revoked_key_waiting (
    key_serial TEXT NOT NULL REFERENCES keys (serial),
    session    TEXT NOT NULL,
    PRIMARY KEY (key_serial, session)
);
