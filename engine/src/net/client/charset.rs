//! Bodies in the other encodings JSON is served in, made UTF-8 before
//! they are parsed: UTF-16 (RFC 4627 allowed it; a byte order mark, a
//! `charset` or the zero bytes of its first character tell it), and the
//! text a `charset` names (`ISO-8859-1`, `windows-1252`, `GBK`,
//! `Shift_JIS`, `EUC-KR`, `Big5` …), read as browsers read each label
//! (the WHATWG Encoding Standard, by `encoding_rs`). A body so labelled
//! that is valid UTF-8 stays as it is: Java servlets label UTF-8 JSON
//! `ISO-8859-1` by default.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
use http::HeaderMap;

use crate::error::{Error, Result};

/// The encoding a response's `Content-Type` names; UTF-8 where it names
/// none, or one the Encoding Standard does not know (the parser then
/// says what it found, and the error names the Content-Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Charset(&'static Encoding);

impl Charset {
    pub(super) fn of(headers: &HeaderMap) -> Charset {
        let label = (headers.get(http::header::CONTENT_TYPE))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value.split(';').skip(1).find_map(|param| {
                    let (name, value) = param.split_once('=')?;
                    let named = name.trim().eq_ignore_ascii_case("charset");
                    named.then(|| value.trim().trim_matches('"'))
                })
            });
        let encoding = label.and_then(|label| Encoding::for_label_no_replacement(label.as_bytes()));
        Charset(encoding.unwrap_or(UTF_8))
    }

    /// Whether `start`, the body so far, is UTF-8 as it stands (a
    /// watch may read it before it is whole). Its first two bytes tell:
    /// a UTF-16 text starts with a byte order mark or a zero byte.
    pub(super) fn plain(self, start: &[u8]) -> bool {
        let utf16_bom = Encoding::for_bom(start).is_some_and(|(found, _)| found != UTF_8);
        self.0 == UTF_8 && start.len() >= 2 && !utf16_bom && utf16_start(start).is_none()
    }

    /// `body` as UTF-8, from `url`.
    pub(super) fn to_utf8(self, body: Vec<u8>, url: &str) -> Result<Vec<u8>> {
        let (encoding, bom) = match (Encoding::for_bom(&body), utf16_start(&body)) {
            (Some((found, bom)), _) if found != UTF_8 => (found, bom),
            (_, Some(found)) => (found, 0),
            _ if self.0 == UTF_8 => return Ok(body),
            // A body labelled otherwise that is UTF-8 was sent as UTF-8.
            _ if self.0 != UTF_16LE && self.0 != UTF_16BE && std::str::from_utf8(&body).is_ok() => {
                return Ok(body);
            }
            _ => (self.0, 0),
        };
        match encoding.decode_without_bom_handling_and_without_replacement(&body[bom..]) {
            Some(text) => Ok(text.into_owned().into_bytes()),
            None => Err(Error::data(format!(
                "response from {url} is not valid {}, as its Content-Type or its start says it is",
                encoding.name()
            ))),
        }
    }
}

/// The UTF-16 a body's start shows without a byte order mark: the zero
/// byte beside a first character that is ASCII, as a JSON text's is.
fn utf16_start(start: &[u8]) -> Option<&'static Encoding> {
    match start {
        [0, b, ..] if *b != 0 && b.is_ascii() => Some(UTF_16BE),
        [b, 0, ..] if *b != 0 && b.is_ascii() => Some(UTF_16LE),
        _ => None,
    }
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
        let name = |content_type: &str| labelled(content_type).0.name();
        assert_eq!(name("application/json"), "UTF-8");
        assert_eq!(name("application/json; charset=utf-8"), "UTF-8");
        // As browsers read it: ISO-8859-1 is windows-1252.
        assert_eq!(name("application/json;charset=ISO-8859-1"), "windows-1252");
        assert_eq!(name("application/json; Charset=\"GBK\""), "GBK");
        assert_eq!(name("application/json; charset=UTF-16"), "UTF-16LE");
        assert_eq!(name("application/json; charset=utf-16be"), "UTF-16BE");
        assert_eq!(name("application/json; charset=x-unknown"), "UTF-8");
        assert_eq!(Charset::of(&HeaderMap::new()).0.name(), "UTF-8");
    }

    #[test]
    fn a_body_in_another_encoding_becomes_utf8() {
        let text = r#"{"name": "café – “naïve” €5"}"#;
        let to = |charset: &str, body: Vec<u8>| {
            let charset = labelled(&format!("application/json; charset={charset}"));
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
        assert_eq!(to("ISO-8859-1", cp1252), text);
        // Labelled ISO-8859-1, sent as UTF-8: kept.
        assert_eq!(to("ISO-8859-1", text.into()), text);
        // GBK: 中文 is D6 D0 CE C4.
        let gbk = [&b"[\""[..], &[0xD6, 0xD0, 0xCE, 0xC4], b"\"]"].concat();
        assert_eq!(to("GBK", gbk), "[\"中文\"]");
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let bom = |mark: [u8; 2], body: &[u8]| [&mark[..], body].concat();
        assert_eq!(to("UTF-16LE", le.clone()), text);
        assert_eq!(to("UTF-16BE", be.clone()), text);
        // Unlabelled: the mark or the zero bytes tell; a mark beats a label.
        assert_eq!(to("utf-8", le.clone()), text);
        assert_eq!(to("utf-8", be.clone()), text);
        assert_eq!(to("utf-8", bom([0xFF, 0xFE], &le)), text);
        assert_eq!(to("UTF-16LE", bom([0xFE, 0xFF], &be)), text);
        // A character past the basic plane takes two units.
        let emoji = "[\"🦀\"]";
        let units: Vec<u8> = emoji.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(to("UTF-16LE", units), emoji);
        let utf8 = labelled("application/json");
        assert!(utf8.plain(text.as_bytes()));
        assert!(!utf8.plain(&le));
        assert!(!labelled("application/json; charset=latin1").plain(text.as_bytes()));
    }

    #[test]
    fn a_body_that_is_not_its_encoding_is_an_error_naming_it() {
        let mut body: Vec<u8> = "[\"a".encode_utf16().flat_map(u16::to_le_bytes).collect();
        body.extend(0xD800u16.to_le_bytes());
        body.extend("\"]".encode_utf16().flat_map(u16::to_le_bytes));
        let utf16 = labelled("application/json; charset=utf-16le");
        let e = utf16.to_utf8(body, "http://h/p").unwrap_err();
        let said = "response from http://h/p is not valid UTF-16LE, as its Content-Type or its \
                    start says it is";
        assert_eq!(e.to_string(), said);
        let gbk = labelled("application/json; charset=gbk");
        let e = gbk.to_utf8(vec![b'[', 0xD6], "http://h/p").unwrap_err();
        assert!(e.to_string().contains("is not valid GBK"), "{e}");
    }
}
