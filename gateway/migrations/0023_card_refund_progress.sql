-- A refund to the card is followed until the payment service says it is over, and an operator
-- hears of one the service keeps failing (src/card/refund.rs):
-- * Robokassa takes a refund and carries it out later: the row stays pending with the
--   service's request id in `refund_id`, and the worker asks how far it got instead of asking
--   for the refund again;
-- * TipTop Pay keeps the answer to an idempotency key for an hour only: `first_attempt_at_ms`
--   says when the refund was first sent, so that one sent again later is first looked for at
--   the service (it may have been made, its answer lost);
-- * `failed_attempts` counts the attempts since the service last answered; past a number of
--   them the worker records an alarm once, at `stuck_reported_at_ms`.
ALTER TABLE card_refunds ADD COLUMN first_attempt_at_ms BIGINT;
ALTER TABLE card_refunds ADD COLUMN failed_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE card_refunds ADD COLUMN stuck_reported_at_ms BIGINT;

-- Refunds sent before: their first attempt was no earlier than their request, so a check made
-- from the request's time is made no later than needed; every attempt so far failed (a refund
-- the service answered is done or failed, not pending).
UPDATE card_refunds SET first_attempt_at_ms = requested_at_ms WHERE attempts > 0;
UPDATE card_refunds SET failed_attempts = attempts WHERE state = 'pending';
