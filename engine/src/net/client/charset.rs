//! Bodies in the other encodings JSON is served in, made UTF-8 before
//! they are parsed: UTF-16 (RFC 4627 allowed it; a byte order mark, a
//! `charset` or the zero bytes of its first character tell it), and the
//! single-byte text a `charset=ISO-8859-1` or `windows-1252` names, read
//! as windows-1252 as browsers read both (the WHATWG Encoding Standard).
//! A body so labelled that is valid UTF-8 stays as it is: Java servlets
//! label UTF-8 JSON `ISO-8859-1` by default.

use http::HeaderMap;

use crate::error::{Error, Result};

/// The encoding a response's `Content-Type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Charset {
    /// UTF-8, or no `charset`: the body's first bytes may still say
    /// UTF-16.
    Utf8,
    /// `ISO-8859-1`, `latin1`, `windows-1252`, `US-ASCII` and their
    /// aliases.
    Windows1252,
    /// `UTF-16LE`, or `UTF-16` (little-endian unless its start says).
    Utf16Le,
    /// `UTF-16BE`.
    Utf16Be,
}

/// Labels the WHATWG Encoding Standard reads as windows-1252.
const WINDOWS_1252: [&str; 17] = [
    "ansi_x3.4-1968",
    "ascii",
    "cp1252",
    "cp819",
    "csisolatin1",
    "ibm819",
    "iso-8859-1",
    "iso-ir-100",
    "iso8859-1",
    "iso88591",
    "iso_8859-1",
    "iso_8859-1:1987",
    "l1",
    "latin1",
    "us-ascii",
    "windows-1252",
    "x-cp1252",
];

/// What windows-1252 holds at 0x80 to 0x9F, where ISO-8859-1 has its C1
/// controls; the five it leaves undefined stay those controls.
const HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

impl Charset {
    /// The `charset` of `headers`' Content-Type; UTF-8 where it names
    /// none or one this does not know (the parser then says what it
    /// found, and the error names the Content-Type).
    pub(super) fn of(headers: &HeaderMap) -> Charset {
        let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
            return Charset::Utf8;
        };
        let value = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
        let label = value.split(';').skip(1).find_map(|param| {
            let (name, value) = param.split_once('=')?;
            (name.trim() == "charset").then(|| value.trim().trim_matches('"').to_owned())
        });
        match label.as_deref() {
            Some("utf-16" | "utf-16le") => Charset::Utf16Le,
            Some("utf-16be") => Charset::Utf16Be,
            Some(label) if WINDOWS_1252.contains(&label) => Charset::Windows1252,
            _ => Charset::Utf8,
        }
    }

    /// Whether `start`, the body so far, is UTF-8 as it stands (a
    /// watch may read it before it is whole).
    pub(super) fn plain(self, start: &[u8]) -> bool {
        self == Charset::Utf8 && utf16_start(start).is_none()
    }

    /// `body` as UTF-8, from `url`.
    pub(super) fn to_utf8(self, body: Vec<u8>, url: &str) -> Result<Vec<u8>> {
        let endian = match (utf16_start(&body), self) {
            (Some(found), _) => found,
            (None, Charset::Utf16Le) => Endian::Little,
            (None, Charset::Utf16Be) => Endian::Big,
            (None, Charset::Windows1252) if std::str::from_utf8(&body).is_err() => {
                return Ok(windows_1252(&body));
            }
            (None, _) => return Ok(body),
        };
        utf16(&body, endian, url)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

/// The byte order a body's start shows it is UTF-16 in: a byte order
/// mark, or the zero byte beside a first character that is ASCII, as a
/// JSON text's is.
fn utf16_start(start: &[u8]) -> Option<Endian> {
    match start {
        [0xFF, 0xFE, ..] => Some(Endian::Little),
        [0xFE, 0xFF, ..] => Some(Endian::Big),
        [0, b, ..] if *b != 0 && b.is_ascii() => Some(Endian::Big),
        [b, 0, ..] if *b != 0 && b.is_ascii() => Some(Endian::Little),
        _ => None,
    }
}

/// A windows-1252 body as UTF-8.
fn windows_1252(body: &[u8]) -> Vec<u8> {
    let mut text = String::with_capacity(body.len() + body.len() / 4);
    for &byte in body {
        text.push(match byte {
            0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
            _ => char::from(byte),
        });
    }
    text.into_bytes()
}

/// A UTF-16 body (less its byte order mark) as UTF-8; a lone surrogate
/// or an odd byte is an error naming where.
fn utf16(body: &[u8], endian: Endian, url: &str) -> Result<Vec<u8>> {
    let bom = match body {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => 2,
        _ => 0,
    };
    let units = body[bom..].chunks(2).map(|pair| match (pair, endian) {
        ([a, b], Endian::Little) => Ok(u16::from_le_bytes([*a, *b])),
        ([a, b], Endian::Big) => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(()),
    });
    let mut text = String::with_capacity(body.len());
    let bad = |at: usize, what: &str| {
        Error::data(format!(
            "response from {url} is not valid UTF-16: {what} at byte {}",
            bom + at * 2
        ))
    };
    let mut at = 0;
    for unit in char::decode_utf16(units.map_while(Result::ok)) {
        text.push(unit.map_err(|_| bad(at, "a lone surrogate"))?);
        at += text.chars().next_back().map_or(1, char::len_utf16);
    }
    if (body.len() - bom) % 2 == 1 {
        return Err(bad(at, "an odd byte"));
    }
    Ok(text.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(content_type: &str) -> Charset {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        Charset::of(&headers)
    }

    #[test]
    fn the_charset_is_read_from_the_content_type() {
        assert_eq!(labelled("application/json"), Charset::Utf8);
        assert_eq!(labelled("application/json; charset=utf-8"), Charset::Utf8);
        let latin = "application/json;charset=ISO-8859-1";
        assert_eq!(labelled(latin), Charset::Windows1252);
        let quoted = "application/json; Charset=\"windows-1252\"";
        assert_eq!(labelled(quoted), Charset::Windows1252);
        assert_eq!(
            labelled("application/json; charset=UTF-16"),
            Charset::Utf16Le
        );
        assert_eq!(
            labelled("application/json; charset=utf-16be"),
            Charset::Utf16Be
        );
        assert_eq!(
            labelled("application/json; charset=shift_jis"),
            Charset::Utf8
        );
        assert_eq!(Charset::of(&HeaderMap::new()), Charset::Utf8);
    }

    #[test]
    fn a_body_in_another_encoding_becomes_utf8() {
        let text = r#"{"name": "café – “naïve” €5"}"#;
        let to = |charset: Charset, body: Vec<u8>| {
            String::from_utf8(charset.to_utf8(body, "u").unwrap()).unwrap()
        };
        // windows-1252: é is E9, – 96, “ ” 93 94, € 80.
        let mut cp1252 = br#"{"name": "caf"#.to_vec();
        cp1252.extend([0xE9, b' ', 0x96, b' ', 0x93]);
        cp1252.extend(b"na");
        cp1252.push(0xEF);
        cp1252.extend(b"ve");
        cp1252.extend([0x94, b' ', 0x80]);
        cp1252.extend(b"5\"}");
        assert_eq!(to(Charset::Windows1252, cp1252), text);
        // Labelled ISO-8859-1, sent as UTF-8: kept.
        assert_eq!(to(Charset::Windows1252, text.into()), text);
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let bom = |mark: [u8; 2], body: &[u8]| [&mark[..], body].concat();
        assert_eq!(to(Charset::Utf16Le, le.clone()), text);
        assert_eq!(to(Charset::Utf16Be, be.clone()), text);
        // Unlabelled: the mark or the zero bytes tell; a mark beats a label.
        assert_eq!(to(Charset::Utf8, le.clone()), text);
        assert_eq!(to(Charset::Utf8, be.clone()), text);
        assert_eq!(to(Charset::Utf8, bom([0xFF, 0xFE], &le)), text);
        assert_eq!(to(Charset::Utf16Le, bom([0xFE, 0xFF], &be)), text);
        // A character past the basic plane takes two units.
        let emoji = "[\"🦀\"]";
        let units: Vec<u8> = emoji.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(to(Charset::Utf16Le, units), emoji);
        assert!(Charset::Utf8.plain(text.as_bytes()));
        assert!(!Charset::Utf8.plain(&le));
        assert!(!Charset::Windows1252.plain(text.as_bytes()));
    }

    #[test]
    fn broken_utf16_is_an_error_naming_the_byte() {
        let mut body: Vec<u8> = "[\"a".encode_utf16().flat_map(u16::to_le_bytes).collect();
        body.extend(0xD800u16.to_le_bytes());
        body.extend("\"]".encode_utf16().flat_map(u16::to_le_bytes));
        let e = Charset::Utf16Le.to_utf8(body, "http://h/p").unwrap_err();
        let said = "response from http://h/p is not valid UTF-16: a lone surrogate at byte 6";
        assert_eq!(e.to_string(), said);
        let odd: Vec<u8> = [&b"[\0]\0"[..], b"\n"].concat();
        let e = Charset::Utf16Le.to_utf8(odd, "http://h/p").unwrap_err();
        let said = "response from http://h/p is not valid UTF-16: an odd byte at byte 4";
        assert_eq!(e.to_string(), said);
    }
}
