//! Generated corpora: deterministic pages of realistic records in several
//! shapes, for benches and throughput runs. The same shape, page and size
//! always give the same bytes, on every machine.

use std::fmt::Write as _;

/// The kinds of records a corpus page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// 16 scalar fields, about 340 bytes a record.
    Flat,
    /// An issue-tracker record: nested user, repository and labels.
    Nested,
    /// Text with quotes, backslashes, line breaks, `\u` escapes and
    /// multi-byte UTF-8 (accents, CJK, emoji).
    Escapes,
    /// Mostly numbers: integers, floats, exponents, an array of readings.
    Numbers,
    /// 50 fields of mixed types, all extracted.
    Wide,
    /// A record as common APIs serve it: 15 members (integers, an amount,
    /// a 17-digit score, short strings, a UUID, a timestamp with
    /// milliseconds, a boolean, a null, a nested user and a note with
    /// control escapes or non-ASCII text), every one extracted by
    /// inferred columns; the API names the next page at the body's end.
    Realistic,
    /// The realistic records as a pretty printer writes them (as some
    /// APIs serve every page): a line for each member, two spaces a
    /// level, `": "` after a key.
    Pretty,
    /// The realistic records as APIs that leave out null and empty
    /// members serve them: no `deleted_at`, no `user` in every third
    /// record, no `channel` in every fifth (four sets of members).
    Sparse,
    /// The realistic records as such APIs serve fields that are often
    /// null: no `deleted_at`, and each of `currency`, `country`, `plan`,
    /// `channel` and `user` left out of about half the records, at
    /// random (32 sets of members).
    Optional,
}

impl Shape {
    pub const ALL: [Shape; 9] = [
        Shape::Flat,
        Shape::Nested,
        Shape::Escapes,
        Shape::Numbers,
        Shape::Wide,
        Shape::Realistic,
        Shape::Pretty,
        Shape::Sparse,
        Shape::Optional,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Flat => "flat",
            Shape::Nested => "nested",
            Shape::Escapes => "escapes",
            Shape::Numbers => "numbers",
            Shape::Wide => "wide",
            Shape::Realistic => "realistic",
            Shape::Pretty => "pretty",
            Shape::Sparse => "sparse",
            Shape::Optional => "optional",
        }
    }

    pub fn parse(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the API names the next page at the end of the body, as
    /// most APIs do, rather than at its head.
    pub fn link_at_tail(self) -> bool {
        matches!(
            self,
            Shape::Realistic | Shape::Pretty | Shape::Sparse | Shape::Optional
        )
    }

    /// The `[[columns]]` a job extracts from this shape: five columns (all
    /// fifty for `wide`, none for the realistic records, whose columns
    /// are inferred), as TOML.
    pub fn columns(self) -> String {
        let columns: &[(&str, &str, &str)] = match self {
            Shape::Realistic | Shape::Pretty | Shape::Sparse | Shape::Optional => {
                return String::new();
            }
            Shape::Flat => &[
                ("id", "id", "long"),
                ("email", "email", "string"),
                ("score", "score", "double"),
                ("active", "active", "boolean"),
                ("created_at", "created_at", "timestamp"),
            ],
            Shape::Nested => &[
                ("number", "number", "long"),
                ("title", "title", "string"),
                ("author", "user.login", "string"),
                ("location", "user.profile.location", "string"),
                ("created_at", "created_at", "timestamp"),
            ],
            Shape::Escapes => &[
                ("id", "id", "long"),
                ("author", "author.name", "string"),
                ("text", "text", "string"),
                ("lang", "lang", "string"),
                ("posted_at", "posted_at", "timestamp"),
            ],
            Shape::Numbers => &[
                ("sensor", "sensor", "long"),
                ("lat", "position.lat", "double"),
                ("lon", "position.lon", "double"),
                ("temperature", "temperature", "double"),
                ("count", "count", "long"),
            ],
            Shape::Wide => {
                let mut out = String::new();
                for i in 0..50 {
                    let kind = ["long", "string", "double", "boolean", "timestamp"][i % 5];
                    let _ = write!(out, "[[columns]]\nname = \"c{i:02}\"\ntype = \"{kind}\"\n");
                }
                return out;
            }
        };
        columns
            .iter()
            .map(|(name, path, kind)| {
                format!("[[columns]]\nname = \"{name}\"\npath = \"{path}\"\ntype = \"{kind}\"\n")
            })
            .collect()
    }

    /// Page `page` of `records` records: `{"data": [...]}`, the first record
    /// numbered `page * records`.
    pub fn page(self, page: u64, records: usize) -> Vec<u8> {
        if self == Shape::Pretty {
            return indent(&Shape::Realistic.page(page, records), "  ");
        }
        let mut out = String::with_capacity(records * 400 + 16);
        out.push_str("{\"data\":[");
        let first = page * records as u64;
        for i in 0..records as u64 {
            if i > 0 {
                out.push(',');
            }
            let n = first + i;
            let mut random = Random::new(n ^ ((self as u64) << 56));
            self.record(n, &mut random, &mut out);
        }
        out.push_str("]}");
        out.into_bytes()
    }

    fn record(self, n: u64, r: &mut Random, out: &mut String) {
        let ts = 1_700_000_000 + n * 37 + r.below(30);
        let when = timestamp(ts);
        let _ = match self {
            Shape::Flat => write!(
                out,
                r#"{{"id":{n},"name":"{}","email":"user{n}@example.com","active":{},"score":{:.2},"created_at":"{when}","updated_at":"{}","country":"{}","plan":"{}","visits":{},"referrer":"https://{}.example.org/landing?utm={}","age":{},"tags":"{}","balance":{:.2},"locale":"{}","verified":{}}}"#,
                r.word_pair(),
                r.below(2) == 0,
                r.below(100_000) as f64 / 100.0,
                timestamp(ts + 3600),
                ["DE", "FR", "US", "JP", "BR", "IN"][r.below(6) as usize],
                ["free", "pro", "team", "enterprise"][r.below(4) as usize],
                r.below(100_000),
                r.word(),
                r.below(1000),
                18 + r.below(60),
                r.word_pair(),
                r.below(10_000_000) as f64 / 100.0,
                ["en-US", "de-DE", "ja-JP"][r.below(3) as usize],
                r.below(3) != 0,
            ),
            Shape::Nested => {
                let login = format!("{}{}", r.word(), r.below(1000));
                write!(
                    out,
                    r#"{{"number":{n},"title":"{} {} when {}","state":"{}","user":{{"login":"{login}","id":{},"site_admin":false,"profile":{{"name":"{}","location":"{}","company":null}}}},"labels":[{{"name":"{}","color":"d73a4a"}},{{"name":"{}","color":"0075ca"}}],"repository":{{"full_name":"acme/{}","owner":{{"login":"acme","id":1}},"private":false}},"comments":{},"created_at":"{when}","closed_at":null,"reactions":{{"total_count":{},"+1":{}}}}}"#,
                    r.word(),
                    r.word(),
                    r.word_pair(),
                    ["open", "closed"][r.below(2) as usize],
                    r.below(10_000_000),
                    r.word_pair(),
                    ["Berlin", "Lyon", "Osaka", "Austin", "Recife"][r.below(5) as usize],
                    r.word(),
                    r.word(),
                    r.word(),
                    r.below(50),
                    r.below(20),
                    r.below(10),
                )
            }
            Shape::Escapes => write!(
                out,
                r#"{{"id":{n},"author":{{"name":"{}","handle":"@{}"}},"text":"{}","lang":"{}","posted_at":"{when}","reply_to":{}}}"#,
                [
                    "Zoë Ångström",
                    "Łukasz Żółć",
                    "山田 太郎",
                    "José \\\"Pepe\\\" Núñez"
                ][r.below(4) as usize],
                r.word(),
                escaped_text(r),
                ["en", "de", "ja", "es"][r.below(4) as usize],
                if r.below(2) == 0 {
                    "null".to_owned()
                } else {
                    r.below(n + 1).to_string()
                },
            ),
            Shape::Numbers => {
                let readings: Vec<String> = (0..8)
                    .map(|_| format!("{:.3}", r.below(2_000_000) as f64 / 1000.0 - 1000.0))
                    .collect();
                write!(
                    out,
                    r#"{{"sensor":{n},"ts":{ts},"position":{{"lat":{:.6},"lon":{:.6},"alt":{:.1}}},"temperature":{:.2},"pressure":{:.1},"humidity":{},"count":{},"rate":{}e-3,"readings":[{}]}}"#,
                    r.below(180_000_000) as f64 / 1e6 - 90.0,
                    r.below(360_000_000) as f64 / 1e6 - 180.0,
                    r.below(90_000) as f64 / 10.0,
                    r.below(8_000) as f64 / 100.0 - 30.0,
                    900.0 + r.below(2_000) as f64 / 10.0,
                    r.below(101),
                    r.below(1 << 40),
                    r.below(100_000),
                    readings.join(","),
                )
            }
            Shape::Wide => {
                out.push('{');
                for i in 0..50 {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "\"c{i:02}\":");
                    let _ = match i % 5 {
                        0 => write!(out, "{}", n * 50 + i),
                        1 => write!(out, "\"{}\"", r.word_pair()),
                        2 => write!(out, "{:.3}", r.below(1_000_000) as f64 / 1000.0),
                        3 => write!(out, "{}", r.below(2) == 0),
                        _ => write!(out, "\"{}\"", timestamp(ts + i)),
                    };
                }
                out.push('}');
                Ok(())
            }
            Shape::Realistic | Shape::Pretty => realistic(n, ts, r, out),
            Shape::Sparse | Shape::Optional => {
                let mut record = String::new();
                let _ = realistic(n, ts, r, &mut record);
                let left_out = match self {
                    Shape::Sparse => sparse_members(n),
                    _ => optional_members(r),
                };
                out.push_str(&leave_out(&record, &left_out));
                Ok(())
            }
        };
    }
}

/// `json`, compact JSON text, as pretty printers write it: each member
/// and element on a line of its own, indented by `unit` a level, and
/// `": "` after a key. Empty objects and arrays stay `{}` and `[]`.
pub fn indent(json: &[u8], unit: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() * 3 / 2);
    let line = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(unit.as_bytes());
        }
    };
    let (mut depth, mut inside, mut escaped) = (0, false, false);
    let mut bytes = json.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        if inside {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => inside = false,
                _ => {}
            }
            out.push(byte);
            continue;
        }
        match byte {
            b'{' | b'[' => {
                out.push(byte);
                match bytes.next_if(|&next| matches!(next, b'}' | b']')) {
                    Some(close) => out.push(close),
                    None => {
                        depth += 1;
                        line(&mut out, depth);
                    }
                }
            }
            b'}' | b']' => {
                depth -= 1;
                line(&mut out, depth);
                out.push(byte);
            }
            b',' => {
                out.push(byte);
                line(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b'"' => {
                inside = true;
                out.push(byte);
            }
            _ => out.push(byte),
        }
    }
    out
}

/// The members of a realistic record that [`Shape::Sparse`] leaves out
/// of record `n`, each with the byte its value ends at.
fn sparse_members(n: u64) -> Vec<(&'static str, char)> {
    let mut members = vec![(",\"deleted_at\":null", ',')];
    if n.is_multiple_of(3) {
        members.push((",\"user\":{", '}'));
    }
    if n.is_multiple_of(5) {
        members.push((",\"channel\":\"", '"'));
    }
    members
}

/// The members [`Shape::Optional`] leaves out of a record: each of five
/// with a chance of one half.
fn optional_members(r: &mut Random) -> Vec<(&'static str, char)> {
    let optional = [
        (",\"currency\":\"", '"'),
        (",\"country\":\"", '"'),
        (",\"plan\":\"", '"'),
        (",\"channel\":\"", '"'),
        (",\"user\":{", '}'),
    ];
    let bits = r.below(32);
    let mut members = vec![(",\"deleted_at\":null", ',')];
    members.extend(
        (optional.iter().enumerate()).filter_map(|(i, &m)| (bits >> i & 1 == 1).then_some(m)),
    );
    members
}

/// A realistic record without `members`, each the text that starts it
/// and the byte its value ends at (`,` for a literal, which stays).
fn leave_out(record: &str, members: &[(&str, char)]) -> String {
    let mut record = record.to_owned();
    for &(member, end) in members {
        let Some(at) = record.find(member) else {
            continue;
        };
        let value = at + member.len();
        let end = match end {
            ',' => value,
            end => value + record[value..].find(end).expect("the value ends") + 1,
        };
        record = format!("{}{}", &record[..at], &record[end..]);
    }
    record
}

/// One record of [`Shape::Realistic`].
fn realistic(n: u64, ts: u64, r: &mut Random, out: &mut String) -> std::fmt::Result {
    // 17 significant digits, as a shortest-print of a random double needs.
    let score = (r.next() >> 11) as f64 / (1u64 << 53) as f64 * 0.9 + 0.1;
    let note = if n.is_multiple_of(2) {
        "ring \\u0007 bell, \\u001f unit separator, then \\\"quotes\\\""
    } else {
        "café – naïve façade ✓ déjà vu"
    };
    let uuid = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        r.next() as u32,
        r.below(1 << 16),
        r.below(1 << 12),
        r.below(1 << 12),
        r.next() & 0xffff_ffff_ffff
    );
    write!(
        out,
        r#"{{"id":{n},"account_id":{},"amount":{}.{:02},"score":{score:.17},"status":"{}","currency":"{}","country":"{}","plan":"{}","channel":"{}","uuid":"{uuid}","created_at":"{}.{:03}Z","active":{},"deleted_at":null,"user":{{"id":{},"name":"{}"}},"note":"{note}"}}"#,
        r.below(100_000),
        r.below(10_000),
        r.below(100),
        ["paid", "open", "void", "draft"][r.below(4) as usize],
        ["EUR", "USD", "JPY", "BRL"][r.below(4) as usize],
        ["DE", "FR", "US", "JP", "BR", "IN"][r.below(6) as usize],
        ["free", "pro", "team"][r.below(3) as usize],
        ["web", "api", "pos"][r.below(3) as usize],
        timestamp(ts).trim_end_matches('Z'),
        r.below(1000),
        r.below(2) == 0,
        r.below(1_000_000),
        r.word_pair(),
    )
}

/// A sentence needing escapes: quotes, backslashes, line breaks, `\u`
/// escapes, and raw multi-byte characters.
fn escaped_text(r: &mut Random) -> String {
    const PIECES: [&str; 10] = [
        "naïve café",
        "\\\"quoted\\\"",
        "C:\\\\path\\\\to",
        "line\\nbreak",
        "tab\\there",
        "\\u00e9t\\u00e9",
        "日本語のテキスト",
        "emoji 🚀🔥",
        "\\ud83d\\ude00 surrogate",
        "plain words",
    ];
    let mut text = String::new();
    for i in 0..6 {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(PIECES[r.below(PIECES.len() as u64) as usize]);
    }
    text
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a unix time (proleptic Gregorian, UTC).
pub fn timestamp(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// SplitMix64: small, fast, and the same everywhere.
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Random {
        Random(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn word(&mut self) -> &'static str {
        const WORDS: [&str; 16] = [
            "amber", "basalt", "cobalt", "delta", "ember", "fjord", "granite", "harbor", "indigo",
            "juniper", "kelp", "lumen", "meadow", "nectar", "onyx", "prairie",
        ];
        WORDS[self.below(16) as usize]
    }

    fn word_pair(&mut self) -> String {
        format!("{} {}", self.word(), self.word())
    }
}

#[cfg(test)]
mod tests {
    use hydrant_engine::bench_support::{Encoding, PagePipeline};

    /// The values of an output's records, each double as its shortest
    /// text: the index writes a double as its page spells it, a tree as
    /// its shortest text.
    fn values(out: &[u8], encoding: Encoding) -> Vec<serde_json::Value> {
        let records = match encoding {
            Encoding::Ndjson => out
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect(),
            Encoding::Csv => hydrant_engine::bench_support::csv_input_records(out).unwrap(),
        };
        // A CSV field of a double is text; NDJSON's doubles are compared
        // as numbers already.
        let shortest = |value: &mut serde_json::Value| {
            if let Some(text) = value
                .as_str()
                .filter(|t| encoding == Encoding::Csv && t.contains(['.', 'e']))
                && let Ok(double) = text.parse::<f64>()
            {
                *value = double.to_string().into();
            }
        };
        records
            .iter()
            .map(|record| {
                let mut value: serde_json::Value = serde_json::from_slice(record).unwrap();
                value
                    .as_object_mut()
                    .unwrap()
                    .values_mut()
                    .for_each(shortest);
                value
            })
            .collect()
    }

    #[test]
    fn the_index_writes_what_the_tree_writes() {
        for shape in Shape::ALL {
            let body = shape.page(3, 200);
            let job = format!(
                "[request]\nurl = \"https://api.example.com/x\"\n[records]\npath = \"data\"\n{}",
                shape.columns()
            );
            for encoding in [Encoding::Ndjson, Encoding::Csv] {
                let mut tape = PagePipeline::new(&job).unwrap();
                let mut tree = PagePipeline::new(&job).unwrap().tree_only();
                let out = tape.encode(&body, encoding).unwrap();
                assert_eq!(
                    values(&out, encoding),
                    values(&tree.encode(&body, encoding).unwrap(), encoding),
                    "{}",
                    shape.name()
                );
                // Inferred columns: the next page is checked against them.
                assert_eq!(
                    tape.encode(&body, encoding).unwrap(),
                    out,
                    "{}, a later page",
                    shape.name()
                );
                if encoding == Encoding::Ndjson {
                    let lines = out.iter().filter(|&&b| b == b'\n').count();
                    assert_eq!(lines, 200, "{}", shape.name());
                }
            }
        }
    }

    use super::*;

    #[test]
    fn every_shape_is_valid_json_with_the_records_asked_for() {
        for shape in Shape::ALL {
            let page = shape.page(3, 50);
            let value: serde_json::Value =
                serde_json::from_slice(&page).unwrap_or_else(|e| panic!("{}: {e}", shape.name()));
            let data = value["data"].as_array().unwrap();
            assert_eq!(data.len(), 50, "{}", shape.name());
            assert_eq!(shape.page(3, 50), page, "{} is deterministic", shape.name());
        }
    }

    #[test]
    fn the_committed_samples_are_what_the_generator_writes() {
        // `cargo xtask fixtures` writes them; a generator change must come
        // with new samples.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/corpus");
        for shape in Shape::ALL {
            let path = format!("{dir}/{}.json", shape.name());
            let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(
                committed == shape.page(0, 20),
                "{path} is stale: run `cargo xtask fixtures`"
            );
        }
    }

    /// The pretty page holds the realistic page's values, laid out as
    /// serde_json's pretty printer lays them out.
    #[test]
    fn indent_writes_what_pretty_printers_write() {
        let doc = br#"{"a":[1,{"b":"x, \"y\": {z}"},[],{}],"c":{"d":null,"e":[true]}}"#;
        let value: serde_json::Value = serde_json::from_slice(doc).unwrap();
        assert_eq!(
            String::from_utf8(indent(doc, "  ")).unwrap(),
            serde_json::to_string_pretty(&value).unwrap()
        );
        let pretty = Shape::Pretty.page(2, 30);
        let realistic = Shape::Realistic.page(2, 30);
        assert!(pretty.len() > realistic.len() * 5 / 4);
        let read = |page: &[u8]| serde_json::from_slice::<serde_json::Value>(page).unwrap();
        assert_eq!(read(&pretty), read(&realistic));
    }

    #[test]
    fn records_are_numbered_across_pages() {
        let page: serde_json::Value = serde_json::from_slice(&Shape::Flat.page(2, 10)).unwrap();
        assert_eq!(page["data"][0]["id"], 20);
        assert_eq!(page["data"][9]["id"], 29);
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_709_294_400), "2024-03-01T12:00:00Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn escaped_text_decodes_to_quotes_breaks_and_multibyte_characters() {
        let page = Shape::Escapes.page(0, 200);
        let value: serde_json::Value = serde_json::from_slice(&page).unwrap();
        let texts: String = value["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["text"].as_str().unwrap().to_owned())
            .collect();
        for needle in [
            "\"quoted\"",
            "\n",
            "\t",
            "été",
            "日本語",
            "🚀",
            "😀",
            "C:\\path",
        ] {
            assert!(texts.contains(needle), "no {needle:?}");
        }
    }
}
