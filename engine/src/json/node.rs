//! One view of a parsed JSON value over every parsed form: the structural
//! index the hot path walks (`scan::Item`), simd-json's `BorrowedValue`
//! tree, which the general JSONPath evaluator and column inference need,
//! and (in `bench::tape`) simd-json's tape, which the parser bench compares.

use serde_json::Value;
use simd_json::prelude::{ValueAsArray, ValueAsObject};
use simd_json::{BorrowedValue, StaticNode};

use crate::json::path::Segment;
use crate::json::{BIG, big_number, write_static, write_str};

/// A value as conversions see it, whichever form it was parsed into.
#[derive(Debug, Clone, Copy)]
pub(crate) enum View<'v> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(&'v str),
    /// A number literal too big for 64 bits, as written.
    Big(&'v str),
    Compound,
}

impl<'v> View<'v> {
    pub(crate) fn of_static(node: StaticNode) -> View<'v> {
        match node {
            StaticNode::Null => View::Null,
            StaticNode::Bool(b) => View::Bool(b),
            StaticNode::I64(i) => View::I64(i),
            StaticNode::U64(u) => View::U64(u),
            StaticNode::F64(f) => View::F64(f),
        }
    }

    pub(crate) fn of_str(s: &'v str) -> View<'v> {
        match big_number(s) {
            Some(literal) => View::Big(literal),
            None => View::Str(s),
        }
    }
}

/// The container methods of [`Node`], alike in both forms' APIs.
macro_rules! containers {
    () => {
        fn get(self, key: &str) -> Option<Self> {
            self.as_object()?.get(key)
        }

        fn at(self, index: i64) -> Option<Self> {
            let array = self.as_array()?;
            array.get($crate::json::path::resolve_index(index, array.len())?)
        }

        fn elements(self, out: &mut Vec<Self>) -> Option<()> {
            out.extend(self.as_array()?.iter());
            Some(())
        }

        fn children(self, out: &mut Vec<Self>) {
            if let Some(array) = self.as_array() {
                out.extend(array.iter());
            } else if let Some(object) = self.as_object() {
                out.extend(object.values());
            }
        }
    };
}
pub(crate) use containers;

/// What the extractor needs of a JSON value.
pub(crate) trait Node<'v>: Copy {
    /// Up to how many keys wanted in one object one `get` per key finds
    /// them faster than one pass over [`Node::members_while`] (measured on
    /// the corpus).
    const KEYS_PER_GET: usize;
    fn view(self) -> View<'v>;
    /// The first value under `key`, if this is an object that has it.
    fn get(self, key: &str) -> Option<Self>;
    /// The element at an RFC 9535 index (negative from the end).
    fn at(self, index: i64) -> Option<Self>;
    /// The elements of an array, or `None` if this is not one.
    fn elements(self, out: &mut Vec<Self>) -> Option<()>;
    /// The elements of an array or the values of an object.
    fn children(self, out: &mut Vec<Self>);
    fn is_object(self) -> bool;
    /// Calls `each` with every key and value of an object, in order.
    fn members(self, each: &mut dyn FnMut(&str, Self));

    /// Calls `each` with every key's bytes and value of an object, in
    /// order, until it answers false.
    fn members_while(self, mut each: impl FnMut(&[u8], Self) -> bool) {
        let mut going = true;
        self.members(&mut |key, value| {
            if going {
                going = each(key.as_bytes(), value);
            }
        });
    }

    /// A number's text as its page spells it, where the node keeps it
    /// (the index does; a tree has only the parsed value).
    fn number_text(self) -> Option<&'v str> {
        None
    }

    /// A `serde_json` copy of a value read for pagination: a number with
    /// a fraction or an exponent whose double would print otherwise
    /// (`1.50`, or digits past a double's 17) keeps its text, marked as a
    /// big number's is, so that a cursor goes out as the API wrote it.
    fn to_serde_verbatim(self) -> Value {
        if let View::F64(f) = self.view()
            && let Some(text) = self.number_text()
            && serde_json::Number::from_f64(f).is_none_or(|n| n.to_string() != text)
        {
            return Value::String(format!("{BIG}{text}"));
        }
        self.to_serde()
    }

    /// Calls `each`, in column order, with the index of every column of
    /// this record, the `ordinal`th of its page, and its value if it has
    /// one, as found while its page was checked, and answers whether they
    /// were; if not, the extractor walks the record itself.
    fn noted_columns(self, _ordinal: usize, _each: impl FnMut(usize, Option<Self>)) -> bool {
        false
    }

    /// How many members an object holds at every depth, nested objects'
    /// own and those of objects in arrays counted, where that is cheap to
    /// know (the structural index; not the tree).
    fn members_within(self) -> Option<usize> {
        None
    }

    /// Writes compact JSON text; a marked big number goes back to its
    /// literal, and so does a number whose text the node keeps (the
    /// index's; a tree's doubles print as their shortest text).
    fn write_json(self, out: &mut Vec<u8>) {
        let mut items = Vec::new();
        if self.elements(&mut items).is_some() {
            out.push(b'[');
            for (i, item) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                item.write_json(out);
            }
            out.push(b']');
            return;
        }
        if self.is_object() {
            out.push(b'{');
            let mut keys = KeysWritten::default();
            self.members(&mut |key, item| {
                let mark = out.len();
                if !keys.is_empty() {
                    out.push(b',');
                }
                let start = out.len();
                write_str(key, out);
                if !keys.first(out, start) {
                    out.truncate(mark);
                    return;
                }
                out.push(b':');
                item.write_json(out);
            });
            out.push(b'}');
            return;
        }
        write_leaf_json(self.view(), self.number_text(), out);
    }

    /// A `serde_json` copy, for the general JSONPath evaluator. Marked big
    /// numbers stay marked strings, so that writing them back keeps them
    /// exact; a repeated key keeps its first value, as `get` does.
    fn to_serde(self) -> Value {
        self.serde_copy(false)
    }

    /// [`Node::to_serde`], each double kept as its page spells it where
    /// that differs from its shortest text, marked as a big number is (as
    /// [`Node::to_serde_verbatim`] keeps one): a `[fanout.from]` parent's
    /// fields go into requests as the API spelled them, as outputs write
    /// them.
    fn to_serde_spelled(self) -> Value {
        self.serde_copy(true)
    }

    /// [`Node::to_serde`], or with `spelled` [`Node::to_serde_spelled`].
    fn serde_copy(self, spelled: bool) -> Value {
        let mut items = Vec::new();
        if self.elements(&mut items).is_some() {
            let items = items.into_iter().map(|item| item.serde_copy(spelled));
            return Value::Array(items.collect());
        }
        if self.is_object() {
            let mut map = serde_json::Map::new();
            self.members(&mut |key, value| {
                if let serde_json::map::Entry::Vacant(entry) = map.entry(key) {
                    entry.insert(value.serde_copy(spelled));
                }
            });
            return Value::Object(map);
        }
        if spelled {
            return self.to_serde_verbatim();
        }
        match self.view() {
            View::Null | View::Compound => Value::Null,
            View::Bool(b) => Value::Bool(b),
            View::I64(i) => Value::from(i),
            View::U64(u) => Value::from(u),
            View::F64(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            View::Str(s) => Value::String(s.to_owned()),
            View::Big(literal) => Value::String(format!("{BIG}{literal}")),
        }
    }
}

/// A number past 64 bits as the nearest double that keeps its order: the
/// largest double past them all, the smallest one short of zero for a
/// number too small (never zero itself), for a filter to compare.
pub(crate) fn big_double(literal: &str) -> f64 {
    let mut double = literal.parse::<f64>().unwrap_or_default();
    let mantissa = literal.split(['e', 'E']).next().unwrap_or_default();
    if double == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9')) {
        let tiny = f64::from_bits(1);
        double = if literal.starts_with('-') {
            -tiny
        } else {
            tiny
        };
    }
    double.clamp(f64::MIN, f64::MAX)
}

/// The keys of an object written so far, as their places in the text
/// being written, so that a repeated key's later members are left out:
/// a reader of a `json` cell then finds the value hydrant reads at that
/// key (the first), not the last, which most readers take. The first few
/// are kept in place, so that a small object costs no allocation.
struct KeysWritten {
    few: [(usize, usize); KeysWritten::FEW],
    len: usize,
    /// Every key's text, once there are too many to compare one by one.
    many: Option<std::collections::HashSet<Vec<u8>>>,
}

impl Default for KeysWritten {
    fn default() -> KeysWritten {
        KeysWritten {
            few: [(0, 0); KeysWritten::FEW],
            len: 0,
            many: None,
        }
    }
}

impl KeysWritten {
    const FEW: usize = 16;

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the key written at `start..` in `out` is the first of its
    /// text, noted if it is.
    fn first(&mut self, out: &[u8], start: usize) -> bool {
        let key = &out[start..];
        if let Some(many) = &mut self.many {
            return many.insert(key.to_vec());
        }
        let few = &self.few[..self.len];
        if few.iter().any(|&(from, to)| out[from..to] == *key) {
            return false;
        }
        if self.len < Self::FEW {
            self.few[self.len] = (start, out.len());
            self.len += 1;
            return true;
        }
        let mut many: std::collections::HashSet<Vec<u8>> = few
            .iter()
            .map(|&(from, to)| out[from..to].to_vec())
            .collect();
        many.insert(key.to_vec());
        self.many = Some(many);
        true
    }
}

impl<'v, 'a> Node<'v> for &'v BorrowedValue<'a> {
    // Large objects of the tree are hash maps.
    const KEYS_PER_GET: usize = usize::MAX;

    fn view(self) -> View<'v> {
        match self {
            BorrowedValue::Static(node) => View::of_static(*node),
            BorrowedValue::String(s) => View::of_str(s),
            _ => View::Compound,
        }
    }

    containers!();

    fn is_object(self) -> bool {
        self.as_object().is_some()
    }

    /// In the order of the text: a large object's map (past
    /// [`ORDERED_MEMBERS`](crate::json::tree::ORDERED_MEMBERS) members) is
    /// a hash map, whose order would put a record's columns, and a `json`
    /// cell's members, out of the API's order. Its keys lie in the parsed
    /// text, where simd-json leaves every string, escaped or not: their
    /// places give the order.
    fn members(self, each: &mut dyn FnMut(&str, Self)) {
        let Some(object) = self.as_object() else {
            return;
        };
        if object.len() <= crate::json::tree::ORDERED_MEMBERS {
            for (key, value) in object.iter() {
                each(key, value);
            }
            return;
        }
        let mut members: Vec<(&str, Self)> =
            (object.iter()).map(|(k, v)| (k.as_ref(), v)).collect();
        members.sort_by_key(|(key, _)| key.as_ptr() as usize);
        for (key, value) in members {
            each(key, value);
        }
    }
}

/// The values at `segments` under `value`, in document order.
pub(crate) fn walk<'v, N: Node<'v>>(value: N, segments: &[Segment], out: &mut Vec<N>) {
    let Some((first, rest)) = segments.split_first() else {
        out.push(value);
        return;
    };
    match first {
        Segment::Key(key) => {
            if let Some(child) = value.get(key) {
                walk(child, rest, out);
            }
        }
        Segment::Index(index) => {
            if let Some(child) = value.at(*index) {
                walk(child, rest, out);
            }
        }
        Segment::Wildcard => {
            let mut children = Vec::new();
            value.children(&mut children);
            for child in children {
                walk(child, rest, out);
            }
        }
    }
}

/// The JSON text of a value that is not an array or object with items,
/// as [`Node::write_json`] writes it: a double as its page spells it
/// (`literal`), where the page is at hand.
pub(crate) fn write_leaf_json(view: View<'_>, literal: Option<&str>, out: &mut Vec<u8>) {
    match view {
        View::Null | View::Compound => out.extend_from_slice(b"null"),
        View::Bool(b) => write_static(&StaticNode::Bool(b), out),
        View::I64(i) => write_static(&StaticNode::I64(i), out),
        View::U64(u) => write_static(&StaticNode::U64(u), out),
        View::F64(f) => match literal {
            Some(literal) => out.extend_from_slice(literal.as_bytes()),
            None => write_static(&StaticNode::F64(f), out),
        },
        View::Str(s) => write_str(s, out),
        View::Big(literal) => out.extend_from_slice(literal.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A large object of the tree (a hash map) gives its members in the
    /// order of the text, as the structural index does: escaped keys,
    /// repeated ones and nested objects among them.
    #[test]
    fn a_large_object_s_members_come_in_the_text_s_order() {
        let mut keys: Vec<String> = (0..40).rev().map(|i| format!("k{i:02}")).collect();
        keys[3] = "k\\u00e9".to_owned();
        keys[17] = "q\\\"uote".to_owned();
        let members: Vec<String> = (keys.iter().enumerate())
            .map(|(i, key)| {
                format!(
                    "\"{key}\":{}",
                    if i == 9 {
                        "{\"in\":1}".to_owned()
                    } else {
                        i.to_string()
                    }
                )
            })
            .collect();
        for repeated in [false, true] {
            let mut text = format!("{{{}}}", members.join(","));
            if repeated {
                text = text.replacen("\"k38\":1", "\"k38\":1,\"k38\":99", 1);
            }
            let mut parser = crate::json::tree::Parser::default();
            let mut scratch = crate::json::tree::Scratch::default();
            let tree = parser.parse(text.as_bytes(), &mut scratch).unwrap();
            let mut by_tree = Vec::new();
            (&tree).members(&mut |key, _| by_tree.push(key.to_owned()));
            let mut scanner = crate::json::scan::Scanner::default();
            let doc = scanner.scan(text.as_bytes(), None).unwrap();
            let mut by_index = Vec::new();
            doc.root()
                .members(&mut |key, _| by_index.push(key.to_owned()));
            // A repeated key is one member of the tree, the first kept.
            let mut seen = std::collections::HashSet::new();
            by_index.retain(|key| seen.insert(key.clone()));
            assert_eq!(by_tree, by_index, "{text}");
            assert_eq!(by_tree[3], "k\u{e9}");
            assert_eq!(by_tree[17], "q\"uote");
        }
    }
}
