//! Webhook target URLs (SSRF policy), checked when an app registers one and again before
//! each delivery; plus the address rule on raw IPv4 and IPv6 addresses.
//!
//! Asserts: an accepted URL is https without credentials or fragment; an IP-literal host is
//! a public address; a host accepted as a name is not an IP address in disguise; the
//! accepted URL's stored text is accepted again unchanged (the check at delivery agrees with
//! the check at registration); an IPv6 address that embeds an IPv4 one is allowed only if
//! that IPv4 address is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tmcp_usecases::webhooks::target::{address_allowed, check_url};

fuzz_target!(|data: &[u8]| {
    if data.len() == 16 {
        let octets: [u8; 16] = data.try_into().expect("16 bytes");
        let v6 = Ipv6Addr::from(octets);
        let allowed = address_allowed(IpAddr::V6(v6), false);
        let s = v6.segments();
        let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        if v6.to_ipv4_mapped().is_some() || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
            assert_eq!(allowed, address_allowed(IpAddr::V4(tail), false), "{v6}");
        }
        if allowed {
            assert!(
                !v6.is_loopback() && !v6.is_unspecified() && !v6.is_multicast(),
                "{v6}"
            );
        }
    }
    if data.len() == 4 {
        let v4 = Ipv4Addr::new(data[0], data[1], data[2], data[3]);
        if address_allowed(IpAddr::V4(v4), false) {
            assert!(
                !v4.is_private() && !v4.is_loopback() && !v4.is_link_local(),
                "{v4}"
            );
        }
    }

    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for allow_private in [false, true] {
        let Ok(url) = check_url(raw, allow_private) else {
            continue;
        };
        assert!(url.scheme() == "https" || (allow_private && url.scheme() == "http"));
        assert!(url.username().is_empty() && url.password().is_none());
        assert!(url.fragment().is_none());
        match url.host() {
            Some(url::Host::Ipv4(ip)) => assert!(address_allowed(IpAddr::V4(ip), allow_private)),
            Some(url::Host::Ipv6(ip)) => assert!(address_allowed(IpAddr::V6(ip), allow_private)),
            Some(url::Host::Domain(name)) => {
                let bare = name.trim_end_matches('.');
                let bracketed = bare.trim_start_matches('[').trim_end_matches(']');
                assert!(
                    bare.parse::<IpAddr>().is_err(),
                    "IP literal as a name: {name}"
                );
                assert!(
                    bracketed.parse::<IpAddr>().is_err(),
                    "IP literal as a name: {name}"
                );
            }
            None => panic!("accepted a URL without a host: {url}"),
        }
        let again = check_url(url.as_str(), allow_private).expect("the stored URL re-checks");
        assert_eq!(again.as_str(), url.as_str());
    }
});
