-- The fraud guard's conversion counters and blocks (package fraud).

-- How many verifications of a service were started for a number prefix or
-- a country, and how many of those were approved, per bucket of creation
-- time (bucket: its start, in milliseconds). Every node adds its counts
-- here about once a second, so the guard judges the traffic of all nodes.
-- Keys are prefixes and regions, never a full destination.
CREATE TABLE fraud_counters (
	service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	scope      TEXT NOT NULL,      -- prefix | country
	key        TEXT NOT NULL,
	bucket     INTEGER NOT NULL,
	started    INTEGER NOT NULL,
	approved   INTEGER NOT NULL,
	UNIQUE (service_id, scope, key, bucket)
);
-- ConversionStats (a span of buckets) and PurgeConversions.
CREATE INDEX fraud_counters_bucket ON fraud_counters (bucket);

-- A block stops a service's verifications to a prefix or a country until
-- expires_at, unless lifted before.
CREATE TABLE fraud_blocks (
	id         TEXT PRIMARY KEY,
	service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	scope      TEXT NOT NULL,
	key        TEXT NOT NULL,
	level      INTEGER NOT NULL,
	reason     TEXT NOT NULL,
	created_by TEXT NOT NULL,      -- guard | admin
	started    INTEGER NOT NULL,
	approved   INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	lifted_at  INTEGER,
	lifted_by  TEXT NOT NULL
);
-- A key's blocks: the active one, escalation, and ConversionStats' cut-off.
CREATE INDEX fraud_blocks_key ON fraud_blocks (service_id, scope, key, created_at);
-- The blocks API: a service's blocks, newest first.
CREATE INDEX fraud_blocks_service ON fraud_blocks (service_id, id);
-- Every node's refresh of the active blocks.
CREATE INDEX fraud_blocks_active ON fraud_blocks (expires_at) WHERE lifted_at IS NULL;
