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
    let raw = raw.trim();
    // What the document's pattern allows: printable ASCII, and a host name of
    // letters, digits, hyphens and dots (the URL parser would take more).
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("must be printable ASCII without spaces"));
    }
    let url = url::Url::parse(raw).map_err(|_| invalid("is not a valid URL"))?;
    if let Some(url::Host::Domain(name)) = url.host()
        && !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(invalid(
            "must name a host of letters, digits, hyphens and dots",
        ));
    }
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
/// link-local (incl. cloud metadata), CGNAT, benchmarking, IETF protocol
/// assignments, unique-local, multicast or unspecified — and an IPv6 address
/// that carries an IPv4 one (mapped, compatible, NAT64, 6to4) is judged by
/// the IPv4 address it reaches; Teredo and local NAT64 are refused outright.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..=127).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                // NAT64 for local use (RFC 8215), Teredo, discard-only, documentation.
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
                || (s[0] == 0x2001 && s[1] == 0)
                || (s[0] == 0x100 && s[1] == 0 && s[2] == 0 && s[3] == 0)
                || (s[0] == 0x2001 && s[1] == 0xdb8))
        }
    }
}

/// The IPv4 address an IPv6 address reaches: IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:AABB:CCDD::`.
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        std::net::Ipv4Addr::new(a, b, c, d)
    };
    match s {
        // `::` and `::1` are not IPv4-compatible addresses; the checks above handle them.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(from(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_urls_pass() {
        assert!(validate("https://example.com/hook", false).is_ok());
        assert!(validate("  https://example.com/hook?a=1  ", false).is_ok());
    }

    #[test]
    fn hosts_and_characters_the_document_refuses_are_refused() {
        for url in [
            " https://a.bc*",
            "https://exa*mple.com/x",
            "https://example.com/a b",
            "https://exämple.com/x",
            "https://example.com/ä",
        ] {
            assert!(validate(url, false).is_err(), "{url} was accepted");
        }
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
    fn ipv4_reached_through_ipv6_or_special_ranges_is_refused() {
        for url in [
            "https://[::127.0.0.1]/x",
            "https://[::a9fe:a9fe]/x",
            "https://[64:ff9b::10.0.0.1]/x",
            "https://[64:ff9b::a9fe:a9fe]/x",
            "https://[64:ff9b:1::1]/x",
            "https://[2002:7f00:1::]/x",
            "https://[2002:a9fe:a9fe::1]/x",
            "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
            "https://198.18.0.1/x",
            "https://198.19.255.1/x",
            "https://192.0.0.8/x",
        ] {
            assert!(validate(url, false).is_err(), "{url} should be refused");
        }
        for public in [
            "https://[64:ff9b::8.8.8.8]/x",
            "https://[2002:808:808::1]/x",
            "https://[2606:4700::1111]/x",
            "https://192.0.2.300.example.com/x",
        ] {
            assert!(validate(public, false).is_ok(), "{public} is public");
        }
    }

    #[test]
    fn development_setting_allows_local_http() {
        assert!(validate("http://127.0.0.1:9000/hook", true).is_ok());
    }
}
