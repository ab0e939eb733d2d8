-- The first schema of otpd's PostgreSQL store. It mirrors the SQLite store's
-- (sqlite/migrations/0001_init.sql) table for table and index for index; what
-- differs is PostgreSQL's types:
--
-- * Times are TIMESTAMPTZ(3). The store truncates every time to the
--   millisecond before it writes it (the column's own precision would round),
--   so what comes back, and every comparison the store makes (expiry, leases,
--   purges), agrees with the SQLite store to the millisecond. A column that may
--   hold "never" is nullable and NULL means the zero time.
-- * Durations are INTEGER seconds (the API's unit), bytes BYTEA, lists JSONB.
-- * Ids and other keys are TEXT COLLATE "C": they sort byte by byte, as Go
--   compares them, whatever the database's collation, so cursors ("ids after
--   x") mean the same on every server, and their indexes compare with memcmp.
-- * Tables whose rows are updated in place (a check, a lease) leave 10 % of
--   each page free, so that an update which touches no indexed column can stay
--   on its page (a HOT update) instead of writing every index again.

CREATE TABLE services (
	id                      TEXT COLLATE "C" PRIMARY KEY,
	name                    TEXT NOT NULL,
	code_length             INTEGER NOT NULL,
	code_alphabet           TEXT NOT NULL,
	ttl_seconds             INTEGER NOT NULL,
	max_ttl_seconds         INTEGER NOT NULL,
	max_check_attempts      INTEGER NOT NULL,
	max_sends               INTEGER NOT NULL,
	resend_cooldown_seconds INTEGER NOT NULL,
	channels                JSONB NOT NULL,  -- array of channel names
	countries               JSONB NOT NULL,  -- array of ISO 3166 alpha-2 codes
	locale                  TEXT NOT NULL,
	webhook_url             TEXT NOT NULL,
	webhook_secret          TEXT NOT NULL,
	app_hash                TEXT NOT NULL,
	webotp_domain           TEXT NOT NULL,
	created_at              TIMESTAMPTZ(3) NOT NULL,
	updated_at              TIMESTAMPTZ(3) NOT NULL
);

CREATE TABLE keys (
	id           TEXT COLLATE "C" PRIMARY KEY,
	service_id   TEXT COLLATE "C" NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	secret_hash  BYTEA NOT NULL,
	created_at   TIMESTAMPTZ(3) NOT NULL,
	last_used_at TIMESTAMPTZ(3)
) WITH (fillfactor = 90);
CREATE INDEX keys_service ON keys (service_id, id);

CREATE TABLE verifications (
	id                      TEXT COLLATE "C" PRIMARY KEY,
	service_id              TEXT COLLATE "C" NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	to_addr                 TEXT NOT NULL,
	to_key                  TEXT COLLATE "C" NOT NULL,
	channel                 TEXT NOT NULL,
	status                  TEXT NOT NULL,
	locale                  TEXT NOT NULL,
	purpose                 TEXT NOT NULL,
	reference               TEXT NOT NULL,
	client_ip               TEXT NOT NULL,
	-- The transaction a code is bound to: all NULL when there is none.
	tx_amount               TEXT,
	tx_currency             TEXT,
	tx_payee                TEXT,
	code_length             INTEGER NOT NULL,
	code_alphabet           TEXT NOT NULL,
	key_id                  TEXT NOT NULL,
	salt                    BYTEA,
	code_hash               BYTEA,
	max_attempts            INTEGER NOT NULL,
	attempts                INTEGER NOT NULL,
	max_sends               INTEGER NOT NULL,
	sends                   INTEGER NOT NULL,
	resend_cooldown_seconds INTEGER NOT NULL,
	created_at              TIMESTAMPTZ(3) NOT NULL,
	updated_at              TIMESTAMPTZ(3) NOT NULL,
	expires_at              TIMESTAMPTZ(3) NOT NULL,
	last_sent_at            TIMESTAMPTZ(3)
) WITH (fillfactor = 90);
-- ListVerifications: a service's verifications, newest first.
CREATE INDEX verifications_service ON verifications (service_id, id);
-- FindPending and ListVerifications by destination.
CREATE INDEX verifications_pending ON verifications (service_id, to_key, status, id);
-- ExpireVerifications reads only pending verifications, soonest expiry
-- first; the index holds nothing else.
CREATE INDEX verifications_expiry ON verifications (expires_at) WHERE status = 'pending';
-- PurgeVerifications.
CREATE INDEX verifications_created ON verifications (created_at);

-- Messages keep the order they were inserted in (seq), which is the order
-- Verification.Messages has: ids made in one millisecond do not sort. Updates
-- of one verification's messages are serialized by the verification's row
-- lock, so their seq order is their insertion order on every node.
CREATE TABLE messages (
	seq             BIGINT GENERATED ALWAYS AS IDENTITY,
	id              TEXT COLLATE "C" PRIMARY KEY,
	verification_id TEXT COLLATE "C" NOT NULL REFERENCES verifications (id) ON DELETE CASCADE,
	service_id      TEXT COLLATE "C" NOT NULL,
	channel         TEXT NOT NULL,
	status          TEXT NOT NULL,
	error           TEXT NOT NULL,
	provider_id     TEXT NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at TIMESTAMPTZ(3) NOT NULL,
	lease_until     TIMESTAMPTZ(3),  -- ClaimMessages' lease; NULL when not leased
	created_at      TIMESTAMPTZ(3) NOT NULL,
	updated_at      TIMESTAMPTZ(3) NOT NULL
) WITH (fillfactor = 90);
CREATE INDEX messages_verification ON messages (verification_id, seq);
-- The delivery queue: ClaimMessages reads only queued messages, in order.
CREATE INDEX messages_queue ON messages (next_attempt_at, id) WHERE status = 'queued';

CREATE TABLE idempotency_keys (
	scope        TEXT COLLATE "C" NOT NULL,
	key          TEXT COLLATE "C" NOT NULL,
	request_hash BYTEA,
	completed    BOOLEAN NOT NULL,
	status_code  INTEGER NOT NULL,
	header       BYTEA,
	body         BYTEA,
	created_at   TIMESTAMPTZ(3) NOT NULL,
	locked_until TIMESTAMPTZ(3),
	PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
