//! Fixture sets and the replay server: recorded API exchanges served over
//! HTTP on loopback, so that tests, benches and examples run offline.
//!
//! A fixture set is a folder with `exchanges.json`, an array of
//! `{method, target, status, headers, body}` where `target` is the path and
//! query, `headers` a list of `[name, value]` pairs and `body` the name of a
//! file beside it (sent as is: a gzip file with `content-encoding: gzip`
//! stays compressed).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use hydrant_bench::{FixtureSet, serve};
//!
//! let set = FixtureSet::load("fixtures/issues".as_ref())?;
//! let server = serve(set, "127.0.0.1:0".parse()?).await?;
//! println!("serving on {}", server.url());
//! # Ok(()) }
//! ```

pub mod api;
pub mod corpus;
mod faults;
mod fixture;
mod replay;

pub use faults::{Fault, FaultServer, serve_faults};
pub use fixture::{Exchange, FixtureError, FixtureSet, FixtureWriter, Recorded};
pub use replay::{Handler, Seen, Server, serve, serve_fn, serve_tls};
