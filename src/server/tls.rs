//! HTTPS for `warroom serve --tls-cert --tls-key`: loads a PEM certificate chain and private
//! key into a rustls server configuration (ring provider, TLS 1.2 and 1.3, ALPN h2 and
//! http/1.1). Every error names the file and says what is wrong with it.

use std::path::Path;
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
