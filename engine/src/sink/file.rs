//! The byte stream under a sink: stdout, a device or pipe written in
//! place, or a file written as `PATH.partial` and renamed into place when
//! the run succeeds.
//!
//! Invariant: a `.partial` file is created anew (never through a link
//! planted at its name) and locked while a run writes it, so two runs
//! never interleave in one output; the rename goes only over a regular file
//! or nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::behind::Behind;
use crate::job::Compression;

/// What a checkpoint counts on of a file output: its length, and a digest
/// (CRC-32) of its bytes up to there, kept as they are written, so that
/// `--resume` can tell the file it finds is the one it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub length: u64,
    pub digest: u32,
}

/// The digest of a file's bytes, kept as they are written once a run
/// checkpoints the file; `None` before, as nothing would read it.
type Digest = Arc<Mutex<Option<crc32fast::Hasher>>>;

/// A file whose bytes are digested as they are written.
struct Digested {
    file: Box<dyn Write + Send>,
    digest: Digest,
    writeback: Arc<Writeback>,
    /// Bytes written since the last step of the writeback.
    unsynced: u64,
}

impl Write for Digested {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf)?;
        if let Some(digest) = lock_or_poisoned(&self.digest).as_mut() {
            digest.update(&buf[..written]);
        }
        self.unsynced += written as u64;
        if self.unsynced >= WRITEBACK_STEP {
            self.unsynced = 0;
            self.writeback.step();
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Bytes written between two syncs of a file output while a run goes on.
const WRITEBACK_STEP: u64 = 32 * 1024 * 1024;

/// Work for a thread of [`Destination::sync_as_written`], and its start.
pub(crate) type Work = Box<dyn FnOnce() -> io::Result<()> + Send>;
pub(crate) type Thread = std::thread::JoinHandle<io::Result<()>>;

/// Syncs a file output on a thread as the run writes it, so that the sync
/// before the file is renamed into place waits for the last bytes only,
/// not for all of them: the kernel would hold a run's output in memory
/// until then, and writing it out took a quarter of a run's time. The
/// thread's failure is the output's, reported at the next checkpoint or
/// at the end, as a sync's own would be.
///
/// A file written past the page cache has nothing waiting in the cache:
/// its thread is the lane its chunks go to the disk on (see `direct.rs`).
#[derive(Debug, Default)]
struct Writeback {
    /// Told each time another step of bytes is written; taken to stop the
    /// thread.
    due: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    thread: Mutex<Option<Thread>>,
    /// Where the lane of a file written past the page cache appears.
    lane: Option<LaneSlot>,
}

impl Writeback {
    /// Has `spawn` start a thread that calls `sync` after each step of
    /// bytes written, once for the steps written meanwhile, until a call
    /// fails.
    fn start(
        &self,
        mut sync: impl FnMut() -> io::Result<()> + Send + 'static,
        spawn: impl FnOnce(Work) -> io::Result<Thread>,
    ) -> io::Result<()> {
        let (due, steps) = std::sync::mpsc::channel::<()>();
        let thread = spawn(Box::new(move || {
            while steps.recv().is_ok() {
                while steps.try_recv().is_ok() {}
                sync()?;
            }
            Ok(())
        }))?;
        *lock_or_poisoned(&self.due) = Some(due);
        *lock_or_poisoned(&self.thread) = Some(thread);
        Ok(())
    }

    /// Another step of bytes is written.
    fn step(&self) {
        let mut due = lock_or_poisoned(&self.due);
        // A thread that has stopped has failed: `failed` or `finish`
        // reports it.
        if due.as_ref().is_some_and(|due| due.send(()).is_err()) {
            *due = None;
        }
    }

    /// The thread's failure, if it has stopped.
    fn failed(&self) -> io::Result<()> {
        let finished = lock_or_poisoned(&self.thread)
            .as_ref()
            .is_some_and(Thread::is_finished);
        if finished { self.finish() } else { Ok(()) }
    }

    /// Stops the thread and answers its failure if it had one.
    fn finish(&self) -> io::Result<()> {
        lock_or_poisoned(&self.due).take();
        // A lane its writer never took (an output under one chunk) ends
        // once its ends are dropped.
        #[cfg(target_os = "linux")]
        if let Some(slot) = &self.lane {
            lock_or_poisoned(slot).take();
        }
        let thread = lock_or_poisoned(&self.thread).take();
        match thread.map(Thread::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(io::Error::other("the output's writeback thread panicked")),
        }
    }
}

fn lock_or_poisoned<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a destination's bytes go out.
pub(super) enum Writer {
    Buffered(BufWriter<Box<dyn Write + Send>>),
    /// A file output of a run: written on a thread of its own.
    Behind(Behind),
}

impl Writer {
    /// Writes `bytes`; handed to the thread whole when there is one.
    pub(super) fn write_owned(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        match self {
            Writer::Buffered(buffered) => buffered.write_all(&bytes),
            Writer::Behind(behind) => behind.write_owned(bytes),
        }
    }

    fn closed() -> Writer {
        Writer::Buffered(BufWriter::new(Box::new(io::sink())))
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Buffered(buffered) => buffered.write(buf),
            Writer::Behind(behind) => behind.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Writer::Buffered(buffered) => buffered.write_all(buf),
            Writer::Behind(behind) => behind.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Writer::Buffered(buffered) => buffered.flush(),
            Writer::Behind(behind) => behind.flush(),
        }
    }
}

/// The byte stream under a sink.
pub(crate) struct Destination {
    pub(super) writer: Writer,
    file: Option<PartialFile>,
    /// Bytes already in the file when it was opened (a resumed run).
    pub(super) start: u64,
    /// A file, or stdout, a pipe or a device that is not a terminal: what
    /// [`Destination::write_behind`] may hand to a thread. A terminal is
    /// written at once, and an embedding program's writer where it is
    /// called.
    may_write_behind: bool,
}

#[derive(Debug)]
struct PartialFile {
    partial: PathBuf,
    path: PathBuf,
    /// The same file as the writer's, to sync it; it holds the lock.
    handle: File,
    /// The digest of what the writer has written to the file.
    digest: Digest,
    writeback: Arc<Writeback>,
    /// A failed run with checkpoints leaves its partial file to resume.
    keep_on_failure: bool,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

const BUFFER: usize = 256 * 1024;

/// Where a file output is written until the run succeeds.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    PathBuf::from(partial)
}

/// Whether `path` is written in place: it exists and is not a regular
/// file once links are followed (a device, a FIFO, `/dev/stdout`), or it
/// lies under `/dev`, where no `.partial` file belongs.
pub(crate) fn written_in_place(path: &Path) -> io::Result<bool> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            format!("`{}` is a folder", path.display()),
        )),
        Ok(meta) => Ok(!meta.is_file() || path.starts_with("/dev")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

impl Destination {
    /// `None` is stdout.
    pub(crate) fn open(path: Option<&Path>) -> io::Result<Destination> {
        let Some(path) = path else {
            let terminal = io::stdout().is_terminal();
            return Ok(Destination::stream(Box::new(io::stdout()), terminal));
        };
        if written_in_place(path)? {
            let file = OpenOptions::new().write(true).open(path)?;
            let terminal = file.is_terminal();
            return Ok(Destination::stream(Box::new(file), terminal));
        }
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let partial = partial_path(path);
        let file = create_partial(&partial)?;
        Destination::from_file(file, partial, path, 0, None)
    }

    /// Any byte stream, such as a socket or a buffer of an embedding
    /// program. It is flushed on `finish`, and cannot be checkpointed.
    /// It is written where it is called, never behind.
    pub(crate) fn writer(writer: Box<dyn Write + Send>) -> Destination {
        let mut out = Destination::stream(writer, false);
        out.may_write_behind = false;
        out
    }

    /// A byte stream; on a terminal nothing is held back, so a person
    /// watching sees each page's records as they come (stdout itself
    /// flushes at each line), not 256 KiB at a time, and nothing is
    /// written behind.
    fn stream(writer: Box<dyn Write + Send>, terminal: bool) -> Destination {
        let capacity = if terminal { 0 } else { BUFFER };
        Destination {
            writer: Writer::Buffered(BufWriter::with_capacity(capacity, writer)),
            file: None,
            start: 0,
            may_write_behind: !terminal,
        }
    }

    /// Reopens the partial file of a run cut off after a checkpoint,
    /// dropping whatever was written after it (`mark.length` bytes are
    /// kept), once the bytes kept match the checkpoint's digest.
    pub(crate) fn resume(path: &Path, mark: Mark) -> io::Result<Destination> {
        let length = mark.length;
        let partial = partial_path(path);
        let meta = match std::fs::symlink_metadata(&partial) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                reclaim(path, &partial, &mark)?;
                std::fs::symlink_metadata(&partial)?
            }
            meta => meta?,
        };
        if meta.is_symlink() {
            return Err(io::Error::other(format!(
                "`{}` is a symbolic link, not the output of the cut-off run",
                partial.display()
            )));
        }
        let file = OpenOptions::new().read(true).write(true).open(&partial)?;
        lock(&file, &partial)?;
        let found = file.metadata()?.len();
        if found < length {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "`{}` holds {found} bytes, fewer than the {length} the checkpoint counts",
                    partial.display()
                ),
            ));
        }
        let digest = digest_of(&file, length)?;
        if digest.clone().finalize() != mark.digest {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "`{}` does not hold what the cut-off run wrote (its digest differs from the checkpoint's); remove it and the state file to start over",
                    partial.display()
                ),
            ));
        }
        file.set_len(length)?;
        io::Seek::seek(&mut &file, io::SeekFrom::Start(length))?;
        Destination::from_file(file, partial, path, length, Some(digest))
    }

    fn from_file(
        file: File,
        partial: PathBuf,
        path: &Path,
        start: u64,
        digest: Option<crc32fast::Hasher>,
    ) -> io::Result<Destination> {
        let digest = Arc::new(Mutex::new(digest));
        let (written, lane) = written(file.try_clone()?, start)?;
        let writeback = Arc::new(Writeback {
            lane,
            ..Writeback::default()
        });
        let digested = Digested {
            file: written,
            digest: digest.clone(),
            writeback: writeback.clone(),
            unsynced: 0,
        };
        Ok(Destination {
            file: Some(PartialFile {
                handle: file,
                partial,
                path: path.to_owned(),
                keep_on_failure: false,
                digest,
                writeback,
            }),
            writer: Writer::Buffered(BufWriter::with_capacity(BUFFER, Box::new(digested))),
            start,
            may_write_behind: true,
        })
    }

    /// Has a file output synced as it is written, on a thread `spawn`
    /// starts; a file written past the page cache gets its lane on that
    /// thread instead, as nothing waits in the cache. A stream is not
    /// synced.
    pub(crate) fn sync_as_written(
        &mut self,
        spawn: impl FnOnce(Work) -> io::Result<Thread>,
    ) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let handle = file.handle.try_clone()?;
        match &file.writeback.lane {
            #[cfg(target_os = "linux")]
            Some(slot) => {
                let thread = spawn(Box::new(super::direct::lane(handle, slot)))?;
                *lock_or_poisoned(&file.writeback.thread) = Some(thread);
                Ok(())
            }
            _ => file.writeback.start(move || handle.sync_data(), spawn),
        }
    }

    /// Has the output written on a thread `spawn` starts, so that the run
    /// loop does not wait for the kernel's copy of each page: a file, or
    /// stdout, a pipe or a device that is not a terminal. Call before
    /// anything is written.
    pub(crate) fn write_behind(
        &mut self,
        spawn: impl FnOnce(Work) -> io::Result<Thread>,
    ) -> io::Result<()> {
        if !self.may_write_behind {
            return Ok(());
        }
        let Writer::Buffered(buffered) = std::mem::replace(&mut self.writer, Writer::closed())
        else {
            return Err(io::Error::other("the output is written behind already"));
        };
        let inner = buffered.into_inner().map_err(|e| e.into_error())?;
        self.writer = Writer::Behind(Behind::start(inner, spawn)?);
        Ok(())
    }

    /// Writes the output compressed, on the writer's thread once there
    /// is one, as gzip members or zstd frames that end at each flush (see
    /// `compress.rs`). Call before anything is written, and before
    /// [`Destination::write_behind`].
    pub(crate) fn compress(&mut self, compression: Compression) -> io::Result<()> {
        let Writer::Buffered(buffered) = std::mem::replace(&mut self.writer, Writer::closed())
        else {
            return Err(io::Error::other("the output is written behind already"));
        };
        let capacity = buffered.capacity();
        let inner = buffered.into_inner().map_err(|e| e.into_error())?;
        let members = super::compress::Members::new(inner, compression);
        self.writer = Writer::Buffered(BufWriter::with_capacity(capacity, Box::new(members)));
        Ok(())
    }

    /// The run checkpoints this output: its bytes are digested as they
    /// are written, for [`Destination::checkpoint`], and the partial file
    /// of a failed run is kept, for `--resume`. Call before anything is
    /// written. A run without checkpoints does not digest its output: a
    /// CRC-32 of every byte took 0.7% of an NDJSON run's CPU.
    pub(crate) fn checkpointed(&mut self) {
        if let Some(file) = &mut self.file {
            file.keep_on_failure = true;
            lock_or_poisoned(&file.digest).get_or_insert_with(crc32fast::Hasher::new);
        }
    }

    pub(super) fn checkpoint(&mut self) -> io::Result<Mark> {
        self.writer.flush()?;
        let Some(file) = &self.file else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only a file output can be checkpointed",
            ));
        };
        // The writeback's failure, had it one, is not seen by this sync:
        // the two share the file's error state.
        file.writeback.failed()?;
        file.handle.sync_data()?;
        let Some(digest) = lock_or_poisoned(&file.digest).clone() else {
            return Err(io::Error::other(
                "the output was not opened for checkpoints",
            ));
        };
        Ok(Mark {
            length: file.handle.metadata()?.len(),
            digest: digest.finalize(),
        })
    }

    pub(crate) fn commit(mut self) -> io::Result<()> {
        self.writer.flush()?;
        if let Some(file) = &mut self.file {
            // What appeared at the path meanwhile is not replaced unless it
            // is a regular file: the output then stays in its partial file.
            if let Ok(meta) = std::fs::metadata(&file.path)
                && !meta.is_file()
            {
                file.keep_on_failure = true;
                return Err(io::Error::other(format!(
                    "`{}` is no longer a regular file; the output is left in `{}`",
                    file.path.display(),
                    file.partial.display()
                )));
            }
        }
        if let Some(file) = self.file.take() {
            // Close the file before it is synced and renamed into place.
            self.writer = Writer::closed();
            file.writeback.finish()?;
            file.handle.sync_all()?;
            std::fs::rename(&file.partial, &file.path)?;
        }
        Ok(())
    }
}

/// How the bytes of a run's file, `start` bytes long, are written: past
/// the page cache where the system and the file system allow it (see
/// `direct.rs`), with the slot of its lane.
fn written(file: File, start: u64) -> io::Result<(Box<dyn Write + Send>, Option<LaneSlot>)> {
    #[cfg(target_os = "linux")]
    {
        let slot = super::direct::Slot::default();
        Ok(
            match super::direct::Direct::new(file, start, slot.clone())? {
                Ok(direct) => (Box::new(direct), Some(slot)),
                Err(file) => (Box::new(file), None),
            },
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = start;
        Ok((Box::new(file), None))
    }
}

/// Where the lane of a file written past the page cache appears.
#[cfg(target_os = "linux")]
type LaneSlot = super::direct::Slot;
#[cfg(not(target_os = "linux"))]
type LaneSlot = std::convert::Infallible;

/// Creates `partial` anew and locks it. A partial file another run is
/// writing fails; a stale one, or a link planted at its name, is removed
/// first, with a message.
fn create_partial(partial: &Path) -> io::Result<File> {
    match std::fs::symlink_metadata(partial) {
        Ok(meta) if meta.is_file() => {
            let stale = OpenOptions::new().read(true).open(partial)?;
            lock(&stale, partial)?;
            tracing::warn!(
                "removing `{}`, left by an earlier run that did not finish",
                partial.display()
            );
            std::fs::remove_file(partial)?;
        }
        Ok(_) => {
            tracing::warn!(
                "removing `{}`, which is not a file this program wrote",
                partial.display()
            );
            std::fs::remove_file(partial)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // `create_new` is O_CREAT | O_EXCL, which never follows a link.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(partial)?;
    lock(&file, partial)?;
    Ok(file)
}

/// A run stopped after renaming its output into place but before
/// removing its checkpoint leaves the whole output under its final name
/// and no partial file. The output becomes the partial file again, once
/// its bytes up to the checkpoint are what the run wrote; the pages past
/// the checkpoint are then fetched and written again, as after any cut.
/// A file that does not match is refused and left as it is.
fn reclaim(path: &Path, partial: &Path, mark: &Mark) -> io::Result<()> {
    let gone = || {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("`{}` is missing", partial.display()),
        )
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(gone()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(gone()),
        Err(e) => return Err(e),
    }
    let file = File::open(path)?;
    let whole = file.metadata()?.len() >= mark.length
        && digest_of(&file, mark.length)?.finalize() == mark.digest;
    if !whole {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "`{}` is missing and `{}` does not hold what the cut-off run wrote; run without --resume to start over",
                partial.display(),
                path.display()
            ),
        ));
    }
    tracing::info!(
        output = %path.display(),
        "the cut-off run had renamed its output into place; resuming it"
    );
    std::fs::rename(path, partial)
}

/// The digest of the first `length` bytes of `file`, read once when a run
/// resumes.
fn digest_of(file: &File, length: u64) -> io::Result<crc32fast::Hasher> {
    let mut digest = crc32fast::Hasher::new();
    let mut reader = io::BufReader::with_capacity(BUFFER, io::Read::take(file, length));
    loop {
        let buf = io::BufRead::fill_buf(&mut reader)?;
        if buf.is_empty() {
            break;
        }
        digest.update(buf);
        let n = buf.len();
        io::BufRead::consume(&mut reader, n);
    }
    Ok(digest)
}

/// Takes the exclusive lock on an output's partial file.
fn lock(file: &File, partial: &Path) -> io::Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "`{}` is being written by another run of this job; wait for it, or write elsewhere",
                partial.display()
            ),
        )),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// For a sink that writes through another encoder (Parquet).
#[cfg(feature = "parquet")]
impl Write for Destination {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl Drop for Destination {
    /// A destination dropped without `commit` belongs to a failed run: its
    /// partial file goes, so nothing incomplete is left looking complete;
    /// unless checkpoints count on it, as the state file says it is
    /// incomplete.
    fn drop(&mut self) {
        // The writer thread, if any, ends first: nothing reaches the file
        // after it is removed, or after a kept one is left to resume.
        self.writer = Writer::closed();
        if let Some(file) = &self.file
            && !file.keep_on_failure
        {
            let _ = std::fs::remove_file(&file.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;

    use super::*;

    fn read_all(path: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        File::open(path).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    fn write(path: &Path, text: &[u8]) -> io::Result<()> {
        let mut out = Destination::open(Some(path))?;
        out.writer.write_all(text)?;
        out.commit()
    }

    /// A writer whose bytes a test can read while it is still in use.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn spawn(work: Work) -> io::Result<Thread> {
        std::thread::Builder::new().spawn(work)
    }

    #[test]
    fn a_file_output_of_any_size_is_committed_whole() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0, 10, 5 * 1024 * 1024 + 3] {
            let path = dir.path().join(format!("{size}.ndjson"));
            let bytes: Vec<u8> = (0..size).map(|b| (b % 253) as u8).collect();
            let mut out = Destination::open(Some(&path)).unwrap();
            out.sync_as_written(spawn).unwrap();
            out.write_behind(spawn).unwrap();
            out.writer.write_owned(bytes.clone()).unwrap();
            let (done, committed) = std::sync::mpsc::channel();
            std::thread::spawn(move || done.send(out.commit()));
            committed
                .recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the commit of {size} bytes did not end"))
                .unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{size} bytes");
        }
    }

    #[test]
    fn a_file_is_synced_as_it_is_written_and_a_failed_sync_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut out = Destination::open(Some(&path)).unwrap();
        let syncs = Arc::new(Mutex::new(0));
        let counted = syncs.clone();
        let writeback = out.file.as_ref().unwrap().writeback.clone();
        writeback
            .start(
                move || {
                    *counted.lock().unwrap() += 1;
                    Ok(())
                },
                spawn,
            )
            .unwrap();
        let step = vec![b'x'; WRITEBACK_STEP as usize / 2];
        for _ in 0..5 {
            out.writer.write_all(&step).unwrap();
        }
        out.commit().unwrap();
        // Two steps were written; the thread synced once or twice.
        let syncs = *syncs.lock().unwrap();
        assert!((1..=2).contains(&syncs), "{syncs}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            5 * step.len() as u64
        );

        // A step written to an output whose syncs fail.
        let failing = |name: &str| {
            let path = dir.path().join(name);
            let mut out = Destination::open(Some(&path)).unwrap();
            let writeback = out.file.as_ref().unwrap().writeback.clone();
            writeback
                .start(|| Err(io::Error::other("disk full")), spawn)
                .unwrap();
            out.writer.write_all(&step).unwrap();
            out.writer.write_all(&step).unwrap();
            (path, out, writeback)
        };
        let (path, out, _) = failing("failed.ndjson");
        let failed = out.commit().unwrap_err();
        assert_eq!(failed.to_string(), "disk full");
        assert!(!path.exists(), "a failed output is not renamed into place");

        // A checkpoint before the end reports it too.
        let (_, mut out, writeback) = failing("checkpointed.ndjson");
        while !lock_or_poisoned(&writeback.thread)
            .as_ref()
            .is_some_and(Thread::is_finished)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(out.checkpoint().unwrap_err().to_string(), "disk full");
    }

    #[test]
    fn a_file_written_behind_is_whole_at_each_checkpoint_and_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        // A run without checkpoints digests nothing: there is no mark to
        // take of its output.
        let mut unmarked = Destination::open(Some(&path)).unwrap();
        unmarked.writer.write_all(b"x").unwrap();
        let err = unmarked.checkpoint().unwrap_err();
        assert!(
            err.to_string().contains("not opened for checkpoints"),
            "{err}"
        );
        drop(unmarked);
        assert!(!partial_path(&path).exists());

        let mut out = Destination::open(Some(&path)).unwrap();
        out.checkpointed();
        out.write_behind(spawn).unwrap();
        let mut written = Vec::new();
        for (i, len) in [10, 700_000, 3, 300_000].into_iter().enumerate() {
            let chunk = vec![b'a' + i as u8; len];
            written.extend_from_slice(&chunk);
            if i % 2 == 0 {
                out.writer.write_all(&chunk).unwrap();
            } else {
                out.writer.write_owned(chunk).unwrap();
            }
            let mark = out.checkpoint().unwrap();
            assert_eq!(mark.length, written.len() as u64);
            assert_eq!(mark.digest, crc32fast::hash(&written));
        }
        out.writer.write_all(b"tail").unwrap();
        written.extend_from_slice(b"tail");
        out.commit().unwrap();
        assert_eq!(read_all(&path), written);

        // A failed run's file goes; one kept for --resume holds every byte.
        for keep in [false, true] {
            let path = dir.path().join(format!("failed-{keep}.ndjson"));
            let partial = partial_path(&path);
            let mut out = Destination::open(Some(&path)).unwrap();
            // The writer thread waits for `go`, then tells whether the
            // file was still there when it had written its last byte.
            let (go, wait) = std::sync::mpsc::channel::<()>();
            let (there, was_there) = std::sync::mpsc::channel();
            let watched = partial.clone();
            out.write_behind(move |work: Work| {
                spawn(Box::new(move || {
                    let _ = wait.recv();
                    let written = work();
                    let _ = there.send(watched.exists());
                    written
                }))
            })
            .unwrap();
            if keep {
                out.checkpointed();
            }
            out.writer.write_owned(vec![b'x'; 500_000]).unwrap();
            out.writer.write_all(b"y").unwrap();
            go.send(()).unwrap();
            drop(out);
            // The file is removed only after the thread is done with it.
            assert!(was_there.recv().unwrap());
            assert_eq!(partial.exists(), keep);
            if keep {
                assert_eq!(std::fs::metadata(&partial).unwrap().len(), 500_001);
            }
            assert!(!path.exists());
        }
    }

    #[test]
    fn a_terminal_sees_each_write_at_once_a_pipe_is_buffered() {
        // A terminal, and an embedding program's writer, are written where
        // they are called, never on a thread.
        let in_place = |_: Work| -> io::Result<Thread> { panic!("written in place") };
        let seen = Shared::default();
        let mut out = Destination::stream(Box::new(seen.clone()), true);
        out.write_behind(in_place).unwrap();
        out.writer.write_all(b"{\"id\":1}\n").unwrap();
        assert_eq!(*seen.0.lock().unwrap(), b"{\"id\":1}\n");
        let mut out = Destination::writer(Box::new(Shared::default()));
        out.write_behind(in_place).unwrap();
        assert!(matches!(out.writer, Writer::Buffered(_)));

        // A pipe is buffered, written behind, and whole at each flush.
        for behind in [false, true] {
            let piped = Shared::default();
            let mut out = Destination::stream(Box::new(piped.clone()), false);
            if behind {
                out.write_behind(spawn).unwrap();
                assert!(matches!(out.writer, Writer::Behind(_)));
            }
            out.writer.write_all(b"{\"id\":1}\n").unwrap();
            assert!(piped.0.lock().unwrap().is_empty());
            out.writer.flush().unwrap();
            assert_eq!(*piped.0.lock().unwrap(), b"{\"id\":1}\n");
        }
    }

    #[test]
    fn a_link_planted_at_the_partial_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let out = dir.path().join("out.ndjson");
        std::os::unix::fs::symlink(&victim, partial_path(&out)).unwrap();
        write(&out, b"records\n").unwrap();
        assert_eq!(read_all(&victim), b"precious");
        assert_eq!(read_all(&out), b"records\n");
        assert!(!std::fs::symlink_metadata(&out).unwrap().is_symlink());
    }

    #[test]
    fn a_fifo_or_device_is_written_in_place_and_a_folder_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || read_all(&fifo))
        };
        write(&fifo, b"through the pipe\n").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe\n");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert!(!partial_path(&fifo).exists());

        let err = write(dir.path(), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
    }

    #[test]
    fn a_second_writer_of_one_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.csv");
        let first = Destination::open(Some(&out)).unwrap();
        let err = Destination::open(Some(&out)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(err.to_string().contains("another run"), "{err}");
        // The first run's file is untouched by the refusal.
        assert!(partial_path(&out).exists());
        drop(first);
        assert!(!partial_path(&out).exists());
        // A stale partial file (no run holds it) is replaced.
        std::fs::write(partial_path(&out), b"old").unwrap();
        write(&out, b"new").unwrap();
        assert_eq!(read_all(&out), b"new");
    }
}
