//! NSX manager addresses as bootstrap.conf writes them: `host`, `host:port`, `[v6]:port`, a
//! bare IPv6 address, or a URL `https://host:port` (`http://` only when spelt out).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The scheme of an NSX address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https,
    /// Only when written out (a local TLS-terminating proxy, or a test double).
    Http,
}

/// One NSX manager (or proxy) address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsxAddress {
    pub scheme: Scheme,
    /// A DNS name, or an IP address (IPv6 without brackets).
    pub host: String,
    /// The port when given; the REST default is 443.
    pub port: Option<u16>,
}

fn valid_dns_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl NsxAddress {
    /// Parses one address.
    pub fn parse(text: &str) -> Result<NsxAddress, String> {
        let text = text.trim();
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if text.contains("://") {
            return Err(format!(
                "{text:?}: only https:// (or http://) addresses are supported"
            ));
        } else {
            (Scheme::Https, text)
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err("an address is empty".to_owned());
        }
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!("{text:?}: give only the host and port"));
        }
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("{text:?}: unclosed '['"))?;
            if host.parse::<Ipv6Addr>().is_err() {
                return Err(format!("{text:?}: {host:?} is not an IPv6 address"));
            }
            let port =
                match after {
                    "" => None,
                    _ => Some(after.strip_prefix(':').ok_or_else(|| {
                        format!("{text:?}: expected ':port' after the IPv6 address")
                    })?),
                };
            (host.to_owned(), port)
        } else if rest.matches(':').count() > 1 {
            // A bare IPv6 address (no port possible without brackets).
            if rest.parse::<Ipv6Addr>().is_err() {
                return Err(format!("{text:?} is not a valid address"));
            }
            (rest.to_owned(), None)
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (rest.to_owned(), None),
            }
        };
        if host.parse::<IpAddr>().is_err() && !valid_dns_name(&host) {
            return Err(format!(
                "{text:?}: {host:?} is not a host name or IP address"
            ));
        }
        let port = port
            .map(|port| {
                port.parse::<u16>()
                    .ok()
                    .filter(|port| *port != 0)
                    .ok_or_else(|| format!("{text:?}: {port:?} is not a port (1 to 65535)"))
            })
            .transpose()?;
        Ok(NsxAddress { scheme, host, port })
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// `scheme://host[:port]`, the form the REST client takes.
    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        match self.port {
            Some(port) => format!("{scheme}://{}:{port}", self.host_for_url()),
            None => format!("{scheme}://{}", self.host_for_url()),
        }
    }

    /// `https://host:port` with `port` when the address has none (the channel endpoints).
    pub fn https_url_with_port(&self, default_port: u16) -> String {
        format!(
            "https://{}:{}",
            self.host_for_url(),
            self.port.unwrap_or(default_port)
        )
    }

    /// The same host with another port.
    pub fn with_port(&self, port: u16) -> NsxAddress {
        NsxAddress {
            port: Some(port),
            ..self.clone()
        }
    }
}

impl fmt::Display for NsxAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_every_form() {
        let cases = [
            ("nsx1.example.com", "https://nsx1.example.com"),
            ("10.0.0.1:8443", "https://10.0.0.1:8443"),
            ("https://nsx:443/", "https://nsx:443"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("[::1]:443", "https://[::1]:443"),
            ("fd00::1", "https://[fd00::1]"),
            ("dummyNSXIP1", "https://dummyNSXIP1"),
        ];
        for (text, url) in cases {
            assert_eq!(NsxAddress::parse(text).unwrap().url(), url, "{text}");
        }
        assert_eq!(
            NsxAddress::parse("nsx").unwrap().https_url_with_port(1235),
            "https://nsx:1235"
        );
        assert_eq!(
            NsxAddress::parse("nsx:9")
                .unwrap()
                .https_url_with_port(1235),
            "https://nsx:9"
        );
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in [
            "",
            "ftp://nsx",
            "nsx:0",
            "nsx:99999",
            "nsx:port",
            "https://nsx/api",
            "user@nsx",
            "nsx_1",
            "[::1",
            "[nsx]:1",
            "1:2:3:zz",
            "-nsx",
        ] {
            assert!(NsxAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
