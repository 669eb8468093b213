-- How many of a provider's payments may be on their way to it at once is what its contract
-- allows (and what its servers bear), different for each provider; it was one gateway setting
-- for them all (`TOLEM_DELIVERY_IN_FLIGHT_PER_PROVIDER`). Now the operator sets it on the
-- provider's connection; NULL keeps the gateway's setting. The range is
-- `delivery::connections::IN_FLIGHT_RANGE`'s.
ALTER TABLE provider_connections ADD COLUMN in_flight_max BIGINT
    CHECK (in_flight_max IS NULL OR (in_flight_max >= 1 AND in_flight_max <= 4096));
