//! The reads of a next link before a page is parsed: any bytes as a page
//! whose `next`, `paging.next` and `count` a run watches. The next request
//! leaves on what the head of the body (as it arrives) or its tail (read
//! backwards) says, before the parse reads the page; so on a page that
//! parses, they must read what the parse reads:
//! - the head of the whole body, and each start of it tells the same
//!   value or nothing yet;
//! - the tail reads the parse's values, unless a watched key is spelled
//!   with an escape, which a run then fails on (the request already went
//!   out for the tail's value).
#![no_main]

use hydrant_engine::bench_support::edge_reads;
use libfuzzer_sys::fuzz_target;

const PATHS: [&[&str]; 3] = [&["next"], &["paging", "next"], &["count"]];

fuzz_target!(|body: &[u8]| {
    let reads = edge_reads(body, &PATHS);
    let Some(parsed) = &reads.parsed else {
        return;
    };
    assert!(reads.heads_agree, "a start of the body reads otherwise: {reads:?}");
    if let Some(head) = &reads.head {
        assert_eq!(Some(head), parsed[0].as_ref(), "the head: {reads:?}");
    }
    if !reads.escaped_key {
        for (read, parsed) in reads.tail.iter().zip(parsed) {
            if read.is_some() {
                assert_eq!(read, parsed, "the tail: {reads:?}");
            }
        }
    }
});
