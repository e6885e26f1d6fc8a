-- Every append rewrites its incident's row. That update is HOT (the new row version goes on the
-- same page with no new index entries, and readers do not step over dead ones) only when no
-- indexed column changes, and `last_seq`, which changes with every append, was indexed. The
-- resolved incidents' order now comes from a generated column that stays 0 while an incident is
-- open; `fillfactor` leaves room on the page for the new versions.
DROP INDEX incidents_by_openness;
ALTER TABLE incidents
    ADD COLUMN closed_seq BIGINT GENERATED ALWAYS AS (CASE WHEN is_open THEN 0 ELSE last_seq END) STORED;
CREATE INDEX incidents_by_closing ON incidents (is_open, closed_seq);
ALTER TABLE incidents SET (fillfactor = 50);
