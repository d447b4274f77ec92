//! Outbound origins a plugin may ask to reach.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::RegistryError;

/// An origin a plugin asks to reach over HTTP: `https://host[:port]` or
/// `http://host[:port]`.
///
/// The host is a DNS name (lowercased) or an IPv4 address; a DNS name may start
/// with `*.` to mean "any subdomain of" (not the name itself). Paths, queries,
/// user info, IPv6 literals and any other wildcard are refused.
///
/// ```
/// # use kino_registry::Origin;
/// let o: Origin = "https://*.deepl.com".parse()?;
/// assert!(o.matches("https", "api.deepl.com", 443));
/// assert!(!o.matches("https", "deepl.com", 443));
/// # Ok::<(), kino_registry::RegistryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin {
    scheme: Scheme,
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

/// The scheme of an [`Origin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`, default port 80.
    Http,
    /// `https`, default port 443.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port used when none is given.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl Origin {
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, without any `*.` prefix.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether this origin means any subdomain of [`Origin::host`].
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// Whether a request to `scheme://host:port` is allowed by this origin.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if scheme != self.scheme.as_str() || port != self.port() {
            return false;
        }
        let host = host.to_ascii_lowercase();
        if self.wildcard {
            host.strip_suffix(&self.host)
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
        } else {
            host == self.host
        }
    }
}

fn valid_dns_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').count() >= 1
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        // An all-numeric last label would be an IP address, checked elsewhere.
        && !host
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

impl FromStr for Origin {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| RegistryError::InvalidOrigin {
            origin: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| err("expected https://HOST[:PORT] or http://HOST[:PORT]"))?;
        let scheme = match scheme {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            _ => return Err(err("the scheme must be https or http")),
        };
        if rest.contains(['/', '?', '#']) {
            return Err(err("an origin has no path, query or fragment"));
        }
        if rest.contains('@') {
            return Err(err(
                "an origin has no user info; credentials are injected by the host",
            ));
        }
        if rest.starts_with('[') {
            return Err(err("ipv6 literals are not supported"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => {
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| err("the port must be a number from 1 to 65535"))?;
                (host, Some(port))
            }
            None => (rest, None),
        };
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(h) => (true, h),
            None => (false, host),
        };
        if host.contains('*') {
            return Err(err("the only wildcard allowed is a leading `*.`"));
        }
        let host = host.to_ascii_lowercase();
        if host.parse::<Ipv4Addr>().is_ok() {
            if wildcard {
                return Err(err("an ip address cannot have a wildcard"));
            }
        } else if !valid_dns_name(&host) {
            return Err(err("the host is not a valid dns name or ipv4 address"));
        } else if wildcard && !host.contains('.') {
            return Err(err(
                "a wildcard must cover subdomains of a domain with a dot, such as *.example.com",
            ));
        }
        Ok(Origin {
            scheme,
            host,
            wildcard,
            port,
        })
    }
}

impl TryFrom<String> for Origin {
    type Error = RegistryError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Origin> for String {
    fn from(o: Origin) -> String {
        o.to_string()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for ok in [
            "https://api.deepl.com",
            "http://localhost:8080",
            "https://*.example.com",
            "https://10.0.0.1:443",
        ] {
            let o: Origin = ok.parse().expect(ok);
            assert_eq!(o.to_string(), ok);
        }
        for bad in [
            "api.deepl.com",
            "ftp://x.com",
            "https://x.com/path",
            "https://x.com/",
            "https://u:p@x.com",
            "https://x.com:0",
            "https://x.com:99999",
            "https://*",
            "https://*.com",
            "https://a.*.com",
            "https://[::1]",
            "https://exa mple.com",
            "https://",
        ] {
            assert!(bad.parse::<Origin>().is_err(), "{bad}");
        }
        let o: Origin = "https://*.example.com".parse().expect("valid");
        assert!(o.matches("https", "a.b.example.com", 443));
        assert!(!o.matches("https", "example.com", 443));
        assert!(!o.matches("https", "badexample.com", 443));
        assert!(!o.matches("http", "a.example.com", 443));
    }
}
