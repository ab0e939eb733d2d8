-- Rate-limit counts shared by every node (see package ratelimit): one row
-- per key, period and slot. UNLOGGED: counts are cheap to lose in a crash
-- (limits restart empty) and not worth a WAL write on every request.
CREATE UNLOGGED TABLE rate_counts (
	key        TEXT   NOT NULL,   -- names what is counted; never a destination in clear
	per_ms     BIGINT NOT NULL,   -- the limit's period
	slot       BIGINT NOT NULL,   -- ratelimit.Slot
	count      BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,   -- Unix ms when the slot stops counting
	PRIMARY KEY (key, per_ms, slot)
);
CREATE INDEX rate_counts_expires ON rate_counts (expires_at);

-- Per-service rate limits ("5/10m", "off", or '' for the server default)
-- and the fraud guard's safe list.
ALTER TABLE services ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';     -- JSON object of limit name → limit
ALTER TABLE services ADD COLUMN safe_list TEXT NOT NULL DEFAULT '[]';  -- JSON array of E.164 numbers or prefixes
