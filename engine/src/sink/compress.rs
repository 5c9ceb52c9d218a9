//! A compressed output, written as gzip members (RFC 1952 §2.2) or zstd
//! frames (RFC 8878 §3.1): each flush ends the one written so far. A
//! checkpoint flushes, so the bytes it counts are whole members or
//! frames, and `--resume` adds new ones after them. `gzip -d`, `zstd -d`,
//! zcat and DuckDB read them as one text.

use std::io::{self, Write};

use flate2::write::GzEncoder;

use crate::job::Compression;

/// Writes members or frames into `inner`, one from the first write after
/// a flush to the next flush.
pub(super) struct Members<W: Write> {
    /// The member being written; `None` between a flush and a write.
    member: Option<Member<W>>,
    /// `inner` between members.
    idle: Option<W>,
    compression: Compression,
}

/// One gzip member or zstd frame being written.
enum Member<W: Write> {
    Gzip(GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Member<W> {
    fn start(inner: W, compression: Compression) -> io::Result<Member<W>> {
        Ok(match compression {
            Compression::Gzip(level) => {
                Member::Gzip(GzEncoder::new(inner, flate2::Compression::new(level)))
            }
            Compression::Zstd(level) => {
                let mut encoder = zstd::stream::write::Encoder::new(inner, level)?;
                // A frame that was cut or changed fails `zstd -d`.
                encoder.include_checksum(true)?;
                Member::Zstd(encoder)
            }
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Member::Gzip(member) => member.finish(),
            Member::Zstd(frame) => frame.finish(),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Member::Gzip(member) => member.write(buf),
            Member::Zstd(frame) => frame.write(buf),
        }
    }
}

impl<W: Write> Members<W> {
    pub(super) fn new(inner: W, compression: Compression) -> Members<W> {
        Members {
            member: None,
            idle: Some(inner),
            compression,
        }
    }

    fn member(&mut self) -> io::Result<&mut Member<W>> {
        if self.member.is_none() {
            let inner = self.idle.take().ok_or_else(broken)?;
            self.member = Some(Member::start(inner, self.compression)?);
        }
        self.member.as_mut().ok_or_else(broken)
    }
}

/// A member whose start or end failed leaves no writer to go on with.
fn broken() -> io::Error {
    io::Error::other("the compressed output failed earlier")
}

impl<W: Write> Write for Members<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.member()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(member) = self.member.take() {
            self.idle = Some(member.finish()?);
        }
        self.idle.as_mut().ok_or_else(broken)?.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn decoded(bytes: &[u8], compression: Compression) -> String {
        let mut text = String::new();
        match compression {
            Compression::Gzip(_) => flate2::read::MultiGzDecoder::new(bytes)
                .read_to_string(&mut text)
                .unwrap(),
            Compression::Zstd(_) => zstd::stream::read::Decoder::new(bytes)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap(),
        };
        text
    }

    #[test]
    fn each_flush_ends_a_member_and_the_members_read_as_one_text() {
        for (compression, magic) in [
            (Compression::Gzip(6), &[0x1f, 0x8b][..]),
            (Compression::Zstd(3), &[0x28, 0xb5, 0x2f, 0xfd][..]),
        ] {
            let mut out = Members::new(Vec::new(), compression);
            out.write_all(b"{\"id\":1}\n").unwrap();
            out.flush().unwrap();
            let first = out.idle.as_ref().unwrap().len();
            // A whole member: it reads alone, as a resumed file's start does.
            assert_eq!(
                decoded(&out.idle.as_ref().unwrap()[..first], compression),
                "{\"id\":1}\n"
            );
            // A flush with nothing written adds no member.
            out.flush().unwrap();
            assert_eq!(out.idle.as_ref().unwrap().len(), first);
            out.write_all(b"{\"id\":2}\n").unwrap();
            out.flush().unwrap();
            let bytes = out.idle.take().unwrap();
            assert!(bytes.len() > first);
            let second = &bytes[first..first + magic.len()];
            assert_eq!(second, magic, "a second member of {compression:?}");
            assert_eq!(decoded(&bytes, compression), "{\"id\":1}\n{\"id\":2}\n");
            if let Compression::Zstd(_) = compression {
                // The frame header's Content_Checksum_flag (RFC 8878 §3.1.1.1.1).
                assert_eq!(bytes[4] & 0b100, 0b100, "each frame ends in a checksum");
            }
        }
    }
}
