//! Parsing, extracting and encoding a page off the run loop, so that pages
//! are processed on every core while the run loop only steps the paginator
//! and writes bytes in order.
//!
//! A page is processed here once its columns are known, every path walks
//! the structural index and the output is text (NDJSON or CSV). What the
//! paginator needs (the records count and the watched values) is sent
//! back as soon as it is known: read from the head of the page while the
//! rest of it is still arriving when it can be, else once the page is
//! parsed, before extraction, so that a followed next request can go out
//! while the rest of the page is still being made. A counted page is made
//! in the task that fetched it; a followed one on the maker threads (one
//! per core, at a lower priority than the rest of the process), so that
//! the chain of requests never waits for a thread busy making pages.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use hydrant_paginate::LastFollowed;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::extract::{
    Batch, Covering, DirtyRecord, Extractor, Inference, Placeholders, Shape, Tolerated,
    records_fingerprint, records_missing, select_records,
};
use crate::job::{Job, Records};
use crate::json::path::{JsonPath, Segment};
use crate::json::scan::{Doc, Item, Scanner};
use crate::json::{Leading, leading_members, trailing_members};
use crate::net::client::Response;
use crate::net::request::Prepared;
use crate::net::session::{Fetched, Session};
use crate::read::count::{ApiCount, CutCheck, NextPage, api_count, next_named, unpaged_checked};
use crate::read::near::near_member;
use crate::read::shaped::{Learned, Lines, Rows, Shaped, ShapedReader};
use crate::sink::{Made, PageEncoder, TextEncoder, without_line_breaks};

/// What the paginator needs of a page, sent before its rows are done.
#[derive(Debug)]
pub(crate) struct Landed {
    /// The answer, its body taken out for processing.
    pub fetched: Fetched,
    /// The request as errors and warnings name it, secrets masked.
    pub shown: String,
    /// `None` when the facts were read from the head of the page while
    /// the rest was arriving (see [`PageWork::head_watch`]): the length,
    /// and `fetched.latency`, come with the rows.
    pub body_len: Option<usize>,
    /// `None` for a 204, which has no page.
    pub page: Option<PageFacts>,
}

#[derive(Debug)]
pub(crate) struct PageFacts {
    /// `None` when the facts were read from the head of the page before it
    /// was parsed, which is done only for a paginator that does not read
    /// the count.
    pub records: Option<usize>,
    /// See [`records_fingerprint`]; `None` with `records`.
    pub fingerprint: Option<u64>,
    pub watched: Vec<Option<Value>>,
    /// Members named like the watched paths whose absence ends
    /// pagination, by watched index, where they selected nothing (see
    /// [`near_member`]).
    pub near: Vec<(usize, String)>,
    /// Whether the page had nothing at `records.path` (see
    /// [`records_missing`]).
    pub missing: bool,
}

/// A page's rows, encoded.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub rows: usize,
    /// The records the page held, written, dirty or not.
    pub records: usize,
    /// Whether the page had no value at `records.path`; what it says of a
    /// failure, if it says one (see
    /// [`crate::extract::records_missing`]).
    pub records_missing: std::result::Result<bool, String>,
    /// Where such a page holds an array of objects (see
    /// [`records_elsewhere`](crate::read::near::records_elsewhere)).
    pub elsewhere: Option<String>,
    /// The page's body, given back unmade: it holds fields or types the
    /// inferred columns do not have yet.
    pub refit: Option<Vec<u8>>,
    /// See [`Doc::lone_surrogates`](crate::json::scan::Doc::lone_surrogates).
    pub lone_surrogates: usize,
    pub made: Made,
    pub dirty: Vec<DirtyRecord>,
    /// See [`Batch::tolerated`].
    pub tolerated: Vec<Tolerated>,
    pub body_len: usize,
    /// See [`records_fingerprint`]: the run fails on a page that is the
    /// one before it again and names its own cursor.
    pub fingerprint: Option<u64>,
    /// The count of records the page gives, where it was asked for (see
    /// [`api_count`]).
    pub count: Option<ApiCount>,
    /// Where the page says the API cut its answer short (see
    /// [`CutCheck`]).
    pub cut: Option<String>,
    /// For a job without `[paginate]`: the member that names a next page
    /// (see [`next_named`]).
    pub next_named: Option<NextPage>,
    /// The answer's [`Fetched::latency`].
    pub latency: Duration,
}

/// The buffers one page is parsed in, reused from page to page.
#[derive(Default)]
struct Workspace {
    scanner: Scanner,
    /// The shaped reader's templates, from the pages made here before.
    learned: Learned,
}

/// Everything a worker needs to turn a response into encoded rows.
pub(crate) struct PageWork {
    extractor: Extractor,
    /// Inferred columns as they stand: a page with anything new goes back
    /// to the run loop, where the inference is.
    inference: Option<Arc<Inference>>,
    /// What tells most records covered by the inference from their noted
    /// columns.
    shape: Option<Shape>,
    records: Records,
    encoder: PageEncoder,
    /// One per page being made at once.
    workspaces: Mutex<Vec<Workspace>>,
    makers: Makers,
    /// Whether the job's pages are counted: only those are checked for a
    /// page that repeats the one before it (see `ReadRun::check_page`).
    counted: bool,
    /// Reads pages whose records hold a few shapes, for an NDJSON or
    /// Parquet output, where the job's records and columns allow.
    shaped: Option<ShapedReader>,
    /// The watched paths whose absence ends pagination (see
    /// [`Paginator::ends_when_absent`](hydrant_paginate::Paginator::ends_when_absent)).
    ends_when_absent: Vec<usize>,
    /// For a job without `[paginate]`, the records path's keys (see
    /// [`unpaged_checked`]).
    unpaged: Option<Vec<String>>,
    /// What every page is read for, to tell that the API cut its answer
    /// short.
    cut: CutCheck,
}

/// A fetched page, its body taken out to be made.
pub(crate) struct Arrived {
    body: Vec<u8>,
    shown: String,
    /// The answer's Content-Type, for the message when it is not JSON.
    content_type: Option<String>,
    /// The facts' channel and the answer, when the facts wait for the parse.
    unsent: Option<(oneshot::Sender<Landed>, Fetched)>,
    /// The values read from the tail of the body before its parse.
    told: Option<Told>,
    latency: Duration,
    /// The records path's keys, where the page's [`Encoded::count`] is
    /// taken: a run's first page.
    counting: Option<Arc<[String]>>,
}

/// The watched values read backwards from the end of a whole body, which
/// sent the next request before the body was parsed.
#[derive(Debug)]
pub(crate) struct Told {
    values: Vec<Value>,
    /// The length of the body they were read from: a retry's answer may
    /// be another body.
    body_len: usize,
}

/// How much of a page's head is watched for the paginator's values before
/// they are left for the whole page: the watch reads the head again as
/// each piece arrives.
const HEAD_WATCHED: usize = 64 * 1024;

impl std::fmt::Debug for PageWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageWork")
            .field("columns", &self.extractor.columns().len())
            .finish_non_exhaustive()
    }
}

impl PageWork {
    /// The work for `job` once its columns are known; `None` when its
    /// output is not text.
    pub(crate) fn new(
        job: &Job,
        extractor: &Extractor,
        inference: Option<&Inference>,
    ) -> Option<Arc<PageWork>> {
        let encoder = PageEncoder::for_output(&job.output, extractor.columns())?;
        let paginator = hydrant_paginate::Paginator::new(&job.paginate).ok();
        let counted = paginator.as_ref().is_some_and(|p| p.is_counted());
        let ends_when_absent = paginator.map(|p| p.ends_when_absent()).unwrap_or_default();
        let shaped = match &encoder {
            PageEncoder::Text(TextEncoder::Ndjson(_), _) => {
                ShapedReader::new(&job.records, extractor)
            }
            #[cfg(feature = "parquet")]
            PageEncoder::Arrow(_) => ShapedReader::new(&job.records, extractor),
            _ => None,
        };
        Some(Arc::new(PageWork {
            extractor: extractor.clone(),
            inference: inference.map(|i| Arc::new(i.clone())),
            shape: inference.and_then(|i| i.shape(extractor.columns())),
            records: job.records.clone(),
            encoder,
            workspaces: Mutex::new(Vec::new()),
            makers: Makers::default(),
            counted,
            shaped,
            ends_when_absent,
            unpaged: unpaged_checked(job),
            cut: CutCheck::of(job),
        }))
    }

    /// A [`PageWatch`](crate::net::session::PageWatch) that sends a page's
    /// [`Landed`] facts on `landed` as soon as the head of the page holds
    /// every watched value as a top-level member, so that the next request
    /// goes out while the page is still arriving; else, once the whole
    /// page is in, if its tail holds them (a link after the records),
    /// before the page is parsed; those go to `told` too, for the parse to
    /// check. Only for a paginator that does not read the records count,
    /// which needs the whole page, and not for a page that names `own`, the
    /// cursor or link it was requested with: whether it is empty tells the
    /// last page from a loop. A retried request keeps the facts of the
    /// first answer's head.
    pub(crate) fn head_watch<'w>(
        session: &'w Session,
        (watched, own): (&'w [JsonPath], Option<LastFollowed>),
        landed: &'w mut Option<oneshot::Sender<Landed>>,
        told: &'w mut Option<Told>,
    ) -> impl FnMut(&Prepared, &http::response::Parts, &[u8], bool) -> bool + Send + 'w {
        let keys = head_keys(watched);
        let paths = tail_paths(watched);
        let mut head_told = keys.is_none();
        move |prepared, parts, body, complete| {
            if landed.is_none() {
                return true;
            }
            let mut values = None;
            if !head_told {
                match read_head(body, keys.as_deref().unwrap_or_default()) {
                    Head::Read(read) => values = Some(read),
                    Head::Wait if !complete => return false,
                    Head::Wait | Head::Leave => head_told = true,
                }
            }
            if values.is_none() {
                if !complete {
                    return paths.is_none();
                }
                values = paths.as_deref().and_then(|p| trailing_members(body, p));
                *told = values.clone().map(|values| Told {
                    values,
                    body_len: body.len(),
                });
            }
            let Some(values) = values else {
                return true;
            };
            if own
                .as_ref()
                .is_some_and(|own| names_own(own, parts, &values))
            {
                *told = None;
                return true;
            }
            let fetched = Fetched {
                prepared: prepared.clone(),
                response: Response {
                    status: parts.status,
                    headers: parts.headers.clone(),
                    body: Vec::new(),
                },
                latency: Duration::ZERO,
            };
            let shown = session.shown(prepared);
            tracing::debug!(url = %shown, bytes = body.len(), complete, "paginator facts read before the page is parsed");
            let landed = landed.take().expect("checked above");
            let _ = landed.send(Landed {
                fetched,
                shown,
                body_len: None,
                page: Some(PageFacts {
                    records: None,
                    fingerprint: None,
                    watched: values.into_iter().map(Some).collect(),
                    near: Vec::new(),
                    missing: false,
                }),
            });
            true
        }
    }

    /// Takes the body out of a fetched page. `landed`, unless
    /// [`PageWork::head_watch`] took it already, is sent at once for a 204
    /// (`None`: nothing to make) and otherwise once the page is parsed.
    /// `shown` names the request in errors; `told`, what the watch read
    /// from the body's tail.
    pub(crate) fn arrive(
        &self,
        mut fetched: Fetched,
        shown: String,
        landed: Option<oneshot::Sender<Landed>>,
        (told, counting): (Option<Told>, Option<Arc<[String]>>),
    ) -> Option<Arrived> {
        let body = std::mem::take(&mut fetched.response.body);
        let latency = fetched.latency;
        let content_type = content_type(&fetched.response.headers);
        let unsent = match landed {
            Some(landed) if fetched.response.status.as_u16() == 204 => {
                let _ = landed.send(Landed {
                    fetched,
                    shown,
                    body_len: Some(body.len()),
                    page: None,
                });
                return None;
            }
            Some(landed) => Some((landed, fetched)),
            None => None,
        };
        Some(Arrived {
            body,
            shown,
            content_type,
            unsent,
            told,
            latency,
            counting,
        })
    }

    /// [`PageWork::make`] on the maker threads, which start with the
    /// first page made there.
    pub(crate) async fn make_on_makers(
        self: Arc<Self>,
        arrived: Arrived,
        placeholders: Arc<Placeholders>,
        watched: Arc<[JsonPath]>,
    ) -> Result<Encoded> {
        let shown = arrived.shown.clone();
        let (done, made) = oneshot::channel();
        let work = self.clone();
        self.makers.give(Box::new(move || {
            let encoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
                work.make(arrived, &placeholders, &watched)
            }));
            let _ = done.send(encoded);
        }))?;
        match made.await {
            Ok(Ok(encoded)) => encoded,
            Ok(Err(_)) => Err(Error::http(format!(
                "making the page from {shown} panicked"
            ))),
            Err(_) => Err(Error::http(format!(
                "the page from {shown} was dropped unmade"
            ))),
        }
    }

    /// Parses, extracts and encodes an arrived page, sending its facts
    /// once it is parsed if they were not sent yet.
    pub(crate) fn make(
        &self,
        arrived: Arrived,
        placeholders: &Placeholders,
        watched: &[JsonPath],
    ) -> Result<Encoded> {
        let Arrived {
            body,
            shown,
            content_type,
            mut unsent,
            told,
            latency,
            counting,
        } = arrived;
        let body_len = body.len();
        let mut workspace = self.workspace();
        if let Some(shaped) = self.read_shaped(&body, watched, &mut workspace.learned) {
            let page = Page {
                body_len,
                shown: &shown,
                told: told.as_ref(),
                latency,
                counting: counting.as_deref(),
            };
            let made = self.make_shaped(shaped, &body, &page, &mut unsent, watched, &mut workspace);
            if let Some(made) = made {
                self.give_back(workspace);
                return made;
            }
        }
        let doc = workspace
            .scanner
            .scan(&body, self.extractor.plan())
            .map_err(|e| not_json(&shown, content_type.as_deref(), &body, e))?;
        let (records, values) = index_records(&doc, &self.records, watched, &shown)?;
        if let Some(told) = told.filter(|told| told.body_len == body_len) {
            check_told(&told.values, &values, watched, &shown)?;
        }
        let records_missing = records_missing(doc.root(), &self.records, records.len(), &shown);
        // Where records may be, for a page without them at the path.
        let elsewhere = (records.is_empty())
            .then(|| crate::read::near::records_elsewhere(doc.root()))
            .flatten();
        let lone_surrogates = doc.lone_surrogates();
        let fingerprint = records_fingerprint(&records);
        let count = (counting.as_deref()).and_then(|keys| api_count(doc.root(), keys, &shown));
        let cut = self.cut_short(doc.root());
        let next_named = (self.unpaged.as_deref()).and_then(|keys| next_named(doc.root(), keys));
        if let Some((landed, fetched)) = unsent {
            let near = self.near(doc.root(), watched, &values);
            let _ = landed.send(Landed {
                fetched,
                shown,
                body_len: Some(body_len),
                page: Some(PageFacts {
                    records: Some(crate::extract::paged_count(
                        doc.root(),
                        &self.records,
                        records.len(),
                    )),
                    fingerprint: fingerprint.filter(|_| self.counted),
                    watched: values,
                    near,
                    missing: records_missing == Ok(true),
                }),
            });
        }
        let mut batch = Batch::default();
        self.extractor.read_page(doc.root(), &mut batch);
        let covering = self.inference.as_deref().map(|inference| Covering {
            inference,
            shape: self.shape.as_ref(),
        });
        let covered =
            (self.extractor).extract_covered(&records, placeholders, &mut batch, covering.as_ref());
        if !covered {
            // What was made of a page given back is dropped with it.
            batch = Batch::default();
        }
        let held = records.len();
        let made =
            covered.then(|| (self.encoder).make(&body, &batch, self.extractor.columns().len()));
        let (rows, dirty) = (batch.rows, std::mem::take(&mut batch.dirty));
        let tolerated = std::mem::take(&mut batch.tolerated);
        drop(batch);
        drop(records);
        self.give_back(workspace);
        // A page of fields or types the columns lack yet is given back; a
        // raw body goes out as it came, without a copy.
        let (made, refit) = match made {
            Some(Some(made)) => (made, None),
            Some(None) => (Made::Text(without_line_breaks(body)), None),
            None => (Made::Text(Vec::new()), Some(body)),
        };
        Ok(Encoded {
            rows,
            records: held,
            records_missing,
            elsewhere,
            refit,
            lone_surrogates,
            made,
            dirty,
            tolerated,
            body_len,
            fingerprint,
            count,
            cut,
            next_named,
            latency,
        })
    }
}

/// What the making of a page says of it, besides its body.
struct Page<'a> {
    body_len: usize,
    shown: &'a str,
    told: Option<&'a Told>,
    latency: Duration,
    /// See [`Arrived::counting`].
    counting: Option<&'a [String]>,
}

impl PageWork {
    /// Where `page` says the API cut its answer short (see [`CutCheck`]).
    fn cut_short(&self, page: Item<'_>) -> Option<String> {
        self.cut.find(page)
    }

    /// Buffers for a page to be made: a page's before, or new ones.
    fn workspace(&self) -> Workspace {
        let mut kept = self.workspaces.lock().unwrap_or_else(|e| e.into_inner());
        kept.pop().unwrap_or_default()
    }

    /// Keeps a page's buffers for the next page made.
    fn give_back(&self, workspace: Workspace) {
        (self.workspaces.lock())
            .unwrap_or_else(|e| e.into_inner())
            .push(workspace);
    }

    /// Members of the page named like the watched paths whose absence
    /// ends pagination, where they selected nothing.
    fn near<'d>(
        &self,
        root: Item<'d>,
        watched: &[JsonPath],
        values: &[Option<Value>],
    ) -> Vec<(usize, String)> {
        let absent = |&&i: &&usize| values.get(i).is_some_and(Option::is_none);
        (self.ends_when_absent.iter().filter(absent))
            .filter_map(|&i| Some((i, near_member(root, watched.get(i)?)?)))
            .collect()
    }

    /// The records of `body` read against their shape, if the page has
    /// one and no watched value lies among the records.
    fn read_shaped(
        &self,
        body: &[u8],
        watched: &[JsonPath],
        learned: &mut Learned,
    ) -> Option<Shaped> {
        let shaped = self.shaped.as_ref()?;
        let records = self.records.path.as_ref().and_then(|p| p.segments());
        let first = records.and_then(<[Segment]>::first);
        // A watched value is read from the page around the records: it
        // must lie at keys that do not lead into them.
        let around = |w: &JsonPath| {
            let keys = w.segments().unwrap_or_default();
            !keys.is_empty()
                && keys.iter().all(|k| matches!(k, Segment::Key(_)))
                && first.is_some_and(|first| first != &keys[0])
        };
        if !watched.iter().all(around) {
            return None;
        }
        let rows = match &self.encoder {
            PageEncoder::Text(TextEncoder::Ndjson(encoder), _) => Rows::Ndjson(encoder),
            #[cfg(feature = "parquet")]
            PageEncoder::Arrow(_) => Rows::Arrow,
            _ => return None,
        };
        let lines = Lines {
            extractor: &self.extractor,
            shape: self.shape.as_ref(),
            rows,
        };
        shaped.read(body, lines, learned)
    }

    /// The page made from its records read against their shape: the page
    /// around the records, with none, is parsed for the watched values.
    /// `None` if that text is not JSON: the page path then reads the page
    /// whole and says where it is not.
    fn make_shaped(
        &self,
        shaped: Shaped,
        body: &[u8],
        page: &Page<'_>,
        unsent: &mut Option<(oneshot::Sender<Landed>, Fetched)>,
        watched: &[JsonPath],
        workspace: &mut Workspace,
    ) -> Option<Result<Encoded>> {
        let fingerprint = Some(shaped.fingerprint(body, &mut workspace.scanner)?);
        let around = shaped.around(body);
        let doc = workspace.scanner.scan(&around, None).ok()?;
        let count = (page.counting).and_then(|keys| api_count(doc.root(), keys, page.shown));
        let cut = self.cut_short(doc.root());
        let next_named = (self.unpaged.as_deref()).and_then(|keys| next_named(doc.root(), keys));
        let made = (|| {
            let (_, values) = index_records(&doc, &self.records, watched, page.shown)?;
            if let Some(told) = page.told.filter(|told| told.body_len == page.body_len) {
                check_told(&told.values, &values, watched, page.shown)?;
            }
            if let Some((landed, fetched)) = unsent.take() {
                let near = self.near(doc.root(), watched, &values);
                let _ = landed.send(Landed {
                    fetched,
                    shown: page.shown.to_owned(),
                    body_len: Some(page.body_len),
                    page: Some(PageFacts {
                        records: Some(shaped.rows),
                        fingerprint: fingerprint.filter(|_| self.counted),
                        watched: values,
                        near,
                        // A shaped page is one of records at the path.
                        missing: false,
                    }),
                });
            }
            Ok(Encoded {
                rows: shaped.rows,
                records: shaped.rows,
                records_missing: Ok(false),
                elsewhere: None,
                refit: None,
                lone_surrogates: doc.lone_surrogates(),
                made: shaped.made,
                dirty: Vec::new(),
                tolerated: shaped.tolerated,
                body_len: page.body_len,
                fingerprint,
                count,
                cut,
                next_named,
                latency: page.latency,
            })
        })();
        Some(made)
    }
}

/// A page's making, as a maker thread runs it.
type Making = Box<dyn FnOnce() + Send>;

/// The threads followed pages are made on, one per core (more would only
/// share the cores and their caches). They run two steps of niceness
/// below the rest of the process ([`MAKER_NICENESS`]): on a busy machine
/// the thread that reads a page's head and sends the next request, and a
/// server sharing the machine, get a core as soon as they wake rather than
/// after a maker's time slice, which is what a chain of requests waits on.
/// They stop once the work that started them is dropped.
#[derive(Default)]
struct Makers {
    queue: Mutex<Option<mpsc::Sender<Making>>>,
}

/// How many steps of niceness the maker threads take over the process's
/// own. 2, 5 and 10 measured the same on a followed run sharing two cores
/// with its server; the least keeps most of the makers' share of the CPU
/// beside other work on the machine.
const MAKER_NICENESS: i32 = 2;

impl Makers {
    fn give(&self, making: Making) -> Result<()> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let sender = match &mut *queue {
            Some(sender) => sender,
            None => queue.insert(Makers::start()?),
        };
        sender
            .send(making)
            .map_err(|_| Error::http("the page maker threads have stopped"))
    }

    fn start() -> Result<mpsc::Sender<Making>> {
        let (sender, receiver) = mpsc::channel::<Making>();
        let receiver = Arc::new(Mutex::new(receiver));
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        for _ in 0..count {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name("hydrant-maker".to_owned())
                .spawn(move || {
                    lower_priority();
                    loop {
                        // One maker waits on the queue while the others
                        // wait on its lock.
                        let next = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        match next {
                            Ok(making) => making(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| Error::io("cannot start a page maker thread", e))?;
        }
        Ok(sender)
    }
}

/// Lowers the calling thread's priority by [`MAKER_NICENESS`]. On Linux a
/// thread's niceness is its own; other systems keep one for the process,
/// which is left as it is.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let thread = Some(rustix::thread::gettid());
        let lowered = getpriority_process(thread)
            .and_then(|nice| setpriority_process(thread, (nice + MAKER_NICENESS).min(19)));
        if let Err(e) = lowered {
            tracing::debug!("page maker thread keeps its priority: {e}");
        }
    }
}

/// What the head of a page that is still arriving tells of its watched
/// values.
#[derive(Debug, PartialEq)]
enum Head {
    Read(Vec<Value>),
    /// Not yet: more of the page may hold them.
    Wait,
    /// Left for the whole page: the head cannot hold them, or they are
    /// not in its first [`HEAD_WATCHED`] bytes.
    Leave,
}

/// Fails when the parse of a page reads a watched value otherwise than its
/// tail was read: a key spelled two ways, the first with an escape. The
/// next request went out on the tail's value, so the run cannot go on
/// from the parse's.
fn check_told(
    told: &[Value],
    parsed: &[Option<Value>],
    watched: &[JsonPath],
    shown: &str,
) -> Result<()> {
    let differs = told
        .iter()
        .zip(parsed)
        .zip(watched)
        .find(|((told, parsed), _)| parsed.as_ref() != Some(*told));
    match differs {
        None => Ok(()),
        Some(((told, parsed), path)) => Err(Error::data(format!(
            "response from {shown}: `{}` is {} by the parse of the page, but the next \
             request went out for {told}, read from the end of the page before it was parsed \
             (a key spelled two ways?)",
            path.as_str(),
            parsed.as_ref().unwrap_or(&Value::Null)
        ))),
    }
}

/// The keys of each watched value when every one is a path of keys, the
/// only ones read from the tail of a page.
fn tail_paths(watched: &[JsonPath]) -> Option<Vec<Vec<&str>>> {
    watched.iter().map(JsonPath::keys).collect()
}

/// Reads the watched values from `head`, however long it has grown: a
/// first piece may hold most of the page.
fn read_head(head: &[u8], keys: &[&str]) -> Head {
    match leading_members(head, keys) {
        Leading::Found(values) => Head::Read(values),
        Leading::Cut if head.len() <= HEAD_WATCHED => Head::Wait,
        Leading::Cut | Leading::Absent => Head::Leave,
    }
}

/// The keys of the watched values when each is a top-level member, the
/// only ones read from the head of a page.
fn head_keys(watched: &[JsonPath]) -> Option<Vec<&str>> {
    watched
        .iter()
        .map(|path| match path.segments() {
            Some([Segment::Key(key)]) => Some(key.as_str()),
            _ => None,
        })
        .collect()
}

/// A body that did not parse: the message says what it looks like
/// instead (HTML, NDJSON, text), its Content-Type and how it starts, as
/// the parser's own words rarely help.
pub(crate) fn not_json(
    shown: &str,
    content_type: Option<&str>,
    body: &[u8],
    fault: impl std::fmt::Display,
) -> Error {
    let start = body.trim_ascii_start();
    let lines: Vec<&[u8]> = start
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty())
        .take(2)
        .collect();
    let one_value_a_line = lines.len() == 2
        && lines
            .iter()
            .all(|line| serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok());
    let non_finite = crate::json::non_finite_values(body);
    let what = if start.starts_with(b"<") {
        "is not JSON: the answer is HTML or XML".to_owned()
    } else if let Some(&(at, len)) = non_finite.first() {
        format!(
            "is not JSON: it holds `{}` at byte {at}, a number JSON has no word for (Python's \
             json.dumps writes NaN and Infinity so); set records.non_finite = \"null\" to read \
             such values as null",
            String::from_utf8_lossy(&body[at..at + len])
        )
    } else if one_value_a_line {
        "is not JSON: the answer is NDJSON (one JSON value a line), not one document (set \
         records.format = \"ndjson\" to read each line as a record)"
            .to_owned()
    } else {
        format!("is not valid JSON: {fault}")
    };
    let head = String::from_utf8_lossy(&start[..start.len().min(80)]);
    Error::data(format!(
        "response from {shown} {what}; content-type {}; it starts `{}`",
        content_type.unwrap_or("(none)"),
        head.escape_debug()
    ))
}

/// The Content-Type of an answer, as text.
pub(crate) fn content_type(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The records of a scanned page and the paginator's watched values: the
/// first half of a page's work on the index, in a worker or in the run
/// loop.
pub(crate) fn index_records<'d>(
    doc: &'d Doc<'d>,
    records: &Records,
    watched: &[JsonPath],
    shown: &str,
) -> Result<(Vec<Item<'d>>, Vec<Option<Value>>)> {
    let root = doc.root();
    let watched = watched
        .iter()
        .map(|w| crate::read::watched_node(root, w))
        .collect();
    let records = select_records(root, records)
        .map_err(|e| Error::data(format!("response from {shown}: {e}")))?;
    Ok((records, watched))
}

/// Whether a page's head or tail names the cursor or link its request was
/// made with (see [`PageWork::head_watch`]).
fn names_own(own: &LastFollowed, parts: &http::response::Parts, values: &[Value]) -> bool {
    // Most pages name their next in the body: their headers are not copied.
    let headers = match own.reads_headers() {
        true => crate::read::run::headers_of(&parts.headers),
        false => Vec::new(),
    };
    let watched: Vec<Option<Value>> = values.iter().cloned().map(Some).collect();
    own.named_by(&hydrant_paginate::Page {
        status: parts.status.as_u16(),
        headers: &headers,
        records: 0,
        watched: &watched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random pages whose links come in any place and spelling, as keys
    /// repeated, escaped, nested in records or in `paging`: what the head
    /// (of the whole body, or of any start of it) and the tail read before
    /// the parse is what the parse reads. The one
    /// exception, an escaped spelling before a key read at the tail, is
    /// what `check_told` fails the run on.
    #[test]
    fn what_is_read_before_the_parse_is_what_the_parse_reads() {
        use rand::SeedableRng;
        use rand::rngs::StdRng;
        let mut rng = StdRng::seed_from_u64(0x7a11);
        let watched = [
            JsonPath::parse("$.next").unwrap(),
            JsonPath::parse("$.paging.next").unwrap(),
        ];
        let mut scanner = Scanner::default();
        let (mut heads, mut tails, mut escaped) = (0, 0, 0);
        for _ in 0..4000 {
            let page = LinkPage::random(&mut rng);
            let body = page.text.as_bytes();
            let doc = scanner.scan(body, None).unwrap();
            let parsed: Vec<_> = watched
                .iter()
                .map(|w| crate::read::watched_node(doc.root(), w))
                .collect();
            let head = leading_members(body, &["next"]);
            if let Leading::Found(read) = &head {
                heads += 1;
                assert_eq!(Some(&read[0]), parsed[0].as_ref(), "head of {}", page.text);
            }
            // While the body arrives, its start tells the same or nothing.
            for cut in 0..body.len() {
                let early = leading_members(&body[..cut], &["next"]);
                assert!(
                    early == Leading::Cut || early == head,
                    "{early:?} from the first {cut} bytes of {}",
                    page.text
                );
            }
            for (at, path) in [vec!["next"], vec!["paging", "next"]]
                .into_iter()
                .enumerate()
            {
                let Some(read) = trailing_members(body, &[path]) else {
                    continue;
                };
                tails += 1;
                let told = check_told(&read, &parsed[at..=at], &watched[at..=at], "u");
                if told.is_err() {
                    escaped += 1;
                    assert!(page.escaped_before[at], "tail of {}", page.text);
                }
            }
        }
        assert!(
            heads > 250 && tails > 600,
            "{heads} heads, {tails} tails read"
        );
        assert!(escaped > 0, "no escaped spelling was read at the tail");
    }

    /// A page of [`what_is_read_before_the_parse_is_what_the_parse_reads`].
    struct LinkPage {
        text: String,
        /// Whether a top-level `next` (0) or `paging` (1) spelled with an
        /// escape comes before another spelling of it.
        escaped_before: [bool; 2],
    }

    impl LinkPage {
        fn random(rng: &mut rand::rngs::StdRng) -> LinkPage {
            use rand::Rng;
            let value = |rng: &mut rand::rngs::StdRng| -> String {
                match rng.random_range(0..7) {
                    0 => "null".into(),
                    1 => rng.random_range(-3..300_i64).to_string(),
                    2 => "1.5".into(),
                    3 => r#""/p?a=\"1\"&b=\\""#.into(),
                    4 => r#""\u002fp\/2""#.into(),
                    _ => format!("\"/p?page={}\"", rng.random_range(0..99)),
                }
            };
            let spellings = [r#""next""#, r#""ne\u0078t""#, r#""\u006Eext""#];
            let papers = [r#""paging""#, r#""p\u0061ging""#];
            let space = |rng: &mut rand::rngs::StdRng| [" ", "", "\n  "][rng.random_range(0..3)];
            let mut members = Vec::new();
            let mut seen = [(false, false); 2];
            let mut escaped_before = [false; 2];
            for _ in 0..rng.random_range(1..6) {
                let (key, which, val) = match rng.random_range(0..4) {
                    0 => {
                        let spelling = rng.random_range(0..spellings.len());
                        (
                            spellings[spelling].to_owned(),
                            Some((0, spelling > 0)),
                            value(rng),
                        )
                    }
                    1 => {
                        let spelling = rng.random_range(0..papers.len());
                        let inner = format!(
                            "{{\"prev\":{},{}\"next\"{}:{}}}",
                            value(rng),
                            space(rng),
                            space(rng),
                            value(rng)
                        );
                        (papers[spelling].to_owned(), Some((1, spelling > 0)), inner)
                    }
                    2 => {
                        let records: Vec<String> = (0..rng.random_range(0..3))
                            .map(|i| format!("{{\"id\":{i},\"next\":{}}}", value(rng)))
                            .collect();
                        (
                            "\"data\"".to_owned(),
                            None,
                            format!("[{}]", records.join(",")),
                        )
                    }
                    _ => ("\"n\"".to_owned(), None, value(rng)),
                };
                if let Some((at, is_escaped)) = which {
                    let (any, escaped) = &mut seen[at];
                    escaped_before[at] |= *escaped;
                    *any = true;
                    *escaped |= is_escaped;
                }
                let (a, b) = (space(rng), space(rng));
                members.push(format!("{key}{a}:{b}{val}"));
            }
            let text = format!("{{{}}}", members.join(","));
            LinkPage {
                text,
                escaped_before,
            }
        }
    }

    #[test]
    fn a_head_is_read_whatever_its_length_and_left_only_past_the_limit() {
        let watched = [JsonPath::parse("$.next").unwrap()];
        let keys = head_keys(&watched).unwrap();
        let records = "{\"id\":1},".repeat(HEAD_WATCHED / 8);
        let long = format!("{{\"next\":\"/p2\",\"data\":[{records}");
        assert!(long.len() > HEAD_WATCHED);
        let read = Head::Read(vec![Value::from("/p2")]);
        assert_eq!(read_head(long.as_bytes(), &keys), read);
        assert_eq!(read_head(&long.as_bytes()[..20], &keys), read);
        assert_eq!(read_head(&long.as_bytes()[..12], &keys), Head::Wait);
        // A long leading member the link may follow: waited on up to the
        // limit.
        let late = format!(
            "{{\"note\":\"{}\",\"next\":\"/p2\"}}",
            "x".repeat(HEAD_WATCHED)
        );
        assert_eq!(read_head(&late.as_bytes()[..100], &keys), Head::Wait);
        assert_eq!(
            read_head(&late.as_bytes()[..HEAD_WATCHED + 1], &keys),
            Head::Leave
        );
        assert_eq!(read_head(late.as_bytes(), &keys), read);
        // Records before the link: left at once, not watched to the limit.
        let after = format!("{{\"data\":[{records}");
        assert_eq!(read_head(&after.as_bytes()[..100], &keys), Head::Leave);
    }

    #[test]
    fn makers_run_every_making_below_the_priority_of_the_process() {
        let makers = Makers::default();
        let (sender, made) = mpsc::channel();
        for page in 0..8 {
            let sender = sender.clone();
            makers
                .give(Box::new(move || {
                    let thread = std::thread::current();
                    let _ = sender.send((page, thread.name().map(str::to_owned), niceness()));
                }))
                .unwrap();
        }
        drop(sender);
        let mut made: Vec<_> = made.iter().collect();
        made.sort();
        assert_eq!(
            made.iter().map(|m| m.0).collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
        let lowered = niceness().map(|own| (own + MAKER_NICENESS).min(19));
        for (page, name, nice) in made {
            assert_eq!(name.as_deref(), Some("hydrant-maker"), "page {page}");
            assert_eq!(nice, lowered, "page {page}");
        }
    }

    /// The calling thread's niceness, where a thread has its own.
    fn niceness() -> Option<i32> {
        #[cfg(target_os = "linux")]
        return rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok();
        #[cfg(not(target_os = "linux"))]
        return None;
    }

    #[test]
    fn a_tail_read_the_parse_reads_otherwise_fails_naming_both() {
        let watched = [JsonPath::parse("$.paging.next").unwrap()];
        let told = [Value::from("/b")];
        assert!(check_told(&told, &[Some(Value::from("/b"))], &watched, "GET u").is_ok());
        let error = check_told(&told, &[Some(Value::from("/a"))], &watched, "GET u")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("response from GET u: `$.paging.next` is \"/a\"")
                && error.contains("went out for \"/b\""),
            "{error}"
        );
        let absent = check_told(&told, &[None], &watched, "GET u").unwrap_err();
        assert!(absent.to_string().contains("is null"), "{absent}");
    }

    #[test]
    fn only_top_level_members_are_watched_at_the_head() {
        let paths = |texts: &[&str]| -> Vec<JsonPath> {
            texts.iter().map(|t| JsonPath::parse(t).unwrap()).collect()
        };
        assert_eq!(
            head_keys(&paths(&["$.next", "$.cursor"])),
            Some(vec!["next", "cursor"])
        );
        assert_eq!(head_keys(&paths(&["$.next", "$.meta.next"])), None);
        assert_eq!(head_keys(&[]), Some(vec![]));
    }
}
