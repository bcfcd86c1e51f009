-- +goose Up
-- Click retention: drops the monthly click partitions that end on or before
-- `before` and answers their names. Waits at most 5 s for the click table's
-- lock (a DROP takes it exclusively for a moment): a busy click writer makes it
-- give up, and the next hourly run tries again, instead of queueing every
-- click and report behind it.
-- +goose StatementBegin
CREATE FUNCTION drop_click_partitions_before(before date) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    part text;
BEGIN
    PERFORM set_config('lock_timeout', '5s', true);
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'clicks'::regclass AND c.relname ~ '^clicks_[0-9]{4}_[0-9]{2}$'
          AND (to_date(substr(c.relname, 8), 'YYYY_MM') + interval '1 month') <= before
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', part);
        RETURN NEXT part;
    END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION drop_click_partitions_before(date);
