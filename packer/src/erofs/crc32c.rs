//! CRC32C (Castagnoli) as the Linux kernel's `crc32c()` computes it: the caller passes the seed
//! and gets the raw register back, without the final inversion that the "standard" CRC32C adds.
//! EROFS seeds with `!0` and stores the raw register in the superblock checksum field.

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = build_table();

const fn build_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Kernel-style `crc32c(seed, data)`.
pub fn crc32c(seed: u32, data: &[u8]) -> u32 {
    data.iter().fold(seed, |crc, &b| TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8))
}

#[cfg(test)]
mod tests {
    use super::crc32c;

    #[test]
    fn matches_the_standard_check_value() {
        // The standard CRC32C check value of "123456789" is 0xE3069283 (seed !0, final inversion).
        assert_eq!(!crc32c(!0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn empty_input_returns_the_seed() {
        assert_eq!(crc32c(0x1234_5678, b""), 0x1234_5678);
    }
}
