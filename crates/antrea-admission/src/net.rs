//! IP and CIDR parsing with Go's `net.ParseIP` / `net.ParseCIDR` behaviour and messages,
//! as far as the webhooks observe it.

use std::net::IpAddr;

use ipnet::IpNet;

/// Go's `net.ParseIP`: an IPv4 or IPv6 literal; IPv4-mapped IPv6 addresses count as IPv4.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let address: IpAddr = text.parse().ok()?;
    Some(canonical(address))
}

fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Go's `net.IP.IsMulticast`.
pub fn is_multicast(address: IpAddr) -> bool {
    canonical(address).is_multicast()
}

/// Go's `%v` of a `net.IP` (`<nil>` for an unparsable address).
pub fn display_ip(address: Option<IpAddr>) -> String {
    match address {
        None => "<nil>".to_owned(),
        Some(address) => canonical(address).to_string(),
    }
}

/// A parsed CIDR: the address as written and the network it denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub address: IpAddr,
    pub network: IpNet,
}

/// The error text of Go's `net.ParseCIDR`.
pub fn cidr_error(text: &str) -> String {
    format!("invalid CIDR address: {text}")
}

/// Go's `net.ParseCIDR`.
pub fn parse_cidr(text: &str) -> Result<Cidr, String> {
    let (address_text, prefix_text) = text.split_once('/').ok_or_else(|| cidr_error(text))?;
    if prefix_text.is_empty() || !prefix_text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(cidr_error(text));
    }
    let address = parse_ip(address_text).ok_or_else(|| cidr_error(text))?;
    let prefix: u8 = prefix_text.parse().map_err(|_| cidr_error(text))?;
    // Go parses an IPv4-mapped address with a prefix as IPv6 (16-byte mask).
    let address_for_net = if address_text.contains(':') {
        match address {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            v6 => v6,
        }
    } else {
        address
    };
    let network = IpNet::new(address_for_net, prefix)
        .map_err(|_| cidr_error(text))?
        .trunc();
    Ok(Cidr { address, network })
}

/// Go's `IPNet.Contains(ip)` where `ip` is another network's base address.
pub fn contains(network: &IpNet, address: IpAddr) -> bool {
    match (network, address) {
        (IpNet::V4(net), IpAddr::V4(ip)) => net.contains(&ip),
        (IpNet::V6(net), IpAddr::V6(ip)) => net.contains(&ip),
        (IpNet::V4(net), IpAddr::V6(ip)) => ip.to_ipv4_mapped().is_some_and(|v4| net.contains(&v4)),
        (IpNet::V6(net), IpAddr::V4(ip)) => net.contains(&ip.to_ipv6_mapped()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_like_go() {
        let cidr = parse_cidr("10.1.2.3/8").unwrap();
        assert_eq!(cidr.address.to_string(), "10.1.2.3");
        assert_eq!(cidr.network.to_string(), "10.0.0.0/8");
        assert_eq!(
            parse_cidr("10.0.0.0").unwrap_err(),
            "invalid CIDR address: 10.0.0.0"
        );
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("10.0.0.0/+8").is_err());
        assert!(parse_cidr("fd00::/8").is_ok());
        assert!(parse_cidr("::ffff:10.0.0.0/104").is_ok());
    }

    #[test]
    fn ips_print_like_go() {
        assert_eq!(display_ip(parse_ip("nope")), "<nil>");
        assert_eq!(display_ip(parse_ip("::ffff:224.0.0.1")), "224.0.0.1");
        assert!(is_multicast(parse_ip("::ffff:224.0.0.1").unwrap()));
        assert!(is_multicast(parse_ip("ff02::1").unwrap()));
        assert!(!is_multicast(parse_ip("10.0.0.1").unwrap()));
    }
}
