//! Azure Data Factory `paginationRules`, taken verbatim.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{
    BuildError, Override, Page, Plan, Source, Step, Stop, is_empty, link, scalar_text, value_of,
};

#[derive(Debug)]
pub(crate) struct Rules {
    absolute_url: Option<Source>,
    params: Vec<(Target, RuleValue)>,
    ends: Vec<(Source, EndTest)>,
    pub max_requests: Option<u64>,
    rfc5988: bool,
}

#[derive(Debug)]
enum Target {
    Query(String),
    Header(String),
    /// A member of the JSON body (dotted), the data-flow `Body.x`.
    Body(String),
    /// A `{name}` placeholder, wherever it stands in the request: ADF's
    /// `QueryParameters.{offset}`, `AbsoluteUrl.{id}`, `Headers.{id}`.
    Var(String),
}

#[derive(Debug)]
enum RuleValue {
    From(Source),
    Range {
        start: i64,
        end: Option<i64>,
        step: i64,
    },
}

#[derive(Debug)]
enum EndTest {
    Empty,
    NonExist,
    Exist,
    Const(String),
}

/// `Headers.NAME` or `Headers['NAME']` (`header.NAME` in data flows).
fn header_name(text: &str) -> Option<String> {
    let rest = ["Headers", "headers", "Header", "header"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))?;
    bracketed_or_dotted(rest)
}

/// The path of a data-flow `body.x` (`body.{@odata.nextLink}` for a key
/// with dots), as a JSONPath.
fn body_path(text: &str) -> Option<String> {
    let rest = ["Body.", "body."]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))?;
    if let Some(key) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        return Some(format!(
            "$['{}']",
            key.replace('\\', "\\\\").replace('\'', "\\'")
        ));
    }
    (!rest.is_empty()).then(|| format!("$.{rest}"))
}

/// Whether a rule's key sets a member of the request body.
pub(crate) fn is_body_key(key: &str) -> bool {
    body_path(key).is_some()
}

/// A `{name}` placeholder after a rule's prefix: `.{offset}`.
fn placeholder(rest: &str) -> Option<String> {
    let name = rest.strip_prefix(".{")?.strip_suffix('}')?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// The target of a rule's key, if it names one.
fn target(key: &str) -> Option<Target> {
    if let Some(rest) = key.strip_prefix("QueryParameters") {
        return placeholder(rest)
            .map(Target::Var)
            .or_else(|| bracketed_or_dotted(rest).map(Target::Query));
    }
    if let Some(rest) = key.strip_prefix("AbsoluteUrl") {
        return placeholder(rest).map(Target::Var);
    }
    if let Some(rest) = ["Headers", "headers", "Header", "header"]
        .iter()
        .find_map(|prefix| key.strip_prefix(prefix))
        && let Some(name) = placeholder(rest)
    {
        return Some(Target::Var(name));
    }
    if let Some(path) = ["Body.", "body."].iter().find_map(|p| key.strip_prefix(p)) {
        return (!path.is_empty()).then(|| Target::Body(path.to_owned()));
    }
    header_name(key).map(Target::Header)
}

fn bracketed_or_dotted(rest: &str) -> Option<String> {
    if let Some(name) = rest.strip_prefix('.') {
        return (!name.is_empty()).then(|| name.to_owned());
    }
    let inner = rest.strip_prefix("['")?.strip_suffix("']")?;
    (!inner.is_empty()).then(|| inner.to_owned())
}

impl Rules {
    pub fn parse(
        rules: &BTreeMap<String, Value>,
        watch: &mut dyn FnMut(&str) -> usize,
    ) -> Result<Rules, BuildError> {
        let mut parsed = Rules {
            absolute_url: None,
            params: Vec::new(),
            ends: Vec::new(),
            max_requests: None,
            rfc5988: true,
        };
        let mut rfc5988 = None;
        for (key, value) in rules {
            let at = format!("paginate.rules.{key}");
            let text = || -> Result<String, BuildError> {
                scalar_text(value).ok_or_else(|| BuildError::new(&at, "expected a string"))
            };
            let mut source = |text: &str| -> Result<Source, BuildError> {
                if text.starts_with('$') {
                    Ok(Source::Body(watch(text)))
                } else if let Some(path) = body_path(text) {
                    Ok(Source::Body(watch(&path)))
                } else if let Some(name) = header_name(text) {
                    Ok(Source::Header(name.to_ascii_lowercase()))
                } else {
                    Err(BuildError::new(
                        &at,
                        format!("`{text}` is not a JSONPath ($...), Headers.NAME or body.PATH"),
                    ))
                }
            };
            if key == "AbsoluteUrl" {
                parsed.absolute_url = Some(source(&text()?)?);
            } else if key == "MaxRequestNumber" {
                let max = text()?
                    .parse::<u64>()
                    .ok()
                    .filter(|m| *m > 0)
                    .ok_or_else(|| BuildError::new(&at, "expected a positive whole number"))?;
                parsed.max_requests = Some(max);
            } else if key == "SupportRFC5988" {
                rfc5988 = Some(match text()?.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(BuildError::new(&at, "expected true or false")),
                });
            } else if let Some(path) = key.strip_prefix("EndCondition:") {
                let end_source = source(path)?;
                let value = text()?;
                let test = match value.as_str() {
                    "Empty" => EndTest::Empty,
                    "NonExist" => EndTest::NonExist,
                    "Exist" => EndTest::Exist,
                    other => match other.strip_prefix("Const:") {
                        Some(constant) => EndTest::Const(constant.to_owned()),
                        None => {
                            return Err(BuildError::new(
                                &at,
                                format!("`{other}` is not Empty, NonExist, Exist or Const:VALUE"),
                            ));
                        }
                    },
                };
                parsed.ends.push((end_source, test));
            } else {
                let Some(target) = target(key) else {
                    return Err(BuildError::new(
                        &at,
                        "is not a rule ADF knows (AbsoluteUrl, AbsoluteUrl.{NAME}, QueryParameters.NAME, QueryParameters.{NAME}, Headers.NAME, Headers.{NAME}, Body.PATH, EndCondition:PATH, MaxRequestNumber, SupportRFC5988)",
                    ));
                };
                let value = text()?;
                let rule_value = match value.strip_prefix("RANGE:") {
                    Some(range) => parse_range(range).ok_or_else(|| {
                        BuildError::new(
                            &at,
                            format!("`{value}` is not RANGE:start:end:step (end may be empty)"),
                        )
                    })?,
                    None => RuleValue::From(source(&value)?),
                };
                parsed.params.push((target, rule_value));
            }
        }
        parsed.rfc5988 =
            rfc5988.unwrap_or(parsed.absolute_url.is_none() && parsed.params.is_empty());
        Ok(parsed)
    }

    pub fn is_counted(&self) -> bool {
        self.absolute_url.is_none()
            && !self.rfc5988
            && !self.params.is_empty()
            && self
                .params
                .iter()
                .all(|(_, v)| matches!(v, RuleValue::Range { .. }))
    }

    /// Values of the range parameters for request `index`; `None` past an end.
    fn ranges(&self, index: u64, overrides: &mut Vec<Override>) -> Option<()> {
        for (target, value) in &self.params {
            if let RuleValue::Range { start, end, step } = value {
                let v = i64::try_from(index)
                    .ok()?
                    .checked_mul(*step)?
                    .checked_add(*start)?;
                if end.is_some_and(|e| (*step > 0 && v > e) || (*step < 0 && v < e)) {
                    return None;
                }
                overrides.push(set(target, Value::from(v)));
            }
        }
        Some(())
    }

    pub(crate) fn has_open_range(&self) -> bool {
        self.params
            .iter()
            .any(|(_, v)| matches!(v, RuleValue::Range { end: None, .. }))
    }

    pub fn first(&self) -> Plan {
        let mut overrides = Vec::new();
        self.ranges(0, &mut overrides);
        Plan { overrides }
    }

    pub fn ahead(&self, index: u64) -> Option<Plan> {
        let mut overrides = Vec::new();
        self.ranges(index, &mut overrides)?;
        Some(Plan { overrides })
    }

    /// The sources whose values make the next request: `AbsoluteUrl`'s
    /// and those of the parameters set from the response.
    pub(crate) fn next_from(&self) -> impl Iterator<Item = &Source> {
        let params = self.params.iter().filter_map(|(_, value)| match value {
            RuleValue::From(source) => Some(source),
            RuleValue::Range { .. } => None,
        });
        self.absolute_url.iter().chain(params)
    }

    pub fn after(&self, index: u64, page: &Page<'_>) -> Step {
        if self
            .ends
            .iter()
            .any(|(source, test)| end_holds(source, test, page))
        {
            return Step::Done(Stop::EndCondition);
        }
        if self.has_open_range() && page.records == 0 {
            return Step::Done(Stop::EmptyPage);
        }
        let mut overrides = Vec::new();
        if self.ranges(index + 1, &mut overrides).is_none() {
            return Step::Done(Stop::EndOfRange);
        }
        if self.is_counted() {
            return Step::Continue;
        }
        if let Some(source) = &self.absolute_url {
            match usable(source, page) {
                Some(url) => overrides.push(Override::Link(url)),
                None => return Step::Done(Stop::NoNext),
            }
        } else if self.rfc5988 {
            let values = page
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("link"))
                .map(|(_, v)| v.as_str());
            match link::find_rel(values, "next") {
                Some(url) => overrides.push(Override::Link(url)),
                None if self.params.is_empty() => return Step::Done(Stop::NoNext),
                None => {}
            }
        }
        for (target, value) in &self.params {
            if let RuleValue::From(source) = value {
                match value_of(source, page).filter(usable_value) {
                    Some(value) => overrides.push(set(target, value)),
                    None => return Step::Done(Stop::NoNext),
                }
            }
        }
        // Nothing to change (`SupportRFC5988 = false` alone): the next
        // request would be this one again.
        if overrides.is_empty() {
            return Step::Done(Stop::NoNext);
        }
        Step::Next(Plan { overrides })
    }
}

/// The override that puts `value` at `target`: a body member keeps its
/// JSON type, everything else takes its text.
fn set(target: &Target, value: Value) -> Override {
    let text = || scalar_text(&value).unwrap_or_default();
    match target {
        Target::Query(name) => Override::Query {
            name: name.clone(),
            value: text(),
        },
        Target::Header(name) => Override::Header {
            name: name.clone(),
            value: text(),
        },
        Target::Var(name) => Override::Var {
            name: name.clone(),
            value: text(),
        },
        Target::Body(path) => Override::Body {
            path: path.clone(),
            value,
        },
    }
}

/// A value a request can take: a scalar that is not `""`.
fn usable_value(value: &Value) -> bool {
    scalar_text(value).is_some_and(|t| !t.is_empty())
}

fn usable(source: &Source, page: &Page<'_>) -> Option<String> {
    scalar_text(&value_of(source, page)?).filter(|t| !t.is_empty())
}

fn end_holds(source: &Source, test: &EndTest, page: &Page<'_>) -> bool {
    let value = value_of(source, page);
    match test {
        EndTest::Empty => value.as_ref().is_none_or(is_empty),
        EndTest::NonExist => value.is_none(),
        EndTest::Exist => value.is_some(),
        EndTest::Const(constant) => value
            .as_ref()
            .and_then(scalar_text)
            .is_some_and(|t| t == *constant),
    }
}

fn parse_range(text: &str) -> Option<RuleValue> {
    let mut parts = text.split(':');
    let start = parts.next()?.trim().parse().ok()?;
    let end = match parts.next().map(str::trim) {
        None | Some("") => None,
        Some(e) => Some(e.parse().ok()?),
    };
    let step = match parts.next().map(str::trim) {
        None | Some("") => 1,
        Some(s) => s.parse().ok().filter(|s: &i64| *s != 0)?,
    };
    parts
        .next()
        .is_none()
        .then_some(RuleValue::Range { start, end, step })
}
