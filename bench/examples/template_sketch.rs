//! A sketch, not the engine: what a page of records that all share one
//! shape could cost if it were read against that shape. It learns the
//! text between the values ("glue") from the first record, then walks
//! each record once: glue compared as bytes, strings found by their end
//! quote, numbers by their digits. The values go straight to NDJSON: text
//! as it stands, doubles read and printed shortest, timestamps checked
//! and written in the engine's form. It prints the time a page of the
//! engine's page path and of the sketch, after checking that both made
//! the same bytes.
//!
//! The sketch takes shortcuts an engine cannot: it panics where a record
//! leaves the shape (a real reader would hand the page to the full
//! parser), and copies escapes as the page has them.
//!
//! ```sh
//! cargo run --profile bench -p hydrant-bench --example template_sketch -- 2000
//! ```

use std::time::Instant;

use hydrant_bench::corpus::Shape;
use hydrant_engine::ColumnType;
use hydrant_engine::bench_support::{Encoding, PagePipeline};

/// What a value of the shape is, for the walk.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Str,
    Num,
    Literal,
}

/// A record's glue before each value, and the glue after the last.
#[derive(Debug)]
struct Template {
    glue: Vec<Vec<u8>>,
    kinds: Vec<Kind>,
    tail: Vec<u8>,
}

impl Template {
    /// The template of the compact record at the start of `text`.
    fn learn(text: &[u8]) -> Template {
        let (mut glue, mut kinds, mut current) = (Vec::new(), Vec::new(), Vec::new());
        let (mut i, mut depth, mut key) = (0, 0, false);
        loop {
            match text[i] {
                b'{' | b',' => (depth, key) = (depth + i32::from(text[i] == b'{'), true),
                b'}' => depth -= 1,
                b':' => key = false,
                b'"' if key => {
                    let end = string_end(text, i + 1);
                    current.extend_from_slice(&text[i..end]);
                    i = end;
                    continue;
                }
                first => {
                    glue.push(std::mem::take(&mut current));
                    let (kind, end) = match first {
                        b'"' => (Kind::Str, string_end(text, i + 1)),
                        b't' | b'f' | b'n' => (Kind::Literal, i + literal_len(&text[i..])),
                        _ => (Kind::Num, number_end(text, i).expect("a number")),
                    };
                    kinds.push(kind);
                    i = end;
                    continue;
                }
            }
            current.push(text[i]);
            i += 1;
            if depth == 0 {
                return Template {
                    glue,
                    kinds,
                    tail: current,
                };
            }
        }
    }

    /// Walks the record at `i`, pushing each value's span: the byte after
    /// the record.
    #[inline(always)]
    fn walk(&self, text: &[u8], mut i: usize, spans: &mut Vec<(usize, usize)>) -> usize {
        for (glue, &kind) in self.glue.iter().zip(&self.kinds) {
            assert!(text[i..].starts_with(glue), "a record left the shape");
            i += glue.len();
            let start = i;
            i = match kind {
                Kind::Str if text[i] == b'"' => string_end(text, i + 1),
                Kind::Num => number_end(text, i).expect("a number"),
                Kind::Literal => i + literal_len(&text[i..]),
                Kind::Str => panic!("a record left the shape"),
            };
            spans.push((start, i));
        }
        assert!(text[i..].starts_with(&self.tail), "a record left the shape");
        i + self.tail.len()
    }
}

/// The byte after the end quote of the string whose text starts at `i`,
/// eight bytes a step.
#[inline(always)]
fn string_end(text: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    loop {
        if let Some(word) = text.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            let found = zero(word ^ (ONES * 0x22))
                | zero(word ^ (ONES * 0x5c))
                | (word.wrapping_sub(ONES * 0x20) & !word & HIGH);
            if found == 0 {
                i += 8;
                continue;
            }
            i += (found.trailing_zeros() / 8) as usize;
        }
        match text[i] {
            b'"' => return i + 1,
            b'\\' => i += if text[i + 1] == b'u' { 6 } else { 2 },
            byte => {
                assert!(byte >= 0x20, "a control character in a string");
                i += 1;
            }
        }
    }
}

fn literal_len(text: &[u8]) -> usize {
    match text {
        [b't', b'r', b'u', b'e', ..] | [b'n', b'u', b'l', b'l', ..] => 4,
        [b'f', b'a', b'l', b's', b'e', ..] => 5,
        _ => panic!("a record left the shape"),
    }
}

/// The end of the number at `i`, its grammar checked.
#[inline(always)]
fn number_end(text: &[u8], mut i: usize) -> Option<usize> {
    let digits = |i: &mut usize| {
        let from = *i;
        while text[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - from
    };
    i += usize::from(text[i] == b'-');
    let whole = i;
    if digits(&mut i) == 0 || (text[whole] == b'0' && i > whole + 1) {
        return None;
    }
    if text[i] == b'.' {
        i += 1;
        (digits(&mut i) > 0).then_some(())?;
    }
    if text[i] | 0x20 == b'e' {
        i += 1;
        i += usize::from(matches!(text[i], b'+' | b'-'));
        (digits(&mut i) > 0).then_some(())?;
    }
    Some(i)
}

/// A double's text read as the engine reads it below 2^53.
fn read_double(text: &[u8]) -> f64 {
    let (mut value, mut places, mut fraction) = (0u64, 0, false);
    for &byte in text.iter().filter(|&&b| b != b'-') {
        if byte == b'.' {
            fraction = true;
        } else if value < 1 << 60 {
            value = value * 10 + u64::from(byte - b'0');
            places += usize::from(fraction);
        }
    }
    let magnitude = if value <= 1 << 53 && places < 23 {
        value as f64 / 10f64.powi(places as i32)
    } else {
        std::str::from_utf8(text)
            .expect("ASCII")
            .parse()
            .expect("a number")
    };
    if text[0] == b'-' {
        -magnitude
    } else {
        magnitude
    }
}

/// A quoted `YYYY-MM-DDTHH:MM:SS.fffZ`, its fields checked, as the engine
/// writes it: without the fraction when it is zero.
fn put_timestamp(text: &[u8], out: &mut Vec<u8>) {
    let two = |i: usize| u32::from(text[i] - b'0') * 10 + u32::from(text[i + 1] - b'0');
    let fields = (two(6), two(9), two(12), two(15), two(18));
    assert!(
        text.len() == 26 && fields.0 <= 12 && fields.1 <= 31 && fields.2 <= 23 && fields.3 <= 59,
        "the sketch reads timestamps with milliseconds only"
    );
    if &text[20..24] == b".000" {
        out.extend_from_slice(&text[..20]);
        out.extend_from_slice(b"Z\"");
    } else {
        out.extend_from_slice(text);
    }
}

fn main() {
    let pages: usize = std::env::args()
        .nth(1)
        .map_or(2000, |a| a.parse().expect("PAGES"));
    let shape = Shape::Realistic;
    let job = format!(
        "[request]\nurl = \"https://api.example.com/x\"\n[records]\npath = 'data'\n{}",
        shape.columns()
    );
    let body = shape.page(0, 1000);
    let mut pipeline = PagePipeline::new(&job).expect("the job");
    let engine = pipeline.encode(&body, Encoding::Ndjson).expect("the page");
    let columns = pipeline.columns().expect("inferred columns").to_vec();
    let keys: Vec<Vec<u8>> = (columns.iter().enumerate())
        .map(|(i, c)| format!("{}\"{}\":", if i == 0 { '{' } else { ',' }, c.name).into_bytes())
        .collect();
    let start = b"{\"data\":[".len();
    let template = Template::learn(&body[start..]);
    assert_eq!(template.kinds.len(), columns.len(), "one value a column");

    let sketch = |out: &mut Vec<u8>, spans: &mut Vec<(usize, usize)>| {
        simdutf8::basic::from_utf8(&body).expect("UTF-8");
        let (mut i, mut buffer) = (start, zmij::Buffer::new());
        loop {
            spans.clear();
            i = template.walk(&body, i, spans);
            for ((key, column), &(from, to)) in keys.iter().zip(&columns).zip(spans.iter()) {
                out.extend_from_slice(key);
                let text = &body[from..to];
                match column.kind {
                    ColumnType::Double if text != b"null" => {
                        out.extend_from_slice(buffer.format_finite(read_double(text)).as_bytes())
                    }
                    ColumnType::Timestamp if text != b"null" => put_timestamp(text, out),
                    _ => out.extend_from_slice(text),
                }
            }
            out.extend_from_slice(b"}\n");
            match body[i] {
                b',' => i += 1,
                _ => return,
            }
        }
    };
    let (mut out, mut spans) = (Vec::with_capacity(engine.len()), Vec::new());
    sketch(&mut out, &mut spans);
    assert!(
        out == engine,
        "the sketch and the engine made different text"
    );

    let started = Instant::now();
    for _ in 0..pages {
        pipeline
            .run_to_output(&body, Encoding::Ndjson)
            .expect("the page");
    }
    let engine_time = started.elapsed().as_secs_f64() / pages as f64;
    let started = Instant::now();
    for _ in 0..pages {
        out.clear();
        sketch(&mut out, &mut spans);
    }
    let sketch_time = started.elapsed().as_secs_f64() / pages as f64;
    let rate = |seconds: f64| body.len() as f64 / seconds / 1e9;
    println!(
        "page of {} bytes: engine {:.0} µs ({:.2} GB/s), sketch {:.0} µs ({:.2} GB/s), {:.2}x",
        body.len(),
        engine_time * 1e6,
        rate(engine_time),
        sketch_time * 1e6,
        rate(sketch_time),
        engine_time / sketch_time
    );
}
