-- Story threads: every published article is in the thread of its story. The threader (a
-- follower of the stream) places articles; editors rename, merge, split, move and pin, and the
-- threader never undoes what they decided.
CREATE TABLE threads (
    id              INTEGER PRIMARY KEY,
    -- Its title: the most representative headline, unless an editor named it.
    title           TEXT    NOT NULL,
    title_by_editor INTEGER NOT NULL DEFAULT 0,
    -- An editor merged, split, moved or pinned it: the threader never merges it automatically.
    frozen          INTEGER NOT NULL DEFAULT 0,
    -- The topic an editor pinned it to: its articles are listed on the topic's page.
    topic_id        INTEGER REFERENCES topics (id),
    -- A thread merged into another leads to it.
    merged_into     INTEGER REFERENCES threads (id) DEFERRABLE INITIALLY DEFERRED,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE article_threads (
    article_id   INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    thread_id    INTEGER NOT NULL REFERENCES threads (id),
    -- An editor put it there: the threader leaves it.
    by_editor    INTEGER NOT NULL DEFAULT 0,
    -- A near-duplicate copy of this earlier article of the thread: shown once.
    duplicate_of INTEGER REFERENCES articles (id) DEFERRABLE INITIALLY DEFERRED,
    -- The digest of the text it was placed by: a changed text is placed again.
    digest       TEXT    NOT NULL,
    -- The SimHash of its text, which near-duplicates are found by.
    simhash      INTEGER NOT NULL
);

CREATE INDEX article_threads_by_thread ON article_threads (thread_id);
CREATE INDEX threads_by_update ON threads (updated_at) WHERE merged_into IS NULL;
