//! Parsing pages with simd-json, and writing JSON text.
//!
//! simd-json refuses numbers it cannot hold in 64 bits (`2^64`, `1e400`).
//! So that such values are never rounded, a page that fails on one is
//! parsed again with each of those literals carried as a string marked by
//! [`BIG`]: `string` and `json` columns then keep the exact text, numeric
//! columns call it a bad type.

pub(crate) mod general;
mod head;
pub(crate) mod keys;
pub(crate) mod node;
pub mod path;
pub(crate) mod scan;
mod tail;
mod tree;
mod write;

pub(crate) use head::*;
pub(crate) use tail::trailing_members;
pub(crate) use tree::*;
pub(crate) use write::*;

use serde_json::Value;
use simd_json::{BorrowedValue, StaticNode};

/// The UTF-8 byte order mark. Windows tools put it at the head of text
/// files, and some servers before a body; RFC 8259 §8.1 lets a parser
/// skip it, and hydrant does wherever JSON or lines are read.
pub(crate) const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// `text` without a leading byte order mark.
pub(crate) fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The digits of `word` in the bytes `lanes` marks (`0xff` each), as
/// their values, the other bytes zero; `None` if one is not a digit.
/// Told in registers, not byte by byte: a byte is a digit when its high
/// half is 3, also after adding 6.
#[inline(always)]
pub(crate) fn lane_digits(word: u64, lanes: u64) -> Option<u64> {
    const HIGH_HALVES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    let (high, zeros) = (lanes & HIGH_HALVES, lanes & ZERO_DIGITS);
    let bytes = word & lanes;
    // Adding 6 carries out of a byte only when its high half is not 3,
    // which the first test has already refused.
    let digits = bytes & high == zeros && (bytes + (lanes & 0x0606_0606_0606_0606)) & high == zeros;
    digits.then(|| bytes - zeros)
}

/// The tests' source of varied input: a xorshift generator, which gives
/// the same numbers on every run.
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// An NDJSON body (a JSON value a line) as a JSON array of its lines,
/// blank lines and a byte order mark left out. A line break is never inside a JSON value, so
/// each line is one; a line that is not JSON fails where the array is
/// read.
pub(crate) fn lines_as_array(body: &[u8]) -> Vec<u8> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let mut array = Vec::with_capacity(body.len() + 2);
    array.push(b'[');
    let lines = body.split(|&b| b == b'\n').map(<[u8]>::trim_ascii);
    for line in lines.filter(|line| !line.is_empty()) {
        if array.len() > 1 {
            array.push(b',');
        }
        array.extend_from_slice(line);
    }
    array.push(b']');
    array
}

/// The words for numbers JSON cannot hold that some encoders write
/// (Python's `json.dumps`, and so Flask and pandas-backed APIs).
const NON_FINITE: [&[u8]; 3] = [b"NaN", b"Infinity", b"-Infinity"];

/// Where `body` holds a value of [`NON_FINITE`] outside its strings: the
/// byte of each and its length.
pub(crate) fn non_finite_values(body: &[u8]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let (mut at, mut in_string) = (0, false);
    // Whether the last byte outside whitespace opens a value's place.
    let mut value_next = true;
    while at < body.len() {
        let byte = body[at];
        if in_string {
            match byte {
                b'\\' => at += 1,
                b'"' => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        if value_next && matches!(byte, b'N' | b'I' | b'-') {
            let word = NON_FINITE.iter().find(|word| body[at..].starts_with(word));
            let ends = |len: usize| {
                (body.get(at + len)).is_none_or(|b| b",]}".contains(b) || b.is_ascii_whitespace())
            };
            if let Some(word) = word.filter(|word| ends(word.len())) {
                found.push((at, word.len()));
                at += word.len();
                value_next = false;
                continue;
            }
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b',' | b':' => value_next = true,
            b if b.is_ascii_whitespace() => {}
            _ => value_next = false,
        }
        at += 1;
    }
    found
}

/// `body` with each value of [`NON_FINITE`] outside its strings written
/// `null`; `None` where it holds none.
pub(crate) fn non_finite_as_null(body: &[u8]) -> Option<Vec<u8>> {
    let found = non_finite_values(body);
    if found.is_empty() {
        return None;
    }
    let mut nulled = Vec::with_capacity(body.len() + found.len());
    let mut from = 0;
    for (at, len) in found {
        nulled.extend_from_slice(&body[from..at]);
        nulled.extend_from_slice(b"null");
        from = at + len;
    }
    nulled.extend_from_slice(&body[from..]);
    Some(nulled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nan_and_infinity_outside_strings_are_read_as_null() {
        let nulled =
            |body: &str| non_finite_as_null(body.as_bytes()).map(|b| String::from_utf8(b).unwrap());
        assert_eq!(
            nulled(
                r#"{"a": NaN, "b": [Infinity,-Infinity], "c": "NaN, Infinity", "d": {"e":NaN}}"#
            ),
            Some(
                r#"{"a": null, "b": [null,null], "c": "NaN, Infinity", "d": {"e":null}}"#
                    .to_owned()
            )
        );
        // At the top, in NDJSON's array of lines, and beside escapes.
        assert_eq!(nulled("NaN"), Some("null".to_owned()));
        assert_eq!(
            nulled(r#"["a\"NaN", NaN]"#),
            Some(r#"["a\"NaN", null]"#.to_owned())
        );
        // Not values: a key, part of a word, a number's sign, none at all.
        assert_eq!(nulled(r#"{"NaN": 1, "x": NaNa, "y": -1}"#), None);
        assert_eq!(nulled(r#"{"x": 1.5}"#), None);
    }

    #[test]
    fn ndjson_is_the_array_of_its_lines() {
        let array = |body: &[u8]| String::from_utf8(lines_as_array(body)).unwrap();
        assert_eq!(array(b"{\"a\":1}\n{\"a\":2}\n"), r#"[{"a":1},{"a":2}]"#);
        assert_eq!(
            array(b"\xEF\xBB\xBF1\r\n\r\n \"x\" \r\n[2]"),
            r#"[1,"x",[2]]"#
        );
        assert_eq!(array(b""), "[]");
        assert_eq!(array(b"\n \n"), "[]");
    }

    #[test]
    fn lane_digits_tell_every_byte_as_a_byte_test_does() {
        // Each byte value in each place, among digits in the lanes and
        // bytes that are not digits outside them, which do not count.
        for lanes in [u64::MAX, 0x00ff_ff00_ffff_ffff, 0xffff_0000] {
            let kept = |i: usize| lanes >> (8 * i) & 0xff != 0;
            let base: [u8; 8] = std::array::from_fn(|i| {
                if kept(i) {
                    b"09512347"[i]
                } else {
                    [b'x', 0xff][i % 2]
                }
            });
            for place in 0..8 {
                for byte in 0..=255u8 {
                    let mut bytes = base;
                    bytes[place] = byte;
                    let mut values = [0u8; 8];
                    let mut all = true;
                    for i in (0..8).filter(|&i| kept(i)) {
                        all &= bytes[i].is_ascii_digit();
                        values[i] = bytes[i].wrapping_sub(b'0');
                    }
                    let expected = all.then(|| u64::from_le_bytes(values));
                    let word = u64::from_le_bytes(bytes);
                    assert_eq!(lane_digits(word, lanes), expected, "{bytes:?} {lanes:x}");
                }
            }
        }
    }

    #[test]
    fn repeated_keys_keep_their_first_value_in_objects_of_any_size() {
        use simd_json::prelude::*;
        assert_eq!(
            first_members_only(br#" {"a": 1, "b": [{"c": 1, "c": 2}], "a": {"x": 3}} "#),
            br#" {"a": 1, "b": [{"c": 1, "c": 2}], "a": {"x": 3}} "#,
            "objects that keep their members in order keep their repeats"
        );
        let members: Vec<String> = (0..33).map(|i| format!("\"k{i}\": {i}")).collect();
        let wide = format!("{{{}, \"k0\": {{\"x\": 1}}}}", members.join(", "));
        let kept = String::from_utf8(first_members_only(wide.as_bytes())).unwrap();
        assert_eq!(kept, format!("{{{}}}", members.join(", ")));
        assert_eq!(first_members_only(b"{\"a\": }"), b"{\"a\": }");
        // Bytes a rewrite leaves out are still checked: invalid UTF-8 in a
        // repeated member fails the page, as on the structural index.
        let mut parser = Parser::default();
        let body = b"[{\"a\": 1, \"a\": \"x\x90y\", \"n\": 1e-400}]";
        let err = parser
            .parse(body, &mut Scratch::default())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err, "invalid UTF-8 at byte 17");
        // So is a literal or a string that is not JSON.
        for body in [
            &b"[{\"a\": 1, \"a\": 17\x1d, \"n\": 1e-400}]"[..],
            b"[{\"a\": 1, \"a\": \"x\x01\", \"n\": 1e-400}]",
            b"[{\"a\": 1, \"a\": \"\\q\", \"n\": 1e-400}]",
            b"[{\"a\": 1, \"a\": tru, \"n\": 1e-400}]",
        ] {
            assert!(
                parser.parse(body, &mut Scratch::default()).is_err(),
                "{body:?}"
            );
        }
        // Found by the fuzz target: 35 members, 16 of them repeats, make a
        // map of 19 keys, which took the last of each.
        let page = r#"[{"k0": 0, "k1": 1, "k2": 2, "k3": 3, "k4": 4, "k5": 5, "k6": 6, "k7": 7, "k8": 8, "k9": 9, "k10": 10, "k11": 11, "k12": 12, "k13": 13, "k14": 14, "k15": 15, "k16": 16, "k17": 17, "k18": 18,
            "k0": -1, "k1": -1, "k2": -1, "k3": -1, "k4": -1, "k5": -1, "k6": -1, "k7": -1, "k8": -1, "k9": -1, "k10": -1, "k11": -1, "k12": -1, "k13": -1, "k14": -1, "k15": -1}]"#;
        let mut scratch = Scratch::default();
        let tree = Parser::default()
            .parse(page.as_bytes(), &mut scratch)
            .unwrap();
        let record = &tree.as_array().unwrap()[0];
        for i in 0..19 {
            let value = record
                .get(format!("k{i}").as_str())
                .and_then(|v| v.as_i64());
            assert_eq!(value, Some(i), "k{i}");
        }
        // Objects past the size whose members keep their order, each key
        // repeated once further on, with a big number or without.
        let mut parser = Parser::default();
        for size in [33, 40, 57, 100] {
            for big in ["", ", \"big\": 1e400"] {
                let members: Vec<String> = (0..size).map(|i| format!("\"k{i}\": {i}")).collect();
                let again: Vec<String> = (0..size).map(|i| format!("\"k{i}\": -1")).collect();
                let body = format!("[{{{}, {}{big}}}]", members.join(", "), again.join(", "));
                let mut scratch = Scratch::default();
                let page = parser.parse(body.as_bytes(), &mut scratch).unwrap();
                let record = &page.as_array().unwrap()[0];
                for i in 0..size {
                    let value = record
                        .get(format!("k{i}").as_str())
                        .and_then(|v| v.as_i64());
                    assert_eq!(value, Some(i), "k{i} of {size}{big}");
                }
            }
        }
    }

    #[test]
    fn strings_of_every_short_length_are_escaped_as_serde_json_does() {
        // Lengths around the sixteen-byte runs, the eight-byte words and
        // the tails of under eight, with no escape, one anywhere, or two
        // side by side.
        for len in 0..=40 {
            let plain: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let mut texts = vec![plain.clone()];
            for at in 0..len {
                for byte in ["\"", "\u{0}", "\u{1f}\\"] {
                    let mut text = plain.clone();
                    text.replace_range(at..=at, byte);
                    texts.push(text);
                }
            }
            for text in texts {
                let mut out = b"prefix".to_vec();
                write_str(&text, &mut out);
                let expected = format!("prefix{}", serde_json::to_string(&text).unwrap());
                assert_eq!(String::from_utf8(out).unwrap(), expected, "{text:?}");
            }
        }
    }

    #[test]
    fn every_double_of_whole_millionths_takes_the_short_path() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        // From 0.001 to just under 2^32, over every width of count.
        let most = 4_294_967_296_000_000 - 1;
        let ends = [1_000, 1_001, 999_999, 1_000_000, most - 1, most];
        let counts = (0..300_000).map(|_| {
            let width = 4 + next() % 13;
            (1_000 + next() % 10u64.pow(width as u32)).min(most)
        });
        for millionths in ends.into_iter().chain(counts) {
            let value = millionths as f64 / 1e6;
            assert_eq!(whole_millionths(value), Some(millionths), "{value}");
            assert_eq!(whole_millionths(-value), Some(millionths), "{value}");
        }
        for refused in [1.0 / 3.0, 0.1 + 0.2, 0.931_780_463_019_374_8, 1e-4] {
            assert_eq!(whole_millionths(refused), None, "{refused}");
        }
    }

    #[test]
    fn doubles_are_written_as_the_general_formatter_writes_them() {
        let mut values = vec![
            1e-3,
            0.001_000_000_000_000_1,
            0.000_999_999_999_999_9,
            0.1 + 0.2,
            1.0 / 3.0,
            4_294_967_295.999_999,
            4_294_967_296.0,
            4_294_967_296.5,
            9.999_999_5,
            123.0,
            1e9,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            1e-7,
        ];
        // Decimals of up to eight places, their neighbouring doubles, and
        // doubles of any bits over the range the short path takes.
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..200_000 {
            let places = (next() % 9) as i32;
            let decimal = (next() % 10_000_000_000) as f64 / 10f64.powi(places);
            let bits = 0x3F40_0000_0000_0000 + next() % 0x0120_0000_0000_0000;
            values.extend([
                decimal,
                f64::from_bits(decimal.to_bits() + 1),
                f64::from_bits(decimal.to_bits().saturating_sub(1)),
                f64::from_bits(bits),
            ]);
        }
        for value in values {
            for signed in [value, -value] {
                let mut out = b"prefix".to_vec();
                write_f64(signed, &mut out);
                let expected = format!("prefix{}", zmij::Buffer::new().format(signed));
                assert_eq!(String::from_utf8(out).unwrap(), expected, "{signed:e}");
            }
        }
    }

    #[test]
    fn integers_are_written_as_std_writes_them() {
        let mut values: Vec<i64> = (-1000..=100_000).collect();
        let mut power: i64 = 10;
        while let Some(next) = power.checked_mul(10) {
            values.extend([power - 1, power, power + 1, -power, -power + 1]);
            power = next;
        }
        values.extend([i64::MAX, i64::MIN, i64::MIN + 1, 1_234_567_890_123]);
        // Digits of every kind in every place, from a fixed LCG.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            values.push((x >> (x % 64)) as i64);
        }
        for value in values {
            let mut out = b"x".to_vec();
            write_int(value, &mut out);
            assert_eq!(out, format!("x{value}").into_bytes(), "{value}");
        }
        for value in [
            u64::MAX,
            u64::MAX / 10,
            10_000_000_000_000_000,
            9_999_999_999_999_999,
        ] {
            let mut out = Vec::new();
            write_uint(value, &mut out);
            assert_eq!(out, value.to_string().into_bytes(), "{value}");
        }
    }

    #[test]
    fn short_copies_append_exactly_their_bytes() {
        let source: Vec<u8> = (1..=40).collect();
        for len in 0..=40 {
            let mut out = b"head".to_vec();
            put_short(&mut out, &source[..len]);
            assert_eq!(&out[..4], b"head");
            assert_eq!(&out[4..], &source[..len], "length {len}");
        }
    }

    #[test]
    fn strings_are_escaped_wherever_the_escaped_byte_falls() {
        for filler in ["a", "é"] {
            for at in 0..20 {
                for (byte, escaped) in [
                    ('"', "\\\""),
                    ('\\', "\\\\"),
                    ('\n', "\\n"),
                    ('\u{1}', "\\u0001"),
                    ('\u{1f}', "\\u001f"),
                ] {
                    let text = format!("{}{byte}{}", filler.repeat(at), filler.repeat(19 - at));
                    let mut out = Vec::new();
                    write_str(&text, &mut out);
                    let expected = format!(
                        "\"{}{escaped}{}\"",
                        filler.repeat(at),
                        filler.repeat(19 - at)
                    );
                    assert_eq!(String::from_utf8(out).unwrap(), expected, "at {at}");
                }
            }
        }
        let mut out = Vec::new();
        write_str("plain ascii text of some length ~ \u{7f}", &mut out);
        assert_eq!(out, b"\"plain ascii text of some length ~ \x7f\"");
        // Several escapes in one word, next to each other and to bytes a
        // borrow could wrongly flag: as serde_json writes them.
        for text in [
            "\"\"\\\\\n\r\t\u{8}\u{c}\u{0}",
            "\u{1}!\u{1f} \"#\\]",
            "ab\u{1f}\u{20}\u{21}\"\u{22}cd\u{5c}\u{5b}\u{5d}é\n😀\u{7f}\u{0}x",
            "tail\"",
        ] {
            let mut out = Vec::new();
            write_str(text, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
    }

    fn roundtrip(text: &str) -> String {
        let mut scratch = Scratch::default();
        let mut parser = Parser::default();
        let value = parser.parse(text.as_bytes(), &mut scratch).unwrap();
        let mut out = Vec::new();
        crate::json::node::Node::write_json(&value, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn big_numbers_stay_exact() {
        assert_eq!(
            roundtrip(
                r#"{"a":123456789012345678901234567890,"b":-9223372036854775809,"c":1e400,"d":"x"}"#
            ),
            r#"{"a":123456789012345678901234567890,"b":-9223372036854775809,"c":1e400,"d":"x"}"#
        );
        assert_eq!(
            roundtrip("[18446744073709551615,-1,0.5]"),
            "[18446744073709551615,-1,0.5]"
        );
    }

    #[test]
    fn malformed_numbers_are_still_refused() {
        let mut parser = Parser::default();
        for bad in [
            "[1.]",
            "[01]",
            "[-]",
            "[1e]",
            "{\"a\": 99999999999999999999999 x}",
        ] {
            assert!(
                parser
                    .parse(bad.as_bytes(), &mut Scratch::default())
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            roundtrip(r#"["q\"b\\n\nt\tc\u0001é😀"]"#),
            r#"["q\"b\\n\nt\tc\u0001é😀"]"#
        );
    }

    #[test]
    fn empty_body_is_named() {
        assert_eq!(
            Parser::default()
                .parse(b"  ", &mut Scratch::default())
                .unwrap_err(),
            "the body is empty"
        );
    }

    fn head(body: &str, keys: &[&str]) -> Option<serde_json::Value> {
        match leading_members(body.as_bytes(), keys) {
            Leading::Found(values) => Some(serde_json::Value::from(values)),
            Leading::Cut | Leading::Absent => None,
        }
    }

    #[test]
    fn leading_members_are_read_before_the_first_container() {
        assert_eq!(
            head(r#"{"next":"/a?b=1","data":[1]}"#, &["next"]),
            Some(json!(["/a?b=1"]))
        );
        assert_eq!(
            head(
                " {\n \"n\" : \"x\\\"y\\u00e9\" ,\t\"c\": -12, \"t\": true, \"z\": null, \"data\": []}",
                &["c", "n", "z"]
            ),
            Some(json!([-12, "x\"yé", null]))
        );
        assert_eq!(
            head(r#"{"c":18446744073709551615,"data":[]}"#, &["c"]),
            Some(json!([18446744073709551615u64]))
        );
        // The first occurrence wins, as in a full parse.
        assert_eq!(
            head(r#"{"next":"a","next":"b"}"#, &["next"]),
            Some(json!(["a"]))
        );
        // Nothing to find is found at once, whatever the page starts with.
        assert_eq!(head(r#"["a"]"#, &[]), Some(json!([])));
        assert_eq!(head("", &[]), Some(json!([])));
    }

    #[test]
    fn leading_members_give_up_rather_than_guess() {
        for (body, why) in [
            (r#"{"data":[1],"next":"x"}"#, "after an array"),
            (r#"{"meta":{"next":"x"}}"#, "inside an object"),
            (r#"{"a":1}"#, "absent: only a full parse can say"),
            (r#"{"n\u0065xt":"x"}"#, "an escaped key"),
            (
                r#"{"n\u0065xt":"x","next":"y"}"#,
                "an escaped key before the plain one: a parse takes the first",
            ),
            (r#"{"next":1.5}"#, "not an integer"),
            (r#"{"next":1e3}"#, "not an integer"),
            (r#"{"next":007}"#, "not JSON"),
            (r#"{"next":"a\x"}"#, "a bad escape"),
            (r#"["next"]"#, "not an object"),
            (r#"{"next":"abc"#, "cut short"),
            (r#"{"next" "abc"}"#, "no colon"),
            ("", "empty"),
        ] {
            assert_eq!(head(body, &["next"]), None, "{why}: {body}");
        }
    }

    #[test]
    fn a_cut_head_is_told_from_one_that_cannot_hold_the_keys() {
        for body in [
            "",
            " ",
            "{",
            r#"{"ne"#,
            r#"{"next""#,
            r#"{"next":"ab"#,
            r#"{"next":12"#,
            r#"{"a":1"#,
            r#"{"a":1,"#,
        ] {
            assert_eq!(
                leading_members(body.as_bytes(), &["next"]),
                Leading::Cut,
                "{body}"
            );
        }
        for body in [
            r#"{"data":["#,
            r#"{"meta":{"next":"x"}}"#,
            r#"{"a":1}"#,
            r#"{"next":1.5,"#,
            r#"{"next" "abc"}"#,
            r#"["next"]"#,
        ] {
            assert_eq!(
                leading_members(body.as_bytes(), &["next"]),
                Leading::Absent,
                "{body}"
            );
        }
    }
}
