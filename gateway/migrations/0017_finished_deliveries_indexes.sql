-- Issue 14: `deliveries_provider` (provider, state, queued time) took a new entry each time a
-- delivery changed — accepted, claimed, retried, delivered, three or more per payment on the
-- gateway's busiest table — yet served its two readers badly: a provider's registry of one
-- business day (`delivery::registry::of_day`: delivered, finished within the day) read every
-- delivery ever delivered to that provider, and the console's troubled deliveries
-- (`db::deliveries::troubled`: unfinished, or failed lately) read the whole table. Each now has
-- an index of just the rows it asks for: the delivered by provider and finishing time, the
-- failed by finishing time (the unfinished are `deliveries_unfinished`'s, migration 0016). A
-- delivery takes one entry in them, when it finishes, and a payment's way to its provider
-- writes two index entries fewer.
DROP INDEX deliveries_provider;
CREATE INDEX deliveries_delivered ON deliveries (provider, finished_at_ms)
    WHERE state = 'delivered';
CREATE INDEX deliveries_failed ON deliveries (finished_at_ms)
    WHERE state = 'failed';
