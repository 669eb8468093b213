-- Issue 14 item 4: the indexes of the day's accepted sums (daily limits, read for every
-- payment of a point or dealer that has one, under the write lock) also hold the amount and
-- the refund time, so the sums are read from the index alone instead of from each of the
-- day's payment rows — which carry the signed request and answer and are spread over the
-- table. Measured on SQLite with 50 000 payments of one dealer in a day: 255 ms per dealer
-- sum before, 35 ms after. Same leading columns as before, so every query that used the old
-- indexes uses these.
DROP INDEX payments_point_day;
DROP INDEX payments_dealer_day;
CREATE INDEX payments_point_day
    ON payments (point_code, state, received_at_ms, amount_tiyn, refunded_at_ms);
CREATE INDEX payments_dealer_day
    ON payments (dealer_code, state, received_at_ms, amount_tiyn, refunded_at_ms);
