//! TLS: the roots to trust (webpki and native, or a job's `ca_file`),
//! a self-signed `ca_file` pinned, and verification turned off on request.

use std::sync::OnceLock;

use rustls::client::WebPkiServerVerifier;

use super::*;

/// The certificates of `request.ca_file`, read and checked now, so that a
/// bad file fails the job before its first request; none without one.
pub(super) fn ca_file_certs(request: &Request) -> Result<Vec<CertificateDer<'static>>> {
    let Some(path) = &request.ca_file else {
        return Ok(Vec::new());
    };
    let failed = |e: &dyn std::fmt::Display| {
        Error::config(format!("request.ca_file `{}`: {e}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| failed(&e))?;
    if certs.is_empty() {
        return Err(failed(&"no PEM certificate in it"));
    }
    let mut roots = RootCertStore::empty();
    for cert in &certs {
        roots.add(cert.clone()).map_err(|e| failed(&e))?;
    }
    Ok(certs)
}

/// The usual verification, and one more way to pass it: a server that
/// presents a certificate of `ca_file` itself (a self-signed certificate,
/// as `openssl req -x509` makes, which is marked as a CA), valid for the
/// host's name, is trusted as `curl --cacert` trusts it.
///
/// The roots (webpki's, the system's and `ca_file`'s) are loaded at the
/// first certificate to check: reading the system's takes ~3 ms, over a
/// third of a one-page job over plain HTTP, which never needs them.
#[derive(Debug)]
pub(super) struct Pinning {
    provider: Arc<CryptoProvider>,
    pinned: Vec<CertificateDer<'static>>,
    webpki: OnceLock<std::result::Result<Arc<WebPkiServerVerifier>, String>>,
}

impl Pinning {
    pub(super) fn new(
        provider: Arc<CryptoProvider>,
        pinned: Vec<CertificateDer<'static>>,
    ) -> Pinning {
        Pinning {
            provider,
            pinned,
            webpki: OnceLock::new(),
        }
    }

    fn webpki(&self) -> std::result::Result<&Arc<WebPkiServerVerifier>, rustls::Error> {
        let verifier = self.webpki.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            // Checked when the job was loaded.
            roots.add_parsable_certificates(self.pinned.iter().cloned());
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| format!("cannot set up TLS: {e}"))
        });
        verifier
            .as_ref()
            .map_err(|e| rustls::Error::General(e.clone()))
    }
}

impl ServerCertVerifier for Pinning {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let verified = self.webpki()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verified {
            Err(e)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                let parsed =
                    rustls::server::ParsedCertificate::try_from(end_entity).map_err(|_| e)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    // Signatures are checked as webpki's verifier checks them, with the
    // provider's algorithms: no roots needed.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `tls_verify = false`: accepts any certificate, still checks signatures.
#[derive(Debug)]
pub(super) struct NoVerification(pub(super) Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
