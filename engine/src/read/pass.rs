//! What stays the same through a run (the [`Context`]) and one pass of the
//! paginator through a job, or through one fan-out value of it.

use std::collections::HashSet;
use std::sync::Arc;

use http::Uri;
use hydrant_paginate::{Override, Paginator, Plan, Stop};

use crate::error::{Error, Result};
use crate::extract::Placeholders;
use crate::job::{Job, Request};
use crate::json::path::JsonPath;
use crate::net::client::HttpClient;
use crate::net::request::{Prepared, prepare};
use crate::net::session::Session;
use crate::read::fanout::FanValue;
use crate::state::SavedPass;

/// Everything a run needs that does not change from page to page.
pub(super) struct Context<'j> {
    pub(super) job: &'j Job,
    request: &'j Request,
    pub(super) session: Session,
}

impl<'j> Context<'j> {
    pub(super) fn new(job: &'j Job, redirect_to: Option<Uri>) -> Result<Context<'j>> {
        if job.write.is_some() {
            return Err(Error::config(format!(
                "job file `{}`: this is a write job; `hydrant run` runs it",
                job.name
            )));
        }
        let request = job.request.as_ref().expect("a read job has a request");
        let client = HttpClient::new(request, &job.limits, redirect_to)?;
        let session = Session::new(client, job.auth.authenticator(), job);
        Ok(Context {
            job,
            request,
            session,
        })
    }

    pub(super) fn paginator(&self) -> Result<Paginator> {
        Paginator::new(&self.job.paginate)
            .map_err(|e| Error::config(format!("job file `{}`: {e}", self.job.name)))
    }

    pub(super) fn prepare_with(
        &self,
        plan: &Plan,
        placeholders: &Placeholders,
    ) -> Result<Prepared> {
        prepare(self.request, plan, placeholders, self.session.credentials())
    }
}

/// One pass of the job: all of it without `[fanout]`, one value with it.
pub(super) struct Pass {
    /// The position of its value among the fan-out values.
    pub(super) index: u64,
    pub(super) placeholders: Arc<Placeholders>,
    /// The paginator's watched paths, compiled once.
    pub(super) watched: Arc<[JsonPath]>,
    /// Where the fan-out value goes, added to every request of the pass.
    pub(super) fanout: Vec<Override>,
    pub(super) paginator: Paginator,
    pub(super) pending: Option<Plan>,
    pub(super) ahead_index: u64,
    pub(super) ended: Option<Stop>,
    pub(super) seen: HashSet<u64>,
    /// A followed request sent before the page that named it was written,
    /// and its identity: a checkpoint taken meanwhile must still name it.
    pub(super) unanswered: Option<(Plan, u64)>,
    /// What the last page's records hashed to (see
    /// [`records_fingerprint`](crate::extract::records_fingerprint)).
    pub(super) last_records: Option<u64>,
}

impl Pass {
    pub(super) fn new(context: &Context<'_>, value: FanValue, index: u64) -> Result<Pass> {
        let mut paginator = context.paginator()?;
        let pending = Some(paginator.first());
        let watched = paginator
            .watched_paths()
            .iter()
            .map(|p| {
                JsonPath::parse(p).map_err(|e| {
                    Error::config(format!("job file `{}`: paginate: {e}", context.job.name))
                })
            })
            .collect::<Result<Vec<_>>>()?
            .into();
        Ok(Pass {
            index,
            placeholders: Arc::new(value.placeholders),
            watched,
            fanout: value.overrides,
            paginator,
            pending,
            ahead_index: 1,
            ended: None,
            last_records: None,
            seen: HashSet::new(),
            unanswered: None,
        })
    }

    /// Where the pass stands after the page just written.
    pub(super) fn save(&self) -> SavedPass {
        let unanswered = self.unanswered.as_ref().map(|(_, identity)| *identity);
        let mut requests: Vec<u64> = if self.paginator.is_counted() {
            // Counted requests never repeat; only followed ones can loop.
            Vec::new()
        } else {
            self.seen
                .iter()
                .copied()
                .filter(|id| Some(*id) != unanswered)
                .collect()
        };
        requests.sort_unstable();
        SavedPass {
            value: self.placeholders.get("value").cloned(),
            paginator: self.paginator.checkpoint(),
            next: self
                .pending
                .clone()
                .or_else(|| self.unanswered.as_ref().map(|(plan, _)| plan.clone())),
            requests,
        }
    }

    /// Goes on from a saved pass of the same value.
    pub(super) fn restore(&mut self, saved: SavedPass, state: &std::path::Path) -> Result<()> {
        let value = self.placeholders.get("value");
        if saved.value.as_ref() != value {
            return Err(Error::config(format!(
                "cannot resume from state file `{}`: fan-out value {} was {:?} and is now {:?}; \
                 the values changed since the checkpoint, so run without --resume to start over",
                state.display(),
                self.index + 1,
                saved.value.unwrap_or_default(),
                value.map_or("", String::as_str)
            )));
        }
        self.ahead_index = saved.paginator.pages;
        self.paginator.restore(saved.paginator);
        self.pending = saved.next;
        self.seen = saved.requests.into_iter().collect();
        Ok(())
    }

    /// The plan of a counted pass's request after the pages it has seen,
    /// with the pass's fan-out value: for the check of a page that came
    /// short when nothing had gone after it (see `short.rs`).
    pub(super) fn after_plan(&self) -> Option<Plan> {
        Some(self.with_fanout(self.paginator.ahead(self.paginator.pages())?))
    }

    /// `offset`: the plan of the request that starts right after the
    /// `records` of the last page seen, with the pass's fan-out value
    /// (see `short.rs`). `None` for other strategies.
    pub(super) fn right_after_plan(&self, records: usize) -> Option<Plan> {
        let last = self.paginator.pages().checked_sub(1)?;
        Some(self.with_fanout(self.paginator.right_after(last, records as u64)?))
    }

    /// `plan` with the pass's fan-out value set beside it.
    fn with_fanout(&self, plan: Plan) -> Plan {
        let mut overrides = self.fanout.clone();
        overrides.extend(plan.overrides);
        Plan { overrides }
    }

    /// The next request to launch, if one can go now, and for a followed
    /// (not counted) request the paginator's plan it came from.
    pub(super) fn next_plan(&mut self) -> Option<(Plan, Option<Plan>)> {
        if self.ended.is_some() {
            return None;
        }
        let plan = match self.pending.take() {
            Some(plan) => plan,
            None if self.paginator.is_counted() => {
                let plan = self.paginator.ahead(self.ahead_index)?;
                self.ahead_index += 1;
                plan
            }
            None => return None,
        };
        let followed = (!self.paginator.is_counted()).then(|| plan.clone());
        Some((self.with_fanout(plan), followed))
    }
}
