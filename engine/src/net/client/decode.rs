//! Response bodies decoded (gzip, deflate, br) into one buffer, with a cap
//! on the decoded bytes.

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
    /// `deflate` whose first bytes have not arrived: zlib-wrapped or raw.
    DeflatePending(Capped),
}

pub(super) struct Decoder<'u> {
    pub(super) decoding: Decoding,
    pub(super) url: &'u str,
    pub(super) cap: u64,
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
                "deflate" => Decoding::DeflatePending(sink),
                "br" => Decoding::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                    sink,
                    64 * 1024,
                ))),
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
        Ok(Decoder { decoding, url, cap })
    }

    pub(super) fn write(&mut self, data: &[u8]) -> Result<()> {
        if let Decoding::DeflatePending(sink) = &mut self.decoding {
            let sink = std::mem::replace(sink, Capped::new(0, 0));
            // RFC 9110's deflate is zlib-wrapped; some servers send it raw.
            let zlib = data.len() >= 2
                && data[0] & 0x0f == 8
                && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0;
            self.decoding = if zlib {
                Decoding::Zlib(flate2::write::ZlibDecoder::new(sink))
            } else {
                Decoding::Deflate(flate2::write::DeflateDecoder::new(sink))
            };
        }
        let result = match &mut self.decoding {
            Decoding::Identity(sink) => sink.write_all(data),
            Decoding::Gzip(d) => write_members(d, data),
            Decoding::Zlib(d) => d.write_all(data),
            Decoding::Deflate(d) => d.write_all(data),
            Decoding::Brotli(d) => d.write_all(data),
            Decoding::DeflatePending(_) => unreachable!("replaced above"),
        };
        result.map_err(|e| self.error(e))
    }

    /// The body decoded so far.
    pub(super) fn decoded(&mut self) -> Result<&[u8]> {
        // A decoder keeps what it decoded from the last piece until it is
        // flushed or given the next.
        let flushed = match &mut self.decoding {
            Decoding::Identity(_) | Decoding::DeflatePending(_) => Ok(()),
            Decoding::Gzip(d) => d.flush(),
            Decoding::Zlib(d) => d.flush(),
            Decoding::Deflate(d) => d.flush(),
            Decoding::Brotli(d) => d.flush(),
        };
        flushed.map_err(|e| self.error(e))?;
        Ok(match &self.decoding {
            Decoding::Identity(sink) | Decoding::DeflatePending(sink) => &sink.buf,
            Decoding::Gzip(d) => &d.get_ref().buf,
            Decoding::Zlib(d) => &d.get_ref().buf,
            Decoding::Deflate(d) => &d.get_ref().buf,
            Decoding::Brotli(d) => &d.get_ref().buf,
        })
    }

    pub(super) fn finish(self) -> Result<Vec<u8>> {
        let url = self.url;
        let cap = self.cap;
        let fail = |e: std::io::Error| decode_error(e, url, cap);
        let sink = match self.decoding {
            Decoding::Identity(sink) | Decoding::DeflatePending(sink) => sink,
            Decoding::Gzip(d) => d.finish().map_err(fail)?,
            Decoding::Zlib(d) => d.finish().map_err(fail)?,
            Decoding::Deflate(d) => d.finish().map_err(fail)?,
            Decoding::Brotli(d) => d.into_inner().map_err(|_| {
                Error::data(format!(
                    "response from {url}: the br body is truncated or corrupt"
                ))
            })?,
        };
        Ok(sink.buf)
    }

    pub(super) fn error(&self, e: std::io::Error) -> Error {
        decode_error(e, self.url, self.cap)
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
