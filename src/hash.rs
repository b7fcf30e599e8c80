//! Hashes with a fixed, documented algorithm: row content hashes (xxh3-64, stable across
//! versions, used to detect changed rows) and file/config checksums (SHA-256).

use sha2::{Digest, Sha256};

pub fn content_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

pub struct Sha256Hex(Sha256);

impl Sha256Hex {
    pub fn new() -> Self {
        Sha256Hex(Sha256::new())
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl Default for Sha256Hex {
    fn default() -> Self {
        Self::new()
    }
}
