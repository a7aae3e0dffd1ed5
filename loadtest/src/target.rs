//! The one server a run may talk to: an `http://` URL on a loopback address, nothing else.

use std::net::{IpAddr, SocketAddr};

use anyhow::{anyhow, bail, Context, Result};

/// A resolved, checked server address.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header (and the signed `host`), as the URL spells it.
    pub host: String,
    /// The URL as given.
    pub url: String,
}

/// What the URL names before resolution: `(host without brackets, port, authority)`.
fn parse(url: &str) -> Result<(String, u16, String)> {
    let uri: hyper::Uri = url.parse().with_context(|| format!("`{url}` is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("`{url}`: only plain `http://` URLs are supported (the load generator speaks to a local iamd)");
    }
    let authority = uri.authority().ok_or_else(|| anyhow!("`{url}` has no host"))?;
    if authority.as_str().contains('@') {
        bail!("`{url}`: user information in the URL is not supported");
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        bail!("`{url}`: give the server's base URL, without a path or query");
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((host, authority.port_u16().unwrap_or(80), authority.as_str().to_owned()))
}

/// Whether every address is a loopback address (127.0.0.0/8 or ::1).
fn all_loopback(addrs: &[SocketAddr]) -> bool {
    !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
}

/// Parses `url` and refuses anything that is not loopback: an IP literal in 127.0.0.0/8, `::1`,
/// or `localhost` resolving only to those.
///
/// # Errors
/// A malformed URL, a scheme other than `http`, or a host that is not loopback.
pub async fn resolve(url: &str) -> Result<Target> {
    let (host, port, authority) = parse(url)?;
    let refuse = || anyhow!("`{url}`: refusing a non-loopback host; only 127.0.0.0/8, ::1 and localhost are allowed");
    let addrs: Vec<SocketAddr> = if host.eq_ignore_ascii_case("localhost") {
        tokio::net::lookup_host((host.as_str(), port))
            .await
            .with_context(|| format!("resolving `{host}`"))?
            .collect()
    } else {
        let ip: IpAddr = host.parse().map_err(|_| refuse())?;
        vec![SocketAddr::new(ip, port)]
    };
    if !all_loopback(&addrs) {
        return Err(refuse());
    }
    Ok(Target {
        addr: addrs[0],
        host: authority,
        url: url.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn check(url: &str) -> Result<Target> {
        resolve(url).await
    }

    #[tokio::test]
    async fn accepts_loopback_only() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3:1/",
            "http://[::1]:8080",
            "http://localhost:9",
        ] {
            let target = check(url).await.unwrap();
            assert!(target.addr.ip().is_loopback(), "{url}");
        }
        assert_eq!(check("http://127.0.0.1:18080").await.unwrap().host, "127.0.0.1:18080");
        for url in [
            "http://10.0.0.1:8080",
            "http://0.0.0.0:8080",
            "http://[::]:8080",
            "http://[::ffff:127.0.0.1]:80",
            "http://example.com",
            "https://127.0.0.1:8443",
            "http://user@127.0.0.1:8080",
            "http://127.0.0.1:8080/graphql",
            "127.0.0.1:8080",
        ] {
            assert!(check(url).await.is_err(), "{url} must be refused");
        }
    }
}
