-- Per-service rate limits ("5/10m", "off", or '' for the server default)
-- and the fraud guard's safe list. (A single SQLite node counts its limits
-- in memory: see package ratelimit.)
ALTER TABLE services ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';     -- JSON object of limit name → limit
ALTER TABLE services ADD COLUMN safe_list TEXT NOT NULL DEFAULT '[]';  -- JSON array of E.164 numbers or prefixes
