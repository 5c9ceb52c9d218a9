//! Credential strategies for hydrant. No I/O: the engine sends requests,
//! this crate says what credentials they carry.
//!
//! Secret values are held as [`SecretString`]: their `Debug` output is
//! redacted, and they are only exposed where a request is built.
//!
//! ```
//! use hydrant_auth::Config;
//! use secrecy::ExposeSecret;
//!
//! let config: Config = serde_json::from_str(
//!     r#"{"type": "bearer", "token": "s3cr3t", "prefix": "Token"}"#,
//! ).unwrap();
//! config.validate().unwrap();
//! let credentials = config.static_credentials().unwrap();
//! assert_eq!(credentials.headers[0].0, "authorization");
//! assert_eq!(credentials.headers[0].1.expose_secret(), "Token s3cr3t");
//! assert!(!format!("{config:?}").contains("s3cr3t"));
//! ```

mod config;

pub use config::{
    ClientAuth, Config, ConfigError, Encoding, Kind, NonceConfig, ParamsIn, Placement,
    SignatureConfig, TimestampConfig, TimestampFormat,
};
pub use secrecy::{ExposeSecret, SecretString};

use base64::Engine as _;

/// Credentials that do not change from request to request.
#[derive(Debug, Default)]
pub struct Credentials {
    /// Header name (lower case) and value.
    pub headers: Vec<(String, SecretString)>,
    /// Query parameter name and value.
    pub query: Vec<(String, SecretString)>,
    /// A member of the JSON body (dotted) or a form field, and its value.
    pub body: Vec<(String, SecretString)>,
}

/// The configured method needs a request-time strategy this version of
/// hydrant does not have.
#[derive(Debug, thiserror::Error)]
#[error("auth.type `{kind}` is not supported by this version of hydrant")]
pub struct UnsupportedError {
    kind: &'static str,
}

impl Config {
    /// The credentials every request to the job's origin carries, for the
    /// methods whose credentials are fixed (`none`, `basic`, `bearer`,
    /// `api_key`, and `[auth.headers]`). Call after [`Config::validate`].
    pub fn static_credentials(&self) -> Result<Credentials, UnsupportedError> {
        let mut credentials = Credentials::default();
        match self.kind {
            Kind::None => {}
            Kind::Basic => {
                let user = self.username.as_deref().unwrap_or_default();
                let password = self
                    .password
                    .as_ref()
                    .map(|p| p.expose_secret())
                    .unwrap_or_default();
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                credentials.headers.push((
                    "authorization".into(),
                    SecretString::from(format!("Basic {encoded}")),
                ));
            }
            Kind::Bearer => {
                let token = self
                    .token
                    .as_ref()
                    .map(|t| t.expose_secret())
                    .unwrap_or_default();
                let prefix = self.prefix.as_deref().unwrap_or("Bearer");
                let value = if prefix.is_empty() {
                    token.to_owned()
                } else {
                    format!("{prefix} {token}")
                };
                credentials
                    .headers
                    .push(("authorization".into(), SecretString::from(value)));
            }
            Kind::ApiKey => {
                let name = self.name.clone().unwrap_or_default();
                let value = self.value.clone().unwrap_or_default();
                match self.placement.unwrap_or(Placement::Header) {
                    Placement::Header => {
                        credentials.headers.push((name.to_ascii_lowercase(), value))
                    }
                    Placement::Query => credentials.query.push((name, value)),
                    Placement::Body => credentials.body.push((name, value)),
                }
            }
            other => {
                return Err(UnsupportedError {
                    kind: other.as_str(),
                });
            }
        }
        if self.signature.is_some() {
            return Err(UnsupportedError { kind: "signature" });
        }
        for (name, value) in &self.headers {
            credentials
                .headers
                .push((name.to_ascii_lowercase(), value.clone()));
        }
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        let config: Config = serde_json::from_str(json).unwrap();
        config.validate().unwrap();
        config
    }

    fn header(credentials: &Credentials, name: &str) -> String {
        credentials
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.expose_secret().to_owned())
            .unwrap()
    }

    #[test]
    fn basic_encodes_user_and_password() {
        let c = config(r#"{"type": "basic", "username": "aladdin", "password": "opensesame"}"#);
        let creds = c.static_credentials().unwrap();
        // RFC 7617's own example.
        assert_eq!(
            header(&creds, "authorization"),
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l"
        );
    }

    #[test]
    fn bearer_with_empty_prefix_sends_bare_token() {
        let c = config(r#"{"type": "bearer", "token": "abc", "prefix": ""}"#);
        assert_eq!(
            header(&c.static_credentials().unwrap(), "authorization"),
            "abc"
        );
        let c = config(r#"{"type": "bearer", "token": "abc"}"#);
        assert_eq!(
            header(&c.static_credentials().unwrap(), "authorization"),
            "Bearer abc"
        );
    }

    #[test]
    fn api_key_goes_where_asked() {
        let c = config(r#"{"type": "api_key", "name": "X-Key", "value": "k1"}"#);
        assert_eq!(header(&c.static_credentials().unwrap(), "x-key"), "k1");
        let c = config(r#"{"type": "api_key", "name": "key", "value": "k2", "in": "query"}"#);
        let creds = c.static_credentials().unwrap();
        assert_eq!(creds.query[0].0, "key");
        assert_eq!(creds.query[0].1.expose_secret(), "k2");
        assert!(creds.headers.is_empty());
    }

    #[test]
    fn extra_headers_join_any_type() {
        let c = config(r#"{"type": "bearer", "token": "t", "headers": {"X-Tenant-Secret": "ts"}}"#);
        let creds = c.static_credentials().unwrap();
        assert_eq!(header(&creds, "x-tenant-secret"), "ts");
        assert_eq!(header(&creds, "authorization"), "Bearer t");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = config(
            r#"{"type": "basic", "username": "u", "password": "pw-canary", "headers": {"X": "hdr-canary"}}"#,
        );
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("pw-canary") && !debug.contains("hdr-canary"),
            "{debug}"
        );
    }
}
