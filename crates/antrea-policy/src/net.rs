//! Address helpers: parsed `ipBlock`s (CIDR minus `except`), addresses of Pods and Nodes, and
//! the Antrea gateway address of a Node (first address of its Pod CIDR).

use std::net::IpAddr;

use ipnet::IpNet;

/// An `ipBlock`: a CIDR minus its `except` CIDRs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IpBlockNet {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

impl IpBlockNet {
    /// Parses `cidr` and `except` the way `cidrStrToIPNet` does (a bare address is a /32 or
    /// /128). `None` when anything fails to parse: Antrea logs and skips such a block.
    pub(crate) fn parse(cidr: &str, except: &[String]) -> Option<Self> {
        let cidr = parse_cidr(cidr)?;
        let except = except
            .iter()
            .map(|text| parse_cidr(text))
            .collect::<Option<Vec<_>>>()?;
        Some(IpBlockNet { cidr, except })
    }

    pub(crate) fn contains(&self, address: IpAddr) -> bool {
        self.cidr.contains(&address) && !self.except.iter().any(|net| net.contains(&address))
    }
}

/// A CIDR, or a bare address taken as a host route. The network is truncated to its prefix.
pub(crate) fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Antrea's gateway (`antrea-gw0`) address on a Node: the first host address of its Pod CIDR
/// of the wanted family.
pub(crate) fn gateway_address(pod_cidrs: &[IpNet], ipv6: bool) -> Option<IpAddr> {
    let cidr = pod_cidrs
        .iter()
        .find(|net| matches!(net, IpNet::V6(_)) == ipv6)?;
    match cidr {
        IpNet::V4(net) => {
            let base = u32::from(net.network());
            Some(IpAddr::from(std::net::Ipv4Addr::from(base.checked_add(1)?)))
        }
        IpNet::V6(net) => {
            let base = u128::from(net.network());
            Some(IpAddr::from(std::net::Ipv6Addr::from(base.checked_add(1)?)))
        }
    }
}

/// The first address of the wanted family.
pub(crate) fn first_of_family(addresses: &[IpAddr], ipv6: bool) -> Option<IpAddr> {
    addresses
        .iter()
        .copied()
        .find(|address| address.is_ipv6() == ipv6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_block_excludes_except_ranges() {
        let block = IpBlockNet::parse("10.0.0.0/8", &["10.1.0.0/16".to_string()]).unwrap();
        assert!(block.contains("10.2.3.4".parse().unwrap()));
        assert!(!block.contains("10.1.3.4".parse().unwrap()));
        assert!(!block.contains("11.0.0.1".parse().unwrap()));
        assert!(IpBlockNet::parse("not-a-cidr", &[]).is_none());
        assert!(IpBlockNet::parse("10.0.0.0/8", &["bad".to_string()]).is_none());
    }

    #[test]
    fn bare_address_is_a_host_route_and_cidrs_are_truncated() {
        assert_eq!(parse_cidr("10.0.0.7"), "10.0.0.7/32".parse().ok());
        assert_eq!(parse_cidr("10.0.0.7/24"), "10.0.0.0/24".parse().ok());
        assert_eq!(parse_cidr("fd00::1"), "fd00::1/128".parse().ok());
    }

    #[test]
    fn gateway_is_first_address_of_pod_cidr() {
        let cidrs: Vec<IpNet> = vec![
            "10.10.1.0/24".parse().unwrap(),
            "fd00:1::/64".parse().unwrap(),
        ];
        assert_eq!(gateway_address(&cidrs, false), "10.10.1.1".parse().ok());
        assert_eq!(gateway_address(&cidrs, true), "fd00:1::1".parse().ok());
        assert_eq!(gateway_address(&[], false), None);
    }
}
