//! `explain` and `check` of a write job: the first batch's request as it
//! would be sent, secrets masked. Nothing is sent.

use super::*;

/// The most of a batch's body shown; the rest is counted.
const SHOWN_BODY: usize = 4096;

/// What `hydrant check` shows of a write job.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct WriteCheck {
    /// Where the records come from.
    pub input: String,
    /// Records in the first batch that would be sent.
    pub records: usize,
    /// Why records of the first batch would be rejected before sending.
    pub rejected: Vec<String>,
    /// The first batch's request, secrets masked.
    pub request: String,
    /// Mapped columns that no record of the first batch has a value for.
    pub warnings: Vec<String>,
}

/// The first batch's request of a write job, as text with secrets masked.
pub(crate) fn explain(job: &Job) -> Result<String> {
    let check = check(job)?;
    let mut out = format!(
        "# job {} (a write job)\n# input: {}\n",
        job.name, check.input
    );
    out.push_str(&format!(
        "# the first batch: {} records{}\n\n",
        check.records,
        match check.rejected.len() {
            0 => String::new(),
            n => format!(", {n} rejected before sending"),
        }
    ));
    out.push_str(&check.request);
    Ok(out)
}

/// Reads the first batch of a write job's input and builds its request,
/// without sending it. An input that is a read job (`input.job`) is not
/// run: its first request is shown instead, and the batch has no body.
pub(crate) fn check(job: &Job) -> Result<WriteCheck> {
    let (write, request) = parts(job);
    let encoder = Arc::new(Encoder::new(write, &request.url));
    let sender = Sender {
        session: session(job, &RunOptions::default())?,
        job: job.clone(),
        key_prefix: fingerprint(job)[..16].to_owned(),
        encoder: Arc::clone(&encoder),
        split: Default::default(),
    };
    let (input, items) = match &write.input {
        Input::Job(parent) => {
            let parent_text = crate::read::explain(parent)?;
            let input = format!(
                "the records of the read job `{}`, whose first request is:\n#   {}",
                parent.name,
                parent_text
                    .lines()
                    .filter(|l| !l.starts_with('#') && !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n#   ")
            );
            (input, Vec::new())
        }
        other => (
            describe_input(other),
            first_items(other, encoder.batch_size)?,
        ),
    };
    if let Some(first) = items.first() {
        encoder.check_fields(first)?;
    }
    let outgoing = encoder.batch(0, items);
    let mut prepared = sender.prepare(outgoing.index, &outgoing.placeholders)?;
    if !outgoing.records.is_empty() {
        let body = shown_body(&encoder.json(&outgoing.records), write.gzip);
        prepared.body = Some((body, "application/json"));
    }
    Ok(WriteCheck {
        input,
        records: outgoing.records.len(),
        rejected: outgoing.early.iter().map(|r| r.reason.clone()).collect(),
        request: sender.session.describe(&prepared),
        warnings: encoder.absent_said(true),
    })
}

/// The records of the first batch of a file or inline input.
fn first_items(input: &Input, batch_size: usize) -> Result<Vec<InputRecord>> {
    input::open(input, None)?.take(batch_size).collect()
}

fn describe_input(input: &Input) -> String {
    match input {
        Input::File { path: None, .. } => "stdin".to_owned(),
        Input::File {
            path: Some(path),
            format,
        } => format!(
            "`{}` ({})",
            path.display(),
            format!("{format:?}").to_lowercase()
        ),
        Input::Inline { records, repeat } => {
            format!(
                "{} records in the job file, sent {repeat} times",
                records.len()
            )
        }
        Input::Job(job) => format!("the read job `{}`", job.name),
        Input::JobFile(path) => format!("the read job `{}`", path.display()),
    }
}

/// A body as shown: cut at [`SHOWN_BODY`] bytes, and said to be gzipped
/// when it is sent so.
fn shown_body(body: &[u8], gzip: bool) -> Vec<u8> {
    let mut shown = body[..body.len().min(SHOWN_BODY)].to_vec();
    if body.len() > SHOWN_BODY {
        shown.extend_from_slice(format!("… ({} bytes in all)", body.len()).as_bytes());
    }
    if gzip {
        shown.extend_from_slice(b"\n(sent gzip-compressed)");
    }
    shown
}
