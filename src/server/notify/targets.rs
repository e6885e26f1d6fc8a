//! The target kinds: each renders a [`Message`] in its documented wire format and sends it.
//! Outbound HTTP has connect and total timeouts and follows redirects only within the same
//! host; SMTP goes through lettre. Secrets are resolved from the config (or the environment)
//! once, at start, and never logged.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::config::{NotifyConfig, SmtpTls, TargetConfig, TargetKind, check_secret, check_url, redact_url};
use super::message::Message;
use crate::assets::FileError;

/// The default PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A target ready to send: secrets resolved.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    url: String,
    /// Webhook: the HMAC key (decoded from `whsec_...`).
    key: Vec<u8>,
    room: String,
    token: String,
    routing_key: String,
    smtp: Option<Smtp>,
}

#[derive(Clone)]
struct Smtp {
    host: String,
    port: Option<u16>,
    tls: SmtpTls,
    user: Option<String>,
    password: Option<String>,
    from: String,
    to: Vec<String>,
    /// An extra CA certificate (PEM) to trust.
    ca_pem: Option<Vec<u8>>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

/// Resolves every target's secrets (`*_env` from `env`). A missing variable or a bad value
/// read from one is an error naming the file, line and key.
pub fn resolve(cfg: &NotifyConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Target>, FileError> {
    cfg.targets.iter().map(|t| resolve_one(cfg, t, env)).collect()
}

fn resolve_one(
    cfg: &NotifyConfig,
    t: &TargetConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, FileError> {
    let err = |key: &str, message: String| FileError {
        file: cfg.file.clone(),
        line: t.line,
        message: format!("key `{key}`: {message} (target `{}`)", t.name),
    };
    let pick = |direct: Option<&str>, var: Option<&str>, key: &str| -> Result<String, FileError> {
        match (direct, var) {
            (Some(v), _) => Ok(v.to_string()),
            (None, Some(var)) => env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                err(&format!("{key}_env"), format!("the environment variable {var} is not set"))
            }),
            (None, None) => Ok(String::new()),
        }
    };
    let mut url = pick(t.url.as_ref().map(|s| s.0.as_str()), t.url_env.as_deref(), "url")?;
    if t.kind == TargetKind::Pagerduty && url.is_empty() {
        url = PAGERDUTY_URL.to_string();
    }
    if t.kind != TargetKind::Email {
        check_url(&url).map_err(|m| err("url", m))?;
    }
    let secret = pick(t.secret.as_ref().map(|s| s.0.as_str()), t.secret_env.as_deref(), "secret")?;
    let key = if t.kind == TargetKind::Webhook {
        check_secret(&secret).map_err(|m| err("secret", m))?
    } else {
        Vec::new()
    };
    let smtp = if t.kind == TargetKind::Email {
        let password =
            match &t.password_env {
                Some(var) => Some(env(var).ok_or_else(|| {
                    err("password_env", format!("the environment variable {var} is not set"))
                })?),
                None => None,
            };
        let ca_pem = match &t.ca_file {
            Some(path) => {
                Some(std::fs::read(path).map_err(|e| err("ca_file", format!("{}: {e}", path.display())))?)
            }
            None => None,
        };
        Some(Smtp {
            ca_pem,
            host: t.host.clone().unwrap_or_default(),
            port: t.port,
            tls: t.tls.unwrap_or_default(),
            user: t.user.clone(),
            password,
            from: t.from.clone().unwrap_or_default(),
            to: t.to.clone(),
        })
    } else {
        None
    };
    Ok(Target {
        name: t.name.clone(),
        kind: t.kind,
        url,
        key,
        room: t.room.clone().unwrap_or_default(),
        token: pick(t.token.as_ref().map(|s| s.0.as_str()), t.token_env.as_deref(), "token")?,
        routing_key: pick(
            t.routing_key.as_ref().map(|s| s.0.as_str()),
            t.routing_key_env.as_deref(),
            "routing_key",
        )?,
        smtp,
    })
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub ok: bool,
    /// The HTTP status or SMTP reply code, when the target answered.
    pub status: Option<u16>,
    /// Why it failed (empty when ok).
    pub error: String,
    /// The target asked to wait this long (429/503 with Retry-After).
    pub retry_after: Option<Duration>,
}

impl Attempt {
    fn failed(status: Option<u16>, error: impl Into<String>) -> Attempt {
        Attempt { ok: false, status, error: error.into(), retry_after: None }
    }
}

/// The HTTP client every target shares: timeouts, same-host redirects only, rustls (ring).
pub fn http_client(connect: Duration, total: Duration) -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same_host = attempt.previous().first().is_some_and(|first| {
            first.host_str() == attempt.url().host_str() && first.port() == attempt.url().port()
        });
        if attempt.previous().len() >= 5 || !same_host { attempt.stop() } else { attempt.follow() }
    });
    Ok(reqwest::Client::builder()
        .user_agent(concat!("warroom/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect)
        .timeout(total)
        .redirect(policy)
        .build()?)
}

/// Sends `msg` through `target`. `idempotency` names this delivery (the same on every retry).
pub async fn send(
    http: &reqwest::Client,
    target: &Target,
    msg: &Message,
    idempotency: &str,
    total: Duration,
) -> Attempt {
    let req = match target.kind {
        TargetKind::Slack => http.post(&target.url).json(&slack(msg)),
        TargetKind::Teams => http.post(&target.url).json(&teams(msg)),
        TargetKind::Matrix => {
            let url = format!(
                "{}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                target.url.trim_end_matches('/'),
                urlencode(&target.room),
                urlencode(idempotency)
            );
            http.put(url).bearer_auth(&target.token).json(&matrix(msg))
        }
        TargetKind::Webhook => {
            let body = serde_json::to_vec(&webhook(msg)).unwrap_or_default();
            let id = format!("msg_{}", idempotency);
            let ts = Utc::now().timestamp().to_string();
            let sig = sign(&target.key, &id, &ts, &body);
            http.post(&target.url)
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", ts)
                .header("webhook-signature", sig)
                .body(body)
        }
        TargetKind::Pagerduty => http.post(&target.url).json(&pagerduty(msg, &target.routing_key)),
        TargetKind::Email => return send_email(target, msg, total).await,
    };
    match req.send().await {
        Ok(res) => {
            let status = res.status();
            if status.is_success() {
                return Attempt {
                    ok: true,
                    status: Some(status.as_u16()),
                    error: String::new(),
                    retry_after: None,
                };
            }
            let retry_after = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()));
            let error = if status.is_redirection() {
                "redirected to another host (not followed)".to_string()
            } else {
                let body = res.text().await.unwrap_or_default();
                let body: String = body.trim().chars().take(200).collect();
                let reason = status.canonical_reason().unwrap_or_default();
                if body.is_empty() { reason.to_string() } else { format!("{reason}: {body}") }
            };
            Attempt { ok: false, status: Some(status.as_u16()), error, retry_after }
        }
        Err(e) => {
            let why = if e.is_timeout() {
                format!("timed out after {}", human(total))
            } else if e.is_connect() {
                "could not connect".to_string()
            } else {
                "request failed".to_string()
            };
            // The error's own text may hold the URL (a secret for webhooks): keep it out.
            Attempt::failed(None, why)
        }
    }
}

fn human(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Retry-After: delay-seconds or an HTTP date.
pub fn parse_retry_after(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard Webhooks: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
pub fn sign(key: &[u8], id: &str, ts: &str, body: &[u8]) -> String {
    let mut content = Vec::with_capacity(id.len() + ts.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(ts.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key, &content)))
}

/// HMAC-SHA256 (RFC 2104) over sha2.
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(data);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Slack incoming webhook (Mattermost and Rocket.Chat accept the same): `text` as the
/// fallback, `blocks` for the layout.
pub fn slack(msg: &Message) -> serde_json::Value {
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": clip(&msg.headline, 150)}})];
    if !msg.text.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&msg.text, 3000)}}));
    }
    if !msg.status.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "*{}* · {} · {} · by {}", msg.incident, msg.severity, msg.status, msg.author)}]}));
    }
    json!({"text": msg.plain(), "blocks": blocks})
}

/// Teams Workflows webhook: a message with one Adaptive Card 1.4.
pub fn teams(msg: &Message) -> serde_json::Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": msg.headline, "weight": "Bolder", "size": "Medium", "wrap": true}),
    ];
    if !msg.text.is_empty() {
        body.push(json!({"type": "TextBlock", "text": msg.text, "wrap": true}));
    }
    if !msg.status.is_empty() {
        body.push(json!({"type": "FactSet", "facts": [
            {"title": "Incident", "value": msg.incident},
            {"title": "Severity", "value": msg.severity},
            {"title": "Status", "value": msg.status},
            {"title": "By", "value": msg.author},
        ]}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            }
        }]
    })
}

/// Matrix `m.room.message` content: plain `body`, and `formatted_body` for clients that render it.
pub fn matrix(msg: &Message) -> serde_json::Value {
    let html =
        format!("<b>{}</b><br>{}", escape_html(&msg.headline), escape_html(&msg.text).replace('\n', "<br>"));
    json!({"msgtype": "m.text", "body": msg.plain(), "format": "org.matrix.custom.html", "formatted_body": html})
}

/// The signed webhook's JSON: the event as recorded and a summary of the incident.
pub fn webhook(msg: &Message) -> serde_json::Value {
    json!({
        "type": format!("incident.{}", msg.class),
        "timestamp": msg.occurred_at,
        "data": {
            "about": msg.about,
            "headline": msg.headline,
            "text": msg.text,
            "incident": {"id": msg.incident, "title": msg.title, "severity": msg.severity, "status": msg.status},
            "event": msg.event,
        }
    })
}

/// PagerDuty Events API v2: `dedup_key` is the incident id, so every event of an incident
/// lands on one PagerDuty incident; acknowledge and resolve carry no payload.
pub fn pagerduty(msg: &Message, routing_key: &str) -> serde_json::Value {
    let mut v = json!({"routing_key": routing_key, "event_action": msg.pd_action, "dedup_key": msg.incident});
    if msg.pd_action == "trigger" {
        v["payload"] = json!({
            "summary": clip(&msg.headline, 1024),
            "source": "warroom",
            "severity": msg.pd_severity,
            "timestamp": msg.occurred_at,
            "custom_details": {"text": msg.text, "status": msg.status, "about": msg.about},
        });
        v["client"] = json!("warroom");
    }
    v
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

async fn send_email(target: &Target, msg: &Message, total: Duration) -> Attempt {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor};
    let Some(smtp) = &target.smtp else {
        return Attempt::failed(None, "not an email target");
    };
    let mut mail = Mail::builder().subject(clip(&msg.headline, 200)).header(ContentType::TEXT_PLAIN);
    match smtp.from.parse() {
        Ok(from) => mail = mail.from(from),
        Err(e) => return Attempt::failed(None, format!("bad from address: {e}")),
    }
    for to in &smtp.to {
        match to.parse() {
            Ok(to) => mail = mail.to(to),
            Err(e) => return Attempt::failed(None, format!("bad to address: {e}")),
        }
    }
    let mail = match mail.body(msg.plain()) {
        Ok(m) => m,
        Err(e) => return Attempt::failed(None, format!("could not build the mail: {e}")),
    };
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let params = || -> Result<TlsParameters, lettre::transport::smtp::Error> {
        let mut b = TlsParameters::builder(smtp.host.clone());
        if let Some(pem) = &smtp.ca_pem {
            b = b.add_root_certificate(Certificate::from_pem(pem)?);
        }
        b.build_rustls()
    };
    let (tls, port) = match smtp.tls {
        SmtpTls::None => (Ok(Tls::None), 25),
        SmtpTls::Starttls => (params().map(Tls::Required), 587),
        SmtpTls::Tls => (params().map(Tls::Wrapper), 465),
    };
    let tls = match tls {
        Ok(t) => t,
        Err(e) => return Attempt::failed(None, format!("SMTP TLS: {e}")),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(port)
        .tls(tls)
        .timeout(Some(total));
    if let Some(port) = smtp.port {
        builder = builder.port(port);
    }
    if let (Some(user), Some(pass)) = (&smtp.user, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    let transport = builder.build();
    match tokio::time::timeout(total, transport.send(mail)).await {
        Ok(Ok(res)) => {
            Attempt { ok: true, status: Some(res.code().into()), error: String::new(), retry_after: None }
        }
        Ok(Err(e)) => {
            let status = e.status().map(u16::from);
            Attempt::failed(status, format!("SMTP: {e}"))
        }
        Err(_) => Attempt::failed(None, format!("timed out after {}", human(total))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_standard_webhooks_example() {
        // The example of the Standard Webhooks reference libraries (the integration tests verify
        // live requests with the Python one).
        let key = check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", br#"{"test": 2432232314}"#);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-03-04T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 04 Mar 2026 10:01:30 GMT", now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("Wed, 04 Mar 2026 09:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let cfg = NotifyConfig { backoff_base_ms: 1000, backoff_max_secs: 10, ..NotifyConfig::default() };
        for _ in 0..50 {
            let d1 = cfg.backoff(1).as_millis();
            assert!((500..=1000).contains(&d1), "{d1}");
            let d3 = cfg.backoff(3).as_millis();
            assert!((2000..=4000).contains(&d3), "{d3}");
            let d20 = cfg.backoff(20).as_millis();
            assert!((5000..=10_000).contains(&d20), "{d20}");
        }
    }

    #[test]
    fn pagerduty_acknowledge_and_resolve_carry_no_payload() {
        let mut msg = Message::test("pd", Utc::now());
        msg.pd_action = "resolve".into();
        let v = pagerduty(&msg, "KEY");
        assert_eq!(v["event_action"], "resolve");
        assert!(v.get("payload").is_none());
        msg.pd_action = "trigger".into();
        assert_eq!(pagerduty(&msg, "KEY")["payload"]["severity"], "info");
    }
}
