//! HTTPS for `warroom serve --tls-cert --tls-key`: loads a PEM certificate chain and private
//! key into a rustls server configuration (ring provider, TLS 1.2 and 1.3, ALPN h2 and
//! http/1.1). Every error names the file and says what is wrong with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsFiles;

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the TLS {what} file {}", path.display()))
}

/// The certificates of a PEM file, leaf first.
pub fn load_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read(path, "certificate")?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("the TLS certificate file {} is not valid PEM", path.display()))?;
    if certs.is_empty() {
        bail!(
            "the TLS certificate file {} holds no certificate (expected `-----BEGIN CERTIFICATE-----`)",
            path.display()
        );
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = read(path, "key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => anyhow::anyhow!(
            "the TLS key file {} holds no private key (expected `-----BEGIN PRIVATE KEY-----`, \
             `RSA PRIVATE KEY` or `EC PRIVATE KEY`)",
            path.display()
        ),
        other => {
            anyhow::anyhow!("the TLS key file {} is not a valid PEM private key: {other}", path.display())
        }
    })
}

/// The rustls configuration for these files.
pub fn rustls_config(files: &TlsFiles) -> anyhow::Result<ServerConfig> {
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "the TLS key {} does not fit the certificate {} (or is of an unsupported type)",
                files.key.display(),
                files.cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// [`rustls_config`], ready for the acceptor.
pub fn server_config(files: &TlsFiles) -> anyhow::Result<RustlsConfig> {
    Ok(RustlsConfig::from_config(Arc::new(rustls_config(files)?)))
}

/// A certificate's SHA-256 as clients pin it (`--pin`, `warroom trust`): `sha256:` and 64
/// lowercase hex digits.
pub fn fingerprint(cert_der: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(cert_der)))
}

/// The fingerprint of the first certificate of a PEM file (the server's own).
pub fn fingerprint_of_file(path: &Path) -> anyhow::Result<String> {
    Ok(fingerprint(load_certs(path)?[0].as_ref()))
}

/// What `serve --tls-self-signed` made or found in its directory.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The CA certificate clients trust (`--ca-file`).
    pub ca: PathBuf,
    /// The server's certificate (signed by the CA) and key.
    pub files: TlsFiles,
    /// The names the server's certificate holds.
    pub names: Vec<String>,
    /// Whether the CA was made now (else it was found from an earlier start).
    pub new_ca: bool,
    /// Whether the server's certificate was made now.
    pub new_cert: bool,
}

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server-key.pem";
const SERVER_NAMES: &str = "server-names";

/// Writes `text` to `path` through a temporary file (mode `mode` on Unix), so a crash never
/// leaves half a key.
fn write_file(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = o.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The CA's distinguished name, derived from its key so that it is the same at every start
/// (the server certificate's issuer must match the CA certificate's subject) and differs
/// between two servers' CAs.
fn ca_params(key: &rcgen::KeyPair) -> anyhow::Result<rcgen::CertificateParams> {
    use sha2::Digest as _;
    let id = hex::encode(&sha2::Sha256::digest(key.public_key_raw())[..4]);
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(rcgen::DnType::CommonName, format!("warroom self-signed CA {id}"));
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    Ok(p)
}

/// Certificate validity: from yesterday (clocks differ) for `years` years.
fn validity(p: &mut rcgen::CertificateParams, years: i32) {
    use chrono::Datelike as _;
    let from = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    let (y, m, d) = (from.year(), from.month() as u8, from.day().min(28) as u8);
    p.not_before = rcgen::date_time_ymd(y, m, d);
    p.not_after = rcgen::date_time_ymd(y + years, m, d);
}

/// `serve --tls-self-signed`: a CA and a server certificate for `names` in `dir` (created
/// 0700; keys 0600). Found from an earlier start they are kept: the CA always (clients trust
/// it), the server certificate unless the names changed (then a new one, signed by the same CA).
pub fn self_signed(dir: &Path, names: &[String]) -> anyhow::Result<SelfSigned> {
    let mut names: Vec<String> =
        names.iter().map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()).collect();
    names.dedup();
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    }
    let (ca_path, ca_key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
    let have_ca = ca_path.exists() && ca_key_path.exists();
    let ca_key = if have_ca {
        let pem = std::fs::read_to_string(&ca_key_path)
            .with_context(|| format!("reading the CA key {}", ca_key_path.display()))?;
        rcgen::KeyPair::from_pem(&pem)
            .with_context(|| format!("the CA key {} is not a usable private key", ca_key_path.display()))?
    } else {
        let key = rcgen::KeyPair::generate().context("making the CA key")?;
        let mut p = ca_params(&key)?;
        validity(&mut p, 10);
        let cert = p.self_signed(&key).context("making the CA certificate")?;
        write_file(&ca_key_path, &key.serialize_pem(), 0o600)?;
        write_file(&ca_path, &cert.pem(), 0o644)?;
        key
    };
    let files = TlsFiles { cert: dir.join(SERVER_CERT), key: dir.join(SERVER_KEY) };
    let names_path = dir.join(SERVER_NAMES);
    let wanted = names.join("\n") + "\n";
    let same = have_ca
        && files.cert.exists()
        && files.key.exists()
        && std::fs::read_to_string(&names_path).is_ok_and(|n| n == wanted);
    if !same {
        let key = rcgen::KeyPair::generate().context("making the server key")?;
        let mut p = rcgen::CertificateParams::new(names.clone())
            .with_context(|| format!("a --tls-name is not a DNS name or IP address: {}", names.join(", ")))?;
        p.distinguished_name.push(rcgen::DnType::CommonName, names.first().cloned().unwrap_or_default());
        p.is_ca = rcgen::IsCa::ExplicitNoCa;
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut p, 2);
        let issuer = rcgen::Issuer::new(ca_params(&ca_key)?, &ca_key);
        let cert = p.signed_by(&key, &issuer).context("making the server certificate")?;
        write_file(&files.key, &key.serialize_pem(), 0o600)?;
        write_file(&files.cert, &cert.pem(), 0o644)?;
        write_file(&names_path, &wanted, 0o644)?;
    }
    Ok(SelfSigned { ca: ca_path, files, names, new_ca: !have_ca, new_cert: !same })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_keeps_its_ca_and_remakes_the_certificate_only_for_new_names() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let names = vec!["localhost".to_string(), "127.0.0.1".into()];
        let first = self_signed(&tls, &names).unwrap();
        assert!(first.new_ca && first.new_cert);
        let ca = std::fs::read(&first.ca).unwrap();
        let cert = fingerprint_of_file(&first.files.cert).unwrap();
        let again = self_signed(&tls, &names).unwrap();
        assert!(!again.new_ca && !again.new_cert);
        assert_eq!(fingerprint_of_file(&again.files.cert).unwrap(), cert);
        let more =
            self_signed(&tls, &["localhost".into(), "127.0.0.1".into(), "wr.internal".into()]).unwrap();
        assert!(!more.new_ca && more.new_cert);
        assert_eq!(std::fs::read(&more.ca).unwrap(), ca, "the CA clients trust stays");
        assert_ne!(fingerprint_of_file(&more.files.cert).unwrap(), cert);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&tls), 0o700);
            assert_eq!(mode(&tls.join(CA_KEY)), 0o600);
            assert_eq!(mode(&more.files.key), 0o600);
        }
        // The server's configuration takes them.
        rustls_config(&more.files).unwrap();
    }
}
