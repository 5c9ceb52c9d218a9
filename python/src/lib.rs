//! `hydrant._hydrant`: the engine for Python.
//!
//! A job's records come out as an Arrow C stream (the Arrow PyCapsule
//! interface), so pyarrow, polars and duckdb take them without a copy.
//! The engine runs on its own thread, and every call that waits on it
//! lets go of the GIL.

use std::ffi::CString;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchReader};
use hydrant_engine::arrow::arrow_schema::{ArrowError, Schema, SchemaRef};
use hydrant_engine::arrow::{RecordBatches, record_batches};
use hydrant_engine::{
    Interrupt, Job as EngineJob, JobFormat, Partition as EnginePartition, RunOptions, Summary, Vars,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyUserWarning};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

create_exception!(
    _hydrant,
    HydrantError,
    PyException,
    "A hydrant error; `exit_code` is what `hydrant run` would exit with: 2 for a config error, 1 for a failed run, 130 for an interrupted one."
);

create_exception!(
    _hydrant,
    HydrantWarning,
    PyUserWarning,
    "What `hydrant run` prints as a warning: records that may be missing (a records path that matched nothing, a short page's records left out) or were changed (lone surrogates)."
);

/// Issues each of a run's warnings as a `HydrantWarning`. A warnings
/// filter that turns them into errors makes this fail with the first.
fn warn_all(py: Python<'_>, summary: &Summary) -> PyResult<()> {
    let category = py.get_type::<HydrantWarning>();
    for warning in &summary.warnings {
        let text = CString::new(warning.replace('\0', " ")).expect("NULs replaced");
        PyErr::warn(py, category.as_any(), &text, 1)?;
    }
    Ok(())
}

/// A summary as a Python dict.
fn summary_dict<'py>(py: Python<'py>, summary: &Summary) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(summary).expect("a summary is plain data");
    py.import("json")?.call_method1("loads", (text,))
}

/// The exception of an engine error, or, when the run stopped for a
/// signal, the signal's exception caused by that error.
fn caused(py: Python<'_>, signal: Option<PyErr>, e: &hydrant_engine::Error) -> PyErr {
    match signal {
        Some(signal) => {
            signal.set_cause(py, Some(error(py, e)));
            signal
        }
        None => error(py, e),
    }
}

/// The Python exception of an engine error, with its exit code.
fn error(py: Python<'_>, e: &hydrant_engine::Error) -> PyErr {
    let code = if e.is_config() {
        2
    } else if e.is_interrupted() {
        130
    } else {
        1
    };
    let err = HydrantError::new_err(e.to_string());
    let _ = err.value(py).setattr("exit_code", code);
    err
}

/// How long a wait on the engine goes before it looks for a Python
/// signal (Ctrl-C).
const TICK: Duration = Duration::from_millis(100);

/// Runs `work` on a thread of its own, with a fresh async runtime, and
/// waits for it without the GIL. Ctrl-C (a signal whose Python handler
/// raises) triggers `interrupt`: the run stops as `hydrant run` stops on
/// SIGINT, and then the handler's exception is raised, caused by the
/// engine's error. Without an interrupt, or at a second signal, the wait
/// stops at once and the work is left to end on its own.
fn wait<T: Send + 'static>(
    py: Python<'_>,
    interrupt: Option<&Interrupt>,
    work: impl FnOnce(&tokio::runtime::Runtime) -> hydrant_engine::Result<T> + Send + 'static,
) -> PyResult<T> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("hydrant-job".into())
        .spawn(move || {
            let outcome = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map(|runtime| work(&runtime))
                .map_err(|e| e.to_string());
            let _ = sender.send(outcome);
        })
        .map_err(|e| HydrantError::new_err(format!("cannot start the job's thread: {e}")))?;
    // Behind a lock only to cross into the closure that lets go of the GIL.
    let receiver = Mutex::new(receiver);
    let mut signalled: Option<PyErr> = None;
    loop {
        let received = py.detach(|| {
            let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
            receiver.recv_timeout(TICK)
        });
        match received {
            Ok(Ok(outcome)) => {
                return match (outcome, signalled) {
                    (Ok(value), None) => Ok(value),
                    (Ok(_), Some(signal)) => Err(signal),
                    (Err(e), signal) => Err(caused(py, signal, &e)),
                };
            }
            Ok(Err(e)) => {
                return Err(HydrantError::new_err(format!(
                    "cannot start the async runtime: {e}"
                )));
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(HydrantError::new_err("the job's thread panicked"));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Err(signal) = py.check_signals() {
            match interrupt {
                Some(interrupt) if signalled.is_none() => {
                    interrupt.trigger();
                    signalled = Some(signal);
                }
                _ => return Err(signal),
            }
        }
    }
}

/// Where a job came from, so that a worker can load it again from its own
/// environment. Variables given to `load` are not kept: they may be
/// credentials.
#[derive(Clone)]
enum Source {
    Path(String),
    Text { text: String, name: String },
}

/// A hydrant job, loaded from a file or from TOML text.
#[pyclass(module = "hydrant._hydrant")]
struct Job {
    job: EngineJob,
    source: Source,
}

/// The job as `partition` runs it: the files it writes (its output when
/// `output`, its dirty records) named for the part, `orders-2-of-8.ndjson`,
/// so that parts write over none of each other's.
fn job_for(job: &EngineJob, partition: Option<&EnginePartition>, output: bool) -> EngineJob {
    let mut job = job.clone();
    if let Some(part) = partition {
        job.name_for_shard(part.index + 1, part.count, output);
    }
    job
}

fn vars_of(vars: Option<std::collections::BTreeMap<String, String>>) -> Vars {
    Vars::new(vars.unwrap_or_default())
}

#[pymethods]
impl Job {
    /// Loads a job file (native TOML or JSON, DataWorks, Data Factory,
    /// YAML). `vars` fill `${NAME}`; the environment fills the rest.
    #[staticmethod]
    #[pyo3(signature = (path, vars = None))]
    fn load(
        py: Python<'_>,
        path: String,
        vars: Option<std::collections::BTreeMap<String, String>>,
    ) -> PyResult<Job> {
        let job = EngineJob::load(&path, &vars_of(vars)).map_err(|e| error(py, &e))?;
        Ok(Job {
            job,
            source: Source::Path(path),
        })
    }

    /// A job from the text of a TOML job file.
    #[staticmethod]
    #[pyo3(signature = (text, vars = None, name = "job.toml".to_owned()))]
    fn from_toml(
        py: Python<'_>,
        text: String,
        vars: Option<std::collections::BTreeMap<String, String>>,
        name: String,
    ) -> PyResult<Job> {
        let job = EngineJob::parse(&text, JobFormat::Toml, &name, &vars_of(vars))
            .map_err(|e| error(py, &e))?;
        Ok(Job {
            job,
            source: Source::Text { text, name },
        })
    }

    /// The job file's name.
    #[getter]
    fn name(&self) -> String {
        self.job.name().to_owned()
    }

    /// The job's records as an Arrow stream: pass it to
    /// `pyarrow.table()`, `pyarrow.RecordBatchReader.from_stream()`,
    /// `polars.DataFrame()` or duckdb. With `partition`, only that part's.
    #[pyo3(signature = (partition = None))]
    fn read(&self, partition: Option<PyRef<'_, Partition>>) -> Stream {
        let partition = partition.map(|p| p.partition.clone());
        Stream {
            job: job_for(&self.job, partition.as_ref(), false),
            partition,
            ended: Ended::default(),
        }
    }

    /// Cuts the job into `min(n, units)` parts: fan-out values, requests
    /// of a plan with a known end, or incremental windows. Each record is
    /// in exactly one part; a part holds no credential.
    fn partitions(&self, py: Python<'_>, n: u32) -> PyResult<Vec<Partition>> {
        let job = self.job.clone();
        let parts = wait(py, None, move |runtime| {
            runtime.block_on(hydrant_engine::partitions(&job, n, &RunOptions::default()))
        })?;
        Ok(parts
            .into_iter()
            .map(|partition| Partition { partition })
            .collect())
    }

    /// Runs the job as `hydrant run` does, its output per `[output]`, and
    /// returns the summary as a dict. A part's output (and dirty records)
    /// go to `OUTPUT-I-of-N.EXT`, as with `hydrant run --shard I/N`. The
    /// summary's warnings are issued as `HydrantWarning`s, as `hydrant
    /// run` prints them. `resume` goes on from the `[state]` checkpoint
    /// of a run that was cut off, as `--resume` does.
    #[pyo3(signature = (partition = None, resume = false))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        partition: Option<PyRef<'_, Partition>>,
        resume: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let partition = partition.map(|p| p.partition.clone());
        let job = job_for(&self.job, partition.as_ref(), true);
        let interrupt = Interrupt::new();
        let options = RunOptions {
            partition,
            resume,
            interrupt: Some(interrupt.clone()),
            ..RunOptions::default()
        };
        let summary = wait(py, Some(&interrupt), move |runtime| {
            runtime.block_on(hydrant_engine::run(&job, options))
        })?;
        warn_all(py, &summary)?;
        summary_dict(py, &summary)
    }

    /// The output columns as `(name, type)` pairs: declared, or inferred as
    /// a stream infers them (the job runs until they are known).
    fn columns(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        let job = self.job.clone();
        let columns = wait(py, None, move |runtime| {
            runtime.block_on(hydrant_engine::columns(&job, RunOptions::default()))
        })?;
        Ok(columns
            .into_iter()
            .map(|c| (c.name, c.kind.as_str().to_owned()))
            .collect())
    }

    /// A job pickles as where it came from, never with its variables: a
    /// worker loads it again from its own environment.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let module = py.import("hydrant._hydrant")?;
        let args = match &self.source {
            Source::Path(path) => {
                (module.getattr("Job")?.getattr("load")?, (path.clone(),)).into_pyobject(py)?
            }
            Source::Text { text, name } => (
                module.getattr("Job")?.getattr("from_toml")?,
                (text.clone(), py.None(), name.clone()),
            )
                .into_pyobject(py)?,
        };
        Ok(args.into_any())
    }

    fn __repr__(&self) -> String {
        format!("hydrant.Job({:?})", self.job.name())
    }
}

/// One part of a job, from `Job.partitions(n)`: plain, picklable data.
#[pyclass(module = "hydrant._hydrant", frozen)]
struct Partition {
    partition: EnginePartition,
}

#[pymethods]
impl Partition {
    /// The part's place among the parts, from 0.
    #[getter]
    fn index(&self) -> u32 {
        self.partition.index
    }

    /// How many parts the job was cut into.
    #[getter]
    fn count(&self) -> u32 {
        self.partition.count
    }

    /// Why the job is one part, when it could not be cut.
    #[getter]
    fn reason(&self) -> Option<String> {
        self.partition.reason.clone()
    }

    /// The part as JSON text.
    fn to_json(&self) -> String {
        self.partition.to_json()
    }

    /// A part from `to_json`.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Partition> {
        let partition = EnginePartition::from_json(text).map_err(|e| error(py, &e))?;
        Ok(Partition { partition })
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let from_json = py
            .import("hydrant._hydrant")?
            .getattr("Partition")?
            .getattr("from_json")?;
        Ok((from_json, (self.partition.to_json(),))
            .into_pyobject(py)?
            .into_any())
    }

    fn __eq__(&self, other: PyRef<'_, Partition>) -> bool {
        self.partition == other.partition
    }

    fn __repr__(&self) -> String {
        format!(
            "hydrant.Partition({} of {})",
            self.partition.index + 1,
            self.partition.count
        )
    }
}

/// A job's records, not yet read: an object of the Arrow PyCapsule
/// interface. Each stream taken from it runs the job again (duckdb takes
/// one for the schema, then one for the rows).
#[pyclass(module = "hydrant._hydrant")]
struct Stream {
    job: EngineJob,
    partition: Option<EnginePartition>,
    ended: Ended,
}

/// The summary of the last run of a [`Stream`] that was read to its end.
type Ended = Arc<Mutex<Option<Summary>>>;

#[pymethods]
impl Stream {
    /// The Arrow C stream of the records (the Arrow PyCapsule interface).
    /// The run starts here and its first page is read, for the schema.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // The stream keeps its own schema; a consumer that asked for
        // another casts it.
        let _ = requested_schema;
        let job = self.job.clone();
        let interrupt = Interrupt::new();
        let options = RunOptions {
            partition: self.partition.clone(),
            interrupt: Some(interrupt.clone()),
            ..RunOptions::default()
        };
        let ended = self.ended.clone();
        let reader = py
            .detach(|| Reader::start(job, options, interrupt, ended))
            .map_err(|failed| caused(py, failed.1, &failed.0))?;
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        let name = CString::new("arrow_array_stream").expect("no NUL");
        PyCapsule::new(py, stream, Some(name))
    }

    /// What the last stream read to its end did, as `hydrant run`'s
    /// summary: `records`, `requests`, `warnings`… None before that.
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        ended
            .as_ref()
            .map(|summary| summary_dict(py, summary))
            .transpose()
    }
}

/// The record batches of a run, its schema taken from the first one.
struct Reader {
    batches: RecordBatches,
    first: Option<RecordBatch>,
    schema: SchemaRef,
    /// Triggered by Ctrl-C while the consumer waits for a batch.
    interrupt: Interrupt,
    /// The exception of that Ctrl-C: raised, caused by the interruption,
    /// when it came before the first batch.
    signal: Option<PyErr>,
    /// Where the run's summary goes when the last batch has been taken;
    /// None once it went.
    ended: Option<Ended>,
}

impl Reader {
    /// Starts the run and waits for its first batch, for the schema.
    fn start(
        job: EngineJob,
        options: RunOptions,
        interrupt: Interrupt,
        ended: Ended,
    ) -> Result<Reader, Box<(hydrant_engine::Error, Option<PyErr>)>> {
        let batches = record_batches(job, options).map_err(|e| Box::new((e, None)))?;
        let known = batches.known_columns().map(hydrant_engine::arrow::schema);
        let mut reader = Reader {
            batches,
            first: None,
            schema: Arc::new(Schema::empty()),
            interrupt,
            signal: None,
            ended: Some(ended),
        };
        reader.first = match reader.next_batch() {
            Some(Err(e)) => return Err(Box::new((e, reader.signal.take()))),
            first => first.and_then(Result::ok),
        };
        reader.schema = match (&reader.first, known) {
            (Some(batch), _) => batch.schema(),
            (None, Some(schema)) => schema,
            (None, None) => Arc::new(Schema::empty()),
        };
        Ok(reader)
    }

    /// The run's next batch. The wait looks for Ctrl-C between steps: a
    /// signal stops the run as `hydrant run` stops on SIGINT (the pages
    /// already received still come), and its exception is kept.
    fn next_batch(&mut self) -> Option<hydrant_engine::Result<RecordBatch>> {
        while !self.batches.ready_within(TICK) {
            if self.signal.is_some() {
                continue;
            }
            if let Err(signal) = Python::attach(|py| py.check_signals()) {
                self.interrupt.trigger();
                self.signal = Some(signal);
            }
        }
        self.batches.next()
    }

    /// After the last batch: keeps the summary for `Stream.summary` and
    /// issues its warnings, which would otherwise reach no one (the
    /// engine logs them, and a Python process has no subscriber). The
    /// consumer may call from a thread of its own, without the GIL.
    fn end(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        let summary = self.batches.summary()?.clone();
        let ended = self.ended.take()?;
        let warned = if summary.warnings.is_empty() {
            Ok(())
        } else {
            Python::attach(|py| warn_all(py, &summary))
        };
        *ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(summary);
        warned
            .err()
            .map(|e| Err(ArrowError::ExternalError(e.to_string().into())))
    }
}

impl Iterator for Reader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        match self.next_batch() {
            Some(Ok(batch)) => Some(Ok(batch)),
            // After Ctrl-C, this is the interruption: the consumer raises
            // its own error with its text. The signal's exception is not
            // set beside it: consumers (pyarrow) fail on a pending one.
            Some(Err(e)) => Some(Err(ArrowError::ExternalError(Box::new(e)))),
            None => self.end(),
        }
    }
}

impl RecordBatchReader for Reader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

#[pymodule]
fn _hydrant(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Job>()?;
    m.add_class::<Partition>()?;
    m.add_class::<Stream>()?;
    m.add("HydrantError", m.py().get_type::<HydrantError>())?;
    m.add("HydrantWarning", m.py().get_type::<HydrantWarning>())?;
    Ok(())
}
