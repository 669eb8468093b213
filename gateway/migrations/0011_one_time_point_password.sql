-- A point's password enrols one key (issue 13, item 9). Until now it worked forever, so anyone
-- who once saw it could register a key at any later time. The key registration that uses it
-- stamps the time here; a used password is refused until the dealer gives the point a new one
-- (which clears the stamp). Existing points' passwords count as unused.
ALTER TABLE points ADD COLUMN password_used_at_ms BIGINT;
