-- Each key speaks for one cashier (issue 13, item 7): the cashier its key card was issued to.
-- Until now a signed request's `cashier` was checked against any cashier of the point, so the
-- phone of a cashier the dealer had blocked kept paying by naming another one. Existing keys
-- take their card's cashier; NULL would mean a key from before cards named a cashier, which
-- then keeps the old rule (any active cashier of its point).
ALTER TABLE keys ADD COLUMN cashier_code TEXT;
UPDATE keys SET cashier_code =
    (SELECT key_cards.cashier_code FROM key_cards WHERE key_cards.serial = keys.serial);
