//! The hot path's parser beside the alternatives, on the nested shape:
//! hydrant's page path (the structural index, one walk) against simd-json's
//! tape walked by the same extractor and sonic-rs driven through a serde
//! visitor that keeps the same five columns and skips the
//! rest. Kept out of the engine: this bench is how the parser is chosen.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hydrant_bench::corpus::Shape;
use hydrant_engine::bench_support::PagePipeline;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

const RECORDS: usize = 1000;

/// The nested shape's five columns, as the engine keeps them: numbers and
/// timestamps typed, strings borrowed unless they carried escapes.
#[derive(Default)]
struct Columns<'de> {
    number: Vec<Option<i64>>,
    title: Vec<Option<Cow<'de, str>>>,
    author: Vec<Option<Cow<'de, str>>>,
    location: Vec<Option<Cow<'de, str>>>,
    created_at: Vec<Option<i64>>,
}

impl Columns<'_> {
    fn rows(&self) -> usize {
        self.number.len()
    }
}

struct Page<'a, 'de>(&'a mut Columns<'de>);

impl<'de> DeserializeSeed<'de> for Page<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Page<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if key.0 == "data" {
                map.next_value_seed(Records(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Records<'a, 'de>(&'a mut Columns<'de>);

impl<'de> DeserializeSeed<'de> for Records<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Record(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

struct Record<'a, 'de>(&'a mut Columns<'de>);

impl<'de> DeserializeSeed<'de> for Record<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Record<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut row = Row::default();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.0.as_ref() {
                "number" => row.number = map.next_value()?,
                "title" => row.title = map.next_value::<Option<Text<'de>>>()?.map(|t| t.0),
                "user" => map.next_value_seed(User(&mut row))?,
                "created_at" => {
                    let text: Option<Text<'de>> = map.next_value()?;
                    row.created_at = match text {
                        Some(Text(text)) => Some(epoch_seconds(&text).ok_or_else(|| {
                            de::Error::custom(format!("not a timestamp: {text}"))
                        })?),
                        None => None,
                    };
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let columns = self.0;
        columns.number.push(row.number);
        columns.title.push(row.title);
        columns.author.push(row.author);
        columns.location.push(row.location);
        columns.created_at.push(row.created_at);
        Ok(())
    }
}

#[derive(Default)]
struct Row<'de> {
    number: Option<i64>,
    title: Option<Cow<'de, str>>,
    author: Option<Cow<'de, str>>,
    location: Option<Cow<'de, str>>,
    created_at: Option<i64>,
}

struct User<'a, 'de>(&'a mut Row<'de>);

impl<'de> DeserializeSeed<'de> for User<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for User<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a user")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.0.as_ref() {
                "login" => self.0.author = map.next_value::<Option<Text<'de>>>()?.map(|t| t.0),
                "profile" => map.next_value_seed(Profile(&mut *self.0))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Profile<'a, 'de>(&'a mut Row<'de>);

impl<'de> DeserializeSeed<'de> for Profile<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Profile<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a profile")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if key.0 == "location" {
                self.0.location = map.next_value::<Option<Text<'de>>>()?.map(|t| t.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// A string borrowed from the page unless it carried escapes: serde's own
/// `Cow<str>` always copies.
struct Text<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` as seconds since the epoch: the corpus's only
/// timestamp form, so the comparison is not charged for a general parser.
fn epoch_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(days * 86_400 + num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?)
}

fn sonic_extract(body: &[u8]) -> sonic_rs::Result<usize> {
    let mut columns = Columns::default();
    let mut de = sonic_rs::Deserializer::from_slice(body);
    Page(&mut columns).deserialize(&mut de)?;
    de.end()?;
    Ok(columns.rows())
}

fn parsers(c: &mut Criterion) {
    let shape = Shape::Nested;
    let body = shape.page(0, RECORDS);
    let job = format!(
        "[request]\nurl = \"https://api.example.com/x\"\n[records]\npath = \"data\"\n{}",
        shape.columns()
    );
    let mut pipeline = PagePipeline::new(&job).expect("bench job");
    assert_eq!(pipeline.run(&body).expect("page"), RECORDS);
    let mut tape = PagePipeline::new(&job).expect("bench job").simd_json_tape();
    assert_eq!(tape.run(&body).expect("page"), RECORDS);
    assert_eq!(sonic_extract(&body).expect("sonic-rs page"), RECORDS);
    let mut group = c.benchmark_group("parser/nested");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("memchr", |b| {
        b.iter(|| memchr::memchr_iter(b'"', std::hint::black_box(&body)).count())
    });
    group.bench_function("structural_index", |b| {
        b.iter(|| pipeline.run(&body).expect("page"))
    });
    group.bench_function("simd_json_tape", |b| {
        b.iter(|| tape.run(&body).expect("page"))
    });
    group.bench_function("sonic_rs_visitor", |b| {
        b.iter(|| sonic_extract(std::hint::black_box(&body)).expect("page"))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = parsers
}
criterion_main!(benches);
