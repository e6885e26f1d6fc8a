-- warroom: sign-in sessions (OpenID Connect) and the audit log.

-- A signed-in user's session token: only the SHA-256 of the secret is kept. The role is the
-- one the user's groups mapped to at sign-in (or at the last refresh).
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL,
    role       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at   TEXT
);

-- Who did what to access: tokens created and revoked, sign-ins and sign-outs, roles granted
-- by group mapping. Times are RFC 3339 UTC with microseconds (they sort as text).
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);
