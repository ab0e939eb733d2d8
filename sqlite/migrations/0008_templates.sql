-- A service's own message templates, one per channel, purpose and locale;
-- they go with the service.
CREATE TABLE templates (
	service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	channel    TEXT NOT NULL,
	purpose    TEXT NOT NULL,
	locale     TEXT NOT NULL,
	subject    TEXT NOT NULL,
	text       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (service_id, channel, purpose, locale)
);
