//! Shipping warroom (issue #14): shell completions, the man page and `config init|check`,
//! through the real binary. (`/metrics` is in `metrics.rs`; the portable binary is checked by
//! `scripts/build-portable.sh` in CI.)

use std::process::Command;

use crate::bin_support::{Env, text};

/// The subcommands as clap knows them, so the test follows the command line as it grows.
fn subcommands() -> Vec<String> {
    use clap::CommandFactory;
    warroom::cli::Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect()
}

#[test]
fn bash_completion_completes_subcommands_and_flags() {
    let env = Env::new();
    let (script, _) = env.ok(&["completions", "bash"]);
    let subs = subcommands();
    assert!(subs.len() >= 10, "{subs:?}");
    for s in &subs {
        assert!(script.contains(s.as_str()), "the bash script does not name `{s}`");
    }
    // Really complete, in bash: `warroom se<TAB>` and `warroom serve --li<TAB>`.
    let file = env.data.with_extension("bash");
    std::fs::write(&file, &script).unwrap();
    let complete = |words: &str| -> Vec<String> {
        let prog = format!(
            "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             _warroom warroom \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let o = Command::new("bash").args(["--norc", "-c", &prog]).output().unwrap();
        assert!(o.status.success(), "bash: {}", text(&o.stderr));
        text(&o.stdout).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
    };
    let got = complete("warroom serv");
    assert_eq!(got, ["serve"], "warroom serv<TAB>");
    let got = complete("warroom se");
    assert_eq!(got, ["serve", "severity"], "warroom se<TAB>");
    let got = complete("warroom serve --li");
    assert_eq!(got, ["--listen"], "warroom serve --li<TAB>");
    let got = complete("warroom completions z");
    assert_eq!(got, ["zsh"], "warroom completions z<TAB>");
}

#[test]
fn completions_exist_for_every_shell() {
    let env = Env::new();
    for (shell, marker) in [
        ("zsh", "#compdef warroom"),
        ("fish", "complete -c warroom"),
        ("elvish", "edit:completion:arg-completer[warroom]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (script, _) = env.ok(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no `{marker}` in\n{script}");
        assert!(script.contains("serve"), "{shell} does not name `serve`");
    }
    let o = env.run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "an unknown shell is a usage error");
    assert!(text(&o.stderr).contains("possible values"), "{}", text(&o.stderr));
}

#[test]
fn man_page_is_roff_that_man_renders() {
    let env = Env::new();
    let (page, _) = env.ok(&["man"]);
    assert!(page.contains(".TH warroom 1"), "{page}");
    for s in subcommands() {
        // roff writes a hyphen as `\-`.
        assert!(page.contains(&s.replace('-', "\\-")), "the man page does not name `{s}`");
    }
    // `man -l` renders it (man-db); skipped loudly where man is not installed.
    let file = env.data.with_extension("1");
    std::fs::write(&file, &page).unwrap();
    match Command::new("man").arg("-l").arg(&file).env("MANPAGER", "cat").env("MANWIDTH", "80").output() {
        Ok(o) => {
            let shown = text(&o.stdout);
            assert!(o.status.success(), "man -l: {}", text(&o.stderr));
            assert!(shown.contains("NAME") && shown.contains("warroom"), "{shown}");
            assert!(!shown.contains(".TH"), "roff was not rendered:\n{shown}");
        }
        Err(e) => eprintln!("SKIPPED rendering the man page: man: {e}"),
    }
    // One page per command with --dir.
    let dir = env.data.with_extension("man");
    env.ok(&["man", "--dir", dir.to_str().unwrap()]);
    for name in ["warroom.1", "warroom-serve.1", "warroom-token-create.1", "warroom-config-check.1"] {
        let p = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(p.contains(".TH"), "{name}");
    }
}

#[test]
fn config_init_writes_a_commented_config_and_never_overwrites() {
    let env = Env::new();
    let file = env.config.join("config.toml");
    let (out, _) = env.ok(&["config", "init"]);
    assert!(out.contains("config.toml"), "{out}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("# metrics_listen = "), "{written}");
    assert!(written.contains("# [serve.limits]"), "{written}");
    // The written file is a valid config that changes nothing.
    let (out, _) = env.ok(&["config", "check"]);
    assert!(out.contains(": ok"), "{out}");

    std::fs::write(&file, "theme = \"mono\"\n").unwrap();
    let o = env.run(&["config", "init"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "theme = \"mono\"\n", "not overwritten");
    env.ok(&["config", "init", "--force"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);

    let (out, _) = env.ok(&["config", "init", "-"]);
    assert_eq!(out, written, "`-` prints the same file");
    let other = env.config.join("sub/other.toml");
    env.ok(&["config", "init", other.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), written);
}

/// Runs `config check` on `text` (as the config file) and returns its stderr; it must fail.
fn check_fails(env: &Env, text_: &str) -> String {
    let file = env.config.join("config.toml");
    std::fs::write(&file, text_).unwrap();
    let o = env.run(&["config", "check"]);
    assert!(!o.status.success(), "config check passed:\n{text_}\n{}", text(&o.stdout));
    text(&o.stderr)
}

#[test]
fn config_check_names_file_line_and_key() {
    let env = Env::new();
    let file = env.config.join("config.toml").display().to_string();
    let (out, _) = env.ok(&["config", "check"]);
    assert!(out.contains("no config file"), "{out}");

    // A parse error: file, line, key.
    let err = check_fails(&env, "theme = \"mono\"\n[serve]\nlisen = \"0.0.0.0:7878\"\n");
    assert!(err.contains(&format!("{file}:3:")) && err.contains("lisen"), "{err}");
    // What parses but cannot work: each problem on its own line with file, line and key.
    let err = check_fails(
        &env,
        "token_file = \"no-such-token\"\nembedded_listen = \"0.0.0.0:7878\"\n[serve]\nlisten = \"nowhere\"\ndb = \"mysql://x\"\n\
         tls_cert = \"missing.pem\"\ntls_key = \"missing-key.pem\"\n\
         [serve.alertmanager]\nseverity_map = { critical = \"P9\" }\n",
    );
    for (line, key) in [
        (1, "token_file"),
        (2, "embedded_listen"),
        (4, "listen"),
        (5, "db"),
        (6, "tls_cert"),
        (9, "severity_map"),
    ] {
        assert!(err.contains(&format!("{file}:{line}: key `{key}`")), "{key}:\n{err}");
    }
    assert!(err.contains("6 problem(s)") && err.contains("not a loopback address"), "{err}");
    // The practice dir a server would load: a broken file there is named.
    let dir = env.config.join("practice/schemes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("sev.toml"), "id = \"sev\"\nname = 3\n").unwrap();
    let err = check_fails(&env, "theme = \"mono\"\n");
    assert!(err.contains("sev.toml:2:"), "{err}");
    std::fs::remove_dir_all(env.config.join("practice")).unwrap();
    // Notifications: a route naming no configured target, and a severity the scheme lacks.
    let target = "[[serve.notify.targets]]\nname = \"ops-slack\"\nkind = \"slack\"\nurl = \"https://hooks.example/x\"\n";
    let err = check_fails(
        &env,
        &format!("{target}[[serve.notify.routes]]\non = [\"declared\"]\ntargets = [\"ops-slak\"]\n"),
    );
    assert!(err.contains(&format!("{file}:7:")) && err.contains("ops-slak"), "{err}");
    let err = check_fails(
        &env,
        &format!(
            "{target}[[serve.notify.routes]]\non = [\"declared\"]\nseverities = [\"SEV-9\"]\ntargets = [\"ops-slack\"]\n"
        ),
    );
    assert!(err.contains("key `severities`") && err.contains("SEV-9"), "{err}");
    // An explicit file that does not exist is an error; a good one passes.
    let o = env.run(&["config", "check", "/nonexistent/warroom.toml"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("/nonexistent/warroom.toml"), "{}", text(&o.stderr));
    std::fs::write(env.config.join("token"), "wr_x\n").unwrap();
    let good = env.config.join("good.toml");
    std::fs::write(&good, "token_file = \"token\"\n[serve]\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\nscheme = \"p\"\n").unwrap();
    let (out, _) = env.ok(&["config", "check", good.to_str().unwrap()]);
    assert!(out.contains("good.toml: ok"), "{out}");
}

/// A broken config does not stop `completions`, `man` or `config init --force` (which fixes it).
#[test]
fn install_commands_work_with_a_broken_config() {
    let env = Env::new();
    std::fs::write(env.config.join("config.toml"), "time = 3\n").unwrap();
    env.ok(&["completions", "bash"]);
    env.ok(&["man"]);
    env.ok(&["config", "init", "--force"]);
    env.ok(&["config", "check"]);
}

/// Starts `warroom serve` on 127.0.0.1:0 with `envs`, waits until it listens, stops it and
/// returns its stderr.
fn serve_briefly(env: &Env, envs: &[(&str, &str)]) -> String {
    use std::io::{BufRead, BufReader, Read};
    let mut c = env.cmd();
    c.args(["serve", "--listen", "127.0.0.1:0"]);
    c.env_remove("JOURNAL_STREAM").env_remove("WARROOM_LOG_TARGET").envs(envs.iter().copied());
    let mut child =
        c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line:?}");
    // SIGTERM: a graceful stop that flushes the log.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(child.wait().unwrap().success());
    err
}

fn serve_logs(env: &Env) -> Vec<String> {
    match std::fs::read_dir(env.data.join("logs")) {
        Ok(d) => d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Under systemd (`JOURNAL_STREAM` set) or with `WARROOM_LOG_TARGET=stderr`, `serve` logs to
/// stderr alone, without timestamps (the journal has its own); else to stderr and serve.log.
#[test]
fn serve_under_a_service_manager_logs_to_stderr_only() {
    for envs in [[("JOURNAL_STREAM", "8:12345")], [("WARROOM_LOG_TARGET", "stderr")]] {
        let env = Env::new();
        let err = serve_briefly(&env, &envs);
        assert!(err.contains("INFO") && err.contains("warroom server listening"), "{envs:?}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(first.starts_with(" INFO") || first.starts_with("INFO"), "no timestamp: {first:?}");
        assert_eq!(serve_logs(&env), Vec::<String>::new(), "{envs:?}: no log file");
    }
    let env = Env::new();
    let err = serve_briefly(&env, &[]);
    assert!(err.contains("warroom server listening"), "{err}");
    let files = serve_logs(&env);
    assert!(files.iter().any(|f| f.starts_with("serve.log.")), "{files:?}");
}

/// `contrib/warroom.service` passes `systemd-analyze verify` without a word (it warns about a
/// bad value without failing, so its output must be empty), with the hardening the README
/// promises. Skipped loudly where systemd-analyze is not installed (required under CI).
#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/warroom.service")).unwrap();
    for line in [
        "ExecStart=/usr/local/bin/warroom serve",
        "DynamicUser=yes",
        "StateDirectory=warroom",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
    ] {
        assert!(unit.contains(line), "the unit lacks {line:?}");
    }
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "systemd-analyze is not installed");
        eprintln!("SKIPPED systemd-analyze verify: not installed");
        return;
    }
    // Verified as installed: ExecStart must name an executable that exists.
    let dir = tempfile::tempdir().unwrap();
    let verify = |unit_text: &str| {
        let file = dir.path().join("warroom.service");
        std::fs::write(&file, unit_text.replace("/usr/local/bin/warroom", crate::bin_support::BIN)).unwrap();
        let o = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&file).output().unwrap();
        (o.status.success(), format!("{}{}", text(&o.stdout), text(&o.stderr)))
    };
    let (ok, said) = verify(&unit);
    assert!(ok && said.trim().is_empty(), "systemd-analyze verify:\n{said}");
    // The check can fail: a bad value is reported.
    let (_, said) = verify(&unit.replace("ProtectSystem=strict", "ProtectSystem=bogus"));
    assert!(said.contains("ProtectSystem") || said.contains("protect system"), "{said}");
}
