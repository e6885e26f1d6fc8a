//! Sessions and the audit log in SQL, one text for both stores: the tables keep ids and times as
//! text (RFC 3339 UTC, microseconds, so they sort as text) and the statements use `$n`
//! placeholders, which SQLite and PostgreSQL both read. [`dialect!`] makes the functions once
//! per database; each store passes its pools and its error mapping.

use chrono::{DateTime, SecondsFormat, Utc};

use super::store::{StoreError, StoreResult};

/// How times are kept: fixed width, so that text order is time order.
pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Backend(anyhow::anyhow!("unreadable time `{s}` in the database: {e}")))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(anyhow::anyhow!("unreadable {what} in the database: {e}"))
}

macro_rules! dialect {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use chrono::{DateTime, Utc};
            use sqlx::{Pool, Row};
            use uuid::Uuid;

            use super::{corrupt, fmt_time, parse_time};
            use crate::api::auth::AuditEntry;
            use crate::server::store::{SessionRecord, StoreError, StoreResult};

            type Db = fn(sqlx::Error) -> StoreError;

            fn session_from_row(row: &<$db as sqlx::Database>::Row, db: Db) -> StoreResult<SessionRecord> {
                let id: String = row.try_get("id").map_err(db)?;
                let role: String = row.try_get("role").map_err(db)?;
                let created: String = row.try_get("created_at").map_err(db)?;
                let expires: String = row.try_get("expires_at").map_err(db)?;
                let ended: Option<String> = row.try_get("ended_at").map_err(db)?;
                Ok(SessionRecord {
                    id: Uuid::parse_str(&id).map_err(|e| corrupt("session id", e))?,
                    user: row.try_get("user_name").map_err(db)?,
                    role: role.parse().map_err(|e| corrupt("session role", e))?,
                    created_at: parse_time(&created)?,
                    expires_at: parse_time(&expires)?,
                    ended_at: ended.as_deref().map(parse_time).transpose()?,
                })
            }

            pub(crate) async fn create_session(
                pool: &Pool<$db>,
                db: Db,
                s: &SessionRecord,
                hash: [u8; 32],
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (id, user_name, role, hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(s.id.to_string())
                .bind(&s.user)
                .bind(s.role.as_str())
                .bind(hash.to_vec())
                .bind(fmt_time(s.created_at))
                .bind(fmt_time(s.expires_at))
                .execute(pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            pub(crate) async fn find_session(
                pool: &Pool<$db>,
                db: Db,
                hash: [u8; 32],
            ) -> StoreResult<Option<SessionRecord>> {
                let row = sqlx::query(
                    "SELECT id, user_name, role, created_at, expires_at, ended_at FROM sessions \
                     WHERE hash = $1",
                )
                .bind(hash.to_vec())
                .fetch_optional(pool)
                .await
                .map_err(db)?;
                row.as_ref().map(|r| session_from_row(r, db)).transpose()
            }

            /// On a pool or inside a transaction (PostgreSQL notifies the other replicas in it).
            pub(crate) async fn end_session<'e>(
                pool: impl sqlx::Executor<'e, Database = $db>,
                db: Db,
                hash: [u8; 32],
                at: DateTime<Utc>,
            ) -> StoreResult<Option<SessionRecord>> {
                let row = sqlx::query(
                    "UPDATE sessions SET ended_at = $1 WHERE hash = $2 AND ended_at IS NULL \
                     RETURNING id, user_name, role, created_at, expires_at, ended_at",
                )
                .bind(fmt_time(at))
                .bind(hash.to_vec())
                .fetch_optional(pool)
                .await
                .map_err(db)?;
                row.as_ref().map(|r| session_from_row(r, db)).transpose()
            }

            pub(crate) async fn record_audit(pool: &Pool<$db>, db: Db, entry: [&str; 4]) -> StoreResult<()> {
                let [actor, action, subject, detail] = entry;
                sqlx::query(
                    "INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(fmt_time(Utc::now()))
                .bind(actor)
                .bind(action)
                .bind(subject)
                .bind(detail)
                .execute(pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            pub(crate) async fn audit_since(
                pool: &Pool<$db>,
                db: Db,
                since: Option<DateTime<Utc>>,
                limit: u32,
            ) -> StoreResult<Vec<AuditEntry>> {
                let since = since.map(fmt_time).unwrap_or_default();
                let rows = sqlx::query(
                    "SELECT id, at, actor, action, subject, detail FROM audit WHERE at >= $1 \
                     ORDER BY id LIMIT $2",
                )
                .bind(since)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|row| {
                        let at: String = row.try_get("at").map_err(db)?;
                        Ok(AuditEntry {
                            id: row.try_get("id").map_err(db)?,
                            at: parse_time(&at)?,
                            actor: row.try_get("actor").map_err(db)?,
                            action: row.try_get("action").map_err(db)?,
                            subject: row.try_get("subject").map_err(db)?,
                            detail: row.try_get("detail").map_err(db)?,
                        })
                    })
                    .collect()
            }
        }
    };
}

dialect!(sqlite, sqlx::Sqlite);
dialect!(postgres, sqlx::Postgres);
