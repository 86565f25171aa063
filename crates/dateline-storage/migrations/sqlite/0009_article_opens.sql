-- Who has an article open in an editor: each one's last sign of life.

CREATE TABLE article_opens (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    PRIMARY KEY (article_id, account_id)
);
