//! Identifiers and secrets: `prefix-` + 12 chars of `[0-9A-Za-z]` for rows,
//! `pwk-` + 43 url-safe chars (256 random bits) for API keys.

use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A fresh id such as `tk-Ab12Cd34Ef56`.
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 13);
    id.push_str(prefix);
    id.push('-');
    for _ in 0..12 {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}

/// An identifier type: a row id that cannot be passed where another kind of
/// id is expected. Stored and serialized as its text.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh id with this kind's prefix.
            pub fn generate() -> Self {
                Self(new_id($prefix))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned `String`.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<&$name> for $name {
            fn eq(&self, other: &&$name) -> bool {
                self == *other
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_type!(
    /// An agent's id, `ag-…`.
    AgentId,
    "ag"
);
id_type!(
    /// A task's id, `tk-…`.
    TaskId,
    "tk"
);

/// A fresh API key: `pwk-` followed by 32 random bytes, url-safe base64.
pub fn new_api_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "pwk-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The digest stored for an API key. Keys carry 256 random bits, so a single
/// SHA-256 is as strong as a slow KDF and costs one indexed lookup per request.
pub fn hash_api_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// A short public name of an API key: the first 8 bytes of its digest, in
/// hex. It names the key a `key_rotated` event retired (so the SSE relays can
/// close the streams opened with it) without revealing anything about it.
pub fn key_fingerprint(key_hash: &[u8]) -> String {
    hex::encode(&key_hash[..key_hash.len().min(8)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_twelve_alphanumerics() {
        let id = new_id("tk");
        assert!(id.starts_with("tk-"));
        assert_eq!(id.len(), 15);
        assert!(id[3..].chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn api_keys_are_47_chars_and_distinct() {
        let a = new_api_key();
        assert_eq!(a.len(), 47);
        assert_ne!(a, new_api_key());
        assert_eq!(hash_api_key(&a), hash_api_key(&a));
    }
}
