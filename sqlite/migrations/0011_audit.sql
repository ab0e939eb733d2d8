-- The audit log of admin actions (otpd.AuditEntry): append-only, so the
-- triggers refuse to change or delete an entry. No foreign key to services:
-- an entry outlives the service it names (service.delete is an entry too).
-- There is no retention purge: admin actions are few.
CREATE TABLE audit_log (
	seq        INTEGER PRIMARY KEY,   -- append order: listings go by it
	id         TEXT NOT NULL UNIQUE,
	at         INTEGER NOT NULL,      -- Unix ms
	actor      TEXT NOT NULL,         -- "admin", "system" or a key id; never a token
	action     TEXT NOT NULL,
	service_id TEXT NOT NULL,         -- '' for actions outside any one service
	target     TEXT NOT NULL,
	details    TEXT NOT NULL          -- JSON object; never secrets
);
CREATE INDEX audit_log_service ON audit_log (service_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'otpd: the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'otpd: the audit log is append-only');
END;
