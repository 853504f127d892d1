//! Which webhook targets may be called (SSRF policy). Only `https` URLs, and only public
//! addresses: private, loopback, link-local, unspecified, multicast, shared (CGNAT),
//! documentation and other special ranges are refused, including IPv4 addresses wrapped in
//! IPv6 (mapped, compatible, NAT64, 6to4). `allow_private_targets` lifts the address rule and
//! allows `http` (tests and local development). The URL is checked when it is saved and
//! again when it is sent; the sender also checks every address a host name resolves to at
//! delivery time, since a name can point anywhere later.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the webhook URL is not a valid absolute URL")]
    Invalid,
    #[error("the webhook URL must use https")]
    NotHttps,
    #[error("the webhook URL must not carry credentials or a fragment")]
    Credentials,
    #[error("the webhook target address is not allowed (private, loopback or special range)")]
    AddressRefused,
}

/// Checks a URL's form and, for an IP literal host, its address.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, TargetError> {
    let url = Url::parse(raw).map_err(|_| TargetError::Invalid)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(TargetError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(TargetError::Credentials);
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) if !address_allowed(IpAddr::V4(ip), allow_private) => {
            Err(TargetError::AddressRefused)
        }
        Some(url::Host::Ipv6(ip)) if !address_allowed(IpAddr::V6(ip), allow_private) => {
            Err(TargetError::AddressRefused)
        }
        Some(_) => Ok(url),
        None => Err(TargetError::Invalid),
    }
}

/// Whether a delivery may connect to `ip`.
pub fn address_allowed(ip: IpAddr, allow_private: bool) -> bool {
    allow_private || is_public(ip)
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240 // reserved
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)); // benchmarking
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    let special = ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x2001 && ip.segments()[1] == 0) // Teredo
        || first == 0x0100; // discard-only
    !special
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return Some(tail); // ::ffff:a.b.c.d and ::a.b.c.d
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail); // NAT64
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(text: &str) -> bool {
        address_allowed(text.parse().expect("address"), false)
    }

    #[test]
    fn special_ranges_are_refused_and_public_ones_allowed() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            assert!(!allowed(refused), "{refused} must be refused");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(allowed(public), "{public} must be allowed");
        }
        assert!(address_allowed("127.0.0.1".parse().expect("ip"), true));
    }

    #[test]
    fn urls_need_https_unless_private_targets_are_allowed() {
        assert!(check_url("https://hooks.example/x", false).is_ok());
        assert_eq!(
            check_url("http://hooks.example/x", false),
            Err(TargetError::NotHttps)
        );
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert_eq!(
            check_url("https://127.0.0.1/x", false),
            Err(TargetError::AddressRefused)
        );
        assert_eq!(
            check_url("https://[::ffff:7f00:1]/x", false),
            Err(TargetError::AddressRefused)
        );
        assert_eq!(
            check_url("https://user:pw@hooks.example/", false),
            Err(TargetError::Credentials)
        );
        assert_eq!(check_url("not a url", false), Err(TargetError::Invalid));
        assert_eq!(
            check_url("ftp://hooks.example/", true),
            Err(TargetError::NotHttps)
        );
    }
}
