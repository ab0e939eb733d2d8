-- Fingerprints of the keyring keys nodes have used with this store, so a
-- node whose keyring differs (another secret under the same key id) is
-- refused at start instead of silently refusing the others' codes.
CREATE TABLE key_fingerprints (
	key_id      TEXT PRIMARY KEY,
	fingerprint TEXT NOT NULL
);
