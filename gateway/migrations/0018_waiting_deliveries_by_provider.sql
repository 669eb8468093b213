-- A provider that does not answer (an outage, a network that swallows requests) holds its
-- places in flight (`TOLEM_DELIVERY_IN_FLIGHT_PER_PROVIDER`) until its attempts time out, and
-- every payment to it meanwhile waits, due. The delivery worker reads the due deliveries
-- oldest first (`deliveries_unfinished`, migration 0016), at most 100 at a time: once more than
-- that of the silent provider's were due ahead of another provider's, every read found only
-- jobs it could not start, and the other providers' payments waited for the silent one to
-- answer — an outage of one provider held up the deliveries to all. This index lets the worker
-- read the due deliveries of the providers with room past those of the ones at their cap
-- (`db::deliveries::due_of`), each provider's oldest first, however many of theirs wait.
-- Only the jobs waiting for an attempt, not those claimed (`sent`, due again only when a
-- worker died mid-attempt, which the oldest-first reads find): a claim then adds no entry to
-- it, and the oldest-first reads (`deliveries_unfinished`), whose condition no longer implies
-- this one's, are never planned through it (with the same condition, PostgreSQL read them
-- through this index whole and sorted them, 1.2 ms a read under the gateway benchmark).
CREATE INDEX deliveries_waiting_by_provider
    ON deliveries (provider, next_attempt_at_ms, transaction_id)
    WHERE state IN ('queued', 'retrying');
