-- The workflow: an article's state, its revision, who wrote it, when it is scheduled, until
-- when it is embargoed; and every saved revision of it.

ALTER TABLE articles ADD COLUMN state TEXT NOT NULL DEFAULT 'published'
    CHECK (state IN ('draft', 'submitted', 'scheduled', 'published', 'unpublished'));
ALTER TABLE articles ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE articles ADD COLUMN author_id INTEGER REFERENCES accounts (id);
ALTER TABLE articles ADD COLUMN scheduled_at INTEGER;
ALTER TABLE articles ADD COLUMN embargo_until INTEGER;
-- When readers may see it: its publication time, or the end of its embargo if later, while it
-- is published; NULL otherwise. Every public read asks `live_from <= now`, and nothing else.
ALTER TABLE articles ADD COLUMN live_from INTEGER;
-- Whether it was ever published: a draft's published_at is only when it was begun, and its
-- first publication sets it.
ALTER TABLE articles ADD COLUMN ever_published INTEGER NOT NULL DEFAULT 1;
UPDATE articles SET live_from = published_at;
CREATE INDEX articles_scheduled ON articles (scheduled_at) WHERE state = 'scheduled';

-- Every save of an article: who, when, and what (the article's fields as JSON).
CREATE TABLE revisions (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    revision   INTEGER NOT NULL,
    account_id INTEGER REFERENCES accounts (id),
    saved_at   INTEGER NOT NULL,
    content    TEXT    NOT NULL,
    PRIMARY KEY (article_id, revision)
);
