//! A gzip output, written as members (RFC 1952 §2.2): each flush ends the
//! member written so far. A checkpoint flushes, so the bytes it counts are
//! whole members, and `--resume` adds new members after them. `gzip -d`,
//! zcat and Python's gzip read the members as one text.

use std::io::{self, Write};

use flate2::Compression;
use flate2::write::GzEncoder;

/// Writes gzip members into `inner`, one from the first write after a
/// flush to the next flush.
pub(super) struct Members<W: Write> {
    /// The member being written; `None` between a flush and a write.
    member: Option<GzEncoder<W>>,
    /// `inner` between members.
    idle: Option<W>,
    level: Compression,
}

impl<W: Write> Members<W> {
    pub(super) fn new(inner: W, level: u32) -> Members<W> {
        Members {
            member: None,
            idle: Some(inner),
            level: Compression::new(level),
        }
    }

    fn member(&mut self) -> io::Result<&mut GzEncoder<W>> {
        if self.member.is_none() {
            let inner = self.idle.take().ok_or_else(broken)?;
            self.member = Some(GzEncoder::new(inner, self.level));
        }
        self.member.as_mut().ok_or_else(broken)
    }
}

/// A member whose end failed leaves no writer to go on with.
fn broken() -> io::Error {
    io::Error::other("the gzip output failed earlier")
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

    fn decoded(bytes: &[u8]) -> String {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn each_flush_ends_a_member_and_the_members_read_as_one_text() {
        let mut out = Members::new(Vec::new(), 6);
        out.write_all(b"{\"id\":1}\n").unwrap();
        out.flush().unwrap();
        let first = out.idle.as_ref().unwrap().len();
        // A whole member: it reads alone, as a resumed file's start does.
        assert_eq!(
            decoded(&out.idle.as_ref().unwrap()[..first]),
            "{\"id\":1}\n"
        );
        // A flush with nothing written adds no member.
        out.flush().unwrap();
        assert_eq!(out.idle.as_ref().unwrap().len(), first);
        out.write_all(b"{\"id\":2}\n").unwrap();
        out.flush().unwrap();
        let bytes = out.idle.take().unwrap();
        assert!(bytes.len() > first);
        assert_eq!(&bytes[first..first + 2], &[0x1f, 0x8b], "a second member");
        assert_eq!(decoded(&bytes), "{\"id\":1}\n{\"id\":2}\n");
    }
}
