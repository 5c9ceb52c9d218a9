//! Helpers: random JSON documents and paths, and a served page.

use hydrant_bench::{Exchange, FixtureSet, Server};
use hydrant_engine::Segment;
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Map, Value};

const KEYS: [&str; 7] = ["a", "b", "id", "a b", "@x.y", "it's", "ü"];

pub fn document(rng: &mut StdRng, depth: u32) -> Value {
    let leaf = depth == 0 || rng.random_bool(0.25);
    if leaf {
        return match rng.random_range(0..5) {
            0 => Value::Null,
            1 => Value::Bool(rng.random()),
            2 => Value::from(rng.random_range(-1000i64..1000)),
            3 => Value::from(rng.random_range(-10.0f64..10.0)),
            _ => Value::String(KEYS[rng.random_range(0..KEYS.len())].to_owned()),
        };
    }
    if rng.random_bool(0.5) {
        let len = rng.random_range(0..5);
        Value::Array((0..len).map(|_| document(rng, depth - 1)).collect())
    } else {
        let mut map = Map::new();
        for _ in 0..rng.random_range(0..5) {
            map.insert(
                KEYS[rng.random_range(0..KEYS.len())].to_owned(),
                document(rng, depth - 1),
            );
        }
        Value::Object(map)
    }
}

pub fn segments(rng: &mut StdRng) -> Vec<Segment> {
    (0..rng.random_range(0..5))
        .map(|_| match rng.random_range(0..4) {
            0 | 1 => Segment::Key(KEYS[rng.random_range(0..KEYS.len())].to_owned()),
            2 => Segment::Index(rng.random_range(-4..5)),
            _ => Segment::Wildcard,
        })
        .collect()
}

/// Writes segments as JSONPath text in one of its several spellings.
pub fn jsonpath_text(rng: &mut StdRng, segments: &[Segment]) -> String {
    let mut text = String::from("$");
    for segment in segments {
        match segment {
            Segment::Key(key)
                if key.chars().all(|c| c.is_alphanumeric()) && rng.random_bool(0.5) =>
            {
                text.push('.');
                text.push_str(key);
            }
            Segment::Key(key) if rng.random_bool(0.5) => {
                text.push_str(&format!("[{}]", serde_json::to_string(key).unwrap()));
            }
            Segment::Key(key) => text.push_str(&format!("['{}']", key.replace('\'', "\\'"))),
            Segment::Index(i) => text.push_str(&format!("[{i}]")),
            Segment::Wildcard if rng.random_bool(0.5) => text.push_str(".*"),
            Segment::Wildcard => text.push_str("[*]"),
        }
    }
    text
}

/// Serves one JSON page at `/page` on a replay server.
pub async fn serve_page(body: String) -> Server {
    hydrant_bench::serve(
        FixtureSet::new(vec![Exchange::json("/page", body)]),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap()
}
