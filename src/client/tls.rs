//! How the client trusts a server's certificate (#15 item 16), in this order:
//!
//! 1. the usual check: signed by a CA of this machine or of `--ca-file` (`ca_file`), valid
//!    now and for the server's name;
//! 2. else a certificate the user pinned: the exact certificate in `--ca-file` (what
//!    `openssl req -x509` makes is a CA certificate, which the usual check refuses as a server's
//!    own), or a `sha256:` fingerprint given with `--pin` (config `pin`);
//! 3. else `<data dir>/known_servers`, like SSH's known_hosts: one `host:port sha256:...` line
//!    per server the user trusted (`warroom trust URL`). A different certificate there is a loud
//!    refusal naming the file and line.
//!
//! A pinned or known certificate identifies the server by itself: its name and dates are not
//! checked (a certificate made for `localhost` and reached by IP, or past its 30 days, is still
//! the one the user trusted, and nobody else holds its key), but the handshake's signature is
//! checked against it, so a server without the key cannot present it. Anything else is refused
//! with [`Untrusted`], which says why in plain words and what to run.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::Digest as _;

/// The file in the data dir that remembers the servers the user trusted.
pub const KNOWN_SERVERS_FILE: &str = "known_servers";

/// The SHA-256 of a certificate (its DER bytes), as `openssl x509 -fingerprint -sha256` gives
/// it. Printed `sha256:` and 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of(cert_der: &[u8]) -> Fingerprint {
        Fingerprint(sha2::Sha256::digest(cert_der).into())
    }

    /// `sha256:` then 64 hex digits, any case, colons allowed (openssl's spelling).
    pub fn parse(s: &str) -> Result<Fingerprint, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "`{}` is not a certificate fingerprint: expected `sha256:` and 64 hex digits (colons \
                 allowed), as `warroom serve` prints it",
                crate::domain::text::line(t)
            )
        };
        let digits =
            t.get(..7).filter(|p| p.eq_ignore_ascii_case("sha256:")).map(|_| &t[7..]).ok_or_else(bad)?;
        let clean: String = digits.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(clean).map_err(|_| bad())?;
        Ok(Fingerprint(bytes.try_into().map_err(|_| bad())?))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Fingerprint::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `host:port` of a URL, the key of `known_servers` (`[::1]:7878` for IPv6).
pub fn server_key(url: &reqwest::Url) -> Option<String> {
    Some(format!("{}:{}", url.host_str()?.to_ascii_lowercase(), url.port_or_known_default()?))
}

/// One line of `known_servers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownServer {
    /// 1-based line number in the file.
    pub line: usize,
    pub server: String,
    pub fingerprint: Fingerprint,
}

/// `<data dir>/known_servers`: `host:port sha256:...` lines; `#` comments and blank lines.
#[derive(Debug, Clone)]
pub struct KnownServers {
    pub path: PathBuf,
    pub entries: Vec<KnownServer>,
}

impl KnownServers {
    /// Reads the file (missing: empty). A line that is not `host:port sha256:...` is an error
    /// naming the file and line.
    pub fn load(path: &Path) -> Result<KnownServers, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let mut parts = l.split_whitespace();
            let (Some(server), Some(fp), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!("{}:{}: expected `host:port sha256:...`", path.display(), i + 1));
            };
            let fingerprint =
                Fingerprint::parse(fp).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
            entries.push(KnownServer { line: i + 1, server: server.to_ascii_lowercase(), fingerprint });
        }
        Ok(KnownServers { path: path.to_path_buf(), entries })
    }

    /// The entry for `server` (`host:port`), if any.
    pub fn get(&self, server: &str) -> Option<&KnownServer> {
        self.entries.iter().find(|e| e.server.eq_ignore_ascii_case(server))
    }

    /// Adds `server fingerprint` at the end of the file (made 0600 when new).
    pub fn append(path: &Path, server: &str, fingerprint: Fingerprint) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut o = std::fs::OpenOptions::new();
        o.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(path)?;
        let fresh = f.metadata()?.len() == 0;
        if fresh {
            writeln!(
                f,
                "# Servers trusted with `warroom trust` (host:port sha256-fingerprint). Delete a line to forget one."
            )?;
        }
        writeln!(f, "{server} {fingerprint}")?;
        f.sync_all()
    }
}

/// Why a server's certificate was refused: carried through rustls and reqwest to
/// `ClientError::Untrusted`.
#[derive(Debug, Clone)]
pub struct Untrusted {
    /// `host:port` (or the host when the port is not known).
    pub server: String,
    /// The certificate the server presented.
    pub fingerprint: Fingerprint,
    pub why: Why,
}

#[derive(Debug, Clone)]
pub enum Why {
    /// Not vouched for by a CA, not pinned, not in `known_servers`: the reason in words.
    Unknown(String),
    /// `known_servers` holds another certificate for this server.
    Changed { file: PathBuf, line: usize, known: Fingerprint },
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (server, fp) = (&self.server, &self.fingerprint);
        match &self.why {
            Why::Unknown(why) => write!(
                f,
                "{why}. It presented {fp}: if that is the fingerprint `warroom serve` printed at \
                 start, run `warroom trust https://{server}`; or give its CA certificate (or the \
                 certificate itself) with --ca-file or the config's `ca_file`"
            ),
            Why::Changed { file, line, known } => write!(
                f,
                "THE SERVER'S CERTIFICATE HAS CHANGED. {server} now presents {fp}, but line {line} of \
                 {} says {known}. Someone may be intercepting the connection; nothing was sent. If \
                 the certificate was replaced on purpose, delete line {line} of {} and run `warroom \
                 trust https://{server}`",
                file.display(),
                file.display()
            ),
        }
    }
}

impl std::error::Error for Untrusted {}

/// The [`Untrusted`] in an error's chain (rustls' error travels inside an `io::Error`).
pub fn untrusted_in(e: &(dyn std::error::Error + 'static)) -> Option<Untrusted> {
    fn ours(e: &(dyn std::error::Error + 'static)) -> Option<Untrusted> {
        match e.downcast_ref::<rustls::Error>()? {
            rustls::Error::InvalidCertificate(CertificateError::Other(o)) => {
                o.0.downcast_ref::<Untrusted>().cloned()
            }
            _ => None,
        }
    }
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(u) = ours(c) {
            return Some(u);
        }
        // An io::Error hides what it wraps from `source()`, and hyper-rustls wraps tokio-rustls'
        // io::Error in another.
        let mut io = c.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(|io| io.get_ref()) {
            if let Some(u) = ours(inner) {
                return Some(u);
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        cur = c.source();
    }
    None
}

/// The usual check's refusal in plain words.
fn describe(e: &rustls::Error, name: &str) -> String {
    use CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else { return format!("the TLS handshake failed ({e})") };
    match c {
        C::UnknownIssuer => {
            "it is not signed by a CA this machine trusts (a self-signed certificate, or one from a \
             CA that --ca-file does not hold)"
                .into()
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            let names = match c {
                C::NotValidForNameContext { presented, .. } if !presented.is_empty() => {
                    format!(" (it names {})", presented.join(", "))
                }
                _ => String::new(),
            };
            format!("it is not made out to `{name}`{names}")
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "it is not valid yet (check this machine's clock)".into()
        }
        C::Other(o) if format!("{:?}", o.0).contains("CaUsedAsEndEntity") => {
            "it is a CA certificate used as the server's own (as `openssl req -x509` makes), and \
             --ca-file does not hold this exact certificate"
                .into()
        }
        other => format!("it does not check out ({other:?})"),
    }
}

/// The client's certificate verifier: see the module docs.
#[derive(Debug)]
pub struct TrustVerifier {
    /// The usual check, made at the first handshake (a client of plain `http://` servers never
    /// reads the system's CA certificates); `None` when there is no CA certificate at all.
    webpki: std::sync::OnceLock<Option<Arc<WebPkiServerVerifier>>>,
    /// Every certificate of `--ca-file` (DER): one of them presented as is is pinned.
    pinned: Vec<CertificateDer<'static>>,
    pins: Vec<Fingerprint>,
    known_servers: Option<PathBuf>,
    /// Host and port of every configured server: the verifier is told only the host.
    servers: Vec<(String, u16)>,
    provider: Arc<CryptoProvider>,
}

impl TrustVerifier {
    /// `ca_certs`: the certificates of `--ca-file`; `servers`: the base URLs.
    pub fn new(
        ca_certs: Vec<CertificateDer<'static>>,
        pins: Vec<Fingerprint>,
        known_servers: Option<PathBuf>,
        servers: &[reqwest::Url],
        provider: Arc<CryptoProvider>,
    ) -> TrustVerifier {
        let servers = servers
            .iter()
            .filter_map(|u| Some((u.host_str()?.to_ascii_lowercase(), u.port_or_known_default()?)))
            .collect();
        TrustVerifier { webpki: Default::default(), pinned: ca_certs, pins, known_servers, servers, provider }
    }

    /// The usual check: the system's CA certificates and those of `--ca-file`.
    fn webpki(&self) -> Option<&Arc<WebPkiServerVerifier>> {
        self.webpki
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                // A certificate the CA store cannot take (a v1 certificate, say) can still be pinned.
                let (_added, ignored) = roots.add_parsable_certificates(self.pinned.iter().cloned());
                if ignored > 0 {
                    tracing::info!(
                        "{ignored} certificate(s) of the CA file are not usable as a CA; pinned only"
                    );
                }
                let native = rustls_native_certs::load_native_certs();
                for e in &native.errors {
                    tracing::info!("loading the system's CA certificates: {e}");
                }
                roots.add_parsable_certificates(native.certs);
                if roots.is_empty() {
                    return None;
                }
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                    .build()
                    .inspect_err(|e| tracing::warn!("setting up certificate checks: {e}"))
                    .ok()
            })
            .as_ref()
    }

    fn host(name: &ServerName<'_>) -> String {
        match name {
            ServerName::DnsName(d) => d.as_ref().to_ascii_lowercase(),
            ServerName::IpAddress(ip) => match std::net::IpAddr::from(*ip) {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            },
            other => format!("{other:?}"),
        }
    }

    /// The usual check: system roots and `--ca-file`, name and dates; or why it fails, in words.
    fn usual(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, String> {
        match self.webpki() {
            Some(v) => v
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| describe(&e, &Self::host(server_name))),
            None => Err("this machine has no CA certificates to check it against".into()),
        }
    }

    fn refuse(&self, server: String, fingerprint: Fingerprint, why: Why) -> rustls::Error {
        let u = Untrusted { server, fingerprint, why };
        tracing::warn!("refusing the server's certificate: {u}");
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(u))))
    }
}

impl ServerCertVerifier for TrustVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let host = Self::host(server_name);
        let why = match self.usual(end_entity, intermediates, server_name, ocsp_response, now) {
            Ok(ok) => return Ok(ok),
            Err(why) => why,
        };
        let fp = Fingerprint::of(end_entity);
        if self.pins.contains(&fp) || self.pinned.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return Ok(ServerCertVerified::assertion());
        }
        let keys: Vec<String> =
            self.servers.iter().filter(|(h, _)| *h == host).map(|(h, p)| format!("{h}:{p}")).collect();
        let server = keys.first().cloned().unwrap_or_else(|| host.clone());
        let Some(path) = &self.known_servers else { return Err(self.refuse(server, fp, Why::Unknown(why))) };
        let known = match KnownServers::load(path) {
            Ok(k) => k,
            Err(e) => return Err(self.refuse(server, fp, Why::Unknown(format!("{why}; and {e}")))),
        };
        let entries: Vec<&KnownServer> = keys.iter().filter_map(|k| known.get(k)).collect();
        if entries.iter().any(|e| e.fingerprint == fp) {
            return Ok(ServerCertVerified::assertion());
        }
        match entries.first() {
            Some(e) => {
                let changed = Why::Changed { file: path.clone(), line: e.line, known: e.fingerprint };
                Err(self.refuse(e.server.clone(), fp, changed))
            }
            None => Err(self.refuse(server, fp, Why::Unknown(why))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A verifier that accepts any certificate and remembers the one presented: what `warroom
/// trust` shows before it records it. The handshake signature is still checked (the server
/// holds the key of what it shows).
#[derive(Debug)]
pub struct Recorder {
    pub seen: std::sync::Mutex<Option<CertificateDer<'static>>>,
    /// Whether the usual check (system roots and `--ca-file`) accepts it, or why not.
    pub usual: std::sync::Mutex<Option<Result<(), String>>>,
    inner: TrustVerifier,
}

impl Recorder {
    pub fn new(inner: TrustVerifier) -> Recorder {
        Recorder { seen: Default::default(), usual: Default::default(), inner }
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(end_entity.clone().into_owned());
        let usual = self.inner.usual(end_entity, intermediates, server_name, ocsp_response, now).map(|_| ());
        *self.usual.lock().unwrap_or_else(|p| p.into_inner()) = Some(usual);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A rustls client configuration with `verifier` (ring, TLS 1.2 and 1.3, ALPN h2 and
/// http/1.1), for `reqwest::ClientBuilder::tls_backend_preconfigured`.
pub fn client_config(
    verifier: Arc<dyn ServerCertVerifier>,
    provider: Arc<CryptoProvider>,
) -> anyhow::Result<rustls::ClientConfig> {
    let mut c = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_both_spellings() {
        let fp = Fingerprint::of(b"cert");
        let s = fp.to_string();
        assert!(s.starts_with("sha256:") && s.len() == 7 + 64, "{s}");
        assert_eq!(Fingerprint::parse(&s).unwrap(), fp);
        let openssl = format!(
            "SHA256:{}",
            hex::encode_upper(fp.0)
                .as_bytes()
                .chunks(2)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join(":")
        );
        assert_eq!(Fingerprint::parse(&openssl).unwrap(), fp);
        for bad in ["", "sha256:", "md5:00", "sha256:zz", &s[..s.len() - 2]] {
            let e = Fingerprint::parse(bad).unwrap_err();
            assert!(e.contains("not a certificate fingerprint"), "{bad}: {e}");
        }
    }

    #[test]
    fn known_servers_round_trip_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KNOWN_SERVERS_FILE);
        assert!(KnownServers::load(&path).unwrap().entries.is_empty());
        let (a, b) = (Fingerprint::of(b"a"), Fingerprint::of(b"b"));
        KnownServers::append(&path, "host:8443", a).unwrap();
        KnownServers::append(&path, "[::1]:7878", b).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let k = KnownServers::load(&path).unwrap();
        assert_eq!(k.get("HOST:8443").unwrap().fingerprint, a);
        assert_eq!(
            k.get("[::1]:7878").unwrap(),
            &KnownServer { line: 3, server: "[::1]:7878".into(), fingerprint: b }
        );
        assert!(k.get("host:443").is_none());
        std::fs::write(&path, "# c\n\nhost:1 sha256:00\n").unwrap();
        let e = KnownServers::load(&path).unwrap_err();
        assert!(e.contains(&format!("{}:3:", path.display())), "{e}");
    }

    #[test]
    fn server_keys_carry_the_port() {
        let k = |u: &str| server_key(&reqwest::Url::parse(u).unwrap()).unwrap();
        assert_eq!(k("https://Warroom.internal"), "warroom.internal:443");
        assert_eq!(k("https://127.0.0.1:8443/x"), "127.0.0.1:8443");
        assert_eq!(k("https://[::1]:7878"), "[::1]:7878");
    }
}
