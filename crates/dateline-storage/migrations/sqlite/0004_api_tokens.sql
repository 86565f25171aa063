-- API tokens: only a SHA-256 digest of each is kept (a token is 256 random bits, so a fast
-- digest is enough); a token works until it expires or is revoked, for an active account.

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    digest     TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);
