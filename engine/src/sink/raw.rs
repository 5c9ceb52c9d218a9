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

impl Sink for RawSink {
    fn page(&mut self, page: &PageOut<'_>) -> io::Result<()> {
        let body = page.body;
        let mut start = 0;
        for (i, &b) in body.iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.out.writer.write_all(&body[start..i])?;
                start = i + 1;
            }
        }
        self.out.writer.write_all(&body[start..])?;
        self.out.writer.write_all(b"\n")
    }

    fn checkpoint(&mut self) -> io::Result<Mark> {
        self.out.checkpoint()
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.out.commit()
    }
}
