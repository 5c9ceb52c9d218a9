//! Response bodies as a hostile server may send them: any bytes under any
//! `Content-Encoding` the client asks for, cut into pieces anywhere. The
//! first four bytes choose the encoding, the `Content-Type`, where the
//! body is cut and the cap on decoded bytes; the rest is the body.
//!
//! Whatever the bytes, the decoder must not panic, and:
//! - the pieces decode as the whole body does: to the same text, or both
//!   fail;
//! - the body so far, read after each piece (as a run reads it for an
//!   early next link), is the start of the body it becomes;
//! - no body past the cap is given back, also once made UTF-8 from
//!   another encoding.
#![no_main]

use hydrant_engine::bench_support::decode_body;
use libfuzzer_sys::fuzz_target;

const ENCODINGS: [Option<&str>; 8] = [
    None,
    Some("gzip"),
    Some("deflate"),
    Some("br"),
    Some("zstd"),
    Some("x-gzip"),
    Some("identity"),
    Some("gzip, br"),
];

const TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-16le"),
    Some("text/plain; charset=iso-8859-1"),
];

fuzz_target!(|input: &[u8]| {
    let [encoding, kind, cut, cap, body @ ..] = input else {
        return;
    };
    let encoding = ENCODINGS[usize::from(*encoding) % ENCODINGS.len()];
    let content_type = TYPES[usize::from(*kind) % TYPES.len()];
    let cap = match cap & 1 {
        1 => 1 << 20,
        _ => u64::from(*cap) * 8,
    };
    let whole = decode_body(encoding, content_type, &[body], false, cap);
    let pieces = pieces(body, *cut);
    let pieced = decode_body(encoding, content_type, &pieces, true, cap);
    match (whole, pieced) {
        (Ok((whole, _)), Ok((pieced, looks))) => {
            assert_eq!(whole, pieced, "the pieces decode to another body");
            for look in looks {
                assert!(
                    pieced.starts_with(&look),
                    "a look at the body so far is not its start: {look:?}"
                );
            }
            assert!(whole.len() as u64 <= cap, "{} bytes past the cap", whole.len());
        }
        (Err(_), Err(_)) => {}
        (whole, pieced) => panic!(
            "the whole body and its pieces disagree: {:?} against {:?}",
            whole.map(|(body, _)| body.len()),
            pieced.map(|(body, _)| body.len())
        ),
    }
});

/// `body` cut into pieces of 1 to `cut` bytes, their sizes turning with
/// each piece (one piece where `cut` is 0).
fn pieces(body: &[u8], cut: u8) -> Vec<&[u8]> {
    if cut == 0 {
        return vec![body];
    }
    let mut pieces = Vec::new();
    let mut rest = body;
    let mut turn = u32::from(cut);
    while !rest.is_empty() {
        turn = turn.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = (turn >> 16) as usize % usize::from(cut) + 1;
        let (piece, after) = rest.split_at(size.min(rest.len()));
        pieces.push(piece);
        rest = after;
    }
    pieces
}
