-- Issue 14: the delivery worker asks for the next due deliveries, oldest due first
-- (`db::deliveries::due`: unfinished, due by now, by next attempt then transaction id, 100 at
-- a time). `deliveries_due` (state, next attempt) keeps each state's entries apart, so for the
-- three unfinished states the database read every due entry and sorted them to find the first
-- hundred: with 25 000 waiting (a provider back after an outage, the gateway benchmark's long
-- runs) 3 ms a call on PostgreSQL, the worker slowing down as its backlog grew. Kept in exactly
-- that order, and holding only unfinished deliveries, the index gives the first hundred as
-- they come, and stays as small as the backlog whatever the table's size. The same predicate
-- serves the earliest due time (`next_due_at`) and the metrics' count of unfinished
-- deliveries. Both databases have partial indexes (SQLite since 3.8.0).
DROP INDEX deliveries_due;
CREATE INDEX deliveries_unfinished ON deliveries (next_attempt_at_ms, transaction_id)
    WHERE state IN ('queued', 'sent', 'retrying');
