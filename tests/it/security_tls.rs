//! HTTPS: the server serves TLS from PEM files (a self-signed certificate made here with
//! rcgen); a client that trusts that certificate talks to it, one that does not is refused;
//! bad certificate or key files are reported naming the file.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;

use crate::server_support::{client_builder, options};
use warroom::api::Role;
use warroom::server::{self, Limits, ServeOptions, TlsFiles};

struct Certs {
    dir: tempfile::TempDir,
    files: TlsFiles,
    ca_pem: String,
}

fn self_signed() -> Certs {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles { cert: dir.path().join("cert.pem"), key: dir.path().join("key.pem") };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    Certs { dir, files, ca_pem: cert.pem() }
}

fn tls_options(files: TlsFiles) -> ServeOptions {
    ServeOptions { tls: Some(files), ..options(Limits::default()) }
}

async fn store() -> (tempfile::TempDir, std::sync::Arc<dyn server::Store>, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = server::open_store(&format!("sqlite://{}", dir.path().join("w.db").display())).await.unwrap();
    let token = server::tokens::create(&*store, "ana", Role::Viewer).await.unwrap();
    (dir, store, token)
}

#[tokio::test]
async fn serves_https_to_a_client_that_trusts_the_certificate_only() {
    let certs = self_signed();
    let (_d, store, token) = store().await;
    let running = server::start(tls_options(certs.files.clone()), store).await.unwrap();
    let port = running.addr.port();

    let ca = reqwest::Certificate::from_pem(certs.ca_pem.as_bytes()).unwrap();
    let trusting = client_builder().tls_certs_only([ca]).build().unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let res = trusting.get(format!("https://{host}:{port}/api/v1/me")).bearer_auth(&token).send().await;
        let res = res.unwrap_or_else(|e| panic!("https://{host}: {e:?}"));
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.unwrap()["name"], "ana");
    }

    // The platform's roots do not know this certificate: the handshake fails, nothing is sent.
    let stranger = client_builder().build().unwrap();
    let err = stranger.get(format!("https://localhost:{port}/healthz")).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = client_builder().build().unwrap();
    let res = plain.get(format!("http://127.0.0.1:{port}/healthz")).send().await;
    assert!(res.is_err() || !res.unwrap().status().is_success());

    // The server still shuts down gracefully with an open stream.
    let mut stream = trusting
        .get(format!("https://localhost:{port}/api/v1/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(String::from_utf8_lossy(&stream.chunk().await.unwrap().unwrap()).contains("connected"));
    running.shutdown().await.unwrap();
    drop(certs.dir);
}

async fn start_error(files: TlsFiles) -> String {
    let (_d, store, _) = store().await;
    match server::start(tls_options(files), store).await {
        Ok(_) => panic!("the server started with bad TLS files"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn bad_certificate_or_key_files_are_named_in_the_error() {
    let certs = self_signed();
    let missing = PathBuf::from("/nonexistent/warroom/cert.pem");
    let msg = start_error(TlsFiles { cert: missing.clone(), key: certs.files.key.clone() }).await;
    assert!(msg.contains("/nonexistent/warroom/cert.pem") && msg.contains("certificate"), "{msg}");

    let garbage = certs.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello, not a certificate\n").unwrap();
    let msg = start_error(TlsFiles { cert: garbage.clone(), key: certs.files.key.clone() }).await;
    assert!(msg.contains("garbage.pem") && msg.contains("no certificate"), "{msg}");

    let msg = start_error(TlsFiles { cert: certs.files.cert.clone(), key: garbage.clone() }).await;
    assert!(msg.contains("garbage.pem") && msg.contains("no private key"), "{msg}");

    // The certificate file given as the key: no key in it.
    let msg = start_error(TlsFiles { cert: certs.files.cert.clone(), key: certs.files.cert.clone() }).await;
    assert!(msg.contains("cert.pem") && msg.contains("no private key"), "{msg}");

    // A key that does not belong to the certificate.
    let other = rcgen::KeyPair::generate().unwrap();
    let other_key = certs.dir.path().join("other-key.pem");
    std::fs::write(&other_key, other.serialize_pem()).unwrap();
    let msg = start_error(TlsFiles { cert: certs.files.cert.clone(), key: other_key }).await;
    assert!(msg.contains("other-key.pem") && msg.contains("does not fit"), "{msg}");
}
