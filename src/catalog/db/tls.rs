//! TLS to PostgreSQL as libpq's `sslmode` means it: `disable`; `allow` and
//! `prefer` (encrypt if the server can, verify nothing); `require`
//! (encrypt; verify the chain only when root certificates are named);
//! `verify-ca` (the chain); `verify-full` (the chain and the host name).
//! Root certificates come from `sslrootcert` (a PEM file, or `system` for
//! the system's store), `PGSSLROOTCERT`, or `~/.postgresql/root.crt`.

use std::path::PathBuf;
use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;

/// What a connection string asks of TLS.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TlsWish {
    /// libpq's word (`prefer` when none is given, as libpq's default).
    pub mode: String,
    pub root_cert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL's query
/// (the client library knows only some of libpq's modes): the URL left,
/// and what they asked.
pub(super) fn split_url(url: &str) -> (String, TlsWish) {
    let mut wish = TlsWish {
        mode: "prefer".to_owned(),
        root_cert: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), wish);
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => wish.mode = v.to_owned(),
            Some(("sslrootcert", v)) => wish.root_cert = Some(percent_decode(v)),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, wish)
}

/// `%XX` escapes of a URL query value decoded (a path may hold `/` as
/// `%2F`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The client library's mode and the connector for a wish.
pub(super) fn connector(wish: &TlsWish) -> Result<(SslMode, MakeRustlsConnect), DbError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = || roots(wish.root_cert.as_deref());
    let (mode, verifier): (SslMode, Arc<dyn ServerCertVerifier>) = match wish.mode.as_str() {
        "disable" => (SslMode::Disable, Arc::new(Unverified(provider.clone()))),
        "allow" | "prefer" => (SslMode::Prefer, Arc::new(Unverified(provider.clone()))),
        "require" if wish.root_cert.is_none() => {
            (SslMode::Require, Arc::new(Unverified(provider.clone())))
        }
        "require" | "verify-ca" => (
            SslMode::Require,
            Arc::new(AnyName(web_pki(roots()?, provider.clone())?)),
        ),
        "verify-full" => (SslMode::Require, web_pki(roots()?, provider.clone())?),
        other => {
            return Err(DbError::Refused(format!(
                "sslmode={other}: libpq's modes are disable, allow, prefer, require, \
                 verify-ca and verify-full"
            )));
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Refused(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok((mode, MakeRustlsConnect::new(config)))
}

/// The root certificates to verify the server by.
fn roots(named: Option<&str>) -> Result<RootCertStore, DbError> {
    let named = named
        .map(str::to_owned)
        .or_else(|| std::env::var("PGSSLROOTCERT").ok());
    let mut store = RootCertStore::empty();
    if named.as_deref() == Some("system") {
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
        return Ok(store);
    }
    let path = match named {
        Some(path) => PathBuf::from(path),
        None => dirs::home_dir()
            .unwrap_or_default()
            .join(".postgresql/root.crt"),
    };
    let text = std::fs::read(&path).map_err(|e| {
        DbError::Refused(format!(
            "root certificates {} ({e}): verifying the server needs them (sslrootcert)",
            path.display()
        ))
    })?;
    for cert in rustls_pemfile::certs(&mut text.as_slice()) {
        let cert = cert
            .map_err(|e| DbError::Refused(format!("root certificates {}: {e}", path.display())))?;
        store
            .add(cert)
            .map_err(|e| DbError::Refused(format!("root certificates {}: {e}", path.display())))?;
    }
    if store.is_empty() {
        return Err(DbError::Refused(format!(
            "root certificates {}: no certificate in it",
            path.display()
        )));
    }
    Ok(store)
}

fn web_pki(
    roots: RootCertStore,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, DbError> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| DbError::Refused(format!("TLS: {e}")))
}

/// Encryption without verification (libpq's `prefer` and `require`): the
/// handshake's signatures are still checked.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The chain verified, whatever name the certificate is for (libpq's
/// `verify-ca`).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_root_cert_leave_the_url() {
        let (url, wish) = split_url(
            "postgres://u@h:5/db?application_name=x&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.crt",
        );
        assert_eq!(url, "postgres://u@h:5/db?application_name=x");
        assert_eq!(wish.mode, "verify-full");
        assert_eq!(wish.root_cert.as_deref(), Some("/tmp/ca.crt"));
        let (url, wish) = split_url("postgres://u@h/db");
        assert_eq!(
            (url.as_str(), wish.mode.as_str()),
            ("postgres://u@h/db", "prefer")
        );
        assert!(
            connector(&TlsWish {
                mode: "sometimes".into(),
                root_cert: None
            })
            .is_err()
        );
    }
}
