-- Old addresses (a WordPress permalink, say) that lead to an article: kept by an import, and
-- answered with a 301 to the article's current address while it is live.
CREATE TABLE redirects (
    path       TEXT PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE
);
