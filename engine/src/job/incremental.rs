//! `[incremental]`, validated: the cursor a job's records are ordered by,
//! and how a run asks the API for what changed since the last one.
//!
//! Cursor values of one job are all of one type and compare as that type:
//! a timestamp as microseconds, a date as days, a long as a number, a
//! string as text. Spans (`step`, `lookback`, `safety_margin`) are in the
//! same unit.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::json::path::JsonPath;

/// `[incremental]` as written.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Incremental"))]
#[serde(deny_unknown_fields)]
pub(crate) struct IncrementalFile {
    pub cursor: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub start: Option<Value>,
    pub param: Option<String>,
    #[serde(rename = "in")]
    pub placement: Option<String>,
    pub format: Option<String>,
    pub end_param: Option<String>,
    pub step: Option<Value>,
    pub lookback: Option<Value>,
    pub key: Option<Value>,
    pub order: Option<String>,
    #[serde(default)]
    pub filter: bool,
    pub safety_margin: Option<String>,
}

/// `[incremental]`, validated.
#[derive(Debug, Clone)]
pub(crate) struct Incremental {
    pub cursor: JsonPath,
    pub kind: CursorType,
    pub start: Cursor,
    pub param: Option<String>,
    pub placement: BoundIn,
    pub format: BoundFormat,
    pub end_param: Option<String>,
    /// Whether a request tells the API its upper bound (`end_param`, or
    /// `{until}` in the request): records past it were asked for only
    /// where it does not.
    pub sends_upper: bool,
    /// Window width, in the cursor's unit.
    pub step: Option<i64>,
    pub lookback: i64,
    pub key: Vec<JsonPath>,
    pub order: Order,
    pub filter: bool,
    /// Microseconds, for a time cursor; 0 for other types.
    pub safety_margin: i64,
    /// For records nested under parents (`parent_path` columns): what of
    /// the cursor and the key is read in each record's parent.
    pub parent: Option<ParentReads>,
}

/// The paths `[incremental]` reads in a record's parent: those of the
/// `parent_path` columns that `cursor` or a `key` names.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParentReads {
    /// Read in the parent instead of `cursor`.
    pub cursor: Option<JsonPath>,
    /// Read in the parent instead of each path of `key`, by place.
    pub key: Vec<Option<JsonPath>>,
}

impl ParentReads {
    /// What `spec` reads in the parent, given `named`, the `parent_path`
    /// of each column by name.
    pub(crate) fn of(spec: &Incremental, named: &dyn Fn(&str) -> Option<JsonPath>) -> ParentReads {
        ParentReads {
            cursor: named(spec.cursor.as_str()),
            key: spec.key.iter().map(|k| named(k.as_str())).collect(),
        }
    }
}

/// What the cursor's values are compared as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorType {
    Timestamp,
    Date,
    Long,
    String,
}

/// One cursor value: microseconds, days or a number; or text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Cursor {
    Num(i64),
    Text(String),
}

/// Where the bounds go in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoundIn {
    Query,
    Header,
    Body,
    Url,
}

/// How a bound is spelled in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BoundFormat {
    Rfc3339,
    Unix,
    UnixMs,
    Date,
    Strftime(String),
    /// A long or a string, as it is.
    Plain,
}

/// How the API orders records by the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Asc,
    Desc,
    Unsorted,
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

impl CursorType {
    fn parse(text: &str) -> Option<CursorType> {
        Some(match text {
            "timestamp" => CursorType::Timestamp,
            "date" => CursorType::Date,
            "long" => CursorType::Long,
            "string" => CursorType::String,
            _ => return None,
        })
    }

    /// The type's name, as `incremental.type` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            CursorType::Timestamp => "timestamp",
            CursorType::Date => "date",
            CursorType::Long => "long",
            CursorType::String => "string",
        }
    }

    /// Whether the cursor is a point in time, so that "now" bounds it.
    pub(crate) fn is_time(self) -> bool {
        matches!(self, CursorType::Timestamp | CursorType::Date)
    }

    /// A cursor value as written by a user (`start`, `--from`) or as
    /// saved in the state file.
    pub(crate) fn read(self, value: &Value) -> Option<Cursor> {
        match value {
            Value::String(text) => self.read_text(text),
            Value::Number(n) => match self {
                CursorType::String => Some(Cursor::Text(n.to_string())),
                CursorType::Long => n.as_i64().map(Cursor::Num),
                CursorType::Timestamp => n.as_i64().and_then(unix_micros).map(Cursor::Num),
                CursorType::Date => None,
            },
            _ => None,
        }
    }

    /// A cursor value from text: a timestamp in RFC 3339 (or any spelling
    /// a `timestamp` column reads), a date as `YYYY-MM-DD`, a long.
    pub(crate) fn read_text(self, text: &str) -> Option<Cursor> {
        match self {
            CursorType::Timestamp => timestamp_micros(text).map(Cursor::Num),
            CursorType::Date => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .ok()
                .map(|date| Cursor::Num(days_since_epoch(date))),
            CursorType::Long => text.trim().parse().ok().map(Cursor::Num),
            CursorType::String => Some(Cursor::Text(text.to_owned())),
        }
    }

    /// A cursor value as the state file, the summary and `hydrant state`
    /// spell it.
    pub(crate) fn spell(self, cursor: &Cursor) -> Value {
        match (self, cursor) {
            (CursorType::Timestamp, Cursor::Num(micros)) => Value::String(rfc3339(*micros)),
            (CursorType::Date, Cursor::Num(days)) => Value::String(date_text(*days)),
            (CursorType::Long, Cursor::Num(n)) => Value::from(*n),
            (_, Cursor::Text(text)) => Value::String(text.clone()),
            (CursorType::String, Cursor::Num(n)) => Value::String(n.to_string()),
        }
    }

    /// The highest bound a run that started at `now` (unix microseconds)
    /// may reach: `margin` before it, in the cursor's unit; none for a
    /// cursor that is not a time.
    pub(crate) fn upper_at(self, now: i64, margin: i64) -> Option<i64> {
        let micros = now - margin;
        match self {
            // Whole seconds, so that a bound sent as unix seconds is exact.
            CursorType::Timestamp => Some(micros.div_euclid(1_000_000) * 1_000_000),
            CursorType::Date => Some(micros.div_euclid(MICROS_PER_DAY)),
            _ => None,
        }
    }
}

/// Unix microseconds now.
pub(crate) fn now_micros() -> i64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    i64::try_from(micros).unwrap_or(i64::MAX)
}

impl BoundFormat {
    /// The bound as a request carries it.
    pub(crate) fn spell(&self, kind: CursorType, cursor: &Cursor) -> String {
        let micros = match (kind, cursor) {
            (_, Cursor::Text(text)) => return text.clone(),
            (CursorType::Date, Cursor::Num(days)) => days * MICROS_PER_DAY,
            (CursorType::Timestamp, Cursor::Num(micros)) => *micros,
            (_, Cursor::Num(n)) => return n.to_string(),
        };
        match self {
            BoundFormat::Rfc3339 => rfc3339(micros),
            BoundFormat::Unix => micros.div_euclid(1_000_000).to_string(),
            BoundFormat::UnixMs => micros.div_euclid(1_000).to_string(),
            BoundFormat::Date => date_text(micros.div_euclid(MICROS_PER_DAY)),
            BoundFormat::Strftime(format) => datetime(micros).format(format).to_string(),
            BoundFormat::Plain => micros.to_string(),
        }
    }

    /// Whether the bound is a JSON number in a body.
    pub(crate) fn is_number(&self, kind: CursorType) -> bool {
        match kind {
            CursorType::Long => true,
            CursorType::String => false,
            _ => matches!(self, BoundFormat::Unix | BoundFormat::UnixMs),
        }
    }
}

/// Unix seconds, or milliseconds when above 10^11, as a `timestamp`
/// column reads them.
fn unix_micros(n: i64) -> Option<i64> {
    if n.unsigned_abs() > 100_000_000_000 {
        n.checked_mul(1_000)
    } else {
        n.checked_mul(1_000_000)
    }
}

/// A timestamp as a user writes one: RFC 3339, a naive date and time
/// (read as UTC), a date (midnight UTC), or unix seconds or milliseconds.
fn timestamp_micros(text: &str) -> Option<i64> {
    let text = text.trim();
    let micros = |dt: DateTime<Utc>| dt.timestamp_micros();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(micros(dt.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(micros(Utc.from_utc_datetime(&naive)));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return days_since_epoch(date).checked_mul(MICROS_PER_DAY);
    }
    text.parse().ok().and_then(unix_micros)
}

fn days_since_epoch(date: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    (date - epoch).num_days()
}

fn datetime(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn rfc3339(micros: i64) -> String {
    datetime(micros).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn date_text(days: i64) -> String {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    epoch
        .checked_add_signed(chrono::Duration::days(days))
        .unwrap_or(epoch)
        .format("%Y-%m-%d")
        .to_string()
}

/// A job's `[incremental]`, validated with the tables it needs.
pub(super) fn of_job(file: &super::file::JobFile) -> Result<Option<Incremental>, String> {
    let Some(incremental) = &file.incremental else {
        return Ok(None);
    };
    if file.state.is_none() {
        return Err(
            "incremental: needs a [state] path, where the bookmark is kept from run to run".into(),
        );
    }
    if file.write.is_some() {
        return Err("incremental: belongs to a read job, not to a write job".into());
    }
    validate(incremental).map(Some)
}

/// Validates `[incremental]`; errors name the key at fault.
pub(crate) fn validate(file: &IncrementalFile) -> Result<Incremental, String> {
    let cursor = JsonPath::parse(&file.cursor).map_err(|e| format!("incremental.cursor: {e}"))?;
    if cursor.segments().is_none() || cursor.is_multi() {
        return Err(format!(
            "incremental.cursor: `{}` must name one value of a record (a dotted path such as `updated_at`)",
            file.cursor
        ));
    }
    let kind = match file.kind.as_deref() {
        None => CursorType::Timestamp,
        Some(text) => CursorType::parse(text).ok_or_else(|| {
            format!("incremental.type: `{text}` is not one of timestamp, date, long, string")
        })?,
    };
    let start = file
        .start
        .as_ref()
        .ok_or("incremental.start: missing; give the lower bound of the first run")?;
    let start = kind.read(start).ok_or_else(|| {
        format!(
            "incremental.start: `{start}` is not a {} value",
            kind.name()
        )
    })?;
    let placement = match file.placement.as_deref().unwrap_or("query") {
        "query" => BoundIn::Query,
        "header" => BoundIn::Header,
        "body" => BoundIn::Body,
        "url" => BoundIn::Url,
        other => {
            return Err(format!(
                "incremental.in: `{other}` is not one of query, header, body, url"
            ));
        }
    };
    let format = bound_format(kind, file.format.as_deref())?;
    let span = |key: &str, value: &Option<Value>| span(kind, key, value.as_ref());
    let step = span("incremental.step", &file.step)?;
    if step == Some(0) {
        return Err("incremental.step: must be more than zero".into());
    }
    let lookback = span("incremental.lookback", &file.lookback)?.unwrap_or(0);
    let key = match &file.key {
        None => Vec::new(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .map(|k| k.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or("incremental.key: must be a path or a list of paths")?,
        Some(_) => return Err("incremental.key: must be a path or a list of paths".into()),
    };
    let key = key
        .iter()
        .map(|k| {
            let path = JsonPath::parse(k).map_err(|e| format!("incremental.key: {e}"))?;
            if path.segments().is_none() || path.is_multi() {
                return Err(format!(
                    "incremental.key: `{k}` must name one value of a record"
                ));
            }
            Ok(path)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let order = match file.order.as_deref().unwrap_or("unsorted") {
        "asc" => Order::Asc,
        "desc" => Order::Desc,
        "unsorted" => Order::Unsorted,
        other => {
            return Err(format!(
                "incremental.order: `{other}` is not one of asc, desc, unsorted"
            ));
        }
    };
    let safety_margin = match kind {
        CursorType::Timestamp | CursorType::Date => {
            let text = file.safety_margin.as_deref().unwrap_or("1m");
            duration_micros(text).map_err(|e| format!("incremental.safety_margin: {e}"))?
        }
        _ if file.safety_margin.is_some() => {
            return Err(format!(
                "incremental.safety_margin: only a timestamp or date cursor has one, this one is a {}",
                kind.name()
            ));
        }
        _ => 0,
    };
    if file.end_param.is_some() && file.param.is_none() && placement == BoundIn::Url {
        return Err("incremental.end_param: `in = \"url\"` needs `param` too".into());
    }
    Ok(Incremental {
        cursor,
        kind,
        start,
        param: file.param.clone(),
        placement,
        format,
        end_param: file.end_param.clone(),
        sends_upper: file.end_param.is_some(),
        step,
        lookback,
        key,
        order,
        filter: file.filter,
        safety_margin,
        parent: None,
    })
}

fn bound_format(kind: CursorType, format: Option<&str>) -> Result<BoundFormat, String> {
    let Some(format) = format else {
        return Ok(match kind {
            CursorType::Timestamp => BoundFormat::Rfc3339,
            CursorType::Date => BoundFormat::Date,
            _ => BoundFormat::Plain,
        });
    };
    if !kind.is_time() {
        return Err(format!(
            "incremental.format: a {} cursor is sent as it is; `format` is for timestamps and dates",
            kind.name()
        ));
    }
    Ok(match format {
        "rfc3339" => BoundFormat::Rfc3339,
        "unix" => BoundFormat::Unix,
        "unix_ms" => BoundFormat::UnixMs,
        "date" => BoundFormat::Date,
        strftime if strftime.contains('%') => {
            let probe = datetime(0).format(strftime);
            if std::fmt::write(&mut String::new(), format_args!("{probe}")).is_err() {
                return Err(format!(
                    "incremental.format: `{strftime}` is not a strftime format"
                ));
            }
            BoundFormat::Strftime(strftime.to_owned())
        }
        other => {
            return Err(format!(
                "incremental.format: `{other}` is not rfc3339, unix, unix_ms, date or a strftime format"
            ));
        }
    })
}

/// `step` or `lookback` in the cursor's unit: a duration (`"1h"`, `"7d"`)
/// for a time cursor, a number for a long one.
fn span(kind: CursorType, key: &str, value: Option<&Value>) -> Result<Option<i64>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let spanned = match (kind, value) {
        (CursorType::Timestamp, Value::String(text)) => duration_micros(text),
        (CursorType::Date, Value::String(text)) => duration_micros(text).and_then(|micros| {
            if micros % MICROS_PER_DAY == 0 {
                Ok(micros / MICROS_PER_DAY)
            } else {
                Err(format!("`{text}` is not a whole number of days"))
            }
        }),
        (CursorType::Date | CursorType::Long, Value::Number(n)) => n
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or(format!("`{n}` is not a whole number")),
        (CursorType::String, _) => Err(
            "a string cursor has no distance between values; use a timestamp, date or long cursor"
                .to_owned(),
        ),
        _ => Err(format!("`{value}` is not a span of this cursor")),
    };
    spanned.map(Some).map_err(|e| format!("{key}: {e}"))
}

/// A duration in microseconds: `"90s"`, `"1h"`, `"1d"`, `"1w"`.
fn duration_micros(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let days = |suffix: char, days: i64| -> Option<Result<i64, String>> {
        let number = trimmed.strip_suffix(suffix)?;
        Some(
            number
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|n| n.checked_mul(days * MICROS_PER_DAY))
                .ok_or_else(|| format!("`{text}` is not a duration such as \"1h\" or \"7d\"")),
        )
    };
    if let Some(parsed) = days('d', 1).or_else(|| days('w', 7)) {
        return parsed;
    }
    let duration = super::units::parse_duration(trimmed)?;
    i64::try_from(duration.as_micros()).map_err(|_| format!("`{text}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(extra: &str) -> Result<Incremental, String> {
        let text = format!("cursor = \"updated_at\"\nstart = \"2024-01-01T00:00:00Z\"\n{extra}");
        validate(&toml::from_str(&text).unwrap())
    }

    #[test]
    fn spans_and_formats_are_in_the_cursors_unit() {
        let job = file("step = \"1d\"\nlookback = \"1h\"").unwrap();
        assert_eq!(job.step, Some(MICROS_PER_DAY));
        assert_eq!(job.lookback, 3_600_000_000);
        assert_eq!(job.safety_margin, 60_000_000);
        assert_eq!(job.start, Cursor::Num(1_704_067_200_000_000));
        let start = &job.start;
        assert_eq!(job.format.spell(job.kind, start), "2024-01-01T00:00:00Z");
        assert_eq!(BoundFormat::Unix.spell(job.kind, start), "1704067200");
        assert_eq!(BoundFormat::UnixMs.spell(job.kind, start), "1704067200000");
        let odata = BoundFormat::Strftime("%Y-%m-%dT%H:%M:%S".into());
        assert_eq!(odata.spell(job.kind, start), "2024-01-01T00:00:00");
        let long = validate(
            &toml::from_str("cursor = \"id\"\ntype = \"long\"\nstart = 100\nstep = 50").unwrap(),
        )
        .unwrap();
        assert_eq!(
            (long.start.clone(), long.step),
            (Cursor::Num(100), Some(50))
        );
        assert_eq!(long.format.spell(long.kind, &long.start), "100");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("type = \"number\"", "incremental.type"),
            ("in = \"cookie\"", "incremental.in"),
            ("step = \"soon\"", "incremental.step"),
            ("order = \"random\"", "incremental.order"),
            ("format = \"iso\"", "incremental.format"),
            ("key = 3", "incremental.key"),
            ("safety_margin = \"a while\"", "incremental.safety_margin"),
        ];
        for (extra, key) in cases {
            let error = file(extra).unwrap_err();
            assert!(error.starts_with(key), "{extra}: {error}");
        }
        let error = validate(&toml::from_str("cursor = \"updated_at\"").unwrap()).unwrap_err();
        assert!(error.starts_with("incremental.start"), "{error}");
        let error =
            validate(&toml::from_str("cursor = \"items[*].t\"\nstart = \"2024-01-01\"").unwrap())
                .unwrap_err();
        assert!(error.starts_with("incremental.cursor"), "{error}");
    }
}
