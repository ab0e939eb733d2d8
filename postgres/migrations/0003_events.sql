-- Events (webhooks) and receipts that arrived before their message's refs;
-- mirrors sqlite/migrations/0003_events.sql.

-- An event is written in the same transaction as the change it records.
-- seq is the write order: a verification's events are written under its row
-- lock, so their seq order is the order of the changes, on every node.
-- Events outlive their verification (they have their own retention), so
-- only the service is a foreign key.
CREATE TABLE events (
	seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id               TEXT COLLATE "C" NOT NULL UNIQUE,
	service_id       TEXT COLLATE "C" NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	verification_id  TEXT COLLATE "C" NOT NULL,
	message_id       TEXT COLLATE "C" NOT NULL,
	type             TEXT NOT NULL,
	created_at       TIMESTAMPTZ(3) NOT NULL,
	data             BYTEA NOT NULL,  -- the verification as the API showed it (JSON)
	state            TEXT NOT NULL,   -- pending | delivered | failed | disabled
	attempts         INTEGER NOT NULL,
	next_attempt_at  TIMESTAMPTZ(3),
	deadline         TIMESTAMPTZ(3),
	last_attempt_at  TIMESTAMPTZ(3),
	last_status_code INTEGER NOT NULL,
	last_error       TEXT NOT NULL,
	delivered_at     TIMESTAMPTZ(3),
	lease_until      TIMESTAMPTZ(3)   -- ClaimEvents' lease; NULL when not leased
) WITH (fillfactor = 90);
CREATE INDEX events_service ON events (service_id, seq);
-- Head-of-line look-up: the oldest pending event of a verification.
CREATE INDEX events_pending ON events (verification_id, seq) WHERE state = 'pending';
CREATE INDEX events_due ON events (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX events_created ON events (created_at);

CREATE TABLE event_attempts (
	seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id    TEXT COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	at          TIMESTAMPTZ(3) NOT NULL,
	url         TEXT NOT NULL,
	status_code INTEGER NOT NULL,
	error       TEXT NOT NULL,
	duration_ms BIGINT NOT NULL
);
CREATE INDEX event_attempts_event ON event_attempts (event_id, seq);

-- A receipt whose ref is not recorded yet: its send's outcome is still
-- being written. Kept until the outcome comes, or purged after an hour.
CREATE TABLE early_receipts (
	ref         TEXT COLLATE "C" PRIMARY KEY,  -- qualified, as in message_refs
	channel     TEXT NOT NULL,
	raw_ref     TEXT NOT NULL,
	status      TEXT NOT NULL,
	error       TEXT NOT NULL,
	received_at TIMESTAMPTZ(3) NOT NULL
);
CREATE INDEX early_receipts_received ON early_receipts (received_at);
