//! Plugin names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::RegistryError;

/// A plugin's name: 2 to 64 lowercase ASCII letters, digits and `-`, starting
/// with a letter, not ending with `-`.
///
/// ```
/// # use kino_registry::PluginName;
/// let name: PluginName = "director-noir".parse()?;
/// assert_eq!(name.as_str(), "director-noir");
/// assert!("Noir".parse::<PluginName>().is_err());
/// # Ok::<(), kino_registry::RegistryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PluginName(String);

impl PluginName {
    /// The shortest name allowed.
    pub const MIN_LEN: usize = 2;
    /// The longest name allowed.
    pub const MAX_LEN: usize = 64;

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn check(s: &str) -> Result<(), &'static str> {
        if s.len() < Self::MIN_LEN || s.len() > Self::MAX_LEN {
            return Err("must be 2 to 64 characters long");
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err("must start with a lowercase ascii letter");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("may contain only lowercase ascii letters, digits and `-`");
        }
        if s.ends_with('-') || s.contains("--") {
            return Err("may not end with `-` or contain `--`");
        }
        Ok(())
    }
}

impl FromStr for PluginName {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl TryFrom<String> for PluginName {
    type Error = RegistryError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        match Self::check(&s) {
            Ok(()) => Ok(PluginName(s)),
            Err(reason) => Err(RegistryError::InvalidPluginName { name: s, reason }),
        }
    }
}

impl From<PluginName> for String {
    fn from(n: PluginName) -> String {
        n.0
    }
}

impl fmt::Display for PluginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        for ok in ["ab", "director-noir", "a1", &"a".repeat(64)] {
            assert!(ok.parse::<PluginName>().is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "1ab",
            "Ab",
            "a_b",
            "a-",
            "a--b",
            "",
            &"a".repeat(65),
            "a b",
        ] {
            assert!(bad.parse::<PluginName>().is_err(), "{bad}");
        }
    }
}
