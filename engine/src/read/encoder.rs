//! A Parquet output's encoder on a thread of its own: the read loop
//! gathers a page's rows into Arrow batches, and the row groups are
//! encoded and compressed beside it while the next pages are fetched.
//! Where there are cores to spare, the columns of each row group are
//! encoded on several threads at once ([`Columns`]).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, compute_leaves,
};

use crate::sink::parquet::{Encoder, InPlace, Split};

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

/// Threads that encode the columns of a row group: half the cores, as
/// the page makers need the rest, and at most four. With two cores or
/// fewer the encoder thread encodes every column itself.
pub(crate) fn column_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).min(4)
}

impl OnThread {
    /// Encodes on a thread of its own, the columns on `columns` threads
    /// when there are two or more (see [`column_threads`]).
    pub(crate) fn start(encoder: InPlace, columns: usize) -> io::Result<OnThread> {
        let (sender, batches) = sync_channel::<RecordBatch>(QUEUED);
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = abandoned.clone();
        let thread = std::thread::Builder::new()
            .name("hydrant-parquet".into())
            .spawn(move || encode(encoder, batches, columns, &stop))?;
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

/// The encoder thread's work, and a bench's: every batch, the columns on
/// `columns` threads when there are two or more, then the footer, unless
/// the run was `abandoned`.
pub(crate) fn encode(
    mut encoder: InPlace,
    batches: impl IntoIterator<Item = RecordBatch>,
    columns: usize,
    abandoned: &AtomicBool,
) -> io::Result<()> {
    let mut batches = batches.into_iter().filter(|b| b.num_rows() > 0);
    let first = match batches.next() {
        Some(first) if columns > 1 => first,
        first => {
            for batch in first.into_iter().chain(batches) {
                encoder.write(batch)?;
            }
            if abandoned.load(Ordering::SeqCst) {
                return Ok(());
            }
            return Box::new(encoder).finish();
        }
    };
    let mut parallel = Columns::start(encoder.split(&first)?, columns)?;
    for batch in std::iter::once(first).chain(batches) {
        parallel.write(&batch)?;
    }
    if abandoned.load(Ordering::SeqCst) {
        return Ok(());
    }
    parallel.finish()
}

/// A row group's columns encoded on several threads: the encoder thread
/// cuts each batch into its columns' leaves and hands each to the thread
/// that owns its column; at the row group's end the column chunks come
/// back and are appended in the schema's order. The row groups are those
/// an [`InPlace`] encoder writes: `row_group_size` rows, batches cut
/// where a group ends.
struct Columns {
    split: Split,
    threads: Vec<ColumnThread>,
    /// Rows in the open row group; `None` while no group is open.
    rows: Option<usize>,
}

struct ColumnThread {
    jobs: SyncSender<Job>,
    chunks: Receiver<io::Result<Vec<ArrowColumnChunk>>>,
    thread: Option<JoinHandle<()>>,
}

enum Job {
    /// The writers of a new row group's columns this thread owns.
    Open(Vec<ArrowColumnWriter>),
    /// A batch's leaves of those columns, in the same order.
    Write(Vec<ArrowLeafColumn>),
    /// Closes the writers and sends back their chunks.
    Close,
}

impl Columns {
    fn start(split: Split, threads: usize) -> io::Result<Columns> {
        let threads = threads.clamp(1, split.schema.fields().len().max(1));
        let threads = (0..threads)
            .map(|i| {
                let (jobs, received) = sync_channel(QUEUED);
                let (done, chunks) = sync_channel(1);
                let thread = std::thread::Builder::new()
                    .name(format!("hydrant-columns-{i}"))
                    .spawn(move || encode_columns(received, done))?;
                Ok(ColumnThread {
                    jobs,
                    chunks,
                    thread: Some(thread),
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(Columns {
            split,
            threads,
            rows: None,
        })
    }

    /// Encodes `batch`, closing each row group as it fills.
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        let mut remaining = batch.clone();
        while remaining.num_rows() > 0 {
            let rows = match self.rows {
                Some(rows) => rows,
                None => self.open_group()?,
            };
            let room = self.split.row_group_size - rows;
            let now = remaining.slice(0, room.min(remaining.num_rows()));
            remaining = remaining.slice(now.num_rows(), remaining.num_rows() - now.num_rows());
            self.send_leaves(&now)?;
            self.rows = Some(rows + now.num_rows());
            if rows + now.num_rows() >= self.split.row_group_size {
                self.close_group()?;
            }
        }
        Ok(())
    }

    /// Closes the last row group, writes the footer and commits the file.
    fn finish(mut self) -> io::Result<()> {
        if self.rows.is_some() {
            self.close_group()?;
        }
        let Columns { split, threads, .. } = self;
        drop(threads);
        split.finish()
    }

    /// Column `i` belongs to thread `i % threads`.
    fn open_group(&mut self) -> io::Result<usize> {
        let group = self.split.file.flushed_row_groups().len();
        let writers = self
            .split
            .columns
            .create_column_writers(group)
            .map_err(io::Error::other)?;
        for (thread, writers) in self.threads.iter().zip(deal(writers, self.threads.len())) {
            thread.send(Job::Open(writers))?;
        }
        self.rows = Some(0);
        Ok(0)
    }

    fn send_leaves(&mut self, batch: &RecordBatch) -> io::Result<()> {
        let mut leaves = Vec::new();
        for (field, array) in self.split.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field, array).map_err(io::Error::other)?);
        }
        for (thread, leaves) in self.threads.iter().zip(deal(leaves, self.threads.len())) {
            thread.send(Job::Write(leaves))?;
        }
        Ok(())
    }

    /// Gathers the chunks of the open row group and appends them in the
    /// schema's order.
    fn close_group(&mut self) -> io::Result<()> {
        for thread in &self.threads {
            thread.send(Job::Close)?;
        }
        let mut chunks: Vec<std::vec::IntoIter<ArrowColumnChunk>> = Vec::new();
        for thread in &self.threads {
            let received = thread.chunks.recv().map_err(|_| stopped())?;
            chunks.push(received?.into_iter());
        }
        let mut group = self.split.file.next_row_group().map_err(io::Error::other)?;
        let count = chunks.len();
        let columns: usize = chunks.iter().map(ExactSizeIterator::len).sum();
        for i in 0..columns {
            let chunk = chunks[i % count].next().ok_or_else(stopped)?;
            chunk
                .append_to_row_group(&mut group)
                .map_err(io::Error::other)?;
        }
        group.close().map_err(io::Error::other)?;
        self.rows = None;
        Ok(())
    }
}

/// Ends the thread and waits for it: its channel is closed first, so it
/// stops at its next job.
impl Drop for ColumnThread {
    fn drop(&mut self) {
        let (closed, _) = sync_channel(0);
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(handle) = self.thread.take() {
            let _ = handle.join();
        }
    }
}

impl ColumnThread {
    fn send(&self, job: Job) -> io::Result<()> {
        self.jobs.send(job).map_err(|_| stopped())
    }
}

/// Deals `items` to `hands` hands in turn: item `i` to hand `i % hands`,
/// the order in which [`Columns::close_group`] takes the chunks back.
fn deal<T>(items: Vec<T>, hands: usize) -> Vec<Vec<T>> {
    let mut dealt: Vec<Vec<T>> = (0..hands).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        dealt[i % hands].push(item);
    }
    dealt
}

fn stopped() -> io::Error {
    io::Error::other("a Parquet column encoder stopped early")
}

/// A column thread: writes the leaves of its columns, and hands their
/// chunks back at each row group's end. After an error it answers the
/// next `Close` with it.
fn encode_columns(jobs: Receiver<Job>, done: SyncSender<io::Result<Vec<ArrowColumnChunk>>>) {
    let mut writers = Vec::new();
    let mut failed = None;
    for job in jobs {
        match job {
            Job::Open(opened) => writers = opened,
            Job::Write(leaves) if failed.is_none() => {
                for (writer, leaf) in writers.iter_mut().zip(&leaves) {
                    if let Err(e) = writer.write(leaf) {
                        failed = Some(io::Error::other(e));
                        break;
                    }
                }
            }
            Job::Write(_) => {}
            Job::Close => {
                let closed = match failed.take() {
                    Some(e) => Err(e),
                    None => writers
                        .drain(..)
                        .map(|w| w.close().map_err(io::Error::other))
                        .collect(),
                };
                if done.send(closed).is_err() {
                    return;
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use arrow_array::{
        Array, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;
    use crate::sink::Destination;

    fn schema() -> SchemaRef {
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("status", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new("at", utc, true),
            Field::new("ok", DataType::Boolean, true),
        ]))
    }

    /// Batches of uneven sizes, some crossing row groups of 1000 rows.
    fn batches() -> Vec<RecordBatch> {
        let mut start = 0;
        [700, 700, 1300, 5, 900]
            .into_iter()
            .map(|rows| {
                let ids = start..start + rows;
                start += rows;
                let columns: Vec<Arc<dyn Array>> = vec![
                    Arc::new(Int64Array::from_iter_values(ids.clone())),
                    Arc::new(StringArray::from_iter(ids.clone().map(|i| {
                        (i % 7 != 0).then(|| ["open", "paid", "void"][i as usize % 3])
                    }))),
                    Arc::new(Float64Array::from_iter(
                        ids.clone().map(|i| (i % 5 != 0).then(|| i as f64 / 7.0)),
                    )),
                    Arc::new(
                        TimestampMicrosecondArray::from_iter(
                            ids.clone().map(|i| (i % 11 != 0).then(|| i * 1_000_003)),
                        )
                        .with_timezone("UTC"),
                    ),
                    Arc::new(BooleanArray::from_iter(ids.map(|i| Some(i % 2 == 0)))),
                ];
                RecordBatch::try_new(schema(), columns).unwrap()
            })
            .collect()
    }

    fn encoder(path: &Path) -> InPlace {
        let out = Destination::open(Some(path)).unwrap();
        let options = crate::job::ParquetOptions {
            row_group_size: 1000,
            ..crate::job::ParquetOptions::default()
        };
        InPlace::new(out, schema(), &options).unwrap()
    }

    /// The rows of each row group, and the encodings of each column chunk.
    fn layout(path: &Path) -> Vec<(i64, Vec<String>)> {
        let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
        let metadata = reader.metadata();
        let kv = metadata.file_metadata().key_value_metadata().unwrap();
        assert!(kv.iter().any(|kv| kv.key == "ARROW:schema"), "{path:?}");
        metadata
            .row_groups()
            .iter()
            .map(|group| {
                let encodings = group
                    .columns()
                    .iter()
                    .map(|c| format!("{:?}", c.encodings().collect::<Vec<_>>()))
                    .collect();
                (group.num_rows(), encodings)
            })
            .collect()
    }

    #[test]
    fn columns_encoded_on_threads_make_the_file_one_thread_makes() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.parquet");
        let mut in_place = encoder(&one);
        for batch in batches() {
            in_place.write(batch).unwrap();
        }
        Box::new(in_place).finish().unwrap();
        let expected = layout(&one);
        let rows: Vec<i64> = expected.iter().map(|(rows, _)| *rows).collect();
        assert_eq!(rows, [1000, 1000, 1000, 605]);

        for threads in [2, 3, 8] {
            let path = dir.path().join(format!("{threads}.parquet"));
            let running = AtomicBool::new(false);
            encode(encoder(&path), batches(), threads, &running).unwrap();
            assert_eq!(layout(&path), expected, "{threads} threads");
            // Byte for byte: the same pages, chunks and footer.
            assert!(std::fs::read(&path).unwrap() == std::fs::read(&one).unwrap());

            // Every value back in its place, with its type (the time zone
            // comes from the Arrow schema kept in the file).
            let read =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
                    .unwrap()
                    .with_batch_size(10_000)
                    .build()
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap();
            assert_eq!(read.num_rows(), 3605);
            let mut offset = 0;
            for batch in batches() {
                for (i, column) in batch.columns().iter().enumerate() {
                    let back = read.column(i).slice(offset, batch.num_rows());
                    assert_eq!(
                        &back, column,
                        "{threads} threads, column {i}, rows from {offset}"
                    );
                }
                offset += batch.num_rows();
            }
        }
    }

    #[test]
    fn an_abandoned_run_leaves_no_file_however_its_columns_are_encoded() {
        let dir = tempfile::tempdir().unwrap();
        for threads in [1, 2] {
            let path = dir.path().join(format!("{threads}.parquet"));
            let mut on_thread = OnThread::start(encoder(&path), threads).unwrap();
            for batch in batches() {
                on_thread.write(batch).unwrap();
            }
            drop(on_thread);
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert!(left.is_empty(), "{threads} threads: {left:?}");
        }
        let path = dir.path().join("done.parquet");
        let mut on_thread = Box::new(OnThread::start(encoder(&path), 2).unwrap());
        for batch in batches() {
            on_thread.write(batch).unwrap();
        }
        on_thread.finish().unwrap();
        assert_eq!(layout(&path).len(), 4);
    }
}
