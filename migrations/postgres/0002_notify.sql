-- Notifications: the durable delivery queue. Rows are written in the same transaction as the
-- event that causes them; replicas lease them with FOR UPDATE SKIP LOCKED (lease_owner,
-- lease_until), so a row is one replica's at a time and a dead replica's lease expires. Times
-- are Unix milliseconds.
CREATE TABLE deliveries (
    id          BIGSERIAL PRIMARY KEY,
    -- Unique per cause and target (e.g. <event id>/<target>, escalation paging per level).
    key         TEXT    NOT NULL UNIQUE,
    incident    TEXT    NOT NULL,
    event_id    UUID    NOT NULL,
    target      TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    -- pending | delivered | failed
    state       TEXT    NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    next_at     BIGINT  NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_status INTEGER,
    last_error  TEXT
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
