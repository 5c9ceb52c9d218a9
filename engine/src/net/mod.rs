//! Talking to the API: the HTTP client and its TLS and proxy connectors,
//! requests prepared from a job's plan, and the session that sends them
//! with authentication, rate limits and retries.

pub(crate) mod client;
pub(crate) mod proxy;
pub(crate) mod ratelimit;
pub(crate) mod request;
pub(crate) mod session;
