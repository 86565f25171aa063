-- The audit log: every action on the newsroom, who did it, when, and from which address.

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    -- The account that acted; NULL for the command line and imports.
    account_id INTEGER REFERENCES accounts (id),
    -- Who acted, as written when it happened: a username, or "command line".
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    address    TEXT
);
CREATE INDEX audit_log_latest ON audit_log (id DESC);
