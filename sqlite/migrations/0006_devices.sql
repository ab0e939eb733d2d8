-- Registered push devices: a verification with channel push is sent to one.
CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	service_id  TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	platform    TEXT NOT NULL,
	token       TEXT NOT NULL,
	label       TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	dead_at     INTEGER,          -- when the push service refused the token
	dead_reason TEXT NOT NULL
);
CREATE INDEX devices_service ON devices (service_id, id);
