-- The fraud guard's conversion counters and blocks; mirrors
-- sqlite/migrations/0009_fraud.sql.

-- Counts per bucket of creation time; every node adds its counts about
-- once a second (AddConversions, an upsert), so the guard judges the
-- traffic of all nodes. Keys are prefixes and regions, never a destination.
CREATE TABLE fraud_counters (
	service_id TEXT COLLATE "C" NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	scope      TEXT COLLATE "C" NOT NULL,  -- prefix | country
	key        TEXT COLLATE "C" NOT NULL,
	bucket     TIMESTAMPTZ(3) NOT NULL,
	started    BIGINT NOT NULL,
	approved   BIGINT NOT NULL,
	PRIMARY KEY (service_id, scope, key, bucket)
) WITH (fillfactor = 80);  -- updated in place, often
CREATE INDEX fraud_counters_bucket ON fraud_counters (bucket);

CREATE TABLE fraud_blocks (
	id         TEXT COLLATE "C" PRIMARY KEY,
	service_id TEXT COLLATE "C" NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	scope      TEXT COLLATE "C" NOT NULL,
	key        TEXT COLLATE "C" NOT NULL,
	level      INTEGER NOT NULL,
	reason     TEXT NOT NULL,
	created_by TEXT NOT NULL,              -- guard | admin
	started    BIGINT NOT NULL,
	approved   BIGINT NOT NULL,
	created_at TIMESTAMPTZ(3) NOT NULL,
	expires_at TIMESTAMPTZ(3) NOT NULL,
	lifted_at  TIMESTAMPTZ(3),
	lifted_by  TEXT NOT NULL
);
CREATE INDEX fraud_blocks_key ON fraud_blocks (service_id, scope, key, created_at);
CREATE INDEX fraud_blocks_service ON fraud_blocks (service_id, id);
CREATE INDEX fraud_blocks_active ON fraud_blocks (expires_at) WHERE lifted_at IS NULL;
