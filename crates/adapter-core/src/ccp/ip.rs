//! NSX IP literals (an address, a CIDR or a range `a-b`, as in `IPAddressExpression` and rule
//! `source_groups`/`destination_groups`) as CIDRs, with ranges decomposed exactly into the
//! fewest aligned blocks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// An IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    /// The family of a network.
    pub fn of(net: &IpNet) -> Self {
        match net {
            IpNet::V4(_) => Self::V4,
            IpNet::V6(_) => Self::V6,
        }
    }

    /// The network that holds every address of the family (`0.0.0.0/0`, `::/0`).
    pub fn everything(self) -> IpNet {
        match self {
            Self::V4 => IpNet::V4(Ipv4Net::default()),
            Self::V6 => IpNet::V6(Ipv6Net::default()),
        }
    }

    /// The NSX name (`ICMPv4` / `IPV4` style callers format it themselves).
    pub fn label(self) -> &'static str {
        match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        }
    }
}

fn parse_address(text: &str) -> Result<IpAddr, String> {
    let address: IpAddr = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not an IP address"))?;
    if let IpAddr::V6(v6) = address
        && v6.to_ipv4_mapped().is_some()
    {
        // Go (and so Antrea) reads these as IPv4; NSX as IPv6. Refuse the ambiguity.
        return Err(format!(
            "'{text}' is an IPv4-mapped IPv6 address, which NSX and Antrea read differently"
        ));
    }
    Ok(address)
}

/// Whether `text` looks like an IP literal rather than a policy path or `ANY`.
pub fn looks_like_ip_literal(text: &str) -> bool {
    !text.starts_with('/')
        && text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_hexdigit() || c == ':')
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/' | '-'))
}

/// The CIDRs of an NSX IP literal. A CIDR with host bits set denotes its network.
pub fn parse_ip_literal(text: &str) -> Result<Vec<IpNet>, String> {
    let text = text.trim();
    if let Some((start, end)) = text.split_once('-') {
        let start = parse_address(start)?;
        let end = parse_address(end)?;
        return range_to_cidrs(start, end).ok_or_else(|| {
            format!("'{text}' is not a range: both ends must be of one family, start ≤ end")
        });
    }
    if let Some((address, prefix)) = text.split_once('/') {
        let address = parse_address(address)?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("'{text}' has an invalid prefix length"))?;
        let net = IpNet::new(address, prefix)
            .map_err(|_| format!("'{text}' has an invalid prefix length"))?;
        return Ok(vec![net.trunc()]);
    }
    let address = parse_address(text)?;
    Ok(vec![IpNet::from(address)])
}

/// The fewest CIDRs covering exactly `start..=end` (`None` if the families differ or
/// `start > end`).
pub fn range_to_cidrs(start: IpAddr, end: IpAddr) -> Option<Vec<IpNet>> {
    match (start, end) {
        (IpAddr::V4(start), IpAddr::V4(end)) => {
            let blocks = decompose(u32::from(start).into(), u32::from(end).into(), 32)?;
            Some(
                blocks
                    .into_iter()
                    .map(|(base, prefix)| {
                        let address = Ipv4Addr::from(base as u32);
                        IpNet::V4(Ipv4Net::new(address, prefix).unwrap_or_default())
                    })
                    .collect(),
            )
        }
        (IpAddr::V6(start), IpAddr::V6(end)) => {
            let blocks = decompose(u128::from(start), u128::from(end), 128)?;
            Some(
                blocks
                    .into_iter()
                    .map(|(base, prefix)| {
                        let address = Ipv6Addr::from(base);
                        IpNet::V6(Ipv6Net::new(address, prefix).unwrap_or_default())
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// The last address of the aligned block of `2^size_bits` addresses at `base`.
fn block_last(base: u128, size_bits: u32) -> u128 {
    if size_bits >= 128 {
        u128::MAX
    } else {
        // `base` is aligned to the block size, so this cannot overflow.
        base + ((1u128 << size_bits) - 1)
    }
}

/// Aligned blocks `(base, prefix_len)` covering `start..=end` in a `bits`-wide space.
fn decompose(start: u128, end: u128, bits: u8) -> Option<Vec<(u128, u8)>> {
    if start > end {
        return None;
    }
    let width = u32::from(bits);
    let mut blocks = Vec::new();
    let mut current = start;
    loop {
        // The largest block aligned at `current` that does not run past `end`.
        let mut size_bits = if current == 0 {
            width
        } else {
            current.trailing_zeros().min(width)
        };
        while size_bits > 0 && block_last(current, size_bits) > end {
            size_bits -= 1;
        }
        let last = block_last(current, size_bits);
        blocks.push((current, bits - size_bits as u8));
        if last >= end {
            return Some(blocks);
        }
        current = last + 1;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cidrs(text: &str) -> Vec<String> {
        parse_ip_literal(text)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn literals() {
        assert_eq!(cidrs("10.1.2.3"), ["10.1.2.3/32"]);
        assert_eq!(cidrs("10.1.2.3/24"), ["10.1.2.0/24"]);
        assert_eq!(cidrs("fd00::1"), ["fd00::1/128"]);
        assert_eq!(
            cidrs("10.0.0.1-10.0.0.6"),
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        assert_eq!(cidrs("10.0.0.0-10.0.0.255"), ["10.0.0.0/24"]);
        assert_eq!(cidrs("0.0.0.0-255.255.255.255"), ["0.0.0.0/0"]);
        assert_eq!(
            cidrs("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ["::/0"]
        );
        assert_eq!(cidrs("fd00::-fd00::3"), ["fd00::/126"]);
        assert!(parse_ip_literal("10.0.0.9-10.0.0.1").is_err());
        assert!(parse_ip_literal("10.0.0.1-fd00::1").is_err());
        assert!(parse_ip_literal("10.0.0.1/33").is_err());
        assert!(parse_ip_literal("web").is_err());
        assert!(parse_ip_literal("::ffff:10.0.0.1").is_err());
    }

    #[test]
    fn literal_detection() {
        assert!(looks_like_ip_literal("10.0.0.0/8"));
        assert!(looks_like_ip_literal("fd00::1-fd00::9"));
        assert!(!looks_like_ip_literal("/infra/domains/default/groups/a"));
        assert!(!looks_like_ip_literal("ANY"));
    }

    fn covered(blocks: &[(u128, u8)], bits: u8) -> Vec<(u128, u128)> {
        blocks
            .iter()
            .map(|(base, prefix)| {
                let size_bits = u32::from(bits - prefix);
                let last = if size_bits == 128 {
                    u128::MAX
                } else {
                    base + ((1u128 << size_bits) - 1)
                };
                (*base, last)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn ranges_decompose_exactly(a in any::<u32>(), b in any::<u32>()) {
            let (start, end) = (a.min(b) as u128, a.max(b) as u128);
            let blocks = decompose(start, end, 32).unwrap();
            let spans = covered(&blocks, 32);
            // Contiguous, aligned, exactly start..=end, and at most 2 blocks per bit.
            prop_assert_eq!(spans[0].0, start);
            prop_assert_eq!(spans[spans.len() - 1].1, end);
            for pair in spans.windows(2) {
                prop_assert_eq!(pair[0].1 + 1, pair[1].0);
            }
            for (base, prefix) in &blocks {
                let size_bits = u32::from(32 - prefix);
                prop_assert!(size_bits == 32 || base % (1u128 << size_bits) == 0);
            }
            prop_assert!(blocks.len() <= 62);
        }

        #[test]
        fn v6_ranges_decompose_exactly(a in any::<u128>(), b in any::<u128>()) {
            let (start, end) = (a.min(b), a.max(b));
            let spans = covered(&decompose(start, end, 128).unwrap(), 128);
            prop_assert_eq!(spans[0].0, start);
            prop_assert_eq!(spans[spans.len() - 1].1, end);
            for pair in spans.windows(2) {
                prop_assert_eq!(pair[0].1 + 1, pair[1].0);
            }
        }
    }
}
