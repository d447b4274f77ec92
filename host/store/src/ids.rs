//! Identifier newtypes: 128 random bits as 32 lowercase hex digits.

use std::fmt;
use std::str::FromStr;

use anyhow::Context as _;

/// An identifier that is not 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: expected 32 lowercase hex digits")]
pub struct InvalidId {
    /// Which identifier: "tenant id", "job id", ...
    pub kind: &'static str,
    /// The rejected value.
    pub value: String,
}

/// 16 bytes from the operating system's random source, as 32 hex digits.
pub(crate) fn random_hex<const N: usize>() -> anyhow::Result<String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).context("reading the system random source")?;
    Ok(hex::encode(bytes))
}

fn is_valid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A fresh random identifier.
            pub fn random() -> anyhow::Result<Self> {
                Ok(Self(random_hex::<16>()?))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if is_valid(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind, value: s.to_owned() })
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                if is_valid(&s) {
                    Ok(Self(s))
                } else {
                    Err(InvalidId { kind: $kind, value: s })
                }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// A tenant.
    TenantId,
    "tenant id"
);
id_type!(
    /// A job.
    JobId,
    "job id"
);
id_type!(
    /// One attempt of one stage of a job.
    StageId,
    "stage id"
);
id_type!(
    /// A node of a job's graph queued for workers: one run of one stage.
    NodeId,
    "node id"
);
id_type!(
    /// An API key (its record, never the key itself).
    ApiKeyId,
    "api key id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_valid_and_distinct() -> anyhow::Result<()> {
        let a = JobId::random()?;
        let b = JobId::random()?;
        assert_ne!(a, b);
        assert_eq!(a.as_str().parse::<JobId>()?, a);
        Ok(())
    }

    #[test]
    fn bad_ids_are_refused() {
        assert!("".parse::<TenantId>().is_err());
        assert!(
            "ABCDEF00000000000000000000000000"
                .parse::<TenantId>()
                .is_err()
        );
        assert!("../../etc/passwd".parse::<JobId>().is_err());
        assert!(serde_json::from_str::<JobId>("\"nope\"").is_err());
    }
}
