//! A Parquet output's encoder on a thread of its own: the read loop
//! gathers a page's rows into Arrow batches, and the row groups are
//! encoded and compressed beside it while the next pages are fetched.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;

use crate::sink::parquet::{Encoder, InPlace};

/// Batches queued at most: the loop waits past them, so memory stays
/// bounded whatever the encoder's pace. A batch is a page's rows (made on
/// the page workers) or a chunk of 8192 rows: a few MB at most each.
const QUEUED: usize = 8;

/// An [`Encoder`] running an [`InPlace`] one on its own thread.
pub(crate) struct OnThread {
    sender: Option<SyncSender<RecordBatch>>,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// Set when the sink is dropped unfinished (a failed or interrupted
    /// run): the thread then stops without writing the footer, so no
    /// output is committed looking complete.
    abandoned: Arc<AtomicBool>,
}

impl OnThread {
    pub(crate) fn start(mut encoder: InPlace) -> io::Result<OnThread> {
        let (sender, batches) = sync_channel::<RecordBatch>(QUEUED);
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = abandoned.clone();
        let thread = std::thread::Builder::new()
            .name("hydrant-parquet".into())
            .spawn(move || {
                for batch in batches {
                    encoder.write(batch)?;
                }
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                Box::new(encoder).finish()
            })?;
        Ok(OnThread {
            sender: Some(sender),
            thread: Some(thread),
            abandoned,
        })
    }

    /// Waits for the thread, and gives its outcome.
    fn join(&mut self) -> io::Result<()> {
        self.sender = None;
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the Parquet encoder panicked"))),
            None => Ok(()),
        }
    }
}

impl Encoder for OnThread {
    fn write(&mut self, batch: RecordBatch) -> io::Result<()> {
        let sent = self.sender.as_ref().map(|s| s.send(batch));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread stopped: its error says why.
            _ => match self.join() {
                Err(e) => Err(e),
                Ok(()) => Err(io::Error::other("the Parquet encoder stopped early")),
            },
        }
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.join()
    }
}

impl Drop for OnThread {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.abandoned.store(true, Ordering::SeqCst);
            let _ = self.join();
        }
    }
}
