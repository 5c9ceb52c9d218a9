//! Keys wanted in an object, told from its members' keys: by a print of
//! each key (its length and some of its bytes as one integer) and a
//! filter of the prints, so that most members not wanted cost one test.

use crate::json::short_word;

/// A key's length and some of its bytes as one integer: most keys that
/// differ differ in it, and a key under 8 bytes is all in it. It is taken
/// with fixed-size loads rather than a copy of a variable length, which
/// costs a call.
pub(crate) fn key_print(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let word = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&bytes[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    let head = if len >= 8 {
        word(0) | word(len - 4) << 24
    } else {
        short_word(bytes)
    };
    (head & 0x00ff_ffff_ffff_ffff) | (len.min(255) as u64) << 56
}

/// Whether two keys are the same bytes. Keys are short: loads of fixed
/// size compare most of them, where a call to `memcmp` for each cost
/// more than the compare.
#[inline(always)]
pub(crate) fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    match n {
        0..8 => short_word(a) == short_word(b),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// One of 64 bits for a key's print, from its high bits after a multiply
/// that mixes every bit of the print into them.
fn print_bit(print: u64) -> u64 {
    1 << (print.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
}

/// The keys wanted in one object, each by its position.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<Box<str>>,
    /// [`key_print`] of each of `keys`, compared before the key itself.
    prints: Vec<u64>,
    /// The [`print_bit`] of each of `keys`.
    filter: u64,
}

impl KeySet {
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn key(&self, i: usize) -> &str {
        &self.keys[i]
    }

    /// The position of `key`, added if it is not there yet.
    pub(crate) fn add(&mut self, key: &str) -> usize {
        if let Some(i) = self.keys.iter().position(|k| **k == *key) {
            return i;
        }
        let print = key_print(key.as_bytes());
        self.keys.push(key.into());
        self.prints.push(print);
        self.filter |= print_bit(print);
        self.keys.len() - 1
    }

    /// A bit for each key, when there are at most 64.
    pub(crate) fn all(&self) -> u64 {
        u64::MAX
            .checked_shr(64 - self.keys.len().min(64) as u32)
            .unwrap_or(0)
    }

    /// The position of `key` among the keys not in `found` (a bit for
    /// each found already, so that a repeated key keeps its first value),
    /// trying `next` first: records of an API mostly list their members
    /// in one order. At most 64 keys.
    #[inline(always)]
    pub(crate) fn find(&self, key: &[u8], found: u64, next: usize) -> Option<usize> {
        let print = key_print(key);
        let wanted = |i: usize| {
            found & (1 << i) == 0
                && self.prints[i] == print
                && (key.len() < 8 || same_key(self.keys[i].as_bytes(), key))
        };
        if next < self.keys.len() && wanted(next) {
            return Some(next);
        }
        if self.filter & print_bit(print) == 0 {
            return None;
        }
        (0..self.keys.len()).find(|&i| wanted(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_has_a_bit_for_each_key_and_none_for_no_key() {
        let mut set = KeySet::default();
        assert_eq!(set.all(), 0);
        set.add("a");
        set.add("b");
        assert_eq!(set.all(), 0b11);
        for i in 0..70 {
            set.add(&format!("k{i}"));
        }
        assert_eq!(set.all(), u64::MAX);
    }

    #[test]
    fn keys_under_eight_bytes_have_prints_of_their_own() {
        // Every key of up to 7 bytes over a three-letter alphabet.
        let mut keys = vec![Vec::new()];
        for len in 1..=7 {
            let shorter: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| k.len() == len - 1)
                .cloned()
                .collect();
            for key in shorter {
                for b in [b'a', b'b', b'_'] {
                    let mut longer = key.clone();
                    longer.push(b);
                    keys.push(longer);
                }
            }
        }
        assert_eq!(keys.len(), (0..=7).map(|n| 3usize.pow(n)).sum::<usize>());
        let prints: std::collections::HashSet<u64> = keys.iter().map(|k| key_print(k)).collect();
        assert_eq!(prints.len(), keys.len());
    }

    #[test]
    fn keys_are_found_once_each_whatever_their_order() {
        let mut set = KeySet::default();
        let names = ["id", "created_at", "created_by", "cre___at", "user"];
        for (i, name) in names.iter().enumerate() {
            assert_eq!(set.add(name), i);
        }
        assert_eq!(set.add("user"), 4);
        assert_eq!(set.all(), 0b1_1111);
        for (i, name) in names.iter().enumerate() {
            assert_eq!(set.find(name.as_bytes(), 0, 0), Some(i));
            assert_eq!(set.find(name.as_bytes(), 0, 3), Some(i));
            assert_eq!(set.find(name.as_bytes(), 1 << i, 0), None);
        }
        for other in ["", "i", "idx", "created_on", "users", "created_at_"] {
            assert_eq!(set.find(other.as_bytes(), 0, 0), None, "{other}");
        }
    }

    #[test]
    fn same_key_says_what_a_compare_says() {
        let keys: Vec<Vec<u8>> = (0..40)
            .map(|n| (0..n).map(|i| b'a' + (i % 3) as u8).collect())
            .collect();
        for a in &keys {
            for b in &keys {
                assert_eq!(same_key(a, b), a == b);
                // Each byte changed in turn.
                for at in 0..b.len() {
                    let mut changed = b.clone();
                    changed[at] = b'z';
                    assert_eq!(same_key(a, &changed), *a == changed, "{at}");
                }
            }
        }
    }

    #[test]
    fn long_keys_that_share_their_print_are_told_apart() {
        let mut set = KeySet::default();
        let keys = ["abcdXXXXefgh", "abcdefghIjklmnop", "abcdefghijKLMNOPqrst"];
        for key in keys {
            set.add(key);
        }
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(set.find(key.as_bytes(), 0, 0), Some(i));
        }
        for other in ["abcdYYYYefgh", "abcdefghJjklmnop", "abcdefghijKLMNOQqrst"] {
            assert_eq!(key_print(other.as_bytes()), {
                let same_length = keys.iter().find(|k| k.len() == other.len()).unwrap();
                key_print(same_length.as_bytes())
            });
            assert_eq!(set.find(other.as_bytes(), 0, 0), None, "{other}");
        }
    }
}
