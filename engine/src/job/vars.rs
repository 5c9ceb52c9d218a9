//! `${NAME}` interpolation of job file strings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::validate::is_credential_name;

/// Where `${NAME}` takes its values: `--var` first, then the environment.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    given: BTreeMap<String, String>,
    use_env: bool,
    /// Unset variables read as `***` rather than failing (`explain`).
    mask_unset: bool,
    /// The unset variables met, when masked.
    unset: Arc<Mutex<BTreeSet<String>>>,
}

/// What an unset variable reads as under [`Vars::masking_unset`].
const MASK: &str = "***";

impl Vars {
    /// Values from `--var` only, falling back to the process environment.
    pub fn new(given: impl IntoIterator<Item = (String, String)>) -> Vars {
        Vars {
            given: given.into_iter().collect(),
            use_env: true,
            ..Vars::default()
        }
    }

    /// The same values, but an unset variable (without a default) reads
    /// as `***` instead of failing: to show a job's requests before its
    /// secrets are set. [`Vars::unset`] names the variables met unset.
    pub fn masking_unset(mut self) -> Vars {
        self.mask_unset = true;
        self
    }

    /// The variables read while unset, under [`Vars::masking_unset`].
    pub fn unset(&self) -> Vec<String> {
        let unset = self.unset.lock().unwrap_or_else(PoisonError::into_inner);
        unset.iter().cloned().collect()
    }

    /// Values from the given map only; the environment is not read.
    pub fn isolated(given: impl IntoIterator<Item = (String, String)>) -> Vars {
        Vars {
            given: given.into_iter().collect(),
            use_env: false,
            ..Vars::default()
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        if let Some(value) = self.given.get(name) {
            return Some(value.clone());
        }
        if self.use_env {
            return std::env::var(name).ok();
        }
        None
    }

    /// Replaces `${NAME}`, `${NAME:-default}`, `${NAME:?message}` and `$$`.
    /// The error names the variable, never its value.
    #[cfg(test)]
    pub(crate) fn expand(&self, text: &str) -> Result<String, String> {
        self.expand_noting(text, &mut Vec::new())
    }

    /// `Vars::expand`, pushing onto `credentials` the value of each
    /// variable whose name reads as a credential's (`API_TOKEN`,
    /// `DB_PASSWORD`): a secret wherever the job puts it.
    pub(crate) fn expand_noting(
        &self,
        text: &str,
        credentials: &mut Vec<String>,
    ) -> Result<String, String> {
        if !text.contains('$') {
            return Ok(text.to_owned());
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(body) = after.strip_prefix('{') {
                let end = body
                    .find('}')
                    .ok_or_else(|| format!("`${{` without a closing `}}` in \"{text}\""))?;
                let (name, value) = self.resolve(&body[..end])?;
                if is_credential_name(name) && value != MASK {
                    credentials.push(value.clone());
                }
                out.push_str(&value);
                rest = &body[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The variable's name and its value.
    fn resolve<'e>(&self, expr: &'e str) -> Result<(&'e str, String), String> {
        let (name, fallback) = match expr.find(':') {
            Some(colon) => (&expr[..colon], Some(&expr[colon + 1..])),
            None => (expr, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`${{{expr}}}` is not a variable reference"));
        }
        let mut value = self.lookup(name);
        let defaulted = fallback.is_some_and(|f| f.starts_with('-'));
        if value.is_none() && self.mask_unset && !defaulted {
            let mut unset = self.unset.lock().unwrap_or_else(PoisonError::into_inner);
            unset.insert(name.to_owned());
            value = Some(MASK.to_owned());
        }
        let value = match fallback {
            None => value.ok_or_else(|| {
                format!("variable `{name}` is not set (pass --var {name}=VALUE or set it in the environment)")
            }),
            Some(f) if f.starts_with('-') => Ok(value.unwrap_or_else(|| f[1..].to_owned())),
            Some(f) if f.starts_with('?') => {
                value.ok_or_else(|| format!("variable `{name}` is not set: {}", &f[1..]))
            }
            Some(_) => Err(format!(
                "`${{{expr}}}`: after `:` comes `-default` or `?message`"
            )),
        }?;
        Ok((name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars::isolated([("CITY".to_owned(), "Oslo".to_owned())])
    }

    #[test]
    fn forms() {
        let v = vars();
        assert_eq!(v.expand("/w/${CITY}").unwrap(), "/w/Oslo");
        assert_eq!(v.expand("${MISSING:-x}").unwrap(), "x");
        assert_eq!(v.expand("${CITY:-x}").unwrap(), "Oslo");
        assert_eq!(v.expand("cost $$5 $x").unwrap(), "cost $5 $x");
        assert_eq!(
            v.expand("${TOKEN:?set the API token}").unwrap_err(),
            "variable `TOKEN` is not set: set the API token"
        );
        assert!(
            v.expand("${TOKEN}")
                .unwrap_err()
                .contains("`TOKEN` is not set")
        );
        assert!(v.expand("${CITY").is_err());
    }

    #[test]
    fn masking_reads_unset_variables_as_stars_and_names_them() {
        let v = vars().masking_unset();
        assert_eq!(v.expand("Bearer ${TOKEN}").unwrap(), "Bearer ***");
        assert_eq!(v.expand("${KEY:?set it}").unwrap(), "***");
        assert_eq!(v.expand("${PAGE:-50}/${CITY}").unwrap(), "50/Oslo");
        assert_eq!(v.unset(), ["KEY", "TOKEN"]);
    }

    #[test]
    fn values_of_variables_named_as_credentials_are_noted() {
        let v = Vars::isolated([
            ("BOT_TOKEN".to_owned(), "123:abc".to_owned()),
            ("CITY".to_owned(), "Oslo".to_owned()),
        ]);
        let mut noted = Vec::new();
        let text = v
            .expand_noting("/bot${BOT_TOKEN}/${CITY}/${API_KEY:-k-1}", &mut noted)
            .unwrap();
        assert_eq!(text, "/bot123:abc/Oslo/k-1");
        assert_eq!(noted, ["123:abc", "k-1"]);
        // A hook's URL, and passwords by their usual short names.
        let v = Vars::isolated(
            [
                ("SLACK_HOOK", "https://hooks.example.com/T0/s3cret"),
                ("DB_PWD", "pw-1"),
                ("SMTP_PASSWD", "pw-2"),
                ("GCP_CREDENTIALS", "{}"),
                ("CITY", "Oslo"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let mut noted = Vec::new();
        v.expand_noting(
            "${SLACK_HOOK}/${DB_PWD}/${SMTP_PASSWD}/${GCP_CREDENTIALS}/${CITY}",
            &mut noted,
        )
        .unwrap();
        assert_eq!(
            noted,
            ["https://hooks.example.com/T0/s3cret", "pw-1", "pw-2", "{}"]
        );
        // An unset one read as a mask (`explain`) is no value to hide.
        let mut noted = Vec::new();
        vars()
            .masking_unset()
            .expand_noting("${API_KEY}", &mut noted)
            .unwrap();
        assert!(noted.is_empty());
    }
}
