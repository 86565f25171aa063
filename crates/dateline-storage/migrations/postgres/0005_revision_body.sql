-- A revision's body is kept once: the newest revision of an article holds it by reference to the
-- article's own body (its content has no "body"), until a write replaces that body, which first
-- writes it into the revision. An import of a million articles writes each body once, not twice.
ALTER TABLE revisions ADD COLUMN body_current BIGINT NOT NULL DEFAULT 0;
