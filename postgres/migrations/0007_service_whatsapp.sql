-- A service's own WhatsApp authentication template and its language; mirrors sqlite/migrations/0007_service_whatsapp.sql.
ALTER TABLE services ADD COLUMN whatsapp_template TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN whatsapp_language TEXT NOT NULL DEFAULT '';
