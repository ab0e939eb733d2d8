-- The first schema of otpd's SQLite store.
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC), so they order
-- and compare as numbers and cost 8 bytes; a column that may hold "never" is
-- nullable and NULL means the zero time. Durations are INTEGER seconds (the
-- API's unit). Lists are JSON text.

CREATE TABLE services (
	id                      TEXT PRIMARY KEY,
	name                    TEXT NOT NULL,
	code_length             INTEGER NOT NULL,
	code_alphabet           TEXT NOT NULL,
	ttl_seconds             INTEGER NOT NULL,
	max_ttl_seconds         INTEGER NOT NULL,
	max_check_attempts      INTEGER NOT NULL,
	max_sends               INTEGER NOT NULL,
	resend_cooldown_seconds INTEGER NOT NULL,
	channels                TEXT NOT NULL,  -- JSON array of channel names
	countries               TEXT NOT NULL,  -- JSON array of ISO 3166 alpha-2 codes
	locale                  TEXT NOT NULL,
	webhook_url             TEXT NOT NULL,
	webhook_secret          TEXT NOT NULL,
	app_hash                TEXT NOT NULL,
	webotp_domain           TEXT NOT NULL,
	created_at              INTEGER NOT NULL,
	updated_at              INTEGER NOT NULL
);

CREATE TABLE keys (
	id           TEXT PRIMARY KEY,
	service_id   TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	secret_hash  BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER
);
CREATE INDEX keys_service ON keys (service_id, id);

CREATE TABLE verifications (
	id                      TEXT PRIMARY KEY,
	service_id              TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	to_addr                 TEXT NOT NULL,
	to_key                  TEXT NOT NULL,
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
	salt                    BLOB,
	code_hash               BLOB,
	max_attempts            INTEGER NOT NULL,
	attempts                INTEGER NOT NULL,
	max_sends               INTEGER NOT NULL,
	sends                   INTEGER NOT NULL,
	resend_cooldown_seconds INTEGER NOT NULL,
	created_at              INTEGER NOT NULL,
	updated_at              INTEGER NOT NULL,
	expires_at              INTEGER NOT NULL,
	last_sent_at            INTEGER
);
-- ListVerifications: a service's verifications, newest first.
CREATE INDEX verifications_service ON verifications (service_id, id);
-- FindPending and ListVerifications by destination.
CREATE INDEX verifications_pending ON verifications (service_id, to_key, status, id);
-- ExpireVerifications.
CREATE INDEX verifications_expiry ON verifications (status, expires_at);
-- PurgeVerifications.
CREATE INDEX verifications_created ON verifications (created_at);

-- Messages keep the order they were inserted in (the rowid), which is the
-- order Verification.Messages has: ids made in one millisecond do not sort.
CREATE TABLE messages (
	id              TEXT PRIMARY KEY,
	verification_id TEXT NOT NULL REFERENCES verifications (id) ON DELETE CASCADE,
	service_id      TEXT NOT NULL,
	channel         TEXT NOT NULL,
	status          TEXT NOT NULL,
	error           TEXT NOT NULL,
	provider_id     TEXT NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	lease_until     INTEGER,         -- ClaimMessages' lease; NULL when not leased
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX messages_verification ON messages (verification_id);
-- The delivery queue: ClaimMessages reads only queued messages, in order.
CREATE INDEX messages_queue ON messages (next_attempt_at, id) WHERE status = 'queued';

CREATE TABLE idempotency_keys (
	scope        TEXT NOT NULL,
	key          TEXT NOT NULL,
	request_hash BLOB,
	completed    INTEGER NOT NULL,
	status_code  INTEGER NOT NULL,
	header       BLOB,
	body         BLOB,
	created_at   INTEGER NOT NULL,
	locked_until INTEGER,
	PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
