-- The audit log of admin actions (otpd.AuditEntry); mirrors
-- sqlite/migrations/0011_audit.sql. Append-only in the database too: the
-- triggers refuse UPDATE, DELETE and TRUNCATE whoever asks (only the
-- table's owner could drop them). No foreign key to services: an entry
-- outlives the service it names. There is no retention purge: admin
-- actions are few.
CREATE TABLE audit_log (
	seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- append order
	id         TEXT COLLATE "C" NOT NULL UNIQUE,
	at         TIMESTAMPTZ(3) NOT NULL,
	actor      TEXT NOT NULL,          -- "admin", "system" or a key id; never a token
	action     TEXT COLLATE "C" NOT NULL,
	service_id TEXT COLLATE "C" NOT NULL,  -- '' for actions outside any one service
	target     TEXT NOT NULL,
	details    JSONB NOT NULL          -- never secrets
);
CREATE INDEX audit_log_service ON audit_log (service_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'otpd: the audit log is append-only (% refused)', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
