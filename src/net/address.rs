//! Which IP addresses an outbound request may reach (CIMD-9, SEC-19).
//!
//! Owns the special-use address tables (RFC 6890 and the IANA special-purpose
//! registries) and the check of URL hosts that are IP literals. Pure: no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::NetError;

/// IPv4 networks no outbound request may reach: `(network, prefix length)`.
const FORBIDDEN_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network" (RFC 791)
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private (RFC 1918)
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared address space, CGNAT (RFC 6598)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback (RFC 1122)
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata (RFC 3927)
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private (RFC 1918)
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments (RFC 6890)
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation TEST-NET-1 (RFC 5737)
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast, deprecated (RFC 7526)
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private (RFC 1918)
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking (RFC 2544)
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation TEST-NET-2 (RFC 5737)
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation TEST-NET-3 (RFC 5737)
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast (RFC 5771)
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, incl. broadcast 255.255.255.255 (RFC 1112)
];

/// IPv6 networks inside global unicast 2000::/3 that are still special-use.
const FORBIDDEN_V6_IN_GLOBAL: &[(Ipv6Addr, u8)] = &[
    // IETF protocol assignments (RFC 2928): Teredo 2001::/32, benchmarking 2001:2::/48,
    // ORCHID and the rest; no ordinary host lives here.
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0), 32), // documentation (RFC 3849)
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4, deprecated (RFC 7526); embeds any IPv4
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation (RFC 9637)
];

/// Global unicast 2000::/3: the only IPv6 space (besides the IPv4-embedding forms
/// below) that holds ordinary public hosts.
const GLOBAL_UNICAST_V6: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

/// The well-known NAT64 prefix 64:ff9b::/96 (RFC 6052): the last 32 bits are IPv4.
const NAT64_V6: (Ipv6Addr, u8) = (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);

fn v4_in(ip: Ipv4Addr, (network, len): (Ipv4Addr, u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(network) & mask
}

fn v6_in(ip: Ipv6Addr, (network, len): (Ipv6Addr, u8)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(network) & mask
}

/// The IPv4 address in the low 32 bits of `ip`.
fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = ip.octets();
    Ipv4Addr::new(a, b, c, d)
}

/// Whether `ip` is a special-use address that no outbound request may reach (CIMD-9):
/// loopback, private, link-local (incl. 169.254.169.254), CGNAT, "this network",
/// broadcast, multicast, documentation, benchmarking and reserved IPv4; and for IPv6
/// everything outside global unicast 2000::/3 (unspecified, loopback, IPv4-compatible,
/// ULA, link-local, site-local, multicast, discard, local-use NAT64) plus the special
/// blocks inside it (2001::/23 incl. Teredo, documentation, 6to4).
///
/// IPv4-mapped `::ffff:a.b.c.d` and NAT64 `64:ff9b::a.b.c.d` reach the embedded IPv4
/// address, so they are judged by it.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => FORBIDDEN_V4.iter().any(|&range| v4_in(v4, range)),
        IpAddr::V6(v6) => {
            if let Some(mapped) = v6.to_ipv4_mapped() {
                return is_forbidden(IpAddr::V4(mapped));
            }
            if v6_in(v6, NAT64_V6) {
                return is_forbidden(IpAddr::V4(embedded_v4(v6)));
            }
            !v6_in(v6, GLOBAL_UNICAST_V6)
                || FORBIDDEN_V6_IN_GLOBAL.iter().any(|&range| v6_in(v6, range))
        }
    }
}

/// Whether an outbound request may connect to `ip`. With `allow_loopback` (dev mode,
/// CIMD-9's one exception) 127.0.0.0/8 and `::1` are allowed, written plainly; their
/// IPv4-mapped and NAT64 spellings and every other special-use address stay refused.
pub fn is_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    let is_plain_loopback = match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6 == Ipv6Addr::LOCALHOST,
    };
    (allow_loopback && is_plain_loopback) || !is_forbidden(ip)
}

/// Checks the parts of `url` that need no network: https (CORE-2), no user
/// information (CIMD-6: no credentials), a host, and an IP-literal host against the
/// address policy (literals never reach the resolver). The `url` crate has already
/// normalised decimal, octal and hex IPv4 spellings to dotted form.
pub(crate) fn check_url(url: &Url, allow_loopback: bool) -> Result<(), NetError> {
    if url.scheme() != "https" {
        return Err(NetError::NotHttps);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(NetError::InvalidUrl("contains user information"));
    }
    let literal = match url.host() {
        None => return Err(NetError::InvalidUrl("has no host")),
        Some(Host::Domain(_)) => return Ok(()),
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    if is_allowed(literal, allow_loopback) {
        Ok(())
    } else {
        Err(NetError::ForbiddenAddress(literal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn cimd_9_refuses_every_special_use_ipv4_range() {
        let forbidden = [
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.0.1",
            "192.168.255.255",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ];
        for text in forbidden {
            assert!(is_forbidden(ip(text)), "{text} must be refused");
        }
    }

    #[test]
    fn cimd_9_allows_public_ipv4_including_range_neighbours() {
        let allowed = [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.101.0",
            "203.0.112.255",
            "223.255.255.255",
        ];
        for text in allowed {
            assert!(!is_forbidden(ip(text)), "{text} must be allowed");
        }
    }

    #[test]
    fn cimd_9_refuses_every_special_use_ipv6_range() {
        let forbidden = [
            "::",                     // unspecified
            "::1",                    // loopback
            "::7f00:1",               // IPv4-compatible 127.0.0.1
            "::808:808",              // IPv4-compatible, deprecated even when public
            "::ffff:127.0.0.1",       // IPv4-mapped loopback
            "::ffff:10.0.0.1",        // IPv4-mapped private
            "::ffff:169.254.169.254", // IPv4-mapped metadata
            "64:ff9b::7f00:1",        // NAT64 of 127.0.0.1
            "64:ff9b::a9fe:a9fe",     // NAT64 of 169.254.169.254
            "64:ff9b::c0a8:1",        // NAT64 of 192.168.0.1
            "64:ff9b:1::808:808",     // local-use NAT64 (RFC 8215)
            "100::1",                 // discard-only
            "fc00::1",                // ULA
            "fd00::1",                // ULA
            "fdff:ffff::1",           // ULA
            "fe80::1",                // link-local
            "febf::1",                // link-local
            "fec0::1",                // site-local, deprecated
            "ff02::1",                // multicast
            "ff0e::1",                // multicast, global scope
            "2001::1",                // Teredo
            "2001:0:4136:e378::1",    // Teredo
            "2001:2::1",              // benchmarking
            "2001:10::1",             // ORCHID
            "2001:1ff:ffff::1",       // end of 2001::/23
            "2001:db8::1",            // documentation
            "2001:db8:ffff::1",       // documentation
            "2002:7f00:1::1",         // 6to4 of 127.0.0.1
            "2002:808:808::1",        // 6to4, deprecated even when public
            "3fff::1",                // documentation (RFC 9637)
            "5f00::1",                // SRv6 SIDs, outside 2000::/3
            "4000::1",                // reserved
        ];
        for text in forbidden {
            assert!(is_forbidden(ip(text)), "{text} must be refused");
        }
    }

    #[test]
    fn cimd_9_allows_public_ipv6_and_public_embedded_ipv4() {
        let allowed = [
            "2001:200::1",          // first block after 2001::/23
            "2001:4860:4860::8888", // public resolver
            "2001:db9::1",          // just past documentation
            "2606:4700:4700::1111", // public resolver
            "2a00:1450:4001::1",    // ordinary allocation
            "3ffe::1",              // just below 3fff::/20
            "::ffff:8.8.8.8",       // mapped public IPv4
            "64:ff9b::808:808",     // NAT64 of 8.8.8.8
        ];
        for text in allowed {
            assert!(!is_forbidden(ip(text)), "{text} must be allowed");
        }
    }

    #[test]
    fn cimd_9_loopback_allowance_covers_plain_loopback_only() {
        for text in ["127.0.0.1", "127.1.2.3", "::1"] {
            assert!(is_allowed(ip(text), true), "{text} allowed in dev mode");
            assert!(!is_allowed(ip(text), false), "{text} refused by default");
        }
        for text in [
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "::7f00:1",
            "10.0.0.1",
            "169.254.169.254",
            "192.168.1.1",
            "fd00::1",
            "fe80::1",
            "0.0.0.0",
            "::",
        ] {
            assert!(
                !is_allowed(ip(text), true),
                "{text} refused even in dev mode"
            );
        }
        assert!(is_allowed(ip("8.8.8.8"), false));
    }

    fn url_error(raw: &str, allow_loopback: bool) -> Option<NetError> {
        check_url(&Url::parse(raw).unwrap(), allow_loopback).err()
    }

    #[test]
    fn cimd_9_refuses_ip_literal_hosts_in_every_spelling() {
        let cases = [
            ("https://127.0.0.1/", "127.0.0.1"),
            ("https://2130706433/", "127.0.0.1"),
            ("https://0x7f.1/", "127.0.0.1"),
            ("https://0x7f000001/", "127.0.0.1"),
            ("https://017700000001/", "127.0.0.1"),
            ("https://0177.0.0.1/", "127.0.0.1"),
            ("https://127.1/", "127.0.0.1"),
            ("https://0/", "0.0.0.0"),
            (
                "https://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("https://0xa9fea9fe/", "169.254.169.254"),
            ("https://2852039166/", "169.254.169.254"),
            ("https://10.1/", "10.0.0.1"),
            ("https://[::1]/", "::1"),
            ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("https://[::ffff:7f00:1]/", "::ffff:127.0.0.1"),
            ("https://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"),
            ("https://[fd00::1]:8443/", "fd00::1"),
            ("https://[fe80::1]/", "fe80::1"),
        ];
        for (raw, expected) in cases {
            match url_error(raw, false) {
                Some(NetError::ForbiddenAddress(addr)) => assert_eq!(addr, ip(expected), "{raw}"),
                other => panic!("{raw}: expected ForbiddenAddress, got {other:?}"),
            }
        }
    }

    #[test]
    fn cimd_9_ip_literals_under_loopback_allowance() {
        assert!(url_error("https://127.0.0.1:8443/doc", true).is_none());
        assert!(url_error("https://2130706433/", true).is_none());
        assert!(url_error("https://[::1]/", true).is_none());
        for raw in [
            "https://[::ffff:127.0.0.1]/",
            "https://10.0.0.1/",
            "https://169.254.169.254/",
        ] {
            assert!(
                matches!(url_error(raw, true), Some(NetError::ForbiddenAddress(_))),
                "{raw}"
            );
        }
    }

    #[test]
    fn core_2_and_cimd_6_url_shape_is_checked_before_any_request() {
        assert!(matches!(
            url_error("http://example.com/", false),
            Some(NetError::NotHttps)
        ));
        assert!(matches!(
            url_error("http://127.0.0.1/", true),
            Some(NetError::NotHttps)
        ));
        assert!(matches!(
            url_error("ftp://example.com/", false),
            Some(NetError::NotHttps)
        ));
        assert!(matches!(
            url_error("https://user:pw@example.com/", false),
            Some(NetError::InvalidUrl(_))
        ));
        assert!(url_error("https://example.com/client.json", false).is_none());
        assert!(url_error("https://93.184.215.14/", false).is_none());
    }
}
