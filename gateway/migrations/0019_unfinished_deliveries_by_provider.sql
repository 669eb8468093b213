-- The reads past the providers at their cap (`db::deliveries::due_of`, migration 0018) found
-- the jobs waiting for an attempt but not a claim whose worker died mid-attempt (killed, its
-- machine lost): such a claim (`sent`) is due again when its lease runs out, and only the
-- oldest-first reads found it — behind a silent provider's backlog, not until that provider
-- answered, however long its outage. This index holds the claims too, so the reads past the
-- capped find every due job of the providers with room.
--
-- A claim now takes an entry here (its due time is its lease's end); a delivery that finishes
-- takes none. `provider IS NOT NULL` is always true (the column is `NOT NULL`), and is here so
-- that only a statement naming a provider is planned through this index: every `provider = $n`
-- implies it on both databases (PostgreSQL: the operator is strict; SQLite: "a comparison on the
-- column implies IS NOT NULL", https://www.sqlite.org/partialindex.html#queries_using_partial_indexes),
-- while the oldest-first reads (`deliveries_unfinished`, migration 0016), which have the same
-- state condition, name none. Without it PostgreSQL read those through this index whole and
-- sorted them (1.2 ms a read under the gateway benchmark, issue 14).
DROP INDEX deliveries_waiting_by_provider;
CREATE INDEX deliveries_unfinished_by_provider
    ON deliveries (provider, next_attempt_at_ms, transaction_id)
    WHERE state IN ('queued', 'sent', 'retrying') AND provider IS NOT NULL;
