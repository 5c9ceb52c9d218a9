//! What a run shows of each exchange whose answer it takes, for tools
//! that keep them: `hydrant record` saves them as a fixture set.

use std::sync::Arc;

/// One exchange whose answer the run took (retried attempts are not
/// shown), with its secrets left out.
#[derive(Debug)]
#[non_exhaustive]
pub struct TakenExchange<'a> {
    /// The request method, such as `GET`.
    pub method: &'static str,
    /// Path and query, without the query parameters whose values are
    /// secret (an `api_key` sent in the query).
    pub target: String,
    /// The names of the query parameters left out of `target`.
    pub secret_query: &'a [String],
    /// The request's body, secrets shown as `***`; empty without one.
    pub request_body: &'a [u8],
    /// The response status code.
    pub status: u16,
    /// Response headers, names in lower case.
    pub headers: &'a [(String, String)],
    /// The body, decoded.
    pub body: &'a [u8],
}

/// Called with every exchange a run takes, in request order; an error
/// fails the run.
pub type ExchangeFn = Arc<
    dyn Fn(&TakenExchange<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
        + Send
        + Sync,
>;
