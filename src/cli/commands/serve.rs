//! `warroom serve`: the shared HTTP server, until Ctrl-C or SIGTERM.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::cli::connect::{Ctx, EMBEDDED_LISTEN};
use crate::server;

/// How `serve` does TLS: files given (`--tls-cert`/`--tls-key`, or the config's), or
/// `--tls-self-signed` (a CA and a certificate made in `<data dir>/tls/`, with `names`).
pub(in crate::cli) struct TlsChoice {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub self_signed: bool,
    pub names: Vec<String>,
}

/// Serves until a signal (or the server stops by itself). Flags win over the config's
/// `[serve]`; TLS needs both a certificate and a key, or `--tls-self-signed`.
pub(in crate::cli) async fn serve(
    ctx: &Ctx,
    listen: Option<String>,
    db: Option<String>,
    scheme: Option<String>,
    tls: TlsChoice,
) -> anyhow::Result<()> {
    let listen = listen.or_else(|| ctx.config.serve.listen.clone()).unwrap_or_else(|| EMBEDDED_LISTEN.into());
    let mut self_signed = None;
    // `--tls-cert`/`--tls-key` win over the config's `tls_self_signed`, as flags do.
    let conf = &ctx.config.serve;
    let from_config = tls.cert.is_none() && conf.tls_self_signed;
    if from_config && (conf.tls_cert.is_some() || conf.tls_key.is_some()) {
        bail!("[serve] tls_self_signed and tls_cert/tls_key: choose one");
    }
    let tls = if tls.self_signed || from_config {
        let tls = TlsChoice { names: [tls.names, conf.tls_names.clone()].concat(), ..tls };
        ctx.paths.ensure_data_dir()?;
        let mut names = vec![listen_host(&listen)];
        names.extend(hostname::get().ok().and_then(|h| h.into_string().ok()));
        names.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
        names.extend(tls.names);
        names.retain(|n| !n.is_empty() && n != "0.0.0.0" && n != "::");
        let made = server::tls::self_signed(&ctx.paths.data_dir.join("tls"), &names)?;
        let files = made.files.clone();
        self_signed = Some(made);
        Some(files)
    } else {
        match (tls.cert.or(ctx.config.serve.tls_cert.clone()), tls.key.or(ctx.config.serve.tls_key.clone())) {
            (Some(cert), Some(key)) => Some(server::TlsFiles { cert, key }),
            (None, None) => None,
            _ => bail!(
                "TLS needs both a certificate and a key (--tls-cert and --tls-key, or [serve] tls_cert and \
                 tls_key), or --tls-self-signed"
            ),
        }
    };
    let db = ctx.db_url(db);
    if db == ctx.paths.default_db_url() {
        ctx.paths.ensure_data_dir()?;
    }
    let mut opts = ctx.serve_options(listen, scheme)?;
    let scheme_name = if tls.is_some() { "https" } else { "http" };
    let opts_tls = tls.clone();
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
    // #15 item 16: what clients need to trust this server. A closed stdout (`| head -1`) is no
    // reason to stop serving.
    if let Some(files) = &opts_tls {
        let fp = server::tls::fingerprint_of_file(&files.cert)?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "warroom: TLS certificate {fp} ({})", files.cert.display());
        if let Some(made) = &self_signed {
            let host = made.names.first().cloned().unwrap_or_else(|| "localhost".into());
            let url = format!("https://{}:{}", url_host(&host), running.addr.port());
            let ca = made.ca.display();
            let _ = writeln!(
                out,
                "warroom: {} CA {ca}; the certificate names {}",
                if made.new_ca { "made a self-signed" } else { "using the self-signed" },
                made.names.join(", ")
            );
            let _ = writeln!(
                out,
                "warroom: clients trust it with one of these lines at the top of their config.toml:"
            );
            let _ = writeln!(
                out,
                "warroom:   ca_file = \"{ca}\"   (a copy of that file; stays valid across restarts)"
            );
            let _ = writeln!(out, "warroom:   pin = \"{fp}\"");
            let _ = writeln!(out, "warroom: or run: warroom trust {url} --fingerprint {fp}");
        }
    }
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

/// The host part of a listen address (`0.0.0.0:7878` -> `0.0.0.0`, `[::1]:7878` -> `::1`).
fn listen_host(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) => a.ip().to_string(),
        Err(_) => listen.rsplit_once(':').map_or(listen, |(h, _)| h).trim_matches(['[', ']']).to_string(),
    }
}

/// A host as it goes in a URL (IPv6 in brackets).
fn url_host(host: &str) -> String {
    if host.contains(':') { format!("[{host}]") } else { host.to_string() }
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
