//! NDJSON: each row a JSON object, keys written once per column, and the
//! JSON text of every cell type.

use super::*;

/// Encodes rows as JSON objects, columns in order.
#[derive(Debug)]
pub(crate) struct NdjsonEncoder {
    keys: Vec<Key>,
}

/// Bytes copied for a key that fits: a fixed-size copy is a few moves,
/// where a copy of any length is a call, and keys are most of the calls
/// of a row of numbers.
/// Padded ahead of time, a key is one copy of the whole chunk, fewer moves
/// than [`put_short`]'s two overlapping ones (`encode/nested` 79 against
/// 87 ns a record).
pub(super) const KEY_CHUNK: usize = 32;

/// `{"name":` for the first column, `,"name":` for the others, padded to
/// [`KEY_CHUNK`] when shorter.
#[derive(Debug)]
pub(super) struct Key {
    pub(super) padded: Vec<u8>,
    pub(super) len: usize,
}

impl Key {
    pub(super) fn new(text: Vec<u8>) -> Key {
        let len = text.len();
        let mut padded = text;
        if len <= KEY_CHUNK {
            padded.resize(KEY_CHUNK, 0);
        }
        Key { padded, len }
    }

    pub(super) fn put(&self, out: &mut Vec<u8>) {
        match <&[u8; KEY_CHUNK]>::try_from(self.padded.as_slice()) {
            Ok(chunk) => {
                out.extend_from_slice(chunk);
                out.truncate(out.len() - KEY_CHUNK + self.len);
            }
            Err(_) => out.extend_from_slice(&self.padded),
        }
    }
}

impl NdjsonEncoder {
    pub(crate) fn new(columns: &[ColumnSpec]) -> NdjsonEncoder {
        let keys = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut key = vec![if i == 0 { b'{' } else { b',' }];
                write_str(&c.name, &mut key);
                key.push(b':');
                Key::new(key)
            })
            .collect();
        NdjsonEncoder { keys }
    }

    /// Appends one row and its line break to `out`; `hours` is kept from
    /// row to row.
    pub(crate) fn encode(&self, cells: &[Cell<'_>], hours: &mut Hours, out: &mut Vec<u8>) {
        for (key, cell) in self.keys.iter().zip(cells) {
            key.put(out);
            write_json_cell_in(cell, hours, out);
        }
        if self.keys.is_empty() {
            out.push(b'{');
        }
        out.extend_from_slice(b"}\n");
    }
}
