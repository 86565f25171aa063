-- Suggested related stories an editor blocked for an article: never shown under it again.

CREATE TABLE related_blocks (
    article_id  INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    blocked_key TEXT NOT NULL,
    blocked_by  INTEGER REFERENCES accounts (id),
    at          INTEGER NOT NULL,
    PRIMARY KEY (article_id, blocked_key)
);
