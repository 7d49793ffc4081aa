//! Which requests the lab answers: its own, and nobody else's.
//!
//! A page on another site can make the browser send requests to `127.0.0.1`, and a DNS name
//! that the attacker controls can be rebound to `127.0.0.1` after the page has loaded (DNS
//! rebinding), making those requests "same-origin" for the browser. Both are stopped by
//! looking at two headers the page's script cannot forge:
//!
//! - `Host` must name the lab the way a user does: `localhost`, or an IP address, with the
//!   lab's port. A rebound DNS name arrives with that name as its `Host` and is refused.
//! - `Origin`, when the browser sends one (every `fetch`, `EventSource` and form POST from a
//!   page), must be `http://` followed by that same `Host`: a request started by any other
//!   page is refused.
//!
//! Requests without `Origin` (typing the address, `curl`, `backprop train --live`) pass when
//! their `Host` does. `Sec-Fetch-Site: cross-site`, which browsers add to requests another
//! site starts, is refused as well, and every request that changes something must carry
//! `Content-Type: application/json`, which a plain HTML form cannot send.

use std::net::IpAddr;

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

/// Checks the `Host`, `Origin` and `Sec-Fetch-Site` headers of a request to a lab listening
/// on `port`.
///
/// ```
/// use backprop::lab::guard::check;
/// assert!(check(Some("127.0.0.1:8000"), Some("http://127.0.0.1:8000"), None, 8000).is_ok());
/// assert!(check(Some("localhost:8000"), None, None, 8000).is_ok());
/// // Another page driving the lab, and a rebound DNS name:
/// assert!(check(Some("127.0.0.1:8000"), Some("http://evil.example"), None, 8000).is_err());
/// assert!(check(Some("evil.example:8000"), None, None, 8000).is_err());
/// ```
pub fn check(
    host: Option<&str>,
    origin: Option<&str>,
    fetch_site: Option<&str>,
    port: u16,
) -> Result<(), Refused> {
    let host = host.ok_or_else(|| Refused("the request has no Host header".into()))?;
    if !host_allowed(host, port) {
        return Err(Refused(format!(
            "Host {host:?} is not this lab (expected localhost or an IP address, port {port})"
        )));
    }
    if let Some(origin) = origin
        && origin != format!("http://{host}")
    {
        return Err(Refused(format!(
            "Origin {origin:?} is not this lab (http://{host})"
        )));
    }
    if fetch_site == Some("cross-site") {
        return Err(Refused("a cross-site request (Sec-Fetch-Site)".into()));
    }
    Ok(())
}

/// Whether `host` (a `Host` header) is `localhost` or an IP literal, with `port` (or with no
/// port when the lab listens on 80).
fn host_allowed(host: &str, port: u16) -> bool {
    let (name, given_port) = split_port(host);
    let port_ok = match given_port {
        Some(p) => p.parse::<u16>().ok() == Some(port),
        None => port == 80,
    };
    let name_ok = name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok()
        || name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .is_some_and(|n| n.parse::<std::net::Ipv6Addr>().is_ok());
    port_ok && name_ok
}

/// `("name", Some("port"))` from `name:port` or `[v6]:port`; a bare IPv6 address is not
/// valid in `Host` and keeps its colons in the name (and then fails the port check).
fn split_port(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        return match host.rfind("]:") {
            Some(i) => (&host[..=i], Some(&host[i + 2..])),
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_requests_pass() {
        for host in [
            "127.0.0.1:8000",
            "localhost:8000",
            "[::1]:8000",
            "192.168.1.5:8000",
        ] {
            let origin = format!("http://{host}");
            assert_eq!(
                check(Some(host), Some(&origin), None, 8000),
                Ok(()),
                "{host}"
            );
            assert_eq!(check(Some(host), None, Some("same-origin"), 8000), Ok(()));
        }
        assert_eq!(check(Some("127.0.0.1"), None, Some("none"), 80), Ok(()));
    }

    #[test]
    fn foreign_requests_are_refused() {
        let refused = |host: Option<&str>, origin: Option<&str>, site: Option<&str>| {
            check(host, origin, site, 8000).is_err()
        };
        // Rebound DNS names, wrong ports, no Host at all.
        assert!(refused(Some("evil.example:8000"), None, None));
        assert!(refused(Some("127.0.0.1.nip.io:8000"), None, None));
        assert!(refused(Some("127.0.0.1:8001"), None, None));
        assert!(refused(Some("127.0.0.1"), None, None));
        assert!(refused(Some("::1:8000"), None, None));
        assert!(refused(None, None, None));
        // Other pages, an opaque origin, a different scheme, the same host on another port.
        let h = Some("127.0.0.1:8000");
        assert!(refused(h, Some("http://evil.example"), None));
        assert!(refused(h, Some("null"), None));
        assert!(refused(h, Some("https://127.0.0.1:8000"), None));
        assert!(refused(h, Some("http://localhost:8000"), None));
        assert!(refused(h, Some("http://127.0.0.1:9000"), None));
        assert!(refused(h, None, Some("cross-site")));
    }
}
