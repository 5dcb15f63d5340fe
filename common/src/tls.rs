//! TLS set-up: one rustls crypto provider (ring) for the whole process.

/// Installs ring as the process-wide rustls provider; call before building
/// any HTTPS client. Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
