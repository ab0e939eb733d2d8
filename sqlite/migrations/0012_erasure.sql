-- The destination a remembered response is about (its blind index), so that
-- erasing a destination's data finds the responses that repeat it.
ALTER TABLE idempotency_keys ADD COLUMN subject TEXT NOT NULL DEFAULT '';
CREATE INDEX idempotency_keys_subject ON idempotency_keys (subject) WHERE subject <> '';
