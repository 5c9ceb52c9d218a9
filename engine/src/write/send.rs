//! Sending a batch and settling it: delivered, retried when that cannot
//! apply it twice, or rejected with the status and the answer.

use super::*;
use crate::json::node::Node;
use crate::net::session::Fetched;

/// Sends batches.
#[derive(Debug)]
pub(super) struct Sender {
    pub(super) session: Session,
    pub(super) job: Job,
    /// Idempotency keys are this and the batch number: the same for a
    /// batch in every run of the job.
    pub(super) key_prefix: String,
    /// Makes the bodies of the halves of a batch refused as too large.
    pub(super) encoder: Arc<Encoder>,
    /// Whether a batch was split yet: the first split is a warning.
    pub(super) split: std::sync::atomic::AtomicBool,
}

/// Whether an answer refused its batch as too large: 413, which the
/// server did not process (RFC 9110).
fn too_large(answer: &Result<(Fetched, Failed)>) -> bool {
    matches!(answer, Err(e) if e.status() == Some(413))
}

impl Sender {
    /// The request of a batch, all but its body: the URL (with the
    /// record's values in single mode), the job's headers and
    /// credentials, and the headers of the write.
    pub(super) fn prepare(
        &self,
        index: u64,
        placeholders: &HashMap<String, String>,
    ) -> Result<Prepared> {
        self.prepare_half(index, "", placeholders)
    }

    /// [`Sender::prepare`] for a half of the batch, `half` (`.1.2`: the
    /// second half of its first half), whose idempotency key is its own.
    fn prepare_half(
        &self,
        index: u64,
        half: &str,
        placeholders: &HashMap<String, String>,
    ) -> Result<Prepared> {
        let (write, request) = parts(&self.job);
        let mut prepared = prepare(
            request,
            &Plan::default(),
            placeholders,
            self.session.credentials(),
        )
        .map_err(|e| e.prefixed("write: "))?;
        // A job's own type stands (JSON:API's `application/vnd.api+json`):
        // an API that wants it refuses `application/json` with 415.
        if !prepared
            .headers
            .iter()
            .any(|(name, _, _)| name == "content-type")
        {
            prepared.set_header("content-type", "application/json".to_owned(), false);
        }
        if write.gzip {
            prepared.set_header("content-encoding", "gzip".to_owned(), false);
        }
        if let Some(header) = &write.idempotency_header {
            let key = format!("{}-{index}{half}", self.key_prefix);
            prepared.set_header(header, key, false);
        }
        Ok(prepared)
    }

    pub(super) async fn batch(&self, batch: Outgoing) -> Result<Settled> {
        let mut settled = Settled {
            index: batch.index,
            delivered: 0,
            rejected: batch.early,
            retried: 0,
            requests: 0,
            bytes: 0,
        };
        if batch.records.is_empty() {
            return Ok(settled);
        }
        let (write, request) = parts(&self.job);
        let prepared = match self.prepare(batch.index, &batch.placeholders) {
            Ok(prepared) => prepared,
            // A record's value that cannot go into the URL: the record is
            // rejected, not sent elsewhere, and the run goes on.
            Err(e) if !e.is_config() => {
                tracing::warn!(batch = batch.index, "{e}");
                let reason = e.to_string();
                settled
                    .rejected
                    .extend(batch.records.into_iter().map(|record| Rejected {
                        record,
                        is_json: true,
                        reason: reason.clone(),
                        status: None,
                        response: None,
                    }));
                return Ok(settled);
            }
            Err(e) => return Err(e),
        };
        let repeatable = request.method == Method::Put || write.idempotency_header.is_some();
        // A batch refused as too large goes again as two halves, and so
        // on down to one record, which is rejected if it is refused too.
        let mut halves = vec![(batch.records, batch.body, String::new())];
        let mut first = Some(prepared);
        while let Some((records, body, half)) = halves.pop() {
            let mut prepared = match first.take() {
                Some(prepared) => prepared,
                None => self.prepare_half(batch.index, &half, &batch.placeholders)?,
            };
            settled.bytes += body.len() as u64;
            prepared.body = Some((body, "application/json"));
            let sent = format!(
                "{} {}",
                prepared.method.as_str(),
                self.session.shown(&prepared)
            );
            let (result, retries) = self.session.send(prepared, repeatable).await;
            settled.requests += 1 + u64::from(retries);
            if retries > 0 {
                settled.retried += records.len() as u64;
            }
            let answer = self.read_answer(result, records.len());
            if too_large(&answer) && records.len() > 1 {
                let said = format!(
                    "{sent} answered 413 Payload Too Large to a batch of {} records: it goes \
                     again as two, and so does each half the API refuses so (a smaller \
                     write.batch_size sends less at once)",
                    records.len()
                );
                match self.split.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    false => tracing::warn!(batch = batch.index, "{said}"),
                    true => tracing::debug!(batch = batch.index, "{said}"),
                }
                let mut first = records;
                let second = first.split_off(first.len() / 2);
                let second_body = self.encoder.body(&second);
                halves.push((second, second_body, format!("{half}.2")));
                let first_body = self.encoder.body(&first);
                halves.push((first, first_body, format!("{half}.1")));
                continue;
            }
            self.settle(&mut settled, records, answer)?;
        }
        Ok(settled)
    }

    /// What the answer to a batch says: that it failed (an error), or
    /// which of its records failed (none: all were delivered).
    ///
    /// Many APIs answer a failure with a 200 (Slack's `"ok": false`,
    /// Elasticsearch's `"errors": true`): such a batch is not delivered.
    /// Nor is one answered by an HTML page: a proxy's or a sign-in page
    /// answers 200 where the API was never reached. An answer with a
    /// result for each record may say that some of them failed. With
    /// `write.check_answer = false` only the HTML page is looked for.
    fn read_answer(&self, result: Result<Fetched>, count: usize) -> Result<(Fetched, Failed)> {
        result.and_then(|fetched| {
            let response = &fetched.response;
            let said = match html_title(&response.headers, &response.body) {
                Some(title) => format!(
                    "{} with an HTML page ({}), not the API's answer: a proxy or a sign-in page?",
                    response.status,
                    self.session.redact(&title)
                ),
                None if !parts(&self.job).0.check_answer => {
                    return Ok((fetched, Vec::new()));
                }
                None => match failures_said_in(&response.body, count) {
                    Said::Nothing => return Ok((fetched, Vec::new())),
                    Said::Records(failed) => return Ok((fetched, failed)),
                    Said::Batch(said) => format!(
                        "{} but says the request failed: {}",
                        response.status,
                        self.session.redact(&said)
                    ),
                },
            };
            Err(Error::data(format!(
                "{} {} answered {said}",
                fetched.prepared.method.as_str(),
                self.session.shown(&fetched.prepared),
            )))
        })
    }

    /// Settles `records` by `answer`: delivered, or rejected with why.
    fn settle(
        &self,
        settled: &mut Settled,
        records: Vec<Vec<u8>>,
        answer: Result<(Fetched, Failed)>,
    ) -> Result<()> {
        let count = records.len() as u64;
        match answer {
            Ok((_, failed)) if failed.is_empty() => settled.delivered += count,
            Ok((fetched, failed)) => self.reject_failed(settled, records, &fetched, failed),
            Err(e) if e.is_config() => return Err(e),
            // The server accepted the batch: that its answer could not be
            // read (cut short, over max_response) does not undo it.
            Err(e) if e.status().is_some_and(|s| (200..300).contains(&s)) => {
                tracing::warn!(
                    batch = settled.index,
                    records = count,
                    "batch delivered, but its answer could not be read: {e}"
                );
                settled.delivered += count;
            }
            Err(e) => {
                tracing::warn!(batch = settled.index, records = count, "{e}");
                let reason = e.to_string();
                for record in records {
                    settled.rejected.push(Rejected {
                        record,
                        is_json: true,
                        reason: reason.clone(),
                        status: e.status(),
                        response: e.response().map(str::to_owned),
                    });
                }
            }
        }
        Ok(())
    }

    /// Rejects the records whose result in `fetched`'s answer says they
    /// failed, each with that result; the others are delivered.
    fn reject_failed(
        &self,
        settled: &mut Settled,
        records: Vec<Vec<u8>>,
        fetched: &Fetched,
        failed: Failed,
    ) {
        let (count, failed_count) = (records.len() as u64, failed.len() as u64);
        settled.delivered += count - failed_count;
        let answered = format!(
            "{} {} answered {}",
            fetched.prepared.method.as_str(),
            self.session.shown(&fetched.prepared),
            fetched.response.status
        );
        tracing::warn!(
            batch = settled.index,
            records = failed_count,
            "{answered} but says {failed_count} of the batch's {count} records failed"
        );
        let mut failed = failed.into_iter().peekable();
        for (at, record) in records.into_iter().enumerate() {
            let Some((_, said)) = failed.next_if(|(index, _)| *index == at) else {
                continue;
            };
            let said = self.session.redact(&said);
            settled.rejected.push(Rejected {
                record,
                is_json: true,
                reason: format!(
                    "{answered} but says record {} of the batch failed: {said}",
                    at + 1
                ),
                status: Some(fetched.response.status.as_u16()),
                response: Some(said),
            });
        }
    }
}

/// How an answer that is an HTML page is shown: its `<title>`, or its
/// first bytes. `None` for any other answer. An answer is HTML by how its
/// body starts: `<!DOCTYPE html`, `<html`, or any tag when it is sent as
/// text/html.
fn html_title(headers: &http::HeaderMap, body: &[u8]) -> Option<String> {
    let typed = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    let start = body.trim_ascii_start();
    // Lowered in ASCII only, `head` keeps `original`'s byte offsets.
    let original = String::from_utf8_lossy(&start[..start.len().min(2048)]);
    let head = original.to_ascii_lowercase();
    // Some servers send JSON as text/html (PHP's default): the body decides.
    let page = head.starts_with("<!doctype html") || head.starts_with("<html");
    if !(page || (typed && head.starts_with('<'))) {
        return None;
    }
    let shown = |text: &str| -> String {
        let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let cut: String = text.chars().take(80).collect();
        if cut.len() < text.len() {
            format!("{cut}…")
        } else {
            cut
        }
    };
    let title = head
        .find("<title>")
        .map(|at| at + "<title>".len())
        .and_then(|from| head[from..].find("</title>").map(|len| (from, from + len)))
        .and_then(|(from, to)| original.get(from..to));
    Some(match title {
        Some(title) => format!("`{}`", shown(title)),
        None => format!("starting `{}`", shown(&original)),
    })
}

/// The records of a batch that failed, by place, each with what its
/// result says.
type Failed = Vec<(usize, String)>;

/// What an answer's JSON body says of failures.
#[derive(Debug, PartialEq)]
enum Said {
    Nothing,
    /// The batch failed, or some of it did and the answer does not say
    /// which records.
    Batch(String),
    /// These records failed (their places in the batch, in order), each
    /// with what its result says.
    Records(Failed),
}

/// What an answer's JSON body says of failures, for a batch of `count`
/// records. An answer with a result for each record, in their order,
/// says which records failed: an array of results (Salesforce's
/// `[{"success": false, "errors": […]}]`), or the `items` of an answer
/// that says it failed (Elasticsearch's bulk `{"errors": true, "items":
/// [{"index": {"status": 400, "error": …}}]}`).
fn failures_said_in(body: &[u8], count: usize) -> Said {
    let start = body.trim_ascii_start();
    if !(start.starts_with(b"{") || start.starts_with(b"[")) {
        return Said::Nothing;
    }
    let mut scanner = Scanner::default();
    let Ok(answer) = scanner.scan(body, None) else {
        return Said::Nothing;
    };
    let root = answer.root();
    let whole = failure_said(root);
    let mut results = Vec::new();
    let list = match &whole {
        Some(_) => root
            .get("items")
            .and_then(|items| items.elements(&mut results)),
        None => root.elements(&mut results),
    };
    if list.is_none() {
        return whole.map_or(Said::Nothing, |whole| batch_failed(root, count, whole));
    }
    let listed = results.len();
    let failed: Vec<(usize, String)> = results
        .into_iter()
        .enumerate()
        .filter_map(|(at, result)| result_failure(result).map(|said| (at, said)))
        .collect();
    match (failed.first(), whole) {
        (Some(_), _) if listed == count => Said::Records(failed),
        (_, Some(whole)) => batch_failed(root, count, whole),
        (Some((_, said)), None) => Said::Batch(format!(
            "{} of its results, not one for each of the {count} records, say they failed: {said}",
            failed.len()
        )),
        (None, None) => Said::Nothing,
    }
}

/// A batch of `count` records whose answer, `root`, says it failed
/// (`whole`, its text). An answer that also lists results under
/// `results` (HubSpot's 207: `{"results": [the objects written],
/// "errors": [...]}`) wrote some of the batch, and does not say which
/// records failed: the reason says so, as sending the rejects again may
/// write those twice.
fn batch_failed<'v, N: Node<'v>>(root: N, count: usize, whole: String) -> Said {
    let mut results = Vec::new();
    let done = root
        .get("results")
        .and_then(|results_node| results_node.elements(&mut results))
        .map(|_| results.len())
        .filter(|&done| done > 0);
    Said::Batch(match done {
        Some(done) => format!(
            "its `results` list {done} of the {count} records as written, not which \
             failed: the whole batch is rejected, and {done} of its records would be \
             written twice if it were sent again: {whole}"
        ),
        None => whole,
    })
}

/// What one record's result says of its failure: the result itself, or
/// the one member it wraps (`{"index": {…}}`).
fn result_failure<'v, N: Node<'v>>(result: N) -> Option<String> {
    if let Some(said) = failure_said(result) {
        return Some(said);
    }
    let mut inner = None;
    let mut members = 0;
    result.members(&mut |_, value| {
        members += 1;
        inner = Some(value);
    });
    match inner {
        Some(value) if members == 1 && value.is_object() => failure_said(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_say_which_records_failed_only_when_there_is_one_a_record() {
        let said = |body: &str, count| failures_said_in(body.as_bytes(), count);
        // Created records, ids, plain success: nothing failed.
        assert_eq!(
            said(r#"[{"id": 1, "error": null}, {"id": 2}]"#, 2),
            Said::Nothing
        );
        assert_eq!(said("[17, 18]", 2), Said::Nothing);
        assert_eq!(said(r#"{"created": 2, "errors": []}"#, 2), Said::Nothing);
        assert_eq!(said("not json", 2), Said::Nothing);
        // One result a record: the failed ones, by place.
        assert_eq!(
            said(
                r#"[{"ok": true}, {"ok": false}, {"ok": false, "why": 1}]"#,
                3
            ),
            Said::Records(vec![
                (1, r#"{"ok":false}"#.to_owned()),
                (2, r#"{"ok":false,"why":1}"#.to_owned())
            ])
        );
        // `items` are read only when the answer says it failed, and must
        // say which failed: else the batch did.
        let bulk = r#"{"errors": true, "items": [{"index": {"status": 201}}, {"index": {"status": 201}}]}"#;
        assert!(matches!(said(bulk, 2), Said::Batch(_)));
        let fine = r#"{"errors": false, "items": [{"index": {"error": "x"}}]}"#;
        assert_eq!(said(fine, 1), Said::Nothing);
        // Fewer results than records: the batch failed.
        assert!(matches!(said(r#"[{"success": false}]"#, 2), Said::Batch(_)));
    }

    /// HubSpot answers a batch some of whose records failed with a 207:
    /// the objects written under `results`, the failures under `errors`,
    /// and nothing that ties an error to its record. The batch is
    /// rejected whole, and the reason says that some of it was written.
    #[test]
    fn an_answer_with_results_and_errors_says_some_records_were_written() {
        let answer = r#"{"status": "COMPLETE", "results": [{"id": "101"}, {"id": "102"}],
            "numErrors": 1, "errors": [{"status": "error", "category": "VALIDATION_ERROR",
            "message": "Property values were not valid"}]}"#;
        let Said::Batch(said) = failures_said_in(answer.as_bytes(), 3) else {
            panic!("a batch failure");
        };
        assert!(
            said.starts_with(
                "its `results` list 2 of the 3 records as written, not which failed: the \
                 whole batch is rejected, and 2 of its records would be written twice if it \
                 were sent again: {"
            ),
            "{said}"
        );
        assert!(said.contains("VALIDATION_ERROR"), "{said}");
        // Without results, the answer's own words.
        let Said::Batch(said) =
            failures_said_in(br#"{"results": [], "errors": [{"message": "x"}]}"#, 3)
        else {
            panic!("a batch failure");
        };
        assert!(said.starts_with(r#"{"results":[],"errors""#), "{said}");
    }
}
