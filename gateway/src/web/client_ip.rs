//! The client's address, for throttling password attempts and for the audit trail.
//!
//! Behind an HTTPS reverse proxy every connection comes from the proxy, so the socket address
//! alone would put every phone and browser into one throttling budget (20 wrong passwords from
//! anyone would lock everyone out) and write the proxy's address into the audit trail. The
//! proxy names the client in `X-Forwarded-For`, but so can anyone: the header is believed only
//! when the socket peer is one of the configured trusted proxies ([`TrustedProxies`]).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    str::FromStr,
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

/// The client's address: the socket peer's, or — when that peer is a trusted proxy — the
/// right-most untrusted address of `X-Forwarded-For`. Without connection info (in-process
/// tests) every client is 0.0.0.0.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    Arc<TrustedProxies>: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        let trusted = Arc::<TrustedProxies>::from_ref(state);
        Ok(ClientIp(trusted.client(peer, &parts.headers)))
    }
}

/// One trusted proxy: an address, or a network in CIDR notation (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    network: IpAddr,
    prefix: u8,
}

impl ProxyNet {
    /// Whether `ip` is in this network. An IPv4 address written as IPv6 (`::ffff:10.0.0.1`,
    /// as a dual-stack socket reports it) is compared as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_bits(u32::from(net), u32::from(ip), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_bits(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` of `width` bits of `a` and `b` are equal.
fn prefix_bits<T>(a: T, b: T, prefix: u8, width: u32) -> bool
where
    T: std::ops::BitXor<Output = T> + std::ops::Shr<u32, Output = T> + PartialEq + From<u8>,
{
    let prefix = u32::from(prefix);
    prefix == 0 || ((a ^ b) >> (width - prefix)) == T::from(0)
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why a `--trusted-proxy` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadProxyNet(String);

impl fmt::Display for BadProxyNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an address or a network (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)",
            self.0
        )
    }
}

impl std::error::Error for BadProxyNet {}

impl FromStr for ProxyNet {
    type Err = BadProxyNet;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadProxyNet(text.to_owned());
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = canonical(address.parse::<IpAddr>().map_err(|_| bad())?);
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(bad)?,
        };
        Ok(ProxyNet { network, prefix })
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed (`--trusted-proxy`). Empty by
/// default: a gateway reached directly must never let a client choose its own address.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ProxyNet>);

/// A comma-separated list, as `--trusted-proxy` and `TOLEM_TRUSTED_PROXIES` take it; empty
/// entries are skipped, so `TOLEM_TRUSTED_PROXIES=` (as in `.env.sample`) trusts nobody.
impl FromStr for TrustedProxies {
    type Err = BadProxyNet;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

/// Several `--trusted-proxy` flags make one list.
impl FromIterator<TrustedProxies> for TrustedProxies {
    fn from_iter<I: IntoIterator<Item = TrustedProxies>>(lists: I) -> Self {
        TrustedProxies(lists.into_iter().flat_map(|list| list.0).collect())
    }
}

impl TrustedProxies {
    /// Trusts `nets`.
    pub fn new(nets: Vec<ProxyNet>) -> Self {
        TrustedProxies(nets)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client behind a connection from `peer`. Each proxy appends the address it was
    /// connected from, so the list is read from the right: the first address no trusted proxy
    /// could have written is the client (anything further left is whatever that client chose
    /// to send). An unreadable entry ends the walk at the last proxy that was believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for entry in forwarded.iter().rev() {
            let Some(hop) = parse_hop(entry) else {
                return client;
            };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, or an address with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let net: ProxyNet = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")));
        let one: ProxyNet = "192.0.2.1".parse().unwrap();
        assert!(one.contains(ip("192.0.2.1")) && !one.contains(ip("192.0.2.2")));
        let v6: ProxyNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: ProxyNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "proxy", "10.0.0.0/", "::/129", ""] {
            assert!(bad.parse::<ProxyNet>().is_err(), "{bad}");
        }
        let list: TrustedProxies = " 10.0.0.1, ,fd00::/8".parse().unwrap();
        assert_eq!(list.0.len(), 2);
        assert!("".parse::<TrustedProxies>().unwrap().0.is_empty());
        assert!("10.0.0.1,proxy".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = proxies(&["10.0.0.1"]);
        let headers = forwarded("203.0.113.7");
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("203.0.113.7"));
        assert_eq!(trusted.client(ip("10.0.0.2"), &headers), ip("10.0.0.2"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &headers),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // The client forged the first entry; the proxy appended the real one.
        let headers = forwarded("198.51.100.1, 203.0.113.7, 10.0.0.5");
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("203.0.113.7"));
        // No header: the proxy itself.
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        // Garbage ends the walk at the last believed hop.
        let headers = forwarded("nonsense, 10.0.0.5");
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("10.0.0.5"));
        let headers = forwarded("[2001:db8::1]:443");
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("2001:db8::1"));
    }
}
