use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The `[paginate]` table of a job, as written.
///
/// Keys are flat, as in the job file; [`Config::validate`] checks that every
/// key given applies to the chosen `type` and that required keys are there.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Paginate"))]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "type", default)]
    pub kind: Kind,
    pub max_requests: Option<u64>,
    #[serde(default)]
    pub stop: Vec<StopConfig>,
    pub param: Option<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub step: Option<i64>,
    pub limit_param: Option<String>,
    pub limit: Option<u64>,
    pub size_param: Option<String>,
    pub size: Option<u64>,
    #[serde(rename = "in")]
    pub placement: Option<Placement>,
    pub from: Option<String>,
    pub header: Option<String>,
    pub initial: Option<Value>,
    pub rel: Option<String>,
    pub rules: Option<BTreeMap<String, Value>>,
}

/// `paginate.type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "PaginateType"))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    None,
    Offset,
    Page,
    Cursor,
    NextLink,
    LinkHeader,
    Range,
    Rules,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::Offset => "offset",
            Kind::Page => "page",
            Kind::Cursor => "cursor",
            Kind::NextLink => "next_link",
            Kind::LinkHeader => "link_header",
            Kind::Range => "range",
            Kind::Rules => "rules",
        }
    }
}

/// Where a paginated value goes in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "PaginateIn"))]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    Query,
    Header,
    Body,
    Url,
}

impl Placement {
    fn as_str(self) -> &'static str {
        match self {
            Placement::Query => "query",
            Placement::Header => "header",
            Placement::Body => "body",
            Placement::Url => "url",
        }
    }
}

/// One `[[paginate.stop]]` end condition, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StopConfig {
    pub path: Option<String>,
    pub header: Option<String>,
    pub is: Option<StopTest>,
    pub equals: Option<Value>,
    pub equals_path: Option<String>,
    pub equals_param: Option<String>,
    pub records_below: Option<u64>,
}

/// `is = ...` of an end condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum StopTest {
    Empty,
    Missing,
    Present,
    Null,
}

/// A `[paginate]` table that is well-formed but inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    key: String,
    problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// The job key at fault, such as `paginate.limit`.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Config {
    /// Whether the paginator sets a member of the request body.
    pub fn sets_body(&self) -> bool {
        self.placement == Some(Placement::Body)
            || self
                .rules
                .as_ref()
                .is_some_and(|rules| rules.keys().any(|key| crate::rules::is_body_key(key)))
    }

    /// Checks that the keys given fit `type`, and that the required ones are
    /// there.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let given: [(&str, bool); 14] = [
            ("param", self.param.is_some()),
            ("start", self.start.is_some()),
            ("end", self.end.is_some()),
            ("step", self.step.is_some()),
            ("limit_param", self.limit_param.is_some()),
            ("limit", self.limit.is_some()),
            ("size_param", self.size_param.is_some()),
            ("size", self.size.is_some()),
            ("in", self.placement.is_some()),
            ("from", self.from.is_some()),
            ("header", self.header.is_some()),
            ("initial", self.initial.is_some()),
            ("rel", self.rel.is_some()),
            ("rules", self.rules.is_some()),
        ];
        let allowed: &[&str] = match self.kind {
            Kind::None => &[],
            Kind::Offset => &["param", "start", "limit_param", "limit", "in"],
            Kind::Page => &["param", "start", "size_param", "size", "in"],
            Kind::Cursor => &["from", "header", "param", "in", "initial"],
            Kind::NextLink => &["from", "header"],
            Kind::LinkHeader => &["rel"],
            Kind::Range => &["param", "in", "start", "end", "step"],
            Kind::Rules => &["rules"],
        };
        for (key, present) in given {
            if present && !allowed.contains(&key) {
                return Err(ConfigError::new(
                    format!("paginate.{key}"),
                    format!("does not apply to type `{}`", self.kind.as_str()),
                ));
            }
        }
        let placements: &[Placement] = match self.kind {
            Kind::Offset | Kind::Page => &[Placement::Query, Placement::Header, Placement::Body],
            Kind::Cursor => &[Placement::Query, Placement::Header, Placement::Body],
            _ => &[
                Placement::Query,
                Placement::Header,
                Placement::Body,
                Placement::Url,
            ],
        };
        if let Some(placement) = self.placement
            && !placements.contains(&placement)
        {
            return Err(ConfigError::new(
                "paginate.in",
                format!(
                    "`{}` does not apply to type `{}`",
                    placement.as_str(),
                    self.kind.as_str()
                ),
            ));
        }
        if matches!(self.kind, Kind::Cursor | Kind::NextLink)
            && self.from.is_some()
            && self.header.is_some()
        {
            return Err(ConfigError::new(
                "paginate.from",
                "give either `from` or `header`, not both",
            ));
        }
        if self.kind == Kind::Range {
            if self.param.is_none() {
                return Err(ConfigError::new(
                    "paginate.param",
                    "is required for type `range`",
                ));
            }
            if self.step == Some(0) {
                return Err(ConfigError::new("paginate.step", "must not be 0"));
            }
        }
        if self.kind == Kind::Rules && self.rules.is_none() {
            return Err(ConfigError::new(
                "paginate.rules",
                "is required for type `rules`",
            ));
        }
        if matches!(self.limit, Some(0)) {
            return Err(ConfigError::new("paginate.limit", "must be at least 1"));
        }
        if matches!(self.size, Some(0)) {
            return Err(ConfigError::new("paginate.size", "must be at least 1"));
        }
        if matches!(self.max_requests, Some(0)) {
            return Err(ConfigError::new(
                "paginate.max_requests",
                "must be at least 1",
            ));
        }
        for (i, stop) in self.stop.iter().enumerate() {
            stop.validate(&format!("paginate.stop[{i}]"))?;
        }
        Ok(())
    }
}

impl StopConfig {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let sources = [
            self.path.is_some(),
            self.header.is_some(),
            self.records_below.is_some(),
        ];
        if sources.iter().filter(|&&s| s).count() != 1 {
            return Err(ConfigError::new(
                key,
                "needs exactly one of `path`, `header` or `records_below`",
            ));
        }
        let tests = [
            self.is.is_some(),
            self.equals.is_some(),
            self.equals_path.is_some(),
            self.equals_param.is_some(),
        ];
        let count = tests.iter().filter(|&&t| t).count();
        if self.records_below.is_some() {
            if count != 0 {
                return Err(ConfigError::new(
                    key,
                    "`records_below` takes no `is` or `equals*` test",
                ));
            }
        } else if count != 1 {
            return Err(ConfigError::new(
                key,
                "needs exactly one of `is`, `equals`, `equals_path` or `equals_param`",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn key_of_another_type_is_named() {
        let err = parse(r#"{"type": "cursor", "limit": 10}"#)
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "paginate.limit");
        assert_eq!(
            err.to_string(),
            "paginate.limit: does not apply to type `cursor`"
        );
    }

    #[test]
    fn range_needs_param() {
        let err = parse(r#"{"type": "range", "start": 1}"#)
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "paginate.param");
    }

    #[test]
    fn stop_needs_one_test() {
        let err = parse(r#"{"type": "page", "stop": [{"path": "$.data"}]}"#)
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "paginate.stop[0]");
        parse(r#"{"type": "page", "stop": [{"path": "$.data", "is": "empty"}, {"records_below": 5}]}"#)
            .validate()
            .unwrap();
    }

    #[test]
    fn unknown_key_is_refused() {
        let err = serde_json::from_str::<Config>(r#"{"type": "page", "sise": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `sise`"), "{err}");
    }

    #[test]
    fn offset_into_url_is_refused() {
        let err = parse(r#"{"type": "offset", "in": "url"}"#)
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "paginate.in");
    }
}
