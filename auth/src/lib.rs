//! Credential strategies for hydrant. No I/O: the engine sends requests,
//! this crate says what credentials they carry.
//!
//! [`Config::authenticator`] turns a validated `[auth]` table into an
//! [`Authenticator`]: fixed credentials, an [`OAuth2`] state machine (the
//! engine performs its token request and hands back the response) and
//! request [`Signer`]s (the engine hands in the time and a nonce).
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
//! let auth = config.authenticator();
//! assert_eq!(auth.credentials.headers[0].0, "authorization");
//! assert_eq!(auth.credentials.headers[0].1.expose_secret(), "Token s3cr3t");
//! assert!(!format!("{config:?}").contains("s3cr3t"));
//! ```

mod aws;
mod config;
mod oauth2;
mod sign;

pub use aws::AwsSigner;
pub use config::{
    ClientAuth, Config, ConfigError, Encoding, Kind, NonceConfig, ParamsIn, Placement,
    SignatureConfig, TimestampConfig, TimestampFormat, has_user_info,
};
pub use oauth2::{Bearer, OAuth2, TokenError, TokenRequest};
pub use secrecy::{ExposeSecret, SecretString};
pub use sign::{AliyunSigner, DEFAULT_STRING_TO_SIGN, Param, SignInput, Signed, TemplateSigner};

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
    /// Names of the query parameters that carry a credential (the api key,
    /// a signature and its timestamp and nonce, Aliyun's): a URL that
    /// leaves the job's origin loses them, however it was made.
    pub param_names: Vec<String>,
}

/// Something that signs each request.
#[derive(Debug, Clone)]
pub enum Signer {
    /// `type = "signature"` or `[auth.signature]`.
    Template(TemplateSigner),
    /// `type = "aliyun"`.
    Aliyun(AliyunSigner),
    /// `type = "aws_sigv4"`.
    Aws(AwsSigner),
}

impl Signer {
    /// Names of the parameters this signer adds.
    pub fn param_names(&self) -> Vec<String> {
        match self {
            Signer::Template(signer) => signer.param_names(),
            Signer::Aliyun(_) => [
                "AccessKeyId",
                "Signature",
                "SignatureMethod",
                "SignatureNonce",
                "SignatureVersion",
                "Timestamp",
            ]
            .map(str::to_owned)
            .to_vec(),
            Signer::Aws(_) => Vec::new(),
        }
    }

    /// What to add to the request described by `input`.
    pub fn sign(&self, input: &SignInput<'_>) -> Signed {
        match self {
            Signer::Template(signer) => signer.sign(input),
            Signer::Aliyun(signer) => signer.sign(input),
            Signer::Aws(signer) => signer.sign(input),
        }
    }
}

/// Everything a job's `[auth]` does to its requests.
#[derive(Debug)]
pub struct Authenticator {
    /// Added to every request to the job's origin.
    pub credentials: Credentials,
    /// With `type = "oauth2"`: the token to fetch and keep.
    pub oauth2: Option<OAuth2>,
    /// Applied in order, after the credentials and the token.
    pub signers: Vec<Signer>,
    secrets: Vec<SecretString>,
}

impl Authenticator {
    /// Every secret value of the configuration and of the credentials
    /// derived from it (such as a Basic header), to keep out of messages.
    pub fn secrets(&self) -> impl Iterator<Item = &SecretString> {
        self.secrets.iter().chain(
            self.credentials
                .headers
                .iter()
                .chain(&self.credentials.query)
                .chain(&self.credentials.body)
                .map(|(_, v)| v),
        )
    }
}

impl Config {
    /// The authenticator of a configuration. Call after [`Config::validate`].
    pub fn authenticator(&self) -> Authenticator {
        let mut credentials = Credentials::default();
        let mut signers = Vec::new();
        let mut oauth2 = None;
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
            Kind::Oauth2 => oauth2 = Some(OAuth2::new(self)),
            Kind::Signature => {
                signers.push(Signer::Template(TemplateSigner::new(
                    &self.signature_config(),
                )));
            }
            Kind::Aliyun => signers.push(Signer::Aliyun(AliyunSigner::new(
                self.access_key_id.clone().unwrap_or_default(),
                self.access_key_secret.clone().unwrap_or_default(),
            ))),
            Kind::AwsSigv4 => signers.push(Signer::Aws(AwsSigner::new(
                self.access_key_id.clone().unwrap_or_default(),
                self.secret_access_key.clone().unwrap_or_default(),
                self.session_token.clone(),
                (
                    self.region.clone().unwrap_or_default(),
                    self.service.clone().unwrap_or_default(),
                ),
            ))),
        }
        if let Some(signature) = &self.signature {
            signers.push(Signer::Template(TemplateSigner::new(signature)));
        }
        for (name, value) in &self.headers {
            credentials
                .headers
                .push((name.to_ascii_lowercase(), value.clone()));
        }
        let secrets = [
            &self.password,
            &self.token,
            &self.value,
            &self.client_secret,
            &self.secret,
            &self.access_key_secret,
            &self.secret_access_key,
            &self.session_token,
        ]
        .into_iter()
        .flatten()
        .chain(self.signature.as_ref().map(|s| &s.secret))
        .chain(self.headers.values())
        .cloned()
        .collect();
        credentials.param_names = credentials
            .query
            .iter()
            .map(|(name, _)| name.clone())
            .chain(signers.iter().flat_map(Signer::param_names))
            .collect();
        Authenticator {
            credentials,
            oauth2,
            signers,
            secrets,
        }
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
        let creds = c.authenticator().credentials;
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
            header(&c.authenticator().credentials, "authorization"),
            "abc"
        );
        let c = config(r#"{"type": "bearer", "token": "abc"}"#);
        assert_eq!(
            header(&c.authenticator().credentials, "authorization"),
            "Bearer abc"
        );
    }

    #[test]
    fn api_key_goes_where_asked() {
        let c = config(r#"{"type": "api_key", "name": "X-Key", "value": "k1"}"#);
        assert_eq!(header(&c.authenticator().credentials, "x-key"), "k1");
        let c = config(r#"{"type": "api_key", "name": "key", "value": "k2", "in": "query"}"#);
        let creds = c.authenticator().credentials;
        assert_eq!(creds.query[0].0, "key");
        assert_eq!(creds.query[0].1.expose_secret(), "k2");
        assert!(creds.headers.is_empty());
    }

    #[test]
    fn extra_headers_join_any_type() {
        let c = config(r#"{"type": "bearer", "token": "t", "headers": {"X-Tenant-Secret": "ts"}}"#);
        let creds = c.authenticator().credentials;
        assert_eq!(header(&creds, "x-tenant-secret"), "ts");
        assert_eq!(header(&creds, "authorization"), "Bearer t");
    }

    #[test]
    fn a_signature_joins_any_type_and_every_secret_is_listed() {
        let c = config(
            r#"{"type": "bearer", "token": "tok", "headers": {"X-H": "hdr"},
                "signature": {"algorithm": "HMAC_SHA1", "secret": "sig"}}"#,
        );
        let auth = c.authenticator();
        assert_eq!(header(&auth.credentials, "authorization"), "Bearer tok");
        assert!(matches!(auth.signers.as_slice(), [Signer::Template(_)]));
        let mut secrets: Vec<&str> = auth.secrets().map(|s| s.expose_secret()).collect();
        secrets.sort();
        assert_eq!(secrets, ["Bearer tok", "hdr", "hdr", "sig", "tok"]);

        let c = config(r#"{"type": "aliyun", "access_key_id": "id", "access_key_secret": "ak"}"#);
        let auth = c.authenticator();
        assert!(matches!(auth.signers.as_slice(), [Signer::Aliyun(_)]));
        assert_eq!(auth.secrets().next().unwrap().expose_secret(), "ak");
        let c = config(
            r#"{"type": "oauth2", "token_url": "https://l.example/t", "client_id": "i", "client_secret": "cs"}"#,
        );
        let auth = c.authenticator();
        assert!(auth.oauth2.is_some() && auth.credentials.headers.is_empty());
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
