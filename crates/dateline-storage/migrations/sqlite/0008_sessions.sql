-- Browser sessions: the cookie's SHA-256 digest, the session's CSRF token, and its life.

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    digest     TEXT    NOT NULL UNIQUE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX sessions_account ON sessions (account_id);
