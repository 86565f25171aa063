-- Uploaded images. The files (one a rendition width) live beside the database, named by the
-- id, a digest of the uploaded bytes; a row is written only once its files are in place.

CREATE TABLE media (
    id          TEXT PRIMARY KEY,
    format      TEXT NOT NULL CHECK (format IN ('jpeg', 'png')),
    width       INTEGER NOT NULL CHECK (width > 0),
    height      INTEGER NOT NULL CHECK (height > 0),
    widths      TEXT NOT NULL,
    uploaded_by INTEGER REFERENCES accounts (id),
    uploaded_at INTEGER NOT NULL
);
