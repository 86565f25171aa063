-- Corrections: a note an editor attaches to a published article, shown on it and on the
-- outlet's corrections page, newest first.

CREATE TABLE corrections (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    note       TEXT    NOT NULL CHECK (note <> ''),
    at         INTEGER NOT NULL,
    account_id INTEGER REFERENCES accounts (id)
);
CREATE INDEX corrections_article ON corrections (article_id, at);
CREATE INDEX corrections_latest ON corrections (at DESC, id DESC);
