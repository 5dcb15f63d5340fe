//! Webhook URL rules: https only, and never a private, loopback or link-local
//! target (checked on the literal host at save time and on every resolved
//! address at send time), unless private targets are explicitly allowed.

use std::net::IpAddr;

use crate::{Error, Result};

const BLOCKED_HOSTS: &[&str] = &["localhost", "metadata.google.internal", "metadata"];

/// Checks a webhook URL when an agent saves it; returns it normalised.
pub fn validate(raw: &str, allow_private: bool) -> Result<String> {
    let invalid =
        |why: &str| Error::bad_request(format!("Invalid request body: webhook_url {why}"));
    if raw.len() > 2000 {
        return Err(invalid("must be at most 2000 characters"));
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| invalid("is not a valid URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(invalid("must use https")),
    }
    let host = url.host().ok_or_else(|| invalid("must name a host"))?;
    if !allow_private {
        match host {
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if BLOCKED_HOSTS.contains(&name.as_str()) || name.ends_with(".localhost") {
                    return Err(invalid("must not point at a local or internal host"));
                }
            }
            url::Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => {
                return Err(invalid(
                    "must not point at a private, loopback or link-local address",
                ));
            }
            url::Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => {
                return Err(invalid(
                    "must not point at a private, loopback or link-local address",
                ));
            }
            _ => {}
        }
    }
    Ok(url.to_string())
}

/// Whether an address may receive webhooks: not private, loopback,
/// link-local (incl. cloud metadata), CGNAT, unique-local, multicast or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..=127).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_urls_pass() {
        assert!(validate("https://example.com/hook", false).is_ok());
    }

    #[test]
    fn private_and_plain_http_targets_are_refused() {
        for url in [
            "http://example.com/hook",
            "https://localhost/x",
            "https://127.0.0.1/x",
            "https://127.1/x",
            "https://2130706433/x",
            "https://10.0.0.1/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://metadata.google.internal/x",
            "ftp://example.com/x",
            "not a url",
        ] {
            assert!(validate(url, false).is_err(), "{url} should be refused");
        }
    }

    #[test]
    fn development_setting_allows_local_http() {
        assert!(validate("http://127.0.0.1:9000/hook", true).is_ok());
    }
}
