//! A job's session with its API: sending prepared requests with the
//! credentials that change per request (an OAuth2 token, signatures),
//! following redirects without carrying credentials off the job's origin,
//! and keeping every secret out of the messages it writes.

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use bytes::Bytes;
use http_body_util::Full;
use hydrant_auth::{
    Authenticator, Bearer, Credentials, ExposeSecret, OAuth2, SecretString, SignInput, Signer,
};

use crate::error::{Error, Result};
use crate::job::{Job, RetryPolicy};
use crate::net::client::{HttpClient, Response};
use crate::net::ratelimit;
use crate::net::request::{Prepared, add_secret, redact_with};

/// Redirects followed for one request before giving up.
const MAX_REDIRECTS: usize = 10;

/// A request and its successful response.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub prepared: Prepared,
    pub response: Response,
    /// From the request going out to its body read, for the answer taken
    /// (waits for a rate limit, and earlier attempts, not included).
    pub latency: Duration,
}

/// [`Watch`](crate::net::client::Watch) with the request an answer is to.
pub(crate) type PageWatch<'w> =
    dyn FnMut(&Prepared, &http::response::Parts, &[u8], bool) -> bool + Send + 'w;

/// Cheap to clone: requests in flight share it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    client: HttpClient,
    retry: RetryPolicy,
    /// `limits.rate` and `limits.burst`, shared by every request of the job.
    rate: Option<DefaultDirectRateLimiter>,
    /// `request.interval`: the earliest start of the next request.
    interval: Duration,
    next_start: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// Where a success said the API's rate limit is spent: the earliest
    /// start of the next request, once it resets.
    resume_at: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// The fixed credentials, added as requests are prepared.
    credentials: Credentials,
    /// Locked across a token fetch, so concurrent requests share one.
    oauth2: Option<tokio::sync::Mutex<OAuth2>>,
    /// The OAuth2 `token_url`, to show without taking the lock.
    token_url: Option<String>,
    signers: Vec<Signer>,
    allowed_hosts: Vec<String>,
    /// Every secret value, as sent and percent-encoded: redacted from any
    /// response text quoted in a message (servers echo requests).
    secrets: std::sync::RwLock<Vec<String>>,
    /// Requests sent again: after a transient failure, a status of
    /// `retry_on`, or a 401 with a fresh token.
    retries: AtomicU64,
    /// Whether a successful answer's body is NDJSON, read as the array of
    /// its lines (`records.format = "ndjson"`).
    lines: bool,
    /// Whether a successful answer's `NaN` and `Infinity` are read as
    /// null (`records.non_finite = "null"`).
    non_finite_null: bool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("client", &self.client)
            .field("retry", &self.retry)
            .field("rate", &self.rate.is_some())
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(client: HttpClient, authenticator: Authenticator, job: &Job) -> Session {
        let request = job.request.as_ref().expect("a read job has a request");
        let mut secrets = Vec::new();
        for secret in authenticator.secrets() {
            add_secret(&mut secrets, secret.expose_secret());
        }
        // Credentials the job wrote into its own headers and query.
        for (_, value, secret) in request.headers.iter().chain(&request.query) {
            if *secret {
                add_secret(&mut secrets, value);
                // `Authorization: Bearer x` may come back as `x` alone.
                if let Some((_, credential)) = value.split_once(' ') {
                    add_secret(&mut secrets, credential.trim());
                }
            }
        }
        for value in
            (request.url_secrets.iter().map(|(_, value)| value)).chain(&request.var_secrets)
        {
            add_secret(&mut secrets, value);
        }
        let token_url = authenticator
            .oauth2
            .as_ref()
            .map(|o| o.token_url().to_owned());
        Session {
            inner: Arc::new(Inner {
                client,
                retry: job.limits.retry.clone(),
                rate: job.limits.rate.map(|(rate, burst)| {
                    let period = Duration::from_secs_f64(1.0 / rate);
                    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
                    let quota = Quota::with_period(period)
                        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
                        .allow_burst(burst);
                    RateLimiter::direct(quota)
                }),
                interval: request.interval,
                next_start: std::sync::Mutex::new(None),
                resume_at: std::sync::Mutex::new(None),
                credentials: authenticator.credentials,
                oauth2: authenticator.oauth2.map(tokio::sync::Mutex::new),
                token_url,
                signers: authenticator.signers,
                allowed_hosts: request.allowed_hosts.clone(),
                secrets: std::sync::RwLock::new(secrets),
                retries: AtomicU64::new(0),
                lines: job.records.lines,
                non_finite_null: job.records.non_finite_null,
            }),
        }
    }

    /// The fixed credentials, for [`crate::net::request::prepare`].
    pub(crate) fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    pub(crate) fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    /// `bytes` with every known secret replaced by `***`: an answer's body
    /// as it may be kept. Borrowed when it holds none.
    pub(crate) fn redact_bytes<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        let secrets = self.inner.secrets.read().unwrap_or_else(|e| e.into_inner());
        redact_with(bytes, &secrets)
    }

    /// `text` with every known secret replaced by `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        // Secrets are text, so a replaced one ends where a character does.
        String::from_utf8_lossy(&self.redact_bytes(text.as_bytes())).into_owned()
    }

    /// The start of a response body for an error message, secrets
    /// redacted before it is cut short.
    fn quote(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
        snippet(&self.redact(&text))
    }

    /// Sends a request, follows its redirects, retries it on a transient
    /// failure or a status of `limits.retry_on` (honouring `Retry-After`),
    /// and fetches a new OAuth2 token once if the API rejects the current
    /// one. A status other than 2xx in the end is an error naming the URL,
    /// with the start of the body (secrets redacted).
    pub(crate) async fn fetch(&self, prepared: Prepared) -> Result<Fetched> {
        let (fetched, _) = self.send_watching(prepared, Asked::Read, None).await;
        fetched.map(|f| self.framed(f))
    }

    /// A successful answer whose body is NDJSON, as the array of its lines
    /// (see [`crate::json::lines_as_array`]): every page path reads one
    /// document. With `records.non_finite = "null"`, its `NaN` and
    /// `Infinity` as null.
    fn framed(&self, mut fetched: Fetched) -> Fetched {
        if self.inner.lines && fetched.response.status.is_success() {
            fetched.response.body = crate::json::lines_as_array(&fetched.response.body);
        }
        if self.inner.non_finite_null && fetched.response.status.is_success() {
            let nulled = crate::json::non_finite_as_null(&fetched.response.body);
            if let Some(body) = nulled {
                fetched.response.body = body;
            }
        }
        fetched
    }

    /// [`Session::fetch`], showing each successful answer to `watch`, with
    /// the request it answers (redirects followed), while its body is
    /// still arriving: see [`Watch`](crate::net::client::Watch).
    pub(crate) async fn fetch_watching(
        &self,
        prepared: Prepared,
        watch: &mut PageWatch<'_>,
    ) -> Result<Fetched> {
        (self
            .send_watching(prepared, Asked::Read, Some(watch))
            .await
            .0)
            .map(|f| self.framed(f))
    }

    /// [`Session::fetch`] for a request that may change data, with the
    /// retries it took. Unless it is `repeatable` (idempotent, or carrying
    /// an idempotency key), it is sent again only when it provably had no
    /// effect: the connection was never made, a 401 let a fresh OAuth2
    /// token be fetched, or the server answered 408, 429 or 503 (RFC 9110:
    /// not processed). A failure from the server carries its status and the
    /// start of its answer.
    pub(crate) async fn send(
        &self,
        prepared: Prepared,
        repeatable: bool,
    ) -> (Result<Fetched>, u32) {
        self.send_watching(prepared, Asked::Write { repeatable }, None)
            .await
    }

    async fn send_watching(
        &self,
        prepared: Prepared,
        asked: Asked,
        watch: Option<&mut PageWatch<'_>>,
    ) -> (Result<Fetched>, u32) {
        let mut retries = 0;
        let result = self
            .follow(prepared, asked, &mut retries, watch)
            .await
            .map_err(|e| e.redacted(|text| self.redact(text)));
        (result, retries)
    }

    /// The URL of a request for messages and logs: secret query values
    /// masked, and any secret the server put elsewhere in a link redacted.
    pub(crate) fn shown(&self, prepared: &Prepared) -> String {
        self.redact(&prepared.shown_url())
    }

    async fn follow(
        &self,
        prepared: Prepared,
        asked: Asked,
        retries: &mut u32,
        mut watch: Option<&mut PageWatch<'_>>,
    ) -> Result<Fetched> {
        let repeatable = asked.repeatable();
        let mut current = prepared;
        let mut redirects = 0;
        let mut token_refetched = false;
        let mut backoff = backoff(self.inner.retry.initial, self.inner.retry.max);
        loop {
            let shown = self.shown(&current);
            // Credentials that change with time (a token, a signature's
            // timestamp and nonce) are taken after every wait, right before
            // the request leaves: a queued request must not carry stale ones.
            self.pace().await;
            let bearer = match (&self.inner.oauth2, current.to_job_origin()) {
                (Some(oauth2), true) => Some(self.bearer(oauth2).await?),
                _ => None,
            };
            let sent = self.authorized(&current, bearer.as_ref().map(|b| &b.header));
            tracing::debug!(url = %shown, "request");
            let sent_at = Instant::now();
            let sent = sent.to_http()?;
            let answer = match &mut watch {
                Some(watch) => {
                    let current = &current;
                    // A 202 is asked again (below): its body is no page.
                    let mut seen = |parts: &http::response::Parts, body: &[u8], complete: bool| {
                        parts.status == http::StatusCode::ACCEPTED
                            || watch(current, parts, body, complete)
                    };
                    self.inner.client.send(sent, &shown, Some(&mut seen)).await
                }
                None => self.inner.client.send(sent, &shown, None).await,
            };
            let response = match answer {
                Ok(response) => response,
                Err(e) if e.is_transient() && (repeatable || e.is_unsent()) => {
                    let Ok(wait) = self.retry_wait(retries, &mut backoff, None, &shown) else {
                        return Err(e.suffixed(&after(*retries)));
                    };
                    tracing::warn!("{e}; retrying in {wait:.1?}");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            tracing::debug!(url = %shown, status = response.status.as_u16(), bytes = response.body.len(), "response");
            let status = response.status.as_u16();
            if status == 401
                && let (Some(bearer), Some(oauth2), false) =
                    (&bearer, &self.inner.oauth2, token_refetched)
            {
                tracing::info!(url = %shown, "the API rejected the OAuth2 token; fetching a new one");
                oauth2.lock().await.rejected(bearer.generation);
                token_refetched = true;
                *retries += 1;
                self.inner.retries.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if matches!(status, 301 | 302 | 303 | 307 | 308)
                && let Some(location) = response.headers.get(http::header::LOCATION)
            {
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(Error::http(format!(
                        "{} {shown}: more than {MAX_REDIRECTS} redirects",
                        current.method.as_str()
                    )));
                }
                let location = String::from_utf8_lossy(location.as_bytes()).into_owned();
                current = current.redirected(status, &location, &self.inner.allowed_hosts)?;
                tracing::debug!(from = %shown, to = %self.shown(&current), status, "redirect");
                continue;
            }
            if status == 202 && asked == Asked::Read {
                let wait = self.not_ready(&current, &shown, &response, retries, &mut backoff)?;
                tracing::warn!(
                    "{} {shown} answered 202 Accepted: the answer is still being prepared; \
                     asking again in {wait:.1?}",
                    current.method.as_str()
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            if response.status.is_success() {
                self.note_spent(&response.headers, &shown);
                return Ok(Fetched {
                    prepared: current,
                    response,
                    latency: sent_at.elapsed(),
                });
            }
            let wait = self.status_retry(
                &current,
                &shown,
                &response,
                repeatable,
                retries,
                &mut backoff,
            )?;
            tracing::warn!(
                "{} {shown} answered {}; retrying in {wait:.1?}",
                current.method.as_str(),
                response.status
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// How long to wait before sending again a request answered with a
    /// failing `response`; its error when the job's retries do not cover
    /// the status or the request, or are spent.
    fn status_retry(
        &self,
        current: &Prepared,
        shown: &str,
        response: &Response,
        repeatable: bool,
        retries: &mut u32,
        backoff: &mut ExponentialBackoff,
    ) -> Result<Duration> {
        let status = response.status.as_u16();
        let answer = self.quote(&response.body);
        let failed = |message: String| Error::http(message).answered(status, answer.clone());
        let text = format!(
            "{} {shown} answered {}{}{}",
            current.method.as_str(),
            response.status,
            after_colon(&answer),
            not_acceptable(current, status),
        );
        // A 403 or 429 that says the API's rate limit is spent is sent
        // again once it resets (GitHub answers 403), POSTs too: it was not
        // processed.
        let spent = (matches!(status, 403 | 429))
            .then(|| ratelimit::spent(&response.headers, SystemTime::now()))
            .flatten();
        // RFC 9110: 408, 429 and 503 say the request was not processed,
        // so even a POST is sent again.
        let without_effect = matches!(status, 408 | 429 | 503);
        let retried = self.inner.retry.retry_on.contains(&status) && (repeatable || without_effect);
        // GitHub's secondary rate limit: a 403 with a `Retry-After`.
        let told_to_wait =
            status == 403 && response.headers.contains_key(http::header::RETRY_AFTER);
        if !retried && spent.is_none() && !told_to_wait {
            return Err(failed(text));
        }
        let retry_after =
            (self.asked_wait(response, spent)).map_err(|why| failed(format!("{text}; {why}")))?;
        self.retry_wait(retries, backoff, retry_after, shown)
            .map_err(|()| failed(format!("{text}{}", after(*retries))))
    }

    /// The wait a failing or unready `response` asks for before it is
    /// sent again: its `Retry-After`, or where it has none, the reset of
    /// the rate limit it says is `spent`. `Err`, saying why, where that is
    /// longer than `limits.max_retry_wait`.
    fn asked_wait(
        &self,
        response: &Response,
        spent: Option<ratelimit::Spent>,
    ) -> std::result::Result<Option<Duration>, String> {
        let max = self.inner.retry.max_retry_wait;
        let retry_after = (response.headers.get(http::header::RETRY_AFTER))
            .and_then(|value| retry_after(value.as_bytes(), SystemTime::now()));
        match (retry_after, spent) {
            (Some(wait), _) if wait > max => Err(format!(
                "its Retry-After asks for {wait:.1?}, more than limits.max_retry_wait ({max:?})"
            )),
            (Some(wait), _) => Ok(Some(wait)),
            (None, Some(spent)) if spent.wait > max => Err(format!(
                "its rate limit is spent (`{}: 0`) and resets in {:.0?}, more than \
                 limits.max_retry_wait ({max:?})",
                spent.header, spent.wait
            )),
            (None, spent) => Ok(spent.map(|spent| spent.wait)),
        }
    }

    /// How long to wait before asking again for a page answered 202
    /// Accepted: the API is still preparing it (GitHub computes its
    /// statistics so, and asks to be asked again). Its error once the
    /// retries are spent, rather than a page of no records.
    fn not_ready(
        &self,
        current: &Prepared,
        shown: &str,
        response: &Response,
        retries: &mut u32,
        backoff: &mut ExponentialBackoff,
    ) -> Result<Duration> {
        let text = format!(
            "{} {shown} answered 202 Accepted: the API has not finished preparing the answer",
            current.method.as_str()
        );
        let retry_after = (self.asked_wait(response, None))
            .map_err(|why| Error::http(format!("{text}; {why}")))?;
        self.retry_wait(retries, backoff, retry_after, shown)
            .map_err(|()| {
                Error::http(format!(
                    "{text}{}; raise limits.max_retries or limits.backoff, or run again later",
                    after(*retries)
                ))
            })
    }

    /// Where a successful answer says the API's rate limit is spent, the
    /// next request waits for its reset, unless that is longer than
    /// `limits.max_retry_wait`: that request then fails, naming it.
    fn note_spent(&self, headers: &http::HeaderMap, shown: &str) {
        let Some(spent) = ratelimit::spent(headers, SystemTime::now()) else {
            return;
        };
        if spent.wait.is_zero() || spent.wait > self.inner.retry.max_retry_wait {
            return;
        }
        tracing::warn!(
            "{shown} says the API's rate limit is spent (`{}: 0`): the next request waits \
             {:.0?} for its reset",
            spent.header,
            spent.wait
        );
        let until = tokio::time::Instant::now() + spent.wait;
        let mut resume = self
            .inner
            .resume_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *resume = Some(resume.map_or(until, |at| at.max(until)));
    }

    /// How long to wait before retry number `retries + 1`, or `Err` when
    /// `limits.max_retries` are spent. A `Retry-After` is waited out as
    /// given, never less.
    fn retry_wait(
        &self,
        retries: &mut u32,
        backoff: &mut ExponentialBackoff,
        retry_after: Option<Duration>,
        shown: &str,
    ) -> std::result::Result<Duration, ()> {
        if *retries >= self.inner.retry.max_retries {
            return Err(());
        }
        *retries += 1;
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
        let wait = match retry_after {
            Some(wait) => wait,
            None => backoff_wait(backoff, self.inner.retry.max),
        };
        tracing::debug!(url = %shown, retry = *retries, ?wait, "retry");
        Ok(wait)
    }

    /// Waits for the job's `interval` and `rate` to allow one more request,
    /// and for a spent rate limit to reset.
    async fn pace(&self) {
        let resume = *self
            .inner
            .resume_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(at) = resume {
            tokio::time::sleep_until(at).await;
        }
        if !self.inner.interval.is_zero() {
            let start = {
                let now = tokio::time::Instant::now();
                let mut next = self
                    .inner
                    .next_start
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let start = next.map_or(now, |n| n.max(now));
                *next = Some(start + self.inner.interval);
                start
            };
            tokio::time::sleep_until(start).await;
        }
        if let Some(rate) = &self.inner.rate {
            rate.until_ready().await;
        }
    }

    /// The request as sent: with the OAuth2 token and the signatures when it
    /// goes to the job's origin.
    fn authorized<'p>(
        &self,
        prepared: &'p Prepared,
        bearer: Option<&SecretString>,
    ) -> Cow<'p, Prepared> {
        if !prepared.to_job_origin() || (bearer.is_none() && self.inner.signers.is_empty()) {
            return Cow::Borrowed(prepared);
        }
        let mut sent = prepared.clone();
        if let Some(bearer) = bearer {
            sent.set_header("authorization", bearer.expose_secret().to_owned(), true);
        }
        for signer in &self.inner.signers {
            let nonce = format!("{:032x}", rand::random::<u128>());
            let query: Vec<(String, String)> = sent
                .url
                .query_pairs()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            let body = sent.body.as_ref().map_or(&[][..], |(b, _)| b.as_slice());
            // The host and a port that is not the scheme's: `Host` as sent.
            let host = &sent.url[url::Position::BeforeHost..url::Position::AfterPort];
            let signed = signer.sign(&SignInput {
                method: sent.method.as_str(),
                host,
                path: sent.url.path(),
                query: &query,
                body,
                now: SystemTime::now(),
                nonce: &nonce,
            });
            if let Some(text) = &signed.query_text {
                sent.url.set_query(
                    Some(text)
                        .filter(|text| !text.is_empty())
                        .map(String::as_str),
                );
            }
            for param in signed.query {
                sent.add_query(param.name, param.value, param.secret);
            }
            for param in signed.headers {
                sent.set_header(&param.name.to_ascii_lowercase(), param.value, param.secret);
            }
        }
        Cow::Owned(sent)
    }

    /// What `explain` shows: the request as it would be sent, the token
    /// (never fetched here) and signatures masked.
    pub(crate) fn describe(&self, prepared: &Prepared) -> String {
        let placeholder = SecretString::from("(fetched at run time)".to_owned());
        let bearer = self.inner.oauth2.as_ref().map(|_| &placeholder);
        let mut text = self.authorized(prepared, bearer).describe();
        if let Some(url) = &self.inner.token_url {
            text.insert_str(0, &format!("# oauth2: the token comes from {url}\n"));
        }
        text
    }

    /// A valid token: the current one, or one fetched now.
    async fn bearer(&self, oauth2: &tokio::sync::Mutex<OAuth2>) -> Result<Bearer> {
        let mut state = oauth2.lock().await;
        if let Some(bearer) = state.current(Instant::now()) {
            return Ok(bearer);
        }
        let request = state.request();
        let url = request.url.clone();
        let mut target = url::Url::parse(&url)
            .map_err(|e| Error::config(format!("auth.token_url: `{url}` is not a URL ({e})")))?;
        if !request.query.is_empty() {
            let mut pairs = target.query_pairs_mut();
            for (name, value) in &request.query {
                pairs.append_pair(name, value.expose_secret());
            }
        }
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(target.as_str())
            .header("accept", "application/json")
            .header("user-agent", concat!("hydrant/", env!("CARGO_PKG_VERSION")));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.expose_secret());
        }
        let mut body = Vec::new();
        if !request.form.is_empty() {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in &request.form {
                form.append_pair(name, value.expose_secret());
            }
            body = form.finish().into_bytes();
            builder = builder.header("content-type", "application/x-www-form-urlencoded");
        }
        let http_request = builder.body(Full::new(Bytes::from(body))).map_err(|_| {
            Error::config(format!(
                "cannot build the oauth2 token request to {url} (check auth.params)"
            ))
        })?;
        tracing::debug!(url = %url, "oauth2 token request");
        let response = self
            .inner
            .client
            .send(http_request, &url, None)
            .await
            .map_err(|e| e.prefixed("oauth2 token request: "))?;
        if !response.status.is_success() {
            return Err(Error::http(format!(
                "oauth2 token request to {url} answered {}{}",
                response.status,
                after_colon(&self.quote(&response.body))
            )));
        }
        let bearer = state
            .accept(&response.body, Instant::now())
            .map_err(|e| Error::http(format!("oauth2 token request to {url}: {e}")))?;
        if let Some(token) = state.token() {
            let mut secrets = self
                .inner
                .secrets
                .write()
                .unwrap_or_else(|e| e.into_inner());
            add_secret(&mut secrets, token.expose_secret());
        }
        Ok(bearer)
    }
}

/// How many retries came before giving up, for an error message.
fn after(retries: u32) -> String {
    match retries {
        0 => String::new(),
        1 => " (after 1 retry)".to_owned(),
        n => format!(" (after {n} retries)"),
    }
}

/// What a request is sent for, which decides the answers it is sent
/// again on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// A page: a 202 Accepted is asked for again.
    Read,
    /// A write: sent again only where it is `repeatable` or provably had no
    /// effect (see [`Session::send`]).
    Write { repeatable: bool },
}

impl Asked {
    fn repeatable(self) -> bool {
        matches!(self, Asked::Read | Asked::Write { repeatable: true })
    }
}

/// Exponential backoff with jitter from `initial` up to `max`.
fn backoff(initial: Duration, max: Duration) -> ExponentialBackoff {
    ExponentialBuilder::new()
        .with_min_delay(initial)
        .with_max_delay(max)
        .with_jitter()
        .without_max_times()
        .build()
}

/// The next backoff wait, never over `max`: the jitter is added on top of
/// the capped delay, so it is capped again.
fn backoff_wait(backoff: &mut ExponentialBackoff, max: Duration) -> Duration {
    backoff.next().unwrap_or(max).min(max)
}

/// The wait a `Retry-After` value asks for at `now`: delta-seconds (a
/// fraction is kept, never rounded down) or an HTTP-date (one in the past
/// is no wait). `None` when it is neither.
fn retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        // A wait too long to hold is as good as forever: longer than any
        // `max_retry_wait`, which fails the request cleanly.
        return (seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The start of a body for a one-line message: runs of white space (a
/// pretty-printed JSON error, a stack trace) folded into one space.
fn snippet(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = folded.chars().take(200).collect();
    if short.len() < folded.len() {
        short.push('…');
    }
    short
}

/// What to mend where an API answers 406 to a request that accepts
/// `application/json` alone, as a run's requests do unless the job sets
/// another `Accept`: an API that serves a type of its own (JSON:API's
/// `application/vnd.api+json`) refuses it.
fn not_acceptable(current: &Prepared, status: u16) -> &'static str {
    let json_only = (current.headers.iter())
        .any(|(name, value, _)| name == "accept" && value == "application/json");
    match status == 406 && json_only {
        true => {
            "; the API does not serve the `Accept: application/json` sent: set \
             `Accept` in the job's `headers` to the type it serves (JSON:API's \
             \"application/vnd.api+json\")"
        }
        false => "",
    }
}

/// `: text` to follow a message, or nothing for no text.
fn after_colon(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_both_forms() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after(b"120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after(b" 1.5 ", now),
            Some(Duration::from_millis(1500))
        );
        // RFC 9110's example date, 2015-10-21 07:28:00 GMT, seen 20 s before.
        let date = b"Wed, 21 Oct 2015 07:28:00 GMT";
        let before = now - Duration::from_secs(20);
        assert_eq!(retry_after(date, before), Some(Duration::from_secs(20)));
        assert_eq!(
            retry_after(date, now + Duration::from_secs(5)),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(b"soon", now), None);
        assert_eq!(retry_after(b"-3", now), None);
        // Too long to hold: forever, not a panic.
        for huge in [&b"18446744073709551616"[..], b"1e300", b"inf"] {
            assert_eq!(retry_after(huge, now), Some(Duration::MAX));
        }
        assert_eq!(retry_after(b"NaN", now), None);
    }

    #[test]
    fn backoff_never_waits_past_its_max() {
        let max = Duration::from_millis(300);
        let mut waits = backoff(Duration::from_millis(100), max);
        let longest = (0..1000)
            .map(|_| backoff_wait(&mut waits, max))
            .max()
            .unwrap();
        assert!(longest <= max, "{longest:?}");
        assert!(longest > Duration::from_millis(200), "{longest:?}");
    }
}
