-- Notifications: the durable delivery queue. Rows are written in the same transaction as the
-- event that causes them; the delivery worker leases them (lease_owner, lease_until), so a row
-- is one worker's at a time and a dead worker's lease expires. Times are Unix milliseconds.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Unique per cause and target (e.g. <event id>/<target>, escalation paging per level).
    key         TEXT    NOT NULL UNIQUE,
    incident    TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    -- pending | delivered | failed
    state       TEXT    NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    last_status INTEGER,
    last_error  TEXT
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
