-- Every node follows the stream of changes; a transaction that appends to it notifies
-- `dateline_changes` as it commits, so that followers on every node read it at once rather
-- than at their next poll (they poll all the same: a notification can be lost).
CREATE FUNCTION dateline_notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dateline_changes', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER changes_notify AFTER INSERT ON changes
    FOR EACH STATEMENT EXECUTE FUNCTION dateline_notify_changes();
