//! A writer on a thread of its own. The run loop hands it bytes and goes
//! on; the thread makes the system calls. In a followed run the loop
//! sends each next request, so time it spends in `write` is time the
//! chain of requests waits.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use super::file::{Thread, Work};

/// Chunks queued at most. A chunk is a page's output, or [`GATHERED`]
/// bytes of smaller writes. So the queue holds a few MB at most, whatever
/// the disk's pace.
const QUEUED: usize = 4;

/// Bytes of small writes (a CSV header, the rows of a sink that encodes
/// in place) gathered into one chunk.
const GATHERED: usize = 256 * 1024;

enum Chunk {
    Bytes(Vec<u8>),
    /// Answered once every chunk before it is written and flushed.
    Flush(Sender<()>),
}

/// Writes to `inner` on a thread. A failure of the thread is answered by
/// the next `write` or `flush`, so it is never lost: a flush answers only
/// once every byte before it is written.
pub(crate) struct Behind {
    chunks: Option<SyncSender<Chunk>>,
    thread: Option<Thread>,
    /// Small writes not sent yet.
    gathered: Vec<u8>,
    /// Why the thread stopped, once it has: every later call answers it.
    failure: Option<(io::ErrorKind, String)>,
}

impl Behind {
    /// Has `spawn` start the thread that writes to `inner`.
    pub(crate) fn start(
        mut inner: Box<dyn Write + Send>,
        spawn: impl FnOnce(Work) -> io::Result<Thread>,
    ) -> io::Result<Behind> {
        let (chunks, queue) = sync_channel::<Chunk>(QUEUED);
        let thread = spawn(Box::new(move || write_all(&mut inner, queue)))?;
        Ok(Behind {
            chunks: Some(chunks),
            thread: Some(thread),
            gathered: Vec::new(),
            failure: None,
        })
    }

    /// Hands `bytes` to the thread whole, after what was gathered: a
    /// page's output is not copied.
    pub(crate) fn write_owned(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        self.send_gathered()?;
        if bytes.is_empty() {
            return Ok(());
        }
        self.send(Chunk::Bytes(bytes))
    }

    fn send_gathered(&mut self) -> io::Result<()> {
        if self.gathered.is_empty() {
            return Ok(());
        }
        let gathered = std::mem::take(&mut self.gathered);
        self.send(Chunk::Bytes(gathered))
    }

    fn send(&mut self, chunk: Chunk) -> io::Result<()> {
        let sent = self.chunks.as_ref().map(|chunks| chunks.send(chunk));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// Why the thread stopped: its error, or a stop without one. Kept, so
    /// that every call after answers the same.
    fn stopped(&mut self) -> io::Error {
        self.chunks = None;
        if let Some(thread) = self.thread.take() {
            let (kind, why) = match thread.join() {
                Ok(Err(e)) => (e.kind(), e.to_string()),
                Err(_) => (
                    io::ErrorKind::Other,
                    "the output's writer thread panicked".into(),
                ),
                Ok(Ok(())) => (
                    io::ErrorKind::Other,
                    "the output's writer thread has stopped".into(),
                ),
            };
            self.failure = Some((kind, why));
        }
        let (kind, why) = self.failure.clone().unwrap_or((
            io::ErrorKind::Other,
            "the output's writer thread has stopped".into(),
        ));
        io::Error::new(kind, why)
    }

    /// The thread's failure, if it has stopped: a small write, which is
    /// only gathered, answers it at once too.
    fn failed(&mut self) -> io::Result<()> {
        let finished = self.thread.as_ref().is_none_or(Thread::is_finished);
        if finished {
            Err(self.stopped())
        } else {
            Ok(())
        }
    }
}

/// The thread's work: every chunk written in order, until the queue
/// closes or a write fails.
fn write_all(inner: &mut dyn Write, queue: Receiver<Chunk>) -> io::Result<()> {
    for chunk in queue {
        match chunk {
            Chunk::Bytes(bytes) => inner.write_all(&bytes)?,
            Chunk::Flush(done) => {
                inner.flush()?;
                let _ = done.send(());
            }
        }
    }
    inner.flush()
}

impl Write for Behind {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.failed()?;
        if self.gathered.len() + buf.len() > GATHERED {
            self.send_gathered()?;
        }
        if buf.len() >= GATHERED {
            self.send(Chunk::Bytes(buf.to_vec()))?;
        } else {
            self.gathered.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_gathered()?;
        let (done, flushed) = channel();
        self.send(Chunk::Flush(done))?;
        // The answer is dropped unsent when the thread stops first.
        flushed.recv().map_err(|_| self.stopped())
    }
}

impl Drop for Behind {
    /// Sends what was gathered, as a buffer's drop does, and waits for
    /// the thread, so that nothing is written to the file once its owner
    /// goes on to remove or rename it.
    fn drop(&mut self) {
        let _ = self.send_gathered();
        self.chunks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn spawn(work: Work) -> io::Result<Thread> {
        std::thread::Builder::new().spawn(work)
    }

    /// Keeps what is written, and fails every write once `limit` bytes
    /// are kept.
    #[derive(Clone)]
    struct Kept {
        bytes: Arc<Mutex<Vec<u8>>>,
        limit: usize,
    }

    impl Write for Kept {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut bytes = self.bytes.lock().unwrap();
            if bytes.len() + buf.len() > self.limit {
                return Err(io::Error::other("no space left on the disk"));
            }
            bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn kept(limit: usize) -> Kept {
        Kept {
            bytes: Arc::default(),
            limit,
        }
    }

    #[test]
    fn bytes_arrive_in_order_by_each_flush_and_the_drop() {
        let inner = kept(usize::MAX);
        let mut behind = Behind::start(Box::new(inner.clone()), spawn).unwrap();
        let mut expected = Vec::new();
        for i in 0..200u32 {
            // Small writes gathered, large ones sent at once, and owned
            // ones, taking turns.
            let len = [i * 37 % 5000, GATHERED as u32 + i, i * 4099 % 300_000][i as usize % 3];
            let chunk: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
            expected.extend_from_slice(&chunk);
            if i % 4 == 3 {
                behind.write_owned(chunk).unwrap();
            } else {
                behind.write_all(&chunk).unwrap();
            }
            if i % 50 == 49 {
                behind.flush().unwrap();
                assert_eq!(*inner.bytes.lock().unwrap(), expected);
            }
        }
        drop(behind);
        assert_eq!(*inner.bytes.lock().unwrap(), expected);
    }

    #[test]
    fn a_failed_write_on_the_thread_is_answered_by_the_next_call() {
        // The flush answers the failure of a write it waited for.
        let mut behind = Behind::start(Box::new(kept(10)), spawn).unwrap();
        behind.write_all(b"0123456789abc").unwrap();
        let failed = behind.flush().unwrap_err();
        assert_eq!(failed.to_string(), "no space left on the disk");
        // And every call after it answers the same, small writes too.
        for _ in 0..2 {
            let again = behind.write_all(b"x").unwrap_err();
            assert_eq!(again.to_string(), "no space left on the disk");
            assert_eq!(behind.flush().unwrap_err().kind(), io::ErrorKind::Other);
            assert!(behind.write_owned(b"page".to_vec()).is_err());
        }

        // A write after the thread stopped answers its error.
        let mut behind = Behind::start(Box::new(kept(10)), spawn).unwrap();
        behind.write_all(b"0123456789abc").unwrap();
        let failed = loop {
            match behind.write_all(b"more") {
                Ok(()) => std::thread::yield_now(),
                Err(e) => break e,
            }
        };
        assert_eq!(failed.to_string(), "no space left on the disk");
    }
}
