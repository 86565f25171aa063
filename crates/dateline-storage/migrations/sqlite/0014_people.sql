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
