//! OAuth2 client credentials: the token request to send, the token taken
//! from its response, and when to fetch a new one. The engine sends the
//! request and tells the time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json_path::JsonPath;

use crate::config::{ClientAuth, Config, ParamsIn};

/// The most a token is refreshed ahead of its expiry.
const MAX_MARGIN: Duration = Duration::from_secs(60);

/// The client-credentials state of one job: its configuration and the
/// current token.
#[derive(Debug)]
pub struct OAuth2 {
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    client_auth: ClientAuth,
    scope: Option<String>,
    resource: Option<String>,
    method: String,
    params: BTreeMap<String, String>,
    params_in: ParamsIn,
    token_path: JsonPath,
    token_path_text: String,
    expires_path: JsonPath,
    prefix: String,
    token: Option<Token>,
    generation: u64,
}

#[derive(Debug)]
struct Token {
    raw: SecretString,
    header: SecretString,
    refresh_at: Option<Instant>,
}

/// The token request to send. Every value is held as a secret: the client
/// secret is among them, and none of it belongs in a message.
#[derive(Debug)]
pub struct TokenRequest {
    /// `POST` or `GET`.
    pub method: String,
    /// `token_url`, as configured.
    pub url: String,
    /// Added to the URL's query.
    pub query: Vec<(String, SecretString)>,
    /// Header names are lower case.
    pub headers: Vec<(String, SecretString)>,
    /// Sent as `application/x-www-form-urlencoded`; empty for `GET`.
    pub form: Vec<(String, SecretString)>,
}

/// A valid token, as the `Authorization` header value.
#[derive(Debug, Clone)]
pub struct Bearer {
    pub header: SecretString,
    /// Which token this is: say it back to [`OAuth2::rejected`].
    pub generation: u64,
}

/// A token response that gives no usable token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(String);

impl OAuth2 {
    /// From a validated `type = "oauth2"` configuration.
    pub(crate) fn new(config: &Config) -> OAuth2 {
        let path = |text: &Option<String>, default: &str| {
            let text = text.clone().unwrap_or_else(|| default.to_owned());
            let path = JsonPath::parse(&crate::config::json_path(&text)).expect("validated path");
            (path, text)
        };
        let (token_path, token_path_text) = path(&config.token_path, "$.access_token");
        let (expires_path, _) = path(&config.expires_path, "$.expires_in");
        OAuth2 {
            token_url: config.token_url.clone().unwrap_or_default(),
            client_id: config.client_id.clone().unwrap_or_default(),
            client_secret: config.client_secret.clone().unwrap_or_default(),
            client_auth: config.client_auth.unwrap_or(ClientAuth::Basic),
            scope: config.scope.clone(),
            resource: config.resource.clone(),
            method: config.method.clone().unwrap_or_else(|| "POST".to_owned()),
            params: config.params.clone().unwrap_or_default(),
            params_in: config.params_in.unwrap_or(ParamsIn::Body),
            token_path,
            token_path_text,
            expires_path,
            prefix: config.prefix.clone().unwrap_or_else(|| "Bearer".to_owned()),
            token: None,
            generation: 0,
        }
    }

    /// The configured `token_url`.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The request that fetches a token.
    pub fn request(&self) -> TokenRequest {
        let secret = |s: &str| SecretString::from(s.to_owned());
        let mut fields = vec![("grant_type".to_owned(), secret("client_credentials"))];
        let mut headers = Vec::new();
        match self.client_auth {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: both form-encoded, then joined.
                let form = |s: &str| url_form(s);
                let pair = format!(
                    "{}:{}",
                    form(&self.client_id),
                    form(self.client_secret.expose_secret())
                );
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                headers.push((
                    "authorization".to_owned(),
                    SecretString::from(format!("Basic {encoded}")),
                ));
            }
            ClientAuth::Body => {
                fields.push(("client_id".to_owned(), secret(&self.client_id)));
                fields.push(("client_secret".to_owned(), self.client_secret.clone()));
            }
        }
        if let Some(scope) = &self.scope {
            fields.push(("scope".to_owned(), secret(scope)));
        }
        if let Some(resource) = &self.resource {
            fields.push(("resource".to_owned(), secret(resource)));
        }
        // A parameter replaces the field of its name made above (Dataphin
        // jobs spell out grant_type or client_id themselves).
        fields.retain(|(name, _)| !self.params.contains_key(name));
        if self.params_in == ParamsIn::Header {
            headers.retain(|(name, _)| !self.params.keys().any(|p| p.eq_ignore_ascii_case(name)));
        }
        let mut query = Vec::new();
        for (name, value) in &self.params {
            let entry = (name.clone(), secret(value));
            match self.params_in {
                ParamsIn::Body => fields.push(entry),
                ParamsIn::Query => query.push(entry),
                ParamsIn::Header => headers.push((name.to_ascii_lowercase(), entry.1)),
            }
        }
        let form = if self.method == "GET" {
            query.extend(fields);
            Vec::new()
        } else {
            fields
        };
        TokenRequest {
            method: self.method.clone(),
            url: self.token_url.clone(),
            query,
            headers,
            form,
        }
    }

    /// Takes the body of a successful token response received at `now`.
    /// Returns the new token, to use for the request that asked for it
    /// even if its lifetime is already over.
    pub fn accept(&mut self, body: &[u8], now: Instant) -> Result<Bearer, TokenError> {
        let json: serde_json::Value = match serde_json::from_slice(body) {
            Ok(json) => json,
            Err(e) => form_object(body).ok_or_else(|| {
                TokenError(format!(
                    "the token response is not JSON, nor a form of fields ({e})"
                ))
            })?,
        };
        let raw = match self.token_path.query(&json).first() {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => {
                return Err(TokenError(format!(
                    "the token response has no text at auth.token_path `{}`",
                    self.token_path_text
                )));
            }
            None => {
                return Err(TokenError(format!(
                    "the token response has nothing at auth.token_path `{}`{}",
                    self.token_path_text,
                    refusal(&json)
                )));
            }
        };
        let lifetime = self
            .expires_path
            .query(&json)
            .first()
            .and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(Duration::from_secs_f64);
        let refresh_at = lifetime.map(|lifetime| now + lifetime - margin(lifetime));
        let header = if self.prefix.is_empty() {
            raw.clone()
        } else {
            format!("{} {raw}", self.prefix)
        };
        self.generation += 1;
        let header = SecretString::from(header);
        self.token = Some(Token {
            raw: SecretString::from(raw),
            header: header.clone(),
            refresh_at,
        });
        Ok(Bearer {
            header,
            generation: self.generation,
        })
    }

    /// The token to use at `now`, if there is one that has not expired.
    pub fn current(&self, now: Instant) -> Option<Bearer> {
        let token = self.token.as_ref()?;
        if token.refresh_at.is_some_and(|at| now >= at) {
            return None;
        }
        Some(Bearer {
            header: token.header.clone(),
            generation: self.generation,
        })
    }

    /// The raw token of the current generation (to keep it out of messages).
    pub fn token(&self) -> Option<&SecretString> {
        self.token.as_ref().map(|t| &t.raw)
    }

    /// The API answered 401 to the token of `generation`: it is dropped,
    /// unless a newer one has been fetched since.
    pub fn rejected(&mut self, generation: u64) {
        if generation == self.generation {
            self.token = None;
        }
    }
}

/// A token is refreshed a tenth of its lifetime before it expires, at most
/// a minute early.
fn margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_MARGIN)
}

fn url_form(text: &str) -> String {
    url_form_bytes(text.as_bytes())
}

/// `application/x-www-form-urlencoded` byte serialization.
fn url_form_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// What an error response of RFC 6749 (5.2) says, to follow a message:
/// `; it says `invalid_client`: the description`, or nothing.
fn refusal(json: &serde_json::Value) -> String {
    let text = |key: &str| json.get(key).and_then(serde_json::Value::as_str);
    match (text("error"), text("error_description")) {
        (Some(error), Some(description)) => format!("; it says `{error}`: {description}"),
        (Some(error), None) => format!("; it says `{error}`"),
        _ => String::new(),
    }
}

/// A token response written as a form (`access_token=…&token_type=bearer`),
/// as GitHub's OAuth apps answer unless asked for JSON, and as RFC 6749's
/// older drafts did: an object of its fields, as strings. `None` for
/// anything else.
fn form_object(body: &[u8]) -> Option<serde_json::Value> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let mut fields = serde_json::Map::new();
    for pair in text.split('&') {
        let (name, value) = pair.split_once('=')?;
        let named = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if name.is_empty() || !name.chars().all(named) {
            return None;
        }
        let value = value.replace('+', " ");
        let value = percent_encoding::percent_decode_str(&value)
            .decode_utf8()
            .ok()?;
        fields.insert(
            name.to_owned(),
            serde_json::Value::String(value.into_owned()),
        );
    }
    Some(serde_json::Value::Object(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth2(json: &str) -> OAuth2 {
        let config: Config = serde_json::from_str(json).unwrap();
        config.validate().unwrap();
        OAuth2::new(&config)
    }

    fn exposed(list: &[(String, SecretString)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.clone(), v.expose_secret().to_owned()))
            .collect()
    }

    const BASE: &str = r#""type": "oauth2", "token_url": "https://login.example/token", "client_id": "app", "client_secret": "p@ss word""#;

    #[test]
    fn basic_client_auth_sends_an_authorization_header() {
        let o = oauth2(&format!(r#"{{{BASE}, "scope": "read"}}"#));
        let request = o.request();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "https://login.example/token");
        // base64("app:p%40ss+word"), computed with Python's base64.
        assert_eq!(
            exposed(&request.headers),
            [(
                "authorization".to_owned(),
                "Basic YXBwOnAlNDBzcyt3b3Jk".to_owned()
            )]
        );
        assert_eq!(
            exposed(&request.form),
            [
                ("grant_type".to_owned(), "client_credentials".to_owned()),
                ("scope".to_owned(), "read".to_owned())
            ]
        );
    }

    #[test]
    fn body_client_auth_and_azure_resource() {
        let o = oauth2(&format!(
            r#"{{{BASE}, "client_auth": "body", "resource": "https://management.azure.com/", "params": {{"audience": "api"}}, "params_in": "header"}}"#
        ));
        let request = o.request();
        assert_eq!(
            exposed(&request.form),
            [
                ("grant_type".to_owned(), "client_credentials".to_owned()),
                ("client_id".to_owned(), "app".to_owned()),
                ("client_secret".to_owned(), "p@ss word".to_owned()),
                (
                    "resource".to_owned(),
                    "https://management.azure.com/".to_owned()
                ),
            ]
        );
        assert_eq!(
            exposed(&request.headers),
            [("audience".to_owned(), "api".to_owned())]
        );
    }

    #[test]
    fn get_puts_every_field_in_the_query() {
        let o = oauth2(&format!(
            r#"{{{BASE}, "method": "GET", "client_auth": "body", "params": {{"tenant": "t1"}}, "params_in": "query"}}"#
        ));
        let request = o.request();
        assert!(request.form.is_empty());
        let names: Vec<String> = request.query.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(
            names,
            ["tenant", "grant_type", "client_id", "client_secret"]
        );
    }

    #[test]
    fn token_is_cached_until_shortly_before_expiry() {
        let mut o = oauth2(&format!("{{{BASE}}}"));
        let t0 = Instant::now();
        assert!(o.current(t0).is_none());
        let generation = o
            .accept(br#"{"access_token": "tok-1", "expires_in": 3600}"#, t0)
            .unwrap()
            .generation;
        let bearer = o.current(t0 + Duration::from_secs(3539)).unwrap();
        assert_eq!(bearer.header.expose_secret(), "Bearer tok-1");
        assert_eq!(bearer.generation, generation);
        // 60 s early: the margin for an hour-long token.
        assert!(o.current(t0 + Duration::from_secs(3540)).is_none());
        // A short-lived token is refreshed a tenth of its life early.
        o.accept(br#"{"access_token": "tok-2", "expires_in": "10"}"#, t0)
            .unwrap();
        assert!(o.current(t0 + Duration::from_millis(8_999)).is_some());
        assert!(o.current(t0 + Duration::from_secs(9)).is_none());
    }

    #[test]
    fn a_token_without_expiry_lasts_until_rejected() {
        let mut o = oauth2(&format!(
            r#"{{{BASE}, "token_path": "$.data.token", "prefix": ""}}"#
        ));
        let t0 = Instant::now();
        let first = o.accept(br#"{"data": {"token": "abc"}}"#, t0).unwrap();
        assert_eq!(first.header.expose_secret(), "abc");
        let first = first.generation;
        let later = t0 + Duration::from_secs(86_400 * 365);
        assert_eq!(o.current(later).unwrap().header.expose_secret(), "abc");
        // A 401 to an older token does not drop a newer one.
        let second = o
            .accept(br#"{"data": {"token": "def"}}"#, t0)
            .unwrap()
            .generation;
        o.rejected(first);
        assert_eq!(o.current(later).unwrap().generation, second);
        o.rejected(second);
        assert!(o.current(later).is_none());
    }

    #[test]
    fn unusable_token_responses_name_the_path() {
        let mut o = oauth2(&format!("{{{BASE}}}"));
        let t0 = Instant::now();
        assert_eq!(
            o.accept(br#"{"error": "invalid_client"}"#, t0)
                .unwrap_err()
                .to_string(),
            "the token response has nothing at auth.token_path `$.access_token`; it says `invalid_client`"
        );
        assert_eq!(
            o.accept(
                br#"{"error": "invalid_grant", "error_description": "expired"}"#,
                t0
            )
            .unwrap_err()
            .to_string(),
            "the token response has nothing at auth.token_path `$.access_token`; it says `invalid_grant`: expired"
        );
        assert!(
            o.accept(b"<html>", t0)
                .unwrap_err()
                .to_string()
                .starts_with("the token response is not JSON, nor a form of fields")
        );
        // GitHub's OAuth apps answer a form unless asked for JSON.
        let form = b"access_token=gho_16C7e%2B42&scope=repo%2Cgist&token_type=bearer";
        let bearer = o.accept(form, t0).unwrap();
        assert_eq!(bearer.header.expose_secret(), "Bearer gho_16C7e+42");
        let refused = b"error=bad_verification_code&error_description=The+code+is+wrong.";
        assert_eq!(
            o.accept(refused, t0).unwrap_err().to_string(),
            "the token response has nothing at auth.token_path `$.access_token`; it says \
             `bad_verification_code`: The code is wrong."
        );
        assert!(o.accept(br#"{"access_token": 5}"#, t0).is_err());
    }

    #[test]
    fn params_replace_the_fields_of_their_name() {
        let o = oauth2(&format!(
            r#"{{{BASE}, "client_auth": "body", "scope": "read", "params": {{"grant_type": "password", "scope": "all", "username": "u"}}}}"#
        ));
        assert_eq!(
            exposed(&o.request().form),
            [
                ("client_id".to_owned(), "app".to_owned()),
                ("client_secret".to_owned(), "p@ss word".to_owned()),
                ("grant_type".to_owned(), "password".to_owned()),
                ("scope".to_owned(), "all".to_owned()),
                ("username".to_owned(), "u".to_owned()),
            ]
        );
        // Wherever the params go, the automatic field of that name goes.
        let o = oauth2(&format!(
            r#"{{{BASE}, "params": {{"grant_type": "client_credentials", "Authorization": "Key k"}}, "params_in": "header"}}"#
        ));
        let request = o.request();
        assert!(request.form.is_empty(), "{:?}", exposed(&request.form));
        assert_eq!(
            exposed(&request.headers),
            [
                ("authorization".to_owned(), "Key k".to_owned()),
                ("grant_type".to_owned(), "client_credentials".to_owned()),
            ]
        );
    }

    #[test]
    fn token_and_expiry_paths_may_be_dotted() {
        let mut o = oauth2(&format!(
            r#"{{{BASE}, "token_path": "data.access_token", "expires_path": "data.expire"}}"#
        ));
        let t0 = Instant::now();
        let bearer = o
            .accept(br#"{"data": {"access_token": "t1", "expire": 100}}"#, t0)
            .unwrap();
        assert_eq!(bearer.header.expose_secret(), "Bearer t1");
        assert!(o.current(t0 + Duration::from_secs(80)).is_some());
        assert!(o.current(t0 + Duration::from_secs(95)).is_none());
    }
}
