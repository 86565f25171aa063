-- The one stream of changes: a record for every committed change that readers can see, appended
-- in the same transaction as the change itself (an outbox). Followers (webhooks now; the page
-- cache, the search index and other nodes later) keep their own position in it and read forward.

CREATE TABLE changes (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    -- article.published, article.updated, section.changed, series.changed, topic.changed,
    -- front.changed
    kind       TEXT    NOT NULL,
    -- What changed: an article's key, a section's, a series', a topic's, or an edition's language.
    subject    TEXT    NOT NULL,
    article_id INTEGER,
    -- When it was committed: the database's clock, as the record is part of the commit.
    at         INTEGER NOT NULL DEFAULT (unixepoch())
);

-- Where each follower is in the stream: the last position it has handled.
CREATE TABLE stream_positions (
    consumer TEXT    PRIMARY KEY,
    position INTEGER NOT NULL
);

-- Addresses that receive every change, signed with their secret.
CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
