-- The console finds a card payment's bill by the payment's transaction number (to refund one
-- older than the newest bills it lists); without an index that read every bill ever made.
-- Only paid bills have one.
CREATE INDEX bills_by_transaction ON bills (transaction_id) WHERE transaction_id IS NOT NULL;
