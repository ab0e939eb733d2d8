-- Fallback between channels: a verification's route after its first
-- channel, and per message the time its verification moves on if the
-- message has not been delivered by then.
ALTER TABLE verifications ADD COLUMN fallback TEXT NOT NULL DEFAULT '[]'; -- JSON array of channel names
ALTER TABLE messages ADD COLUMN fallback_at INTEGER;                       -- NULL: no fallback pending
-- ClaimFallbacks reads only messages with a pending fallback, soonest first.
CREATE INDEX messages_fallback ON messages (fallback_at) WHERE fallback_at IS NOT NULL;
