//! `warroom trust [URL]` (#15 item 16): connects to a server, shows the fingerprint of the
//! certificate it presents and, once the user confirms it (`--fingerprint` as `warroom serve`
//! printed it, `--yes`, or `y` at the prompt on a terminal), remembers it in
//! `<data dir>/known_servers`, as SSH does in known_hosts. A server already there with another
//! certificate is refused loudly, naming the line to delete.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::bail;

use super::exit::{EXIT_UNTRUSTED, Failure};
use crate::cli::connect::Ctx;
use crate::client::tls::{Fingerprint, KNOWN_SERVERS_FILE, KnownServers, server_key};
use crate::client::{Timeouts, presented_certificate};

pub(in crate::cli) async fn trust(
    ctx: &Ctx,
    url: Option<String>,
    expected: Option<Fingerprint>,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let urls = match url {
        Some(u) => vec![u],
        None => ctx.server_urls(),
    };
    if urls.is_empty() {
        bail!("which server? Give its URL (`warroom trust https://host:port`) or set `server` in the config");
    }
    let path = ctx.paths.data_dir.join(KNOWN_SERVERS_FILE);
    for u in urls {
        let code = one(ctx, &path, &u, expected, yes).await?;
        if code != ExitCode::SUCCESS {
            return Ok(code);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn one(
    ctx: &Ctx,
    path: &std::path::Path,
    u: &str,
    expected: Option<Fingerprint>,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let u = u.trim().trim_end_matches('/');
    let base = if u.contains("://") { u.to_string() } else { format!("https://{u}") };
    let url = reqwest::Url::parse(&base).map_err(|e| anyhow::anyhow!("bad server URL `{base}`: {e}"))?;
    if url.scheme() != "https" {
        bail!("{base} is not an https:// URL: only a server that speaks TLS has a certificate to trust");
    }
    let Some(key) = server_key(&url) else { bail!("{base} names no host") };
    let presented =
        presented_certificate(&base, &ctx.tls, Timeouts::default()).await.map_err(|e| Failure::client(&e))?;
    let fp = presented.fingerprint;
    println!("{key} presents the certificate {fp}");
    let known = KnownServers::load(path).map_err(anyhow::Error::msg)?;
    if let Some(e) = known.get(&key) {
        if e.fingerprint == fp {
            println!("already trusted (line {} of {})", e.line, path.display());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "warroom: THE SERVER'S CERTIFICATE HAS CHANGED: line {} of {} says {}. Someone may be \
             intercepting the connection. If the certificate was replaced on purpose, delete line {} \
             of {} and run this again",
            e.line,
            path.display(),
            e.fingerprint,
            e.line,
            path.display()
        );
        return Ok(ExitCode::from(EXIT_UNTRUSTED));
    }
    match &presented.usual {
        Ok(()) => {
            println!("it is signed by a CA this machine trusts: nothing to record");
            return Ok(ExitCode::SUCCESS);
        }
        Err(why) => println!("not trusted otherwise: {why}"),
    }
    let confirmed = match expected {
        Some(exp) if exp == fp => true,
        Some(exp) => {
            eprintln!(
                "warroom: {key} presents {fp}, not the {exp} you expected: not recorded. Someone may be \
                 intercepting the connection, or the server's certificate was replaced (`warroom \
                 serve` prints its fingerprint at start)"
            );
            return Ok(ExitCode::from(EXIT_UNTRUSTED));
        }
        None if yes => true,
        None if std::io::stdin().is_terminal() => {
            print!(
                "Compare it with the fingerprint `warroom serve` printed at start. Trust {key} with \
                 this certificate? [y/N] "
            );
            std::io::stdout().flush()?;
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
        }
        None => {
            eprintln!(
                "warroom: not recorded: compare the fingerprint with the one `warroom serve` printed, \
                 then run `warroom trust {base} --fingerprint {fp}`"
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    if !confirmed {
        eprintln!("warroom: not recorded");
        return Ok(ExitCode::FAILURE);
    }
    KnownServers::append(path, &key, fp).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    println!("trusted: recorded {key} in {}", path.display());
    Ok(ExitCode::SUCCESS)
}
