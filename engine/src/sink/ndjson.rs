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

/// `{"name":` for the first column, `,"name":` for the others: padded
/// to [`KEY_CHUNK`] in place when it fits, so that a row's keys lie in
/// the encoder's own array rather than each behind a pointer.
#[derive(Debug)]
pub(super) struct Key {
    chunk: [u8; KEY_CHUNK],
    len: usize,
    /// The whole text of a longer key.
    long: Vec<u8>,
}

impl Key {
    pub(super) fn new(text: Vec<u8>) -> Key {
        let mut chunk = [0; KEY_CHUNK];
        match chunk.get_mut(..text.len()) {
            Some(start) => {
                start.copy_from_slice(&text);
                Key {
                    chunk,
                    len: text.len(),
                    long: Vec::new(),
                }
            }
            None => Key {
                chunk,
                len: text.len(),
                long: text,
            },
        }
    }

    pub(super) fn put(&self, out: &mut Vec<u8>) {
        if self.len <= KEY_CHUNK {
            out.extend_from_slice(&self.chunk);
            out.truncate(out.len() - KEY_CHUNK + self.len);
        } else {
            out.extend_from_slice(&self.long);
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

    /// Appends column `index`'s key and cell: a row written a cell at a
    /// time, in column order, and closed by [`NdjsonEncoder::end_row`].
    #[inline(always)]
    pub(crate) fn encode_cell(
        &self,
        index: usize,
        cell: &Cell<'_>,
        hours: &mut Hours,
        out: &mut Vec<u8>,
    ) {
        self.keys[index].put(out);
        write_json_cell_in(cell, hours, out);
    }

    /// Appends column `index`'s key and `text`, the JSON the column's
    /// cell would be written as.
    #[inline(always)]
    pub(crate) fn encode_text(&self, index: usize, text: &[u8], out: &mut Vec<u8>) {
        self.keys[index].put(out);
        out.extend_from_slice(text);
    }

    /// Closes a row written by [`NdjsonEncoder::encode_cell`].
    pub(crate) fn end_row(&self, out: &mut Vec<u8>) {
        if self.keys.is_empty() {
            out.push(b'{');
        }
        out.extend_from_slice(b"}\n");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::ColumnType;
    use crate::json::path::JsonPath;

    #[test]
    fn keys_of_every_length_are_written_whole() {
        // Names around the chunk's size, written with and without escapes.
        let names: Vec<String> = (0..=40)
            .map(|len| "k".repeat(len))
            .chain(["\"q\"".to_owned(), "tab\there".repeat(5), "é".repeat(20)])
            .collect();
        let columns: Vec<ColumnSpec> = names
            .iter()
            .map(|name| ColumnSpec {
                name: name.clone(),
                path: Some(JsonPath::member(name)),
                page_path: None,
                parent_path: None,
                kind: ColumnType::Long,
                format: None,
                value: None,
            })
            .collect();
        let cells: Vec<Cell<'_>> = (0..names.len() as i64).map(Cell::Int).collect();
        let mut out = b"prefix".to_vec();
        NdjsonEncoder::new(&columns).encode(&cells, &mut Hours::default(), &mut out);
        let line = std::str::from_utf8(&out)
            .unwrap()
            .strip_prefix("prefix")
            .unwrap();
        assert!(line.ends_with("}\n"), "{line}");
        let row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).unwrap();
        let keys: Vec<&String> = row.keys().collect();
        // The empty name and the others, each once, in order.
        assert_eq!(keys, names.iter().collect::<Vec<_>>(), "{line}");
        for (i, name) in names.iter().enumerate() {
            assert_eq!(row[name], serde_json::json!(i), "{name:?} in {line}");
        }
    }
}
