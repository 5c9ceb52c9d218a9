//! `raw`: each response body as it came, one a line.

use super::*;

/// Each response body as is, one per line (line breaks, which valid JSON
/// holds only between tokens, are dropped).
#[derive(Debug)]
pub(crate) struct RawSink {
    out: Destination,
}

impl RawSink {
    pub(crate) fn new(out: Destination) -> RawSink {
        RawSink { out }
    }
}

/// `body` without its line breaks, shifted in place: most bodies have
/// none, and are given back as they are, without a copy.
pub(crate) fn without_line_breaks(mut body: Vec<u8>) -> Vec<u8> {
    let Some(first) = memchr::memchr2(b'\n', b'\r', &body) else {
        return body;
    };
    let mut kept = first;
    let mut from = first + 1;
    while from < body.len() {
        let to = memchr::memchr2(b'\n', b'\r', &body[from..]).map_or(body.len(), |at| from + at);
        body.copy_within(from..to, kept);
        kept += to - from;
        from = to + 1;
    }
    body.truncate(kept);
    body
}

impl Sink for RawSink {
    /// A page read on the run loop, which keeps its body: copied once.
    fn page(&mut self, page: &PageOut<'_>) -> io::Result<()> {
        self.encoded(without_line_breaks(page.body.to_vec()))
    }

    /// A body a page maker took the line breaks out of: the line ends
    /// here.
    fn encoded(&mut self, body: Vec<u8>) -> io::Result<()> {
        self.out.writer.write_owned(body)?;
        self.out.writer.write_all(b"\n")
    }

    fn checkpoint(&mut self) -> io::Result<Mark> {
        self.out.checkpoint()
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.out.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_are_dropped_wherever_they_are() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"{\"a\":1}", b"{\"a\":1}"),
            (b"{\n  \"a\": 1\n}\n", b"{  \"a\": 1}"),
            (b"\r\n{\"a\":\r\n1}\r\n", b"{\"a\":1}"),
            (b"\n\n\n", b""),
            (b"[1,\n2,\r3]", b"[1,2,3]"),
            (b"", b""),
        ];
        for (body, kept) in cases {
            assert_eq!(
                without_line_breaks(body.to_vec()),
                kept,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
