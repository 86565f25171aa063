-- The sitemap index reads, for each span of article ids, when its live articles last changed:
-- an index-only scan instead of the archive's rows.
CREATE INDEX articles_sitemap ON articles (live_from) INCLUDE (id, updated_at, published_at);
