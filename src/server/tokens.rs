//! Token management, as `warroom token create|list|revoke` calls it on the server host.
//! A secret is `wr_` + 64 hex digits (256 random bits); only its SHA-256 is stored.

use rand::RngCore;

use super::auth::hash_secret;
use super::store::{Store, StoreError};
use crate::api::{Role, TokenInfo};

/// Prefix of every token secret.
pub const PREFIX: &str = "wr_";

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// Creates a token and returns its secret, which is shown once and never stored.
pub async fn create(store: &dyn Store, name: &str, role: Role) -> anyhow::Result<String> {
    Ok(create_by(store, "local", name, role).await?.1)
}

/// Creates a token for `actor` (recorded in the audit log): the token and its secret.
pub async fn create_by(
    store: &dyn Store,
    actor: &str,
    name: &str,
    role: Role,
) -> Result<(TokenInfo, String), StoreError> {
    let secret = new_secret();
    let info = store.create_token(name, role, hash_secret(&secret)).await?;
    store.record_audit(actor, "token_created", name, &format!("{role} token {}", info.id)).await?;
    Ok((info, secret))
}

/// Revokes a token for `actor` (recorded in the audit log).
pub async fn revoke_by(store: &dyn Store, actor: &str, name_or_id: &str) -> Result<TokenInfo, StoreError> {
    let info = store.revoke_token(name_or_id).await?;
    store
        .record_audit(actor, "token_revoked", &info.name, &format!("{} token {}", info.role, info.id))
        .await?;
    Ok(info)
}

/// Every token, active and revoked (never a secret).
pub async fn list(store: &dyn Store) -> anyhow::Result<Vec<TokenInfo>> {
    Ok(store.list_tokens().await?)
}

/// Revokes the active token with this name, or the token with this id.
pub async fn revoke(store: &dyn Store, name_or_id: &str) -> anyhow::Result<()> {
    revoke_by(store, "local", name_or_id).await?;
    Ok(())
}
