//! Token CRUD both SQL stores run, in one place: the name check, the new token's id and
//! creation time, the duplicate-name and no-such-token errors, and the record a lookup gives.
//! Each store supplies only its SQL ([`TokenSql`]): the placeholders and the column types differ
//! (SQLite keeps ids and times as text, PostgreSQL as `uuid` and `timestamptz`).

use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

use super::store::{StoreError, StoreResult, TokenRecord, check_token_name, name_taken};
use crate::api::{Role, TokenInfo};

/// The token table's statements in one store's dialect.
#[async_trait]
pub(crate) trait TokenSql: Sync {
    /// Inserts a new token with the SHA-256 of its secret. The database error is returned as
    /// is, so that a unique violation (an active token of that name) can be told apart.
    async fn insert_token(&self, info: &TokenInfo, hash: &[u8; 32]) -> Result<(), sqlx::Error>;
    /// Maps a database error the way the store maps all others.
    fn db_error(e: sqlx::Error) -> StoreError;
    /// The token whose secret hashes to `hash`, revoked or not.
    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenInfo>>;
    /// Every token, oldest first.
    async fn all_tokens(&self) -> StoreResult<Vec<TokenInfo>>;
    /// Revokes, as of now, the active token named `name` or with id `id`; the token as revoked,
    /// or `None` when no active token matches.
    async fn revoke(&self, name: &str, id: Option<Uuid>) -> StoreResult<Option<TokenInfo>>;
}

pub(crate) async fn create_token<S: TokenSql>(
    store: &S,
    name: &str,
    role: Role,
    hash: [u8; 32],
) -> StoreResult<TokenInfo> {
    check_token_name(name)?;
    let info = TokenInfo {
        id: Uuid::now_v7(),
        name: name.to_string(),
        role,
        created_at: Utc::now(),
        revoked_at: None,
    };
    match store.insert_token(&info, &hash).await {
        Ok(()) => Ok(info),
        Err(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => Err(name_taken(name)),
        Err(e) => Err(S::db_error(e)),
    }
}

pub(crate) async fn find_token<S: TokenSql>(store: &S, hash: [u8; 32]) -> StoreResult<Option<TokenRecord>> {
    Ok(store.token_by_hash(&hash).await?.map(TokenRecord::from))
}

pub(crate) async fn list_tokens<S: TokenSql>(store: &S) -> StoreResult<Vec<TokenInfo>> {
    store.all_tokens().await
}

pub(crate) async fn revoke_token<S: TokenSql>(store: &S, name_or_id: &str) -> StoreResult<TokenInfo> {
    store
        .revoke(name_or_id, Uuid::parse_str(name_or_id).ok())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no active token named or with id `{name_or_id}`")))
}
