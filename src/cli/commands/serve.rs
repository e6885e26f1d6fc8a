//! `warroom serve`: the shared HTTP server, until Ctrl-C or SIGTERM.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::cli::connect::{Ctx, EMBEDDED_LISTEN};
use crate::server;

/// Serves until a signal (or the server stops by itself). Flags win over the config's
/// `[serve]`; TLS needs both a certificate and a key.
pub(in crate::cli) async fn serve(
    ctx: &Ctx,
    listen: Option<String>,
    db: Option<String>,
    scheme: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
) -> anyhow::Result<()> {
    let tls = match (
        tls_cert.or(ctx.config.serve.tls_cert.clone()),
        tls_key.or(ctx.config.serve.tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => Some(server::TlsFiles { cert, key }),
        (None, None) => None,
        _ => bail!(
            "TLS needs both a certificate and a key (--tls-cert and --tls-key, or [serve] tls_cert and tls_key)"
        ),
    };
    let listen = listen.or_else(|| ctx.config.serve.listen.clone()).unwrap_or_else(|| EMBEDDED_LISTEN.into());
    let db = ctx.db_url(db);
    if db == ctx.paths.default_db_url() {
        ctx.paths.ensure_data_dir()?;
    }
    let mut opts = ctx.serve_options(listen, scheme)?;
    let scheme_name = if tls.is_some() { "https" } else { "http" };
    opts.tls = tls;
    // Only `serve` opens the metrics listener, never an embedded server.
    opts.metrics_listen = ctx.config.serve.metrics_listen.clone();
    // Notifications: only `warroom serve` delivers (not the console's embedded server).
    opts.notify = ctx.config.serve.notify.clone();
    let store = server::open_store(&db)
        .await
        .with_context(|| format!("opening the database {}", redact_db_url(&db)))?;
    let signalled = crate::shutdown::listen().context("listening for SIGINT and SIGTERM")?;
    let running = server::start(opts, store).await?;
    println!("warroom: listening on {scheme_name}://{} (database {})", running.addr, redact_db_url(&db));
    if let Some(addr) = running.metrics_addr {
        println!("warroom: metrics on http://{addr}/metrics");
    }
    // guard: plain HTTP beyond loopback, said plainly (the log has it too).
    if let Some(warning) = server::plain_http_warning(running.addr, scheme_name == "https") {
        eprintln!("warroom: {warning}");
    }
    let _ = std::io::stdout().flush();
    running.until(&signalled).await
}

/// A database URL without its password, for printing and logs.
pub(super) fn redact_db_url(db: &str) -> String {
    match reqwest::Url::parse(db) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => db.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_passwords_are_not_printed() {
        let r = super::redact_db_url("postgres://warroom:s3cret@db.internal:5432/warroom");
        assert!(!r.contains("s3cret"), "{r}");
        assert!(r.contains("warroom:***@db.internal"), "{r}");
        assert_eq!(super::redact_db_url("sqlite:///var/lib/w.db"), "sqlite:///var/lib/w.db");
    }
}
