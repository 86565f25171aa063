-- The news sitemap reads the articles of every edition first published in the last two days,
-- newest first: a range of this index instead of a scan of the archive.
CREATE INDEX articles_published ON articles (published_at, id);
