use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

/// The `[auth]` table of a job, as written.
///
/// Keys are flat, as in the job file; [`Config::validate`] checks that every
/// key given applies to `type` and that the required ones are there.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Auth"))]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "type", default)]
    pub kind: Kind,
    pub username: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub password: Option<SecretString>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub token: Option<SecretString>,
    pub prefix: Option<String>,
    pub name: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub value: Option<SecretString>,
    #[serde(rename = "in")]
    pub placement: Option<Placement>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub client_secret: Option<SecretString>,
    pub client_auth: Option<ClientAuth>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub method: Option<String>,
    pub params: Option<BTreeMap<String, String>>,
    pub params_in: Option<ParamsIn>,
    pub token_path: Option<String>,
    pub expires_path: Option<String>,
    pub algorithm: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub secret: Option<SecretString>,
    pub string_to_sign: Option<String>,
    pub timestamp: Option<TimestampConfig>,
    pub nonce: Option<NonceConfig>,
    pub encoding: Option<Encoding>,
    pub access_key_id: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub access_key_secret: Option<SecretString>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub secret_access_key: Option<SecretString>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub session_token: Option<SecretString>,
    pub region: Option<String>,
    pub service: Option<String>,
    /// `[auth.headers]`: secret headers added whatever the type.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    pub headers: BTreeMap<String, SecretString>,
    /// `[auth.signature]`: a request signature on top of any type.
    pub signature: Option<SignatureConfig>,
}

/// `auth.type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "AuthType"))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    None,
    Basic,
    Bearer,
    ApiKey,
    Oauth2,
    Signature,
    Aliyun,
    AwsSigv4,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::Basic => "basic",
            Kind::Bearer => "bearer",
            Kind::ApiKey => "api_key",
            Kind::Oauth2 => "oauth2",
            Kind::Signature => "signature",
            Kind::Aliyun => "aliyun",
            Kind::AwsSigv4 => "aws_sigv4",
        }
    }
}

/// Where a credential goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "AuthIn"))]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    Header,
    Query,
    Body,
}

/// `auth.client_auth` of OAuth2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    Basic,
    Body,
}

/// `auth.params_in` of OAuth2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ParamsIn {
    Query,
    Header,
    Body,
}

/// Digest encoding of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Encoding {
    #[serde(rename = "hex")]
    Hex,
    #[serde(rename = "HEX")]
    UpperHex,
    #[serde(rename = "base64")]
    Base64,
}

/// `timestamp = { name, in, format }` of a signature.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TimestampConfig {
    pub name: String,
    #[serde(rename = "in", default = "query")]
    pub placement: Placement,
    #[serde(default)]
    pub format: TimestampFormat,
}

fn query() -> Placement {
    Placement::Query
}

/// How an injected timestamp is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    #[default]
    Unix,
    UnixMs,
    Rfc3339,
}

/// `nonce = { name, in }` of a signature.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NonceConfig {
    pub name: String,
    #[serde(rename = "in", default = "query")]
    pub placement: Placement,
}

/// `[auth.signature]`: the keys of `type = "signature"`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SignatureConfig {
    pub algorithm: String,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub secret: SecretString,
    pub name: Option<String>,
    #[serde(rename = "in")]
    pub placement: Option<Placement>,
    pub string_to_sign: Option<String>,
    pub timestamp: Option<TimestampConfig>,
    pub nonce: Option<NonceConfig>,
    pub encoding: Option<Encoding>,
}

/// The signature algorithms `auth.algorithm` takes.
pub const ALGORITHMS: [&str; 9] = [
    "MD5HEX",
    "HMAC_MD5",
    "SHA1HEX",
    "HMAC_SHA1",
    "SHA256",
    "SHA256HEX",
    "HMAC_SHA256",
    "SHA512HEX",
    "HMAC_SHA512",
];

/// An `[auth]` table that is well-formed but inconsistent.
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

    /// The job key at fault, such as `auth.token`.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Config {
    /// Checks that the keys given fit `type`, and that the required ones are
    /// there.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_keys_fit_type()?;
        if self.kind == Kind::Signature && self.placement == Some(Placement::Body) {
            return Err(ConfigError::new(
                "auth.in",
                "a signature goes in `query` or `header`",
            ));
        }
        if self.kind == Kind::Signature {
            check_signature("auth", &self.signature_config())?;
        }
        if let Some(signature) = &self.signature {
            check_signature("auth.signature", signature)?;
        }
        self.check_token_request()
    }

    /// Each key given is one `type` takes, and each it requires is given.
    fn check_keys_fit_type(&self) -> Result<(), ConfigError> {
        let given = self.given();
        let (allowed, required) = keys_of(self.kind);
        for (key, present) in given {
            if present && !allowed.contains(&key) {
                return Err(ConfigError::new(
                    format!("auth.{key}"),
                    format!("does not apply to type `{}`", self.kind.as_str()),
                ));
            }
        }
        let aliyun_secret = self.kind == Kind::Aliyun;
        if self.access_key_secret.is_some() && !aliyun_secret {
            return Err(ConfigError::new(
                "auth.access_key_secret",
                format!("does not apply to type `{}`", self.kind.as_str()),
            ));
        }
        for key in required {
            let present = given.iter().any(|(k, p)| k == key && *p);
            if !present {
                return Err(ConfigError::new(
                    format!("auth.{key}"),
                    format!("is required for type `{}`", self.kind.as_str()),
                ));
            }
        }
        if aliyun_secret && self.access_key_secret.is_none() {
            return Err(ConfigError::new(
                "auth.access_key_secret",
                "is required for type `aliyun`",
            ));
        }
        Ok(())
    }

    /// The keys that hold a value of their own kind, and whether each is
    /// given.
    fn given(&self) -> [(&'static str, bool); 29] {
        [
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("token", self.token.is_some()),
            ("prefix", self.prefix.is_some()),
            ("name", self.name.is_some()),
            ("value", self.value.is_some()),
            ("in", self.placement.is_some()),
            ("token_url", self.token_url.is_some()),
            ("client_id", self.client_id.is_some()),
            ("client_secret", self.client_secret.is_some()),
            ("client_auth", self.client_auth.is_some()),
            ("scope", self.scope.is_some()),
            ("resource", self.resource.is_some()),
            ("method", self.method.is_some()),
            ("params", self.params.is_some()),
            ("params_in", self.params_in.is_some()),
            ("token_path", self.token_path.is_some()),
            ("expires_path", self.expires_path.is_some()),
            ("algorithm", self.algorithm.is_some()),
            ("secret", self.secret.is_some()),
            ("string_to_sign", self.string_to_sign.is_some()),
            ("timestamp", self.timestamp.is_some()),
            ("nonce", self.nonce.is_some()),
            ("encoding", self.encoding.is_some()),
            ("access_key_id", self.access_key_id.is_some()),
            ("secret_access_key", self.secret_access_key.is_some()),
            ("session_token", self.session_token.is_some()),
            ("region", self.region.is_some()),
            ("service", self.service.is_some()),
        ]
    }

    /// The OAuth 2 token request's URL, paths and method.
    fn check_token_request(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.token_url {
            // Checked before the URL is quoted: it would show a password.
            if has_user_info(url) {
                return Err(ConfigError::new(
                    "auth.token_url",
                    "a user name or password in the URL is neither sent nor kept secret; \
                     give them as client_id and client_secret",
                ));
            }
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::new(
                    "auth.token_url",
                    format!("`{url}` is not an http or https URL"),
                ));
            }
        }
        for (key, path) in [
            ("auth.token_path", &self.token_path),
            ("auth.expires_path", &self.expires_path),
        ] {
            if let Some(path) = path
                && let Err(e) = serde_json_path::JsonPath::parse(&json_path(path))
            {
                return Err(ConfigError::new(
                    key,
                    format!("`{path}` is not a JSONPath or a dotted path ({e})"),
                ));
            }
        }
        if let Some(method) = &self.method
            && !matches!(method.as_str(), "GET" | "POST")
        {
            return Err(ConfigError::new(
                "auth.method",
                format!("`{method}` is not GET or POST"),
            ));
        }
        Ok(())
    }
}

/// The keys a `type` takes, and those of them it requires.
fn keys_of(kind: Kind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        Kind::None => (&[], &[]),
        Kind::Basic => (&["username", "password"], &["username"]),
        Kind::Bearer => (&["token", "prefix"], &["token"]),
        Kind::ApiKey => (&["name", "value", "in"], &["name", "value"]),
        Kind::Oauth2 => (
            &[
                "token_url",
                "client_id",
                "client_secret",
                "client_auth",
                "scope",
                "resource",
                "method",
                "params",
                "params_in",
                "token_path",
                "expires_path",
                "prefix",
            ],
            &["token_url", "client_id", "client_secret"],
        ),
        Kind::Signature => (
            &[
                "algorithm",
                "secret",
                "name",
                "in",
                "string_to_sign",
                "timestamp",
                "nonce",
                "encoding",
            ],
            &["algorithm", "secret"],
        ),
        Kind::Aliyun => (&["access_key_id"], &["access_key_id"]),
        Kind::AwsSigv4 => (
            &[
                "access_key_id",
                "secret_access_key",
                "session_token",
                "region",
                "service",
            ],
            &["access_key_id", "secret_access_key", "region", "service"],
        ),
    }
}

/// A path as the job writes it, as JSONPath: one starting with `$` is
/// JSONPath already; any other is dotted (`data.access_token`, `a.list[0]`),
/// as every path key of a job may be.
pub(crate) fn json_path(text: &str) -> String {
    let text = text.trim();
    if text.starts_with('$') {
        return text.to_owned();
    }
    let mut out = String::from("$");
    for part in text.split('.') {
        let (name, indexes) = part.find('[').map_or((part, ""), |at| part.split_at(at));
        out.push_str("['");
        out.push_str(&name.replace('\\', "\\\\").replace('\'', "\\'"));
        out.push_str("']");
        out.push_str(indexes);
    }
    out
}

impl Config {
    /// The keys of `type = "signature"`, as the table `[auth.signature]` has
    /// them. Call after checking that the required ones are there.
    pub(crate) fn signature_config(&self) -> SignatureConfig {
        SignatureConfig {
            algorithm: self.algorithm.clone().unwrap_or_default(),
            secret: self.secret.clone().unwrap_or_default(),
            name: self.name.clone(),
            placement: self.placement,
            string_to_sign: self.string_to_sign.clone(),
            timestamp: self.timestamp.clone(),
            nonce: self.nonce.clone(),
            encoding: self.encoding,
        }
    }
}

fn check_signature(table: &str, signature: &SignatureConfig) -> Result<(), ConfigError> {
    let algorithm = signature.algorithm.as_str();
    if !ALGORITHMS.contains(&algorithm) {
        return Err(ConfigError::new(
            format!("{table}.algorithm"),
            format!(
                "unknown algorithm `{algorithm}`, expected one of {}",
                ALGORITHMS.join(", ")
            ),
        ));
    }
    if signature.placement == Some(Placement::Body) {
        return Err(ConfigError::new(
            format!("{table}.in"),
            "a signature goes in `query` or `header`",
        ));
    }
    if algorithm.ends_with("HEX") && signature.encoding == Some(Encoding::Base64) {
        return Err(ConfigError::new(
            format!("{table}.encoding"),
            format!("`{algorithm}` is hex-encoded by definition"),
        ));
    }
    if let Some(template) = &signature.string_to_sign
        && let Some(name) = crate::sign::unknown_placeholder(template)
    {
        return Err(ConfigError::new(
            format!("{table}.string_to_sign"),
            format!(
                "unknown placeholder `{{{name}}}`; a signature can use {{method}}, {{path}}, {{query}}, {{body}}, {{timestamp}}, {{nonce}} and {{secret}}"
            ),
        ));
    }
    for (key, placement) in [
        (
            "timestamp.in",
            signature.timestamp.as_ref().map(|t| t.placement),
        ),
        ("nonce.in", signature.nonce.as_ref().map(|n| n.placement)),
    ] {
        if placement == Some(Placement::Body) {
            return Err(ConfigError::new(
                format!("{table}.{key}"),
                "goes in `query` or `header`",
            ));
        }
    }
    Ok(())
}

/// Whether `url` holds a user name or password before its host
/// (`https://user:pass@host/`): credentials hydrant neither sends from
/// there nor can keep out of messages that quote the URL.
pub fn has_user_info(url: &str) -> bool {
    let authority = url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or_default()
    });
    authority.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn missing_required_key_is_named() {
        let err = parse(r#"{"type": "bearer"}"#).validate().unwrap_err();
        assert_eq!(err.to_string(), "auth.token: is required for type `bearer`");
    }

    #[test]
    fn key_of_another_type_is_named() {
        let err = parse(r#"{"type": "basic", "username": "u", "token": "t"}"#)
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "auth.token");
    }

    #[test]
    fn unknown_algorithm_is_named() {
        let err = parse(r#"{"type": "signature", "algorithm": "CRC32", "secret": "s"}"#)
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "auth.algorithm");
    }

    #[test]
    fn signature_templates_and_encodings_are_checked() {
        let err = parse(
            r#"{"type": "signature", "algorithm": "MD5HEX", "secret": "s", "string_to_sign": "{method}{host}"}"#,
        )
        .validate()
        .unwrap_err();
        assert_eq!(err.key(), "auth.string_to_sign");
        assert!(err.to_string().contains("`{host}`"), "{err}");
        let err = parse(
            r#"{"type": "bearer", "token": "t", "signature": {"algorithm": "SHA256HEX", "secret": "s", "encoding": "base64"}}"#,
        )
        .validate()
        .unwrap_err();
        assert_eq!(err.key(), "auth.signature.encoding");
    }

    /// An AWS job names its key, secret, region and service; a key of
    /// another type is refused, naming it.
    #[test]
    fn aws_sigv4_needs_its_key_secret_region_and_service() {
        let full = concat!(
            r#""type": "aws_sigv4", "access_key_id": "AKID", "secret_access_key": "s", "#,
            r#""region": "eu-west-1", "service": "execute-api""#
        );
        parse(&format!("{{{full}}}")).validate().unwrap();
        parse(&format!(r#"{{{full}, "session_token": "t"}}"#))
            .validate()
            .unwrap();
        for key in ["access_key_id", "secret_access_key", "region", "service"] {
            let without =
                (full.split(", ")).filter(|kv| !kv.trim_start().starts_with(&format!("\"{key}\"")));
            let err = parse(&format!("{{{}}}", without.collect::<Vec<_>>().join(", ")))
                .validate()
                .unwrap_err();
            assert_eq!(err.key(), format!("auth.{key}"), "{err}");
            assert!(err.to_string().contains("aws_sigv4"), "{err}");
        }
        let err = parse(&format!(r#"{{{full}, "access_key_secret": "x"}}"#))
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "auth.access_key_secret");
        let err = parse(r#"{"type": "bearer", "token": "t", "region": "r"}"#)
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "auth.region");
    }

    #[test]
    fn oauth2_paths_and_url_are_checked() {
        let base = r#""type": "oauth2", "client_id": "c", "client_secret": "s""#;
        let err = parse(&format!(
            r#"{{{base}, "token_url": "login.example/token"}}"#
        ))
        .validate()
        .unwrap_err();
        assert_eq!(err.key(), "auth.token_url");
        let err = parse(&format!(
            r#"{{{base}, "token_url": "https://app:hunter2@login.example/token"}}"#
        ))
        .validate()
        .unwrap_err();
        assert_eq!(err.key(), "auth.token_url");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("client_secret"), "{err}");
        let err = parse(&format!(
            r#"{{{base}, "token_url": "https://login.example/token", "token_path": "$[?"}}"#
        ))
        .validate()
        .unwrap_err();
        assert_eq!(err.key(), "auth.token_path");
    }

    #[test]
    fn aliyun_needs_its_secret() {
        let err = parse(r#"{"type": "aliyun", "access_key_id": "id"}"#)
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "auth.access_key_secret");
    }
}
