-- The destinations of fallback channels that cannot reach to_addr (an
-- e-mail address after push, say): a JSON object of channel → address,
-- sealed like to_addr; '' when there are none.
ALTER TABLE verifications ADD COLUMN fallback_to TEXT NOT NULL DEFAULT '';
