//! TLS for outbound requests (CORE-2): certificates are always verified, against the
//! compiled-in Mozilla roots (`webpki-roots`) plus `outbound.extra_ca_file`.
//!
//! The crypto provider is named here (ring, as reqwest's rustls default) instead of
//! taken from the process-wide default, so linking another provider changes nothing.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::NetError;

/// The client TLS configuration: verified certificates, TLS 1.2 and 1.3, HTTP/1.1 ALPN.
pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<ClientConfig, NetError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| NetError::Build(format!("extra CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Build(format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
