-- Fallback between channels; mirrors sqlite/migrations/0005_fallback.sql.
ALTER TABLE verifications ADD COLUMN fallback JSONB NOT NULL DEFAULT '[]';
ALTER TABLE messages ADD COLUMN fallback_at TIMESTAMPTZ(3);
CREATE INDEX messages_fallback ON messages (fallback_at) WHERE fallback_at IS NOT NULL;
