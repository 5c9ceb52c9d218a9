//! Members at the tail of a complete body, read backwards without parsing
//! the rest: many APIs put the next page's link or cursor last, after the
//! records (`{"data": [...], "paging": {"next": "…"}}`).
//!
//! Read backwards from the end of a document, JSON is as plain as read
//! forwards: the text ends outside any string, and a quote preceded by an
//! even number of backslashes opens or closes one. What is read here is
//! only a guess for the next request; the full parse of the page checks
//! it afterwards. A page that does not parse, or whose parse reads another
//! value (a key spelled two ways, the first with an escape), fails the run.

use super::head::scalar;
use super::*;

/// The most bytes a member's value may span for it to be stepped over
/// backwards; the records, which come before, are never stepped over.
const MAX_STEP: usize = 64 * 1024;

/// The values at `paths` (each a list of keys from the top level) when
/// every one is a member near the end of `body`, after the records, with
/// a value that is plainly a string, an integer, `true`, `false` or
/// `null`. `None` when that cannot be told cheaply: then the page's parse
/// tells. A key is taken only when it appears once in its object, so the
/// value is the one a full parse reads.
pub(crate) fn trailing_members(body: &[u8], paths: &[Vec<&str>]) -> Option<Vec<Value>> {
    let close = last_non_space(body, body.len())?;
    if body[close] != b'}' {
        return None;
    }
    paths
        .iter()
        .map(|path| member_at(body, close, path, true))
        .collect()
}

/// The value at `path` in the object closed at `close`.
fn member_at(body: &[u8], close: usize, path: &[&str], top: bool) -> Option<Value> {
    let (first, rest) = path.split_first()?;
    let (value_start, value_end) = find_member(body, close, first, top)?;
    if rest.is_empty() {
        return scalar(&body[value_start..=value_end]);
    }
    if body[value_end] != b'}' {
        return None;
    }
    member_at(body, value_end, rest, false)
}

/// Walks the members of the object closed at `close` backwards, looking
/// for `key`: the first and last bytes of its value. At the top level the walk stops at the first match from the
/// end and checks that the key's quoted text appears nowhere before it;
/// in a nested object it walks every member, refusing a repeated key.
fn find_member(body: &[u8], close: usize, key: &str, top: bool) -> Option<(usize, usize)> {
    let mut found = None;
    let mut at = close;
    loop {
        let end = last_non_space(body, at)?;
        if body[end] == b'{' {
            return found;
        }
        let start = value_start(body, end)?;
        let colon = last_non_space(body, start)?;
        if body[colon] != b':' {
            return None;
        }
        let key_end = last_non_space(body, colon)?;
        if body[key_end] != b'"' {
            return None;
        }
        let key_start = string_start(body, key_end)?;
        let text = &body[key_start + 1..key_end];
        if text.contains(&b'\\') {
            return None;
        }
        if text == key.as_bytes() {
            if found.is_some() {
                return None;
            }
            found = Some((start, end));
            if top {
                // Anywhere before, the key's quoted text could be its
                // first occurrence, which a full parse would read. The
                // key spelled with an escape would cost a scan for each
                // escape to rule out: the parse checks what was read.
                let quoted = format!("\"{key}\"");
                let before = &body[..key_start];
                return memchr::memmem::find(before, quoted.as_bytes())
                    .is_none()
                    .then_some((start, end));
            }
        }
        let separator = last_non_space(body, key_start)?;
        match body[separator] {
            b',' => at = separator,
            b'{' => return found,
            _ => return None,
        }
    }
}

/// The index of the last byte before `end` that is not space.
fn last_non_space(body: &[u8], end: usize) -> Option<usize> {
    body[..end].iter().rposition(|b| !b" \t\r\n".contains(b))
}

/// Where the value ending at `end` (its last byte) starts.
fn value_start(body: &[u8], end: usize) -> Option<usize> {
    match body[end] {
        b'"' => string_start(body, end),
        b'}' | b']' => container_start(body, end),
        _ => {
            let start = body[..=end]
                .iter()
                .rposition(|b| b",:[{ \t\r\n\"".contains(b))
                .map_or(0, |at| at + 1);
            (start <= end).then_some(start)
        }
    }
}

/// The opening quote of the string whose closing quote is at `end`.
fn string_start(body: &[u8], end: usize) -> Option<usize> {
    let mut at = end;
    loop {
        let quote = memchr::memrchr(b'"', &body[..at])?;
        let backslashes = body[..quote]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some(quote);
        }
        at = quote;
    }
}

/// The opening bracket of the object or array closed at `end`, if it
/// spans at most [`MAX_STEP`] bytes.
fn container_start(body: &[u8], end: usize) -> Option<usize> {
    let floor = end.saturating_sub(MAX_STEP);
    let mut depth = 0usize;
    let mut at = end + 1;
    while at > floor {
        at -= 1;
        match body[at] {
            b'}' | b']' => depth += 1,
            b'{' | b'[' => {
                depth -= 1;
                if depth == 0 {
                    return Some(at);
                }
            }
            b'"' => at = string_start(body, at)?,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str, paths: &[&[&str]]) -> Option<Vec<Value>> {
        let paths: Vec<Vec<&str>> = paths.iter().map(|p| p.to_vec()).collect();
        trailing_members(body.as_bytes(), &paths)
    }

    #[test]
    fn members_after_the_records_are_read_backwards() {
        let body = r#"{"data":[{"id":1,"s":"a\"}"},{"id":2}],"paging":{"prev":null,"next":"https://x/?p=2"},"count":2}
"#;
        assert_eq!(
            read(body, &[&["paging", "next"], &["count"]]),
            Some(vec![Value::from("https://x/?p=2"), Value::from(2)])
        );
        assert_eq!(read(body, &[&["paging", "prev"]]), Some(vec![Value::Null]));
        let escaped = r#"{"data":[],"next":"a\\\"b\\"}"#;
        assert_eq!(
            read(escaped, &[&["next"]]),
            Some(vec![Value::from("a\\\"b\\")])
        );
    }

    /// What a full parse would read differently, or could not tell, is
    /// left to the parse.
    #[test]
    fn anything_unsure_is_left_to_the_parse() {
        // A key that appears earlier: the full parse takes the first.
        assert_eq!(
            read(r#"{"next":"a","data":[],"next":"b"}"#, &[&["next"]]),
            None
        );
        // Its quoted text earlier, even nested in a record: unsure.
        assert_eq!(
            read(r#"{"data":[{"next":"a"}],"next":"b"}"#, &[&["next"]]),
            None
        );
        // Repeated inside a nested object.
        assert_eq!(read(r#"{"p":{"n":1,"n":2}}"#, &[&["p", "n"]]), None);
        // Not a scalar, or absent, or the body is not an object.
        assert_eq!(read(r#"{"next":{"a":1}}"#, &[&["next"]]), None);
        assert_eq!(read(r#"{"data":[]}"#, &[&["next"]]), None);
        assert_eq!(read(r#"[{"next":"a"}]"#, &[&["next"]]), None);
        assert_eq!(read(r#"{"next":1.5}"#, &[&["next"]]), None);
        // A key with an escape.
        assert_eq!(read(r#"{"ne\u0078t":"a"}"#, &[&["next"]]), None);
    }

    /// Random documents whose strings are full of quotes and
    /// backslashes: whatever is read from the tail is what a parse reads.
    #[test]
    fn what_is_read_is_what_a_parse_reads() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let pieces = [
            "a", r"\\", r#"\""#, r#"\\\""#, r"\u0041", r"\n", "é", r"\/", " ", "}", "]", ",", ":",
            "{",
        ];
        let text = |rng: &mut rand::rngs::StdRng| {
            let n = rng.random_range(0..6);
            let body: String = (0..n)
                .map(|_| pieces[rng.random_range(0..pieces.len())])
                .collect();
            format!("\"{body}\"")
        };
        let mut read_some = 0;
        for _ in 0..3000 {
            let records: Vec<String> = (0..rng.random_range(0..4))
                .map(|i| format!("{{\"id\":{i},\"s\":{}}}", text(&mut rng)))
                .collect();
            let space = [" ", "", "\n  "][rng.random_range(0..3)];
            let next = match rng.random_range(0..4) {
                0 => "null".to_owned(),
                1 => rng.random_range(-5..50_i64).to_string(),
                _ => text(&mut rng),
            };
            let body = format!(
                "{{{space}\"data\"{space}:{space}[{}],{space}\"paging\":{{\"prev\":{},{space}\"next\"{space}:{space}{next}{space}}},\"n\":{}{space}}}{space}",
                records.join(","),
                text(&mut rng),
                text(&mut rng),
            );
            let parsed: Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
            if let Some(values) = read(&body, &[&["paging", "next"], &["n"]]) {
                read_some += 1;
                assert_eq!(values[0], parsed["paging"]["next"], "{body}");
                assert_eq!(values[1], parsed["n"], "{body}");
            }
        }
        assert!(read_some > 2000, "only {read_some} read");
    }

    #[test]
    fn a_big_value_is_not_stepped_over() {
        let big = format!(
            r#"{{"paging":{{"next":"n"}},"data":[{}"x"]}}"#,
            "\"x\",".repeat(20_000)
        );
        assert_eq!(read(&big, &[&["paging", "next"]]), None);
    }
}
