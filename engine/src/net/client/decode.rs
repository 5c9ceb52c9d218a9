//! Response bodies decoded (gzip, deflate, br, zstd) into one buffer,
//! with a cap on the decoded bytes.

use super::charset::Charset;
use super::*;
use crate::json::BOM;

/// The decoded body, capped at `limits.max_response`, without the UTF-8
/// byte order mark some servers put before the JSON (RFC 8259 §8.1 lets a
/// reader ignore it).
pub(super) struct Capped {
    pub(super) buf: Vec<u8>,
    pub(super) cap: u64,
    /// How many bytes of a leading byte order mark were skipped; 3 once
    /// the body's start is settled.
    pub(super) bom: usize,
}

impl Capped {
    pub(super) fn new(capacity: usize, cap: u64) -> Capped {
        Capped {
            buf: Vec::with_capacity(capacity),
            cap,
            bom: 0,
        }
    }

    /// `data` less any part of a leading byte order mark.
    pub(super) fn past_bom<'d>(&mut self, mut data: &'d [u8]) -> &'d [u8] {
        while self.bom < BOM.len() {
            match data.first() {
                None => return data,
                Some(&byte) if byte == BOM[self.bom] => {
                    self.bom += 1;
                    data = &data[1..];
                }
                Some(_) => {
                    // Not a mark after all: what was skipped is body.
                    self.buf.extend_from_slice(&BOM[..self.bom]);
                    self.bom = BOM.len();
                }
            }
        }
        data
    }

    /// The body, once all of it is in. One that ended within what
    /// could have been a byte order mark is those bytes.
    fn into_body(mut self) -> Vec<u8> {
        if self.bom < BOM.len() {
            self.buf.splice(0..0, BOM[..self.bom].iter().copied());
        }
        self.buf
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let whole = data.len();
        let data = self.past_bom(data);
        if (self.buf.len() + data.len()) as u64 > self.cap {
            return Err(std::io::Error::other(CapExceeded));
        }
        self.buf.extend_from_slice(data);
        Ok(whole)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("decoded body exceeds limits.max_response")]
pub(super) struct CapExceeded;

pub(super) enum Decoding {
    Identity(Capped),
    Gzip(flate2::write::GzDecoder<Capped>),
    Zlib(flate2::write::ZlibDecoder<Capped>),
    Deflate(flate2::write::DeflateDecoder<Capped>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Capped>>),
    Zstd(Box<ZstdWriter>),
    /// `deflate` whose first two bytes have not arrived: they tell
    /// whether it is zlib-wrapped or raw. `head` holds those that have.
    DeflatePending {
        sink: Capped,
        head: Vec<u8>,
    },
}

/// A zstd decoder writing into the body.
type ZstdWriter = zstd::stream::zio::Writer<Capped, zstd::stream::raw::Decoder<'static>>;

/// The largest zstd window a response may need, 8 MiB: RFC 9659 §2.1
/// lets an HTTP client refuse more, so a hostile server cannot make each
/// request hold more memory than that.
const ZSTD_WINDOW_LOG: u32 = 23;

/// A zstd decoder of frames one after another (RFC 8878 §3.1), within
/// [`ZSTD_WINDOW_LOG`].
fn zstd_writer(sink: Capped) -> std::io::Result<ZstdWriter> {
    let mut decoder = zstd::stream::raw::Decoder::new()?;
    decoder.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(ZSTD_WINDOW_LOG))?;
    Ok(zstd::stream::zio::Writer::new(sink, decoder))
}

pub(super) struct Decoder<'u> {
    pub(super) decoding: Decoding,
    pub(super) url: &'u str,
    pub(super) cap: u64,
    /// The text encoding its Content-Type names, made UTF-8 at the end.
    charset: Charset,
}

impl<'u> Decoder<'u> {
    pub(super) fn new(headers: &HeaderMap, cap: u64, url: &'u str) -> Result<Decoder<'u>> {
        let length_hint = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            .min(cap)
            .min(64 << 20);
        let sink = Capped::new(length_hint as usize, cap);
        let encodings: Vec<String> = headers
            .get_all(http::header::CONTENT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty() && v != "identity")
            .collect();
        let decoding = match encodings.as_slice() {
            [] => Decoding::Identity(sink),
            [one] => match one.as_str() {
                "gzip" | "x-gzip" => Decoding::Gzip(flate2::write::GzDecoder::new(sink)),
                "deflate" => Decoding::DeflatePending {
                    sink,
                    head: Vec::new(),
                },
                "br" => Decoding::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                    sink,
                    64 * 1024,
                ))),
                "zstd" => Decoding::Zstd(Box::new(
                    zstd_writer(sink).map_err(|e| decode_error(e, url, cap))?,
                )),
                other => {
                    return Err(Error::data(format!(
                        "response from {url} has an unsupported content-encoding `{other}`"
                    )));
                }
            },
            several => {
                return Err(Error::data(format!(
                    "response from {url} has stacked content-encodings `{}`, which are not supported",
                    several.join(", ")
                )));
            }
        };
        let charset = Charset::of(headers);
        Ok(Decoder {
            decoding,
            url,
            cap,
            charset,
        })
    }

    pub(super) fn write(&mut self, data: &[u8]) -> Result<()> {
        if let Decoding::DeflatePending { sink, head } = &mut self.decoding {
            // A body may arrive a byte at a time: its kind waits for two.
            head.extend_from_slice(data);
            if head.len() < 2 {
                return Ok(());
            }
            let head = std::mem::take(head);
            let sink = std::mem::replace(sink, Capped::new(0, 0));
            self.decoding = deflate_of(sink, &head);
            return self.write(&head);
        }
        let result = match &mut self.decoding {
            Decoding::Identity(sink) => sink.write_all(data),
            Decoding::Gzip(d) => write_members(d, data),
            Decoding::Zlib(d) => d.write_all(data),
            Decoding::Deflate(d) => d.write_all(data),
            Decoding::Brotli(d) => d.write_all(data),
            Decoding::Zstd(d) => d.write_all(data),
            Decoding::DeflatePending { .. } => unreachable!("settled above"),
        };
        result.map_err(|e| self.error(e))
    }

    /// The body decoded so far.
    pub(super) fn decoded(&mut self) -> Result<&[u8]> {
        // A decoder keeps what it decoded from the last piece until it is
        // flushed or given the next.
        let flushed = match &mut self.decoding {
            Decoding::Identity(_) | Decoding::DeflatePending { .. } => Ok(()),
            Decoding::Gzip(d) => d.flush(),
            Decoding::Zlib(d) => d.flush(),
            Decoding::Deflate(d) => d.flush(),
            Decoding::Brotli(d) => d.flush(),
            Decoding::Zstd(d) => d.flush(),
        };
        flushed.map_err(|e| self.error(e))?;
        Ok(match &self.decoding {
            Decoding::Identity(sink) | Decoding::DeflatePending { sink, .. } => &sink.buf,
            Decoding::Gzip(d) => &d.get_ref().buf,
            Decoding::Zlib(d) => &d.get_ref().buf,
            Decoding::Deflate(d) => &d.get_ref().buf,
            Decoding::Brotli(d) => &d.get_ref().buf,
            Decoding::Zstd(d) => &d.writer().buf,
        })
    }

    /// The body decoded so far, where it is UTF-8 as it stands (see
    /// [`Charset::plain`]): a body in another encoding is read once whole.
    pub(super) fn readable(&mut self) -> Result<Option<&[u8]>> {
        let charset = self.charset;
        let decoded = self.decoded()?;
        let gzip_file = decoded.starts_with(&GZIP_MAGIC);
        Ok((charset.plain(decoded) && !gzip_file).then_some(decoded))
    }

    pub(super) fn finish(self) -> Result<Vec<u8>> {
        let url = self.url;
        let charset = self.charset;
        let cap = self.cap;
        let fail = |e: std::io::Error| decode_error(e, url, cap);
        let decoding = match self.decoding {
            // One byte of deflate is no stream: the raw decoder says so.
            Decoding::DeflatePending { sink, head } if !head.is_empty() => {
                let mut raw = flate2::write::DeflateDecoder::new(sink);
                raw.write_all(&head).map_err(fail)?;
                Decoding::Deflate(raw)
            }
            decoding => decoding,
        };
        let sink = match decoding {
            Decoding::Identity(sink) | Decoding::DeflatePending { sink, .. } => sink,
            Decoding::Gzip(d) => d.finish().map_err(fail)?,
            Decoding::Zlib(d) => d.finish().map_err(fail)?,
            Decoding::Deflate(d) => d.finish().map_err(fail)?,
            Decoding::Brotli(d) => d.into_inner().map_err(|_| {
                Error::data(format!(
                    "response from {url}: the br body is truncated or corrupt"
                ))
            })?,
            Decoding::Zstd(mut d) => {
                d.finish().map_err(|e| {
                    Error::data(format!(
                        "response from {url}: the zstd body is truncated or corrupt ({e})"
                    ))
                })?;
                d.into_inner().0
            }
        };
        let body = sink.into_body();
        let body = match body.starts_with(&GZIP_MAGIC) {
            true => gzip_file(&body, url, cap)?,
            false => body,
        };
        // Text in another encoding may grow as it becomes UTF-8 (a byte of
        // windows-1252 can take three): the cap holds for the text parsed.
        let text = charset.to_utf8(body, url)?;
        if text.len() as u64 > cap {
            return Err(decode_error(std::io::Error::other(CapExceeded), url, cap));
        }
        Ok(text)
    }

    pub(super) fn error(&self, e: std::io::Error) -> Error {
        decode_error(e, self.url, self.cap)
    }
}

/// A body decoded as [`Client`]'s responses are, without the network:
/// `headers` as the server sent them, the body in `pieces` as they arrive.
/// With `look`, the body so far is read after each piece, as a run reads
/// it for an early next link; each such look is returned beside the body.
pub(crate) fn decode_pieces(
    headers: &HeaderMap,
    pieces: &[&[u8]],
    look: bool,
    cap: u64,
) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut decoder = Decoder::new(headers, cap, "http://fuzz.invalid/")?;
    let mut looks = Vec::new();
    for piece in pieces {
        decoder.write(piece)?;
        if look && let Some(so_far) = decoder.readable()? {
            looks.push(so_far.to_vec());
        }
    }
    Ok((decoder.finish()?, looks))
}

/// The decoder of a `deflate` body that starts with `head`: RFC 9110's
/// deflate is zlib-wrapped, but some servers send it raw.
fn deflate_of(sink: Capped, head: &[u8]) -> Decoding {
    let zlib = head[0] & 0x0f == 8 && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
    if zlib {
        Decoding::Zlib(flate2::write::ZlibDecoder::new(sink))
    } else {
        Decoding::Deflate(flate2::write::DeflateDecoder::new(sink))
    }
}

/// Writes `data` into a gzip decoder. RFC 1952 lets a body hold several
/// members, one after another, which `gzip -d` reads whole (curl keeps
/// the first alone): a new member starts where one ends. Anything else
/// after a member is refused.
fn write_members(
    decoder: &mut flate2::write::GzDecoder<Capped>,
    mut data: &[u8],
) -> std::io::Result<()> {
    while !data.is_empty() {
        match decoder.write(data)? {
            0 if data[0] == 0x1f && data.get(1).is_none_or(|&b| b == 0x8b) => {
                let ended =
                    std::mem::replace(decoder, flate2::write::GzDecoder::new(Capped::new(0, 0)));
                *decoder = flate2::write::GzDecoder::new(ended.finish()?);
            }
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            written => data = &data[written..],
        }
    }
    Ok(())
}

/// The bytes a gzip file starts with.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A body that is a gzip file itself, served with no Content-Encoding (an
/// export's `.json.gz` as `application/gzip`) or with one that a server
/// added on top: no JSON text starts with 0x1f, so it is read decoded,
/// its members whole, within the cap.
fn gzip_file(body: &[u8], url: &str, cap: u64) -> Result<Vec<u8>> {
    let fail = |e: std::io::Error| decode_error(e, url, cap);
    let mut decoder = flate2::write::GzDecoder::new(Capped::new(body.len(), cap));
    write_members(&mut decoder, body).map_err(fail)?;
    Ok(decoder.finish().map_err(fail)?.into_body())
}

pub(super) fn decode_error(e: std::io::Error, url: &str, cap: u64) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<CapExceeded>()) {
        Error::data(format!(
            "response from {url} exceeds limits.max_response ({cap} bytes decoded)"
        ))
    } else if e.kind() == std::io::ErrorKind::WriteZero {
        // A decoder takes no more once its stream has ended.
        Error::data(format!(
            "response from {url} could not be decoded: bytes follow the end of the compressed \
             stream"
        ))
    } else {
        Error::data(format!("response from {url} could not be decoded: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    }

    /// A brotli stream of `text` in stored meta-blocks (RFC 7932, 9.2):
    /// the format's plain form, which the decoder reads through the same
    /// state machine as compressed blocks. No brotli encoder is needed.
    fn brotli_stored(text: &[u8]) -> Vec<u8> {
        let mut bits = Bits::default();
        bits.put(0, 1); // WBITS: 16
        for block in text.chunks(1 << 16) {
            bits.put(0, 1); // ISLAST
            bits.put(0, 2); // MNIBBLES: 4
            bits.put(block.len() as u64 - 1, 16); // MLEN - 1
            bits.put(1, 1); // ISUNCOMPRESSED
            bits.used = 0; // to the byte boundary
            bits.bytes.extend_from_slice(block);
        }
        bits.put(0b11, 2); // ISLAST, ISLASTEMPTY
        bits.bytes
    }

    /// Bits packed from the least significant, as brotli reads them.
    #[derive(Default)]
    struct Bits {
        bytes: Vec<u8>,
        /// Bits taken of the last byte; 0 when it is full or there is none.
        used: u32,
    }

    impl Bits {
        fn put(&mut self, value: u64, count: u32) {
            for i in 0..count {
                if self.used == 0 {
                    self.bytes.push(0);
                }
                let last = self.bytes.last_mut().expect("a byte was pushed");
                *last |= (((value >> i) & 1) as u8) << self.used;
                self.used = (self.used + 1) % 8;
            }
        }
    }

    /// A body of repeated words (so that it compresses), maybe after a
    /// byte order mark or the first bytes of one.
    fn text(next: &mut impl FnMut() -> u64) -> Vec<u8> {
        let words: [&[u8]; 6] = [
            b"{\"id\":",
            b"1234",
            b"\"caf\xc3\xa9\"",
            b"},",
            b" ",
            b"null",
        ];
        let mut text = [&[][..], &BOM[..], &BOM[..2], &BOM[..1]][(next() % 4) as usize].to_vec();
        // None, a few or many: a body can end inside the mark.
        let count = [0, 1, 3, next() % 400][(next() % 4) as usize];
        for _ in 0..count {
            text.extend_from_slice(words[(next() % 6) as usize]);
        }
        text
    }

    /// Bodies in every encoding (brotli's stored blocks, gzip of several
    /// members and zstd of several frames too), cut into
    /// pieces of any size (none, one byte, more): each piece's decoded
    /// text is the start of what was sent, and the whole is what was sent,
    /// less a leading byte order mark.
    #[test]
    fn bodies_cut_anywhere_decode_to_what_was_sent() {
        let mut next = crate::json::xorshift(0x3c6e_f372_fe94_f82b);
        for round in 0..400 {
            let text = text(&mut next);
            let cut = (next() % (text.len() as u64 + 1)) as usize;
            let zstd = |text: &[u8]| zstd::encode_all(text, 3).unwrap();
            let (encoding, body) = match round % 8 {
                0 => ("", text.clone()),
                1 => ("gzip", gzip(&text)),
                2 => ("gzip", [gzip(&text[..cut]), gzip(&text[cut..])].concat()),
                3 => {
                    let mut zlib = ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                    zlib.write_all(&text).unwrap();
                    ("deflate", zlib.finish().unwrap())
                }
                4 => {
                    let mut raw = DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                    raw.write_all(&text).unwrap();
                    ("deflate", raw.finish().unwrap())
                }
                5 => ("br", brotli_stored(&text)),
                6 => ("zstd", zstd(&text)),
                7 => ("zstd", [zstd(&text[..cut]), zstd(&text[cut..])].concat()),
                _ => unreachable!("eight bodies"),
            };
            let mut headers = HeaderMap::new();
            if !encoding.is_empty() {
                headers.insert(http::header::CONTENT_ENCODING, encoding.parse().unwrap());
            }
            let expected = text.strip_prefix(&BOM[..]).unwrap_or(&text);
            let said = format!("round {round}: {encoding}, {} bytes", text.len());
            let mut decoder = Decoder::new(&headers, u64::MAX, "http://api/x").unwrap();
            let mut rest = &body[..];
            while !rest.is_empty() {
                let size = [0, 1, 2, 3, 7, 64, 1000][(next() % 7) as usize].min(rest.len());
                let (piece, after) = rest.split_at(size);
                rest = after;
                decoder
                    .write(piece)
                    .unwrap_or_else(|e| panic!("{said}: {e}"));
                let so_far = decoder.decoded().unwrap_or_else(|e| panic!("{said}: {e}"));
                assert!(expected.starts_with(so_far), "{said}");
            }
            let whole = decoder.finish().unwrap_or_else(|e| panic!("{said}: {e}"));
            assert_eq!(whole, expected, "{said}");
        }
    }

    /// What a run reads of a body before it is whole is the start of the
    /// body it becomes: never the first byte of a gzip file or the bytes
    /// of a UTF-16 text, which are made into other text at the end.
    #[test]
    fn a_look_at_a_body_so_far_is_the_start_of_the_body() {
        let text = br#"{"data":[{"id":1}],"next":"http://api/x?page=2"}"#;
        let utf16 = |text: &[u8]| -> Vec<u8> { text.iter().flat_map(|&b| [b, 0]).collect() };
        let bodies = [
            gzip(text),
            [&[0xff, 0xfe][..], &utf16(text)].concat(),
            utf16(text),
            text.to_vec(),
        ];
        for body in bodies {
            let pieces: Vec<&[u8]> = body.chunks(1).collect();
            let (whole, looks) = decode_pieces(&HeaderMap::new(), &pieces, true, u64::MAX).unwrap();
            assert_eq!(whole, text, "{body:?}");
            for look in looks {
                assert!(whole.starts_with(&look), "{body:?}: a look at {look:?}");
            }
        }
        // A plain body is looked at as it arrives.
        let pieces: Vec<&[u8]> = text.chunks(8).collect();
        let (_, looks) = decode_pieces(&HeaderMap::new(), &pieces, true, u64::MAX).unwrap();
        assert_eq!(looks.len(), pieces.len());
        assert_eq!(looks[1], &text[..16]);
    }

    /// The cap holds for the text parsed: a body in another encoding that
    /// grows past it as it becomes UTF-8 is refused.
    #[test]
    fn the_cap_holds_for_a_body_made_utf8() {
        let body = [&b"[\""[..], &[0x80; 30], b"\"]"].concat();
        let mut headers = HeaderMap::new();
        let labelled = "application/json; charset=windows-1252";
        headers.insert(http::header::CONTENT_TYPE, labelled.parse().unwrap());
        let decode = |cap| decode_pieces(&headers, &[&body], false, cap).map(|(text, _)| text);
        let text = decode(94).unwrap();
        assert_eq!(
            text,
            format!("[\"{}\"]", "\u{20ac}".repeat(30)).into_bytes()
        );
        let error = decode(93).expect_err("94 bytes of UTF-8 past a cap of 93");
        assert_eq!(
            error.to_string(),
            "response from http://fuzz.invalid/ exceeds limits.max_response (93 bytes decoded)"
        );
    }

    /// A br body cut short is an error that names the URL, never a
    /// shorter page.
    #[test]
    fn a_truncated_br_body_is_an_error_naming_the_url() {
        let text = br#"{"data":[{"id":1},{"id":2}]}"#;
        let body = brotli_stored(text);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_ENCODING, "br".parse().unwrap());
        for cut in [1, 4, body.len() / 2, body.len() - 1] {
            let mut decoder = Decoder::new(&headers, u64::MAX, "http://api/x").unwrap();
            decoder.write(&body[..cut]).unwrap();
            let error = decoder.finish().expect_err("a cut body");
            assert_eq!(
                error.to_string(),
                "response from http://api/x: the br body is truncated or corrupt",
                "cut at {cut}"
            );
        }
    }

    /// A zstd body cut short, followed by bytes that are no frame, or
    /// asking for a window past 8 MiB, is an error that names the URL,
    /// never a shorter page.
    #[test]
    fn a_truncated_or_oversized_zstd_body_is_an_error_naming_the_url() {
        let text = br#"{"data":[{"id":1},{"id":2}]}"#.repeat(50);
        let body = zstd::encode_all(&text[..], 3).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_ENCODING, "zstd".parse().unwrap());
        let decode = |body: &[u8]| {
            let mut decoder = Decoder::new(&headers, u64::MAX, "http://api/x")?;
            decoder.write(body)?;
            decoder.finish()
        };
        assert_eq!(decode(&body).unwrap(), text);
        for cut in [1, 4, body.len() / 2, body.len() - 1] {
            let error = decode(&body[..cut]).expect_err("a cut body").to_string();
            assert!(
                error.starts_with("response from http://api/x: the zstd body is truncated"),
                "cut at {cut}: {error}"
            );
        }
        let trailing = [&body[..], b"{\"id\":3}"].concat();
        let error = decode(&trailing).expect_err("bytes after the frame");
        assert!(error.to_string().contains("http://api/x"), "{error}");
        // A frame that asks for a 16 MiB window.
        let mut encoder = zstd::stream::raw::Encoder::new(3).unwrap();
        encoder
            .set_parameter(zstd::zstd_safe::CParameter::WindowLog(24))
            .unwrap();
        let mut wide = zstd::stream::zio::Writer::new(Vec::new(), encoder);
        wide.write_all(&vec![b'a'; 20 << 20]).unwrap();
        wide.finish().unwrap();
        let error = decode(&wide.into_inner().0).expect_err("a window past 8 MiB");
        assert!(error.to_string().contains("http://api/x"), "{error}");
        // The cap holds too.
        let mut decoder = Decoder::new(&headers, 100, "http://api/x").unwrap();
        let capped = decoder
            .write(&body)
            .and_then(|()| decoder.finish().map(|_| ()));
        assert!(
            capped
                .unwrap_err()
                .to_string()
                .contains("exceeds limits.max_response"),
        );
    }
}
