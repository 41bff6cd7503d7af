//! Inline extended attributes: the "ibody" that follows an inode. A 12-byte header (no shared
//! xattrs are used) and then one 4-byte-aligned entry per attribute, its name stored as a
//! prefix index plus the rest of the name.

use super::format::put_u16;
use std::collections::BTreeMap;

const IBODY_HEADER_SIZE: usize = 12;
const ENTRY_HEADER_SIZE: usize = 4;

/// Name prefixes Linux 6.1's erofs can hand back, with their on-disk index. The POSIX ACL names
/// are whole names (empty suffix). Longer prefixes first is not needed: none is a prefix of another.
const PREFIXES: &[(&[u8], u8)] = &[
    (b"user.", 1),
    (b"system.posix_acl_access", 2),
    (b"system.posix_acl_default", 3),
    (b"trusted.", 4),
    (b"security.", 6),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XattrProblem {
    /// The name has no prefix the kernel's erofs serves (e.g. `system.nfs4_acl`) or an empty
    /// suffix where one is needed, or a suffix longer than 255 bytes.
    UnsupportedName(Vec<u8>),
    /// The value is longer than an entry's 16-bit size field.
    ValueTooLarge(Vec<u8>),
}

/// The encoded ibody and the attributes that could not be stored (the caller decides how to
/// report them). Empty bytes when nothing is stored: a header-only ibody is refused by the kernel.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub skipped: Vec<XattrProblem>,
}

impl Encoded {
    /// `i_xattr_icount`: the header counts as one unit, then 4-byte units. `None` if too big.
    pub fn icount(&self) -> Option<u16> {
        if self.bytes.is_empty() {
            return Some(0);
        }
        u16::try_from((self.bytes.len() - IBODY_HEADER_SIZE) / 4 + 1).ok()
    }
}

fn split_name(name: &[u8]) -> Option<(u8, &[u8])> {
    let &(prefix, index) = PREFIXES.iter().find(|(p, _)| name.starts_with(p))?;
    let suffix = &name[prefix.len()..];
    let is_acl = matches!(index, 2 | 3);
    // ACL names must match exactly; the others need a non-empty rest that fits a u8 length.
    let ok = if is_acl { suffix.is_empty() } else { !suffix.is_empty() && suffix.len() <= 255 };
    ok.then_some((index, suffix))
}

pub fn encode(xattrs: &BTreeMap<Vec<u8>, Vec<u8>>) -> Encoded {
    let mut bytes = Vec::new();
    let mut skipped = Vec::new();
    for (name, value) in xattrs {
        let Some((index, suffix)) = split_name(name) else {
            skipped.push(XattrProblem::UnsupportedName(name.clone()));
            continue;
        };
        let Ok(value_size) = u16::try_from(value.len()) else {
            skipped.push(XattrProblem::ValueTooLarge(name.clone()));
            continue;
        };
        if bytes.is_empty() {
            bytes.resize(IBODY_HEADER_SIZE, 0); // h_reserved, h_shared_count = 0, reserved
        }
        let start = bytes.len();
        bytes.resize(start + ENTRY_HEADER_SIZE, 0);
        bytes[start] = suffix.len() as u8;
        bytes[start + 1] = index;
        put_u16(&mut bytes, start + 2, value_size);
        bytes.extend_from_slice(suffix);
        bytes.extend_from_slice(value);
        bytes.resize(bytes.len().next_multiple_of(4), 0);
    }
    Encoded { bytes, skipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(items: &[(&[u8], &[u8])]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        items.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
    }

    #[test]
    fn no_xattrs_means_no_ibody() {
        let enc = encode(&BTreeMap::new());
        assert!(enc.bytes.is_empty());
        assert_eq!(enc.icount(), Some(0));
    }

    #[test]
    fn entries_are_prefix_indexed_and_aligned() {
        let enc = encode(&map(&[(b"user.ab", b"xyz")]));
        // header, then entry header (len 2, index 1, size 3), "ab", "xyz", 3 bytes of padding
        assert_eq!(enc.bytes.len(), 12 + 4 + 8);
        assert_eq!(&enc.bytes[12..16], &[2, 1, 3, 0]);
        assert_eq!(&enc.bytes[16..21], b"abxyz");
        assert_eq!(enc.icount(), Some(1 + 3));
    }

    #[test]
    fn acl_names_have_empty_suffix_and_unknown_prefixes_are_reported() {
        let enc =
            encode(&map(&[(b"system.posix_acl_access", b"\x02\0\0\0"), (b"system.nfs4_acl", b"x"), (b"user.", b"x")]));
        assert_eq!(&enc.bytes[12..16], &[0, 2, 4, 0]);
        assert_eq!(enc.bytes.len(), 12 + 4 + 4);
        assert_eq!(
            enc.skipped,
            vec![
                XattrProblem::UnsupportedName(b"system.nfs4_acl".to_vec()),
                XattrProblem::UnsupportedName(b"user.".to_vec()),
            ]
        );
    }
}
