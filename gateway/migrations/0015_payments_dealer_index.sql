-- Issue 14 item 4: every payment wrote five index entries beside its row; two of them were the
-- day's-sums indexes of 0013, which nothing reads any more — the daily limits read `day_sums`
-- (0014). Each index a group of payments writes into is more pages dirtied under the one write
-- lock, and more WAL frames written and synced at its commit. What still searches payments by
-- dealer and time is the dealer console's payment search (newest first, optionally from/to a
-- time), which this narrower index serves.
DROP INDEX payments_point_day;
DROP INDEX payments_dealer_day;
CREATE INDEX payments_dealer_received ON payments (dealer_code, received_at_ms);
