-- What each change of an article reaches: the edition, section, topics, series, people and
-- translation group (and the group named by its own key, which translations imported before
-- it join) it was in at the change before and is in now, as a JSON array of
-- `kind:key` strings. A follower that keeps pages (the page cache, a CDN's purges) knows from
-- the record alone every listing the article left or joined, even one it moved out of.
ALTER TABLE changes ADD COLUMN reach TEXT;

-- Where each article was at its last change: the "before" of its next one.
CREATE TABLE article_reach (
    article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    reach      TEXT NOT NULL
);

INSERT INTO article_reach (article_id, reach)
SELECT a.id, (
    SELECT json_group_array(t) FROM (
        SELECT 'lang:' || a.lang AS t
        UNION SELECT 'group:' || a.translation_group
        UNION SELECT 'group:' || a.key
        UNION SELECT 'section:' || s.key FROM sections s WHERE s.id = a.section_id
        UNION SELECT 'series:' || r.key FROM series r WHERE r.id = a.series_id
        UNION SELECT 'topic:' || t.key FROM article_topics x JOIN topics t ON t.id = x.topic_id
              WHERE x.article_id = a.id
        UNION SELECT 'byline:' || p.slug FROM article_people p WHERE p.article_id = a.id
    )
)
FROM articles a;
