-- An article that is published but becomes visible later (an embargo that lifts, a publication
-- time still to come) is announced on the stream of changes when it does: until then, the
-- time it goes live waits here for the scheduler.

ALTER TABLE articles ADD COLUMN live_pending INTEGER;
CREATE INDEX articles_live_pending ON articles (live_pending) WHERE live_pending IS NOT NULL;
