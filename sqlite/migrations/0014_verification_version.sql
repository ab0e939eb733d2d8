-- A counter bumped by every write of a verification or its messages
-- (UpdateVerification), so that an update prepared outside the writer from
-- a read can be written only if nothing changed the verification since
-- that read (compare-and-swap on the version): see UpdateVerification.
ALTER TABLE verifications ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
