-- Fingerprints of the keyring keys nodes have used with this store, so a
-- node whose keyring differs (another secret under the same key id) is
-- refused at start instead of silently refusing the others' codes; mirrors
-- sqlite/migrations/0004_key_fingerprints.sql.
CREATE TABLE key_fingerprints (
	key_id      TEXT COLLATE "C" PRIMARY KEY,
	fingerprint TEXT NOT NULL
);
