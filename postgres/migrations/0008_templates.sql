-- A service's own message templates; mirrors sqlite/migrations/0008_templates.sql.
CREATE TABLE templates (
	service_id TEXT COLLATE "C" NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	channel    TEXT COLLATE "C" NOT NULL,
	purpose    TEXT COLLATE "C" NOT NULL,
	locale     TEXT COLLATE "C" NOT NULL,
	subject    TEXT NOT NULL,
	text       TEXT NOT NULL,
	created_at TIMESTAMPTZ(3) NOT NULL,
	updated_at TIMESTAMPTZ(3) NOT NULL,
	PRIMARY KEY (service_id, channel, purpose, locale)
);
