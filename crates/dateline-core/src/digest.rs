//! A digest that stays the same across Rust versions, processes and machines.

/// FNV-1a, 64 bits, as 16 hex digits: to tell whether an imported article changed, and to tag
/// a page's bytes for caches. Not for anything an adversary must not forge.
pub fn stable_digest(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values() {
        assert_eq!(super::stable_digest(b""), "cbf29ce484222325");
        assert_eq!(super::stable_digest(b"a"), "af63dc4c8601ec8c");
    }
}
