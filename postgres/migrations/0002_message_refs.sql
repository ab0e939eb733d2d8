-- The ids that delivery receipts carry for a message (one per part of a
-- long SMS), qualified by channel, so a receipt finds its message on any
-- node.
CREATE TABLE message_refs (
	ref             TEXT COLLATE "C" PRIMARY KEY,
	message_id      TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	verification_id TEXT COLLATE "C" NOT NULL,
	service_id      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX message_refs_message ON message_refs (message_id);
