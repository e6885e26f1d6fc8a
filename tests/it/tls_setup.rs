//! TLS as teams set it up (#15 item 16), against the real binary: a self-signed certificate made
//! the usual way (`openssl req -x509`, a CA certificate) pinned with `--ca-file`; an unknown
//! certificate refused in plain words (nothing else on stderr, the write kept unsent); `warroom
//! trust` remembering a server like SSH's known_hosts and a changed certificate refused loudly;
//! `serve --tls-self-signed` printing what clients need, and clients using exactly that.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::bin_support::{BIN, Env, Server, text};

/// A self-signed certificate as `openssl req -x509` makes it (CA:TRUE), for localhost and
/// 127.0.0.1, with its key. Returns (cert, key).
fn openssl_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}-key.pem")));
    let o = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-days", "30", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(o.status.success(), "openssl: {}", text(&o.stderr));
    let o = Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(&cert).output().unwrap();
    assert!(text(&o.stdout).contains("CA:TRUE"), "openssl made a CA certificate, as teams get it");
    (cert, key)
}

/// openssl's own SHA-256 fingerprint of a certificate, in warroom's spelling.
fn openssl_fingerprint(cert: &Path) -> String {
    let o = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .unwrap();
    let line = text(&o.stdout);
    let hex = line.trim().rsplit('=').next().unwrap().replace(':', "").to_ascii_lowercase();
    format!("sha256:{hex}")
}

/// `warroom serve --listen <listen> <args>` on `env`'s dirs: the server, its port, and every
/// line it printed up to `last` (a line starting so). Its stdout is drained to the end.
fn serve(env: &Env, listen: &str, args: &[&str], last: &str) -> (Server, u16, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", listen])
        .args(args)
        .env("WARROOM_DATA_DIR", &env.data)
        .env("WARROOM_CONFIG_DIR", &env.config)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut got = Vec::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        let done = l.starts_with(last);
        got.push(l);
        if done {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let port = got
        .iter()
        .find_map(|l| l.strip_prefix("warroom: listening on https://"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("serve printed {got:#?}"));
    (Server(child), port, got)
}

/// The `sha256:...` that `serve` printed for its certificate.
fn printed_fingerprint(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("warroom: TLS certificate "))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no fingerprint in {lines:#?}"))
        .to_string()
}

/// An admin token in the server's database (made before it starts).
fn token(server_env: &Env) -> String {
    let (out, _) = server_env.ok(&["token", "create", "--name", "ana", "--role", "admin"]);
    out.trim().to_string()
}

fn known_servers(env: &Env) -> PathBuf {
    env.data.join("known_servers")
}

#[test]
fn a_certificate_made_with_openssl_and_pinned_in_ca_file_is_trusted() {
    let server_env = Env::new();
    let (cert, key) = openssl_cert(&server_env.config, "openssl");
    let tok = token(&server_env);
    let (cert_s, key_s) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let (_server, port, lines) = serve(
        &server_env,
        "127.0.0.1:0",
        &["--tls-cert", cert_s, "--tls-key", key_s],
        "warroom: TLS certificate",
    );
    // serve prints the fingerprint openssl gives for the certificate.
    assert_eq!(printed_fingerprint(&lines), openssl_fingerprint(&cert), "{lines:#?}");

    let client = Env::new();
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{port}");
        let o = client.run(&[
            "declare",
            "--severity",
            "SEV-2",
            "--title",
            "db down",
            "--server",
            &url,
            "--token",
            &tok,
            "--ca-file",
            cert_s,
        ]);
        assert!(o.status.success(), "{host}: {}", text(&o.stderr));
        assert!(text(&o.stdout).starts_with("INC-"), "{}", text(&o.stdout));
        assert_eq!(text(&o.stderr), "", "nothing else on stderr");
    }
    // The printed fingerprint pins it too, without the file.
    let pin = printed_fingerprint(&lines);
    let (out, err) =
        client.ok(&["ls", "--server", &format!("https://localhost:{port}"), "--token", &tok, "--pin", &pin]);
    assert!(out.contains("db down"), "{out}");
    assert_eq!(err, "");
    // Nothing was remembered: pinning is not trusting on first use.
    assert!(!known_servers(&client).exists());
}

#[test]
fn an_unknown_certificate_is_refused_in_plain_words_and_trust_remembers_it() {
    let server_env = Env::new();
    let (cert, key) = openssl_cert(&server_env.config, "openssl");
    let tok = token(&server_env);
    let (_server, port, lines) = serve(
        &server_env,
        "127.0.0.1:0",
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
        "warroom: TLS certificate",
    );
    let fp = printed_fingerprint(&lines);
    let url = format!("https://localhost:{port}");
    let client = Env::new();
    // An incident to write to, declared with the certificate pinned.
    client.ok(&[
        "declare",
        "--severity",
        "SEV-2",
        "--title",
        "db down",
        "--server",
        &url,
        "--token",
        &tok,
        "--ca-file",
        cert.to_str().unwrap(),
    ]);

    // Without it: exit 7, the reason and what to run; not "cannot reach", and no log line.
    let o = client.run(&["log", "-i", "INC-1", "--server", &url, "--token", &tok, "replica lag 30s"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "nothing else on stderr: {err}");
    assert!(
        lines[0].starts_with(
            "warroom: the server's certificate is not trusted: it is a CA certificate used as the server's own"
        ),
        "{err}"
    );
    assert!(lines[0].contains(&fp), "{err}");
    assert!(lines[0].contains(&format!("run `warroom trust {url}`")), "{err}");
    assert!(
        !err.contains("cannot reach") && !err.contains("running?") && !err.contains("CaUsedAsEndEntity"),
        "{err}"
    );
    assert!(lines[1].starts_with("warroom: not sent; the entry waits in "), "{err}");
    assert!(lines[1].contains("once the server is trusted"), "{err}");
    // A read says the same, with the same status.
    let o = client.run(&["ls", "--server", &url, "--token", &tok]);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(text(&o.stderr).lines().count(), 1, "{}", text(&o.stderr));
    // The refusal is in the log file, not on the terminal.
    let logs = std::fs::read_dir(client.data.join("logs")).unwrap().next().unwrap().unwrap().path();
    assert!(std::fs::read_to_string(logs).unwrap().contains("refusing the server's certificate"));

    // `trust` shows the fingerprint; without a terminal or confirmation it records nothing.
    let o = client.run(&["trust", &url]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains(&format!("localhost:{port} presents the certificate {fp}")),
        "{}",
        text(&o.stdout)
    );
    assert!(
        text(&o.stderr).contains(&format!("warroom trust {url} --fingerprint {fp}")),
        "{}",
        text(&o.stderr)
    );
    assert!(!known_servers(&client).exists());
    // Another fingerprint than expected: refused, not recorded.
    let other = format!("sha256:{}", "0".repeat(64));
    let o = client.run(&["trust", &url, "--fingerprint", &other]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("not recorded"), "{}", text(&o.stderr));
    assert!(!known_servers(&client).exists());
    // The one serve printed: recorded (0600), and the waiting note goes out with the next command.
    let (out, _) = client.ok(&["trust", &url, "--fingerprint", &fp]);
    assert!(out.contains("trusted: recorded"), "{out}");
    let known = std::fs::read_to_string(known_servers(&client)).unwrap();
    assert!(known.contains(&format!("localhost:{port} {fp}\n")), "{known}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(known_servers(&client)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (_, err) = client.ok(&["ls", "--server", &url, "--token", &tok]);
    assert_eq!(err, "warroom: sent 1 queued write(s)\n");
    let (out, _) = client.ok(&["show", "INC-1", "--server", &url, "--token", &tok]);
    assert!(out.contains("replica lag 30s"), "{out}");
}

#[test]
fn a_changed_certificate_is_refused_loudly_naming_the_line_to_delete() {
    let server_env = Env::new();
    let (cert1, key1) = openssl_cert(&server_env.config, "first");
    let (cert2, key2) = openssl_cert(&server_env.config, "second");
    let tok = token(&server_env);
    let tls = |c: &Path, k: &Path| {
        ["--tls-cert".to_string(), c.display().to_string(), "--tls-key".into(), k.display().to_string()]
    };
    let a = tls(&cert1, &key1);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (server, port, lines) = serve(&server_env, "127.0.0.1:0", &a, "warroom: TLS certificate");
    let first = printed_fingerprint(&lines);
    let url = format!("https://127.0.0.1:{port}");
    let client = Env::new();
    client.ok(&["trust", &url, "--yes"]);
    client.ok(&["ls", "--server", &url, "--token", &tok]);
    drop(server);

    // The same address now presents another certificate.
    let b = tls(&cert2, &key2);
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let (_server, _, lines) =
        serve(&server_env, &format!("127.0.0.1:{port}"), &b, "warroom: TLS certificate");
    let second = printed_fingerprint(&lines);
    assert_ne!(first, second);
    let file = known_servers(&client);
    let o = client.run(&["ls", "--server", &url, "--token", &tok]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("THE SERVER'S CERTIFICATE HAS CHANGED"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port} now presents {second}")), "{err}");
    assert!(err.contains(&format!("line 2 of {} says {first}", file.display())), "{err}");
    assert!(err.contains(&format!("delete line 2 of {}", file.display())), "{err}");
    // `trust` does not paper over it either.
    let o = client.run(&["trust", &url, "--yes"]);
    assert_eq!(o.status.code(), Some(7));
    assert!(
        text(&o.stderr).contains("THE SERVER'S CERTIFICATE HAS CHANGED: line 2 of"),
        "{}",
        text(&o.stderr)
    );
    // Deleting the line, as told, and trusting again works.
    let kept: String =
        std::fs::read_to_string(&file).unwrap().lines().take(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, kept).unwrap();
    client.ok(&["trust", &url, "--fingerprint", &second]);
    client.ok(&["ls", "--server", &url, "--token", &tok]);
}

#[test]
fn serve_tls_self_signed_prints_what_clients_need_and_they_use_it() {
    let server_env = Env::new();
    let tok = token(&server_env);
    let args = ["--tls-self-signed", "--tls-name", "warroom.test"];
    let (server, port, lines) = serve(&server_env, "127.0.0.1:0", &args, "warroom: or run:");
    let all = lines.join("\n");
    let ca = server_env.data.join("tls").join("ca.pem");
    assert!(all.contains(&format!("warroom: made a self-signed CA {}", ca.display())), "{all}");
    assert!(
        all.contains("127.0.0.1, ") && all.contains("localhost") && all.contains("warroom.test"),
        "{all}"
    );
    let fp = printed_fingerprint(&lines);
    // The exact config lines it prints.
    let line = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix("warroom:   ").filter(|r| r.starts_with(prefix)))
            .map(|r| r.split("   (").next().unwrap().to_string())
            .unwrap_or_else(|| panic!("no `{prefix}` line in {all}"))
    };
    assert_eq!(line("ca_file"), format!("ca_file = \"{}\"", ca.display()));
    assert_eq!(line("pin"), format!("pin = \"{fp}\""));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(server_env.data.join("tls")), 0o700);
        assert_eq!(mode(server_env.data.join("tls/ca-key.pem")), 0o600);
        assert_eq!(mode(server_env.data.join("tls/server-key.pem")), 0o600);
    }

    for config_line in [line("ca_file"), line("pin")] {
        let client = Env::new();
        std::fs::write(client.config.join("config.toml"), format!("{config_line}\n")).unwrap();
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("https://{host}:{port}");
            let (_, err) = client.ok(&["ls", "--all", "--server", &url, "--token", &tok]);
            assert_eq!(err, "", "{config_line} {host}");
        }
    }
    // The printed `trust` command works as printed.
    let cmd = lines.iter().find_map(|l| l.strip_prefix("warroom: or run: warroom ")).unwrap();
    let client = Env::new();
    let args: Vec<&str> = cmd.split_whitespace().collect();
    client.ok(&args);
    client.ok(&["ls", "--server", &format!("https://127.0.0.1:{port}"), "--token", &tok]);
    drop(server);

    // A restart keeps the CA and the certificate: clients go on trusting it. (The config's
    // `[serve] tls_self_signed` and `tls_names` this time, as a service would have it.)
    let conf = "[serve]\ntls_self_signed = true\ntls_names = [\"warroom.test\"]\n";
    std::fs::write(server_env.config.join("config.toml"), conf).unwrap();
    let (_server, port, lines) = serve(&server_env, "127.0.0.1:0", &[], "warroom: or run:");
    assert!(lines.join("\n").contains("warroom: using the self-signed CA"), "{lines:#?}");
    assert_eq!(printed_fingerprint(&lines), fp);
    let client = Env::new();
    let ca_line = format!("ca_file = \"{}\"\n", ca.display());
    std::fs::write(client.config.join("config.toml"), ca_line).unwrap();
    client.ok(&["ls", "--server", &format!("https://localhost:{port}"), "--token", &tok]);
}

#[test]
fn the_console_says_the_certificate_is_untrusted_and_goes_live_once_trusted() {
    let server_env = Env::new();
    let (cert, key) = openssl_cert(&server_env.config, "openssl");
    let tok = token(&server_env);
    let (_server, port, _) = serve(
        &server_env,
        "127.0.0.1:0",
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
        "warroom: TLS certificate",
    );
    let url = format!("https://localhost:{port}");
    let client = Env::new();
    let Some(tmux) = crate::bin_support::Tmux::new("tls-console") else { return };
    let console = format!(
        "env TERM=xterm-256color NO_COLOR=1 WARROOM_DATA_DIR={} WARROOM_CONFIG_DIR={} {BIN} --server {url} --token {tok}",
        client.data.display(),
        client.config.display()
    );
    tmux.run(&["new-session", "-d", "-s", "c", "-x", "80", "-y", "24", &console]);
    // Offline at once (not "reconnecting" to a network that is fine), saying what to run, at 80
    // columns; the URL is the frame's title.
    let s = tmux.wait_for("c", "untrusted", |s| s.contains("untrusted cert: `warroom trust URL`"));
    assert!(s.contains("offline") && !s.contains("reconnecting"), "{s}");
    assert!(s.contains(&url), "{s}");
    client.ok(&["trust", &url, "--yes"]);
    tmux.wait_for("c", "live once trusted", |s| s.contains("live") && !s.contains("untrusted"));
}
