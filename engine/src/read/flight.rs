//! Requests under way and pages not yet written: what the read loop keeps
//! in order between sending a request and writing its page.

use std::collections::VecDeque;
use std::sync::Arc;

use hydrant_paginate::Stop;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::extract::Placeholders;
use crate::net::request::Prepared;
use crate::net::session::Fetched;
use crate::options::Interrupt;
use crate::read::worker::{Encoded, Landed};
use crate::state::SavedPass;

/// `future`'s value, or `None` when the run is interrupted first. A future
/// already done wins: a page received is a page written.
pub(super) async fn unless_interrupted<T>(
    interrupt: Option<&Interrupt>,
    future: impl std::future::Future<Output = T>,
) -> Option<T> {
    let Some(interrupt) = interrupt else {
        return Some(future.await);
    };
    tokio::select! {
        biased;
        value = future => Some(value),
        () = interrupt.wait() => None,
    }
}

/// The task making a page's rows; the encoded rows when it ends.
pub(super) type Rows = JoinHandle<Result<Option<Encoded>>>;

/// What a [`Rows`] task ended with.
pub(super) type RowsDone = std::result::Result<Result<Option<Encoded>>, tokio::task::JoinError>;

/// A request under way.
pub(super) enum Task {
    /// Its page comes back whole, for the run loop to process.
    Whole(JoinHandle<Result<Fetched>>),
    /// A worker processes its page: what the paginator needs comes on
    /// `landing` once it is parsed, the rows when the task ends.
    Worked {
        landing: oneshot::Receiver<Landed>,
        rows: Rows,
    },
}

impl Task {
    pub(super) fn abort(&self) {
        match self {
            Task::Whole(handle) => handle.abort(),
            Task::Worked { rows, .. } => rows.abort(),
        }
    }
}

pub(super) async fn join<T>(task: JoinHandle<Result<T>>) -> Result<T> {
    joined(task.await)
}

pub(super) fn joined<T>(task: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    task.map_err(|e| Error::http(format!("a request task failed: {e}")))?
}

/// Requests under way, oldest first. Dropping it (the run ended or failed)
/// aborts them, so no request outlives its run.
#[derive(Default)]
pub(super) struct InFlight {
    /// Requests, in the order their answers are taken.
    pub(super) tasks: VecDeque<(Task, Arc<Placeholders>)>,
    /// Pages stepped on whose rows a worker is still making, in order.
    pub(super) rows: VecDeque<Pending>,
}

/// Pages whose rows may be awaited while the next answer is stepped on.
/// Measured on 1000 next_link pages of 1000 records (2 cores): 2 took
/// 1.08 s, 4 took 1.02 s; each page held costs its body and its rows.
pub(super) const ROWS_PENDING: usize = 4;

/// A page stepped on, its rows not yet written.
pub(super) struct Pending {
    pub(super) rows: Rows,
    /// The pass's placeholders, for a page the worker gives back.
    pub(super) placeholders: Arc<Placeholders>,
    pub(super) shown: String,
    pub(super) standing: Option<Standing>,
    /// The request, when its page landed from its head: its bytes and
    /// latency are counted once the rows come.
    pub(super) landed_early: Option<Prepared>,
    /// Whether a `paginate.stop` rule ended the pass on this page.
    pub(super) stopped_by_rule: bool,
    /// Where the page stands in its pass, if it may be the page before it
    /// given again (see
    /// [`ReadRun::again_at`](super::run::ReadRun::again_at)).
    pub(super) again_at: Option<u64>,
    /// The index of the page's pass.
    pub(super) pass: u64,
}

/// Where the run stands once a page is written, taken when the paginator
/// steps on it (only for a job with `[state]`): by the time the page is
/// written, later answers may have been stepped on.
pub(super) struct Standing {
    pub(super) values_done: u64,
    pub(super) pass: Option<SavedPass>,
    pub(super) stopped: Stop,
    pub(super) requests: u64,
    pub(super) bytes: u64,
    pub(super) answered: u64,
    pub(super) warnings: usize,
}

impl InFlight {
    /// Drops the requests under way; pages already stepped on stay.
    pub(super) fn abort_all(&mut self) {
        for (task, _) in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.abort_all();
        for pending in &self.rows {
            pending.rows.abort();
        }
    }
}

/// A page sampled for the columns, written once they are fixed.
pub(super) struct Held {
    pub(super) body: Vec<u8>,
    pub(super) shown: String,
    pub(super) standing: Option<Standing>,
    pub(super) placeholders: Arc<Placeholders>,
    pub(super) records_missing: bool,
}
