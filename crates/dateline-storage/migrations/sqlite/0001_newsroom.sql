-- The published newsroom: sections, series, topics, articles and the editors' placements.
-- Times are Unix seconds (UTC). Localized texts are JSON objects keyed by language tag.

CREATE TABLE sections (
    id       INTEGER PRIMARY KEY,
    key      TEXT    NOT NULL UNIQUE,
    code     INTEGER NOT NULL UNIQUE CHECK (code >= 0),
    name     TEXT    NOT NULL,
    position INTEGER NOT NULL
);

CREATE TABLE series (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    partners    TEXT NOT NULL
);

CREATE TABLE topics (
    id    INTEGER PRIMARY KEY,
    key   TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    intro TEXT NOT NULL
);

CREATE TABLE articles (
    id                INTEGER PRIMARY KEY,
    key               TEXT    NOT NULL UNIQUE,
    headline          TEXT    NOT NULL CHECK (headline <> ''),
    summary           TEXT,
    body_html         TEXT    NOT NULL,
    lang              TEXT    NOT NULL,
    section_id        INTEGER NOT NULL REFERENCES sections (id),
    byline            TEXT,
    credit            TEXT,
    web_editors       TEXT    NOT NULL,
    published_at      INTEGER NOT NULL,
    updated_at        INTEGER,
    -- The key of the original of a set of translations; an article's own key when it has none.
    translation_group TEXT    NOT NULL,
    series_id         INTEGER REFERENCES series (id),
    episode           INTEGER,
    -- A digest of everything imported, so that importing the same article again changes nothing.
    content_hash      TEXT    NOT NULL
);

CREATE INDEX articles_latest ON articles (lang, published_at DESC, id DESC);
CREATE INDEX articles_section ON articles (section_id, lang, published_at DESC, id DESC);
CREATE INDEX articles_translation ON articles (translation_group);
CREATE INDEX articles_series ON articles (series_id, episode);

-- Related stories pinned by editors, by key, so that a pin may name an article imported later.
CREATE TABLE article_related (
    article_id  INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    related_key TEXT    NOT NULL,
    PRIMARY KEY (article_id, position)
);

CREATE TABLE article_topics (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    topic_id   INTEGER NOT NULL REFERENCES topics (id),
    PRIMARY KEY (article_id, topic_id)
);
CREATE INDEX article_topics_topic ON article_topics (topic_id, article_id);

-- Top stories placed by editors on each edition's home page.
CREATE TABLE front_slots (
    lang       TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (lang, position)
);
