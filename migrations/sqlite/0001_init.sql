-- warroom: the event log, the folded incidents, the API tokens.

-- The log. seq is allocated as max(seq) + 1 inside the (serialized) write transaction:
-- global, gap-free, strictly increasing.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    incident    TEXT    NOT NULL,
    author      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    occurred_at TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL,
    body        TEXT    NOT NULL
);
CREATE INDEX events_by_incident ON events (incident, seq);

-- Each incident's state: the fold of its events up to last_seq.
CREATE TABLE incidents (
    id       TEXT    PRIMARY KEY,
    num      INTEGER NOT NULL UNIQUE,
    state    TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    is_open  INTEGER NOT NULL
);
CREATE INDEX incidents_by_openness ON incidents (is_open, last_seq);

-- Bearer tokens: only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;
