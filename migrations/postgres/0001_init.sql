-- warroom on PostgreSQL: the event log, the folded incidents, the API tokens.

-- The log. seq is allocated as max(seq) + 1 while holding a transaction-level advisory lock
-- (see postgres.rs), so writers commit in seq order and a reader that saw seq N+1 can always
-- see seq N: "after N" readers never skip a row. Not a SEQUENCE: those commit out of order.
CREATE TABLE events (
    seq         BIGINT      PRIMARY KEY,
    id          UUID        NOT NULL UNIQUE,
    incident    TEXT        NOT NULL,
    author      TEXT        NOT NULL,
    kind        TEXT        NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    body        JSONB       NOT NULL
);
CREATE INDEX events_by_incident ON events (incident, seq);

-- Each incident's state: the fold of its events up to last_seq.
CREATE TABLE incidents (
    id       TEXT    PRIMARY KEY,
    num      BIGINT  NOT NULL UNIQUE,
    state    JSONB   NOT NULL,
    revision BIGINT  NOT NULL,
    last_seq BIGINT  NOT NULL,
    is_open  BOOLEAN NOT NULL
);
CREATE INDEX incidents_by_openness ON incidents (is_open, last_seq);

-- Bearer tokens: only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id         UUID        PRIMARY KEY,
    name       TEXT        NOT NULL,
    role       TEXT        NOT NULL,
    hash       BYTEA       NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;
