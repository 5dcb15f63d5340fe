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
