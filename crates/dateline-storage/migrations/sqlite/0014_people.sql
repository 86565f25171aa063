-- The people each article's byline names, one row each, for byline pages and their feeds:
-- written with the article. The articles stored before this table are filled in when the
-- store first opens (Rust reads the bylines), and `backfills` says it was done.
CREATE TABLE article_people (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    slug       TEXT NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (article_id, slug)
);
CREATE INDEX article_people_slug ON article_people (slug, article_id);
CREATE TABLE backfills (
    name TEXT PRIMARY KEY
);
-- A store made now has nothing of before to fill in: it needs no write when it opens, which
-- two processes opening a new file at once would wait on each other for.
INSERT INTO backfills (name) SELECT 'people' WHERE NOT EXISTS (SELECT 1 FROM articles);
