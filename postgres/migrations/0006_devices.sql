-- Registered push devices; mirrors sqlite/migrations/0006_devices.sql.
CREATE TABLE devices (
	id          TEXT COLLATE "C" PRIMARY KEY,
	service_id  TEXT COLLATE "C" NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	platform    TEXT NOT NULL,
	token       TEXT NOT NULL,
	label       TEXT NOT NULL,
	created_at  TIMESTAMPTZ(3) NOT NULL,
	dead_at     TIMESTAMPTZ(3),
	dead_reason TEXT NOT NULL
);
CREATE INDEX devices_service ON devices (service_id, id);
