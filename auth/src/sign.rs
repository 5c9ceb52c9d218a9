//! Request signatures: `type = "signature"`, `[auth.signature]` and
//! Alibaba Cloud's RPC AccessKey signature.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest;

use crate::config::{
    Encoding, NonceConfig, Placement, SignatureConfig, TimestampConfig, TimestampFormat,
};

/// RFC 3986 unreserved characters: kept as they are, everything else is
/// percent-encoded (a space is `%20`, never `+`).
pub(crate) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// The parts of a request a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// Upper case, as sent.
    pub method: &'a str,
    /// The URL's host, and its port where it is not the scheme's: the
    /// `Host` header as sent.
    pub host: &'a str,
    /// The URL path as it appears in the URL (percent-encoded).
    pub path: &'a str,
    /// Every query parameter of the request, decoded, in URL order.
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
    /// The time the request is sent.
    pub now: SystemTime,
    /// A fresh random value for this request.
    pub nonce: &'a str,
}

/// A value a signer adds to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: String,
    /// The signature itself: shown masked.
    pub secret: bool,
}

/// What a signer adds to a request: query parameters and headers, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signed {
    pub query: Vec<Param>,
    pub headers: Vec<Param>,
    /// The request's query as signed, to send in place of its own text:
    /// the same parameters, encoded and ordered as the signature read them.
    pub query_text: Option<String>,
}

impl Signed {
    fn add(&mut self, placement: Placement, name: &str, value: String, secret: bool) {
        let param = Param {
            name: name.to_owned(),
            value,
            secret,
        };
        match placement {
            Placement::Header => self.headers.push(param),
            _ => self.query.push(param),
        }
    }
}

/// A signature algorithm of `auth.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Md5Hex,
    HmacMd5,
    Sha1Hex,
    HmacSha1,
    Sha256,
    Sha256Hex,
    HmacSha256,
    Sha512Hex,
    HmacSha512,
}

impl Algorithm {
    /// Names are checked by `Config::validate`.
    fn parse(name: &str) -> Option<Algorithm> {
        Some(match name {
            "MD5HEX" => Algorithm::Md5Hex,
            "HMAC_MD5" => Algorithm::HmacMd5,
            "SHA1HEX" => Algorithm::Sha1Hex,
            "HMAC_SHA1" => Algorithm::HmacSha1,
            "SHA256" => Algorithm::Sha256,
            "SHA256HEX" => Algorithm::Sha256Hex,
            "HMAC_SHA256" => Algorithm::HmacSha256,
            "SHA512HEX" => Algorithm::Sha512Hex,
            "HMAC_SHA512" => Algorithm::HmacSha512,
            _ => return None,
        })
    }

    fn is_hmac(self) -> bool {
        matches!(
            self,
            Algorithm::HmacMd5
                | Algorithm::HmacSha1
                | Algorithm::HmacSha256
                | Algorithm::HmacSha512
        )
    }

    fn implies_hex(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Hex | Algorithm::Sha1Hex | Algorithm::Sha256Hex | Algorithm::Sha512Hex
        )
    }

    pub(crate) fn digest(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        fn mac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
            let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any size");
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Algorithm::Md5Hex => md5::Md5::digest(message).to_vec(),
            Algorithm::Sha1Hex => sha1::Sha1::digest(message).to_vec(),
            Algorithm::Sha256 | Algorithm::Sha256Hex => sha2::Sha256::digest(message).to_vec(),
            Algorithm::Sha512Hex => sha2::Sha512::digest(message).to_vec(),
            Algorithm::HmacMd5 => mac::<hmac::Hmac<md5::Md5>>(key, message),
            Algorithm::HmacSha1 => mac::<hmac::Hmac<sha1::Sha1>>(key, message),
            Algorithm::HmacSha256 => mac::<hmac::Hmac<sha2::Sha256>>(key, message),
            Algorithm::HmacSha512 => mac::<hmac::Hmac<sha2::Sha512>>(key, message),
        }
    }
}

/// The `string_to_sign` used when the job gives none. A plain hash proves
/// nothing without the secret, so it is appended for those algorithms.
pub const DEFAULT_STRING_TO_SIGN: &str = "{method}\n{path}\n{query}\n{body}";
const DEFAULT_STRING_TO_SIGN_HASH: &str = "{method}\n{path}\n{query}\n{body}\n{secret}";

/// A template signature (`type = "signature"` or `[auth.signature]`).
#[derive(Debug, Clone)]
pub struct TemplateSigner {
    algorithm: Algorithm,
    secret: SecretString,
    name: String,
    placement: Placement,
    template: String,
    timestamp: Option<TimestampConfig>,
    nonce: Option<NonceConfig>,
    encoding: Encoding,
}

impl TemplateSigner {
    /// The names of the signature, its timestamp and its nonce.
    pub(crate) fn param_names(&self) -> Vec<String> {
        std::iter::once(self.name.clone())
            .chain(self.timestamp.as_ref().map(|t| t.name.clone()))
            .chain(self.nonce.as_ref().map(|n| n.name.clone()))
            .collect()
    }

    /// From a validated signature configuration.
    pub(crate) fn new(config: &SignatureConfig) -> TemplateSigner {
        let algorithm = Algorithm::parse(&config.algorithm).expect("validated algorithm");
        let template = config.string_to_sign.clone().unwrap_or_else(|| {
            if algorithm.is_hmac() {
                DEFAULT_STRING_TO_SIGN.to_owned()
            } else {
                DEFAULT_STRING_TO_SIGN_HASH.to_owned()
            }
        });
        TemplateSigner {
            algorithm,
            secret: config.secret.clone(),
            name: config.name.clone().unwrap_or_else(|| "sign".to_owned()),
            placement: config.placement.unwrap_or(Placement::Query),
            template,
            timestamp: config.timestamp.clone(),
            nonce: config.nonce.clone(),
            encoding: config.encoding.unwrap_or(Encoding::Hex),
        }
    }

    /// The text that is hashed for `input`, and what is added to the
    /// request besides the signature.
    pub fn string_to_sign(&self, input: &SignInput<'_>) -> (String, Signed) {
        let mut signed = Signed::default();
        let mut query: Vec<(String, String)> = input.query.to_vec();
        let timestamp = self.timestamp.as_ref().map(|t| {
            let text = format_time(input.now, t.format);
            signed.add(t.placement, &t.name, text.clone(), false);
            if t.placement == Placement::Query {
                query.push((t.name.clone(), text.clone()));
            }
            text
        });
        if let Some(n) = &self.nonce {
            signed.add(n.placement, &n.name, input.nonce.to_owned(), false);
            if n.placement == Placement::Query {
                query.push((n.name.clone(), input.nonce.to_owned()));
            }
        }
        query.sort();
        let canonical_query = query
            .iter()
            .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let text = fill(&self.template, |name| match name {
            "method" => Some(input.method.to_owned()),
            "path" => Some(input.path.to_owned()),
            "query" => Some(canonical_query.clone()),
            "body" => Some(String::from_utf8_lossy(input.body).into_owned()),
            "timestamp" => Some(
                timestamp
                    .clone()
                    .unwrap_or_else(|| format_time(input.now, TimestampFormat::Unix)),
            ),
            "nonce" => Some(input.nonce.to_owned()),
            "secret" => Some(self.secret.expose_secret().to_owned()),
            _ => None,
        });
        (text, signed)
    }

    /// Signs a request: the timestamp, nonce and signature to add.
    pub fn sign(&self, input: &SignInput<'_>) -> Signed {
        let (text, mut signed) = self.string_to_sign(input);
        let digest = self
            .algorithm
            .digest(self.secret.expose_secret().as_bytes(), text.as_bytes());
        let encoding = match (self.algorithm.implies_hex(), self.encoding) {
            (true, Encoding::Base64) => Encoding::Hex,
            (_, encoding) => encoding,
        };
        let value = match encoding {
            Encoding::Hex => hex(&digest, b"0123456789abcdef"),
            Encoding::UpperHex => hex(&digest, b"0123456789ABCDEF"),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(&digest),
        };
        signed.add(self.placement, &self.name, value, true);
        signed
    }
}

/// Whether `template` names only placeholders a signature can fill.
pub(crate) fn unknown_placeholder(template: &str) -> Option<String> {
    let mut unknown = None;
    fill(template, |name| {
        if !matches!(
            name,
            "method" | "path" | "query" | "body" | "timestamp" | "nonce" | "secret"
        ) && unknown.is_none()
        {
            unknown = Some(name.to_owned());
        }
        Some(String::new())
    });
    unknown
}

fn fill(template: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match value(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

pub(crate) fn hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(digits[usize::from(b >> 4)] as char);
        out.push(digits[usize::from(b & 0xf)] as char);
    }
    out
}

fn format_time(now: SystemTime, format: TimestampFormat) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    match format {
        TimestampFormat::Unix => since.as_secs().to_string(),
        TimestampFormat::UnixMs => since.as_millis().to_string(),
        TimestampFormat::Rfc3339 => rfc3339(now),
    }
}

/// `2016-02-23T12:46:24Z`: UTC, whole seconds (Alibaba Cloud's format too).
fn rfc3339(now: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(now)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Alibaba Cloud's RPC-style AccessKey signature (SignatureVersion 1.0).
#[derive(Debug, Clone)]
pub struct AliyunSigner {
    access_key_id: String,
    access_key_secret: SecretString,
}

impl AliyunSigner {
    pub(crate) fn new(access_key_id: String, access_key_secret: SecretString) -> AliyunSigner {
        AliyunSigner {
            access_key_id,
            access_key_secret,
        }
    }

    /// The common parameters and the `Signature` to add to the query.
    /// `Format` is `JSON` unless the job's query sets it.
    pub fn sign(&self, input: &SignInput<'_>) -> Signed {
        let mut signed = Signed::default();
        let has = |name: &str| input.query.iter().any(|(n, _)| n == name);
        let mut common = vec![
            ("AccessKeyId", self.access_key_id.clone()),
            ("SignatureMethod", "HMAC-SHA1".to_owned()),
            ("SignatureNonce", input.nonce.to_owned()),
            ("SignatureVersion", "1.0".to_owned()),
            ("Timestamp", rfc3339(input.now)),
        ];
        if !has("Format") {
            common.push(("Format", "JSON".to_owned()));
        }
        let mut params: Vec<(String, String)> = input
            .query
            .iter()
            .filter(|(n, _)| !common.iter().any(|(c, _)| c == n) && n != "Signature")
            .cloned()
            .collect();
        for (name, value) in common {
            params.push((name.to_owned(), value.clone()));
            signed.add(Placement::Query, name, value, false);
        }
        params.sort();
        let canonical = params
            .iter()
            .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let text = format!("{}&{}&{}", input.method, encode("/"), encode(&canonical));
        let key = format!("{}&", self.access_key_secret.expose_secret());
        let digest = Algorithm::HmacSha1.digest(key.as_bytes(), text.as_bytes());
        signed.add(
            Placement::Query,
            "Signature",
            base64::engine::general_purpose::STANDARD.encode(digest),
            true,
        );
        signed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(json: &str) -> TemplateSigner {
        let config: SignatureConfig = serde_json::from_str(json).unwrap();
        TemplateSigner::new(&config)
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    const TEMPLATE: &str = "{method}|{path}|{query}|{body}|{secret}";

    // Expected digests computed while writing this test, independently of
    // this code, with Python's hashlib/hmac (MD5HEX and HMAC_SHA256 checked
    // again with `openssl dgst`) over the string
    // `POST|/v1/items|a=x%20y&b=2|{"q":1}|k3y`, key `k3y`.
    const KNOWN: [(&str, &str); 9] = [
        ("MD5HEX", "340b031acd41341604d17c15155c2c11"),
        ("HMAC_MD5", "54eb690af2ee034db98a5c38175ee5cd"),
        ("SHA1HEX", "22a1360399a9ebc693dd17e906aba9a07ffe1d7d"),
        ("HMAC_SHA1", "b1ec0ac3de0646b0d59ec8c922351898fdbccf6c"),
        (
            "SHA256",
            "bfc9457c2ea91bf10198ff8207c167b43446231b47b594221c6092337cc07d9a",
        ),
        (
            "SHA256HEX",
            "bfc9457c2ea91bf10198ff8207c167b43446231b47b594221c6092337cc07d9a",
        ),
        (
            "HMAC_SHA256",
            "41835ca204267a377a626d2ed8d29c834061dde9ca8d65507f7cdbd0bd5419fe",
        ),
        (
            "SHA512HEX",
            "81c16bf729ba42b9ebd006682763b68c0b8fce8bae42cbdf6379c093ba6b7dd4f84f70215b4fb38fe211bb548954d2aa1467de41dbc11ba5acbd92951d83a882",
        ),
        (
            "HMAC_SHA512",
            "b52c21345b4da24fd9cf3effe4c73679a23eb48cedfe274de49679deb66c79952a25b4a69b064aef9aad2ad04728f5f54f83a188d7ba93daf36884e166e77f30",
        ),
    ];

    fn known_input(query: &[(String, String)]) -> SignInput<'_> {
        SignInput {
            host: "example.com",
            method: "POST",
            path: "/v1/items",
            query,
            body: br#"{"q":1}"#,
            now: at(1_700_000_000),
            nonce: "n0nce",
        }
    }

    #[test]
    fn every_algorithm_matches_its_known_answer() {
        let query = pairs(&[("b", "2"), ("a", "x y")]);
        for (algorithm, expected) in KNOWN {
            let s = signer(&format!(
                r#"{{"algorithm": "{algorithm}", "secret": "k3y", "string_to_sign": "{}"}}"#,
                TEMPLATE.replace('"', "\\\"")
            ));
            let (text, _) = s.string_to_sign(&known_input(&query));
            assert_eq!(text, r#"POST|/v1/items|a=x%20y&b=2|{"q":1}|k3y"#);
            let signed = s.sign(&known_input(&query));
            assert_eq!(
                signed.query,
                vec![Param {
                    name: "sign".into(),
                    value: expected.into(),
                    secret: true
                }],
                "{algorithm}"
            );
        }
    }

    #[test]
    fn encodings_and_placement() {
        let query = pairs(&[("b", "2"), ("a", "x y")]);
        let s = signer(&format!(
            r#"{{"algorithm": "SHA256", "secret": "k3y", "string_to_sign": "{}", "encoding": "base64", "name": "X-Sig", "in": "header"}}"#,
            TEMPLATE.replace('"', "\\\"")
        ));
        let signed = s.sign(&known_input(&query));
        assert!(signed.query.is_empty());
        assert_eq!(signed.headers[0].name, "X-Sig");
        assert_eq!(
            signed.headers[0].value,
            "v8lFfC6pG/EBmP+CB8FntDRGIxtHtZQiHGCSM3zAfZo="
        );
        let s = signer(&format!(
            r#"{{"algorithm": "HMAC_SHA256", "secret": "k3y", "string_to_sign": "{}", "encoding": "HEX"}}"#,
            TEMPLATE.replace('"', "\\\"")
        ));
        assert_eq!(
            s.sign(&known_input(&query)).query[0].value,
            "41835CA204267A377A626D2ED8D29C834061DDE9CA8D65507F7CDBD0BD5419FE"
        );
    }

    #[test]
    fn timestamp_and_nonce_are_injected_and_signed() {
        let query = pairs(&[("a", "1")]);
        let s = signer(
            r#"{"algorithm": "HMAC_SHA256", "secret": "k3y",
                "timestamp": {"name": "ts"}, "nonce": {"name": "X-Nonce", "in": "header"}}"#,
        );
        let input = SignInput {
            host: "example.com",
            method: "GET",
            path: "/v1/items",
            query: &query,
            body: b"",
            now: at(1_700_000_000),
            nonce: "abc123",
        };
        let (text, _) = s.string_to_sign(&input);
        assert_eq!(text, "GET\n/v1/items\na=1&ts=1700000000\n");
        let signed = s.sign(&input);
        let names: Vec<(&str, &str)> = signed
            .query
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        // HMAC-SHA256 of the text above with key `k3y`, from Python's hmac.
        assert_eq!(
            names,
            [
                ("ts", "1700000000"),
                (
                    "sign",
                    "213cc63919fae106e927fd05edccbaf0f0cc70d236392aa69c26807e2306db5e"
                )
            ]
        );
        assert_eq!(
            signed.headers,
            vec![Param {
                name: "X-Nonce".into(),
                value: "abc123".into(),
                secret: false
            }]
        );
    }

    #[test]
    fn timestamp_formats() {
        let now = at(1_700_000_000) + Duration::from_millis(250);
        assert_eq!(format_time(now, TimestampFormat::Unix), "1700000000");
        assert_eq!(format_time(now, TimestampFormat::UnixMs), "1700000000250");
        assert_eq!(
            format_time(now, TimestampFormat::Rfc3339),
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn plain_hash_default_template_holds_the_secret() {
        let s = signer(r#"{"algorithm": "MD5HEX", "secret": "k3y"}"#);
        let (text, _) = s.string_to_sign(&known_input(&[]));
        assert_eq!(text, "POST\n/v1/items\n\n{\"q\":1}\nk3y");
    }

    #[test]
    fn unknown_placeholders_are_found() {
        assert_eq!(unknown_placeholder("{method}{query}{secret}"), None);
        assert_eq!(
            unknown_placeholder("{method}{host}"),
            Some("host".to_owned())
        );
    }

    #[test]
    fn aliyun_matches_the_published_example() {
        // Alibaba Cloud's RPC signature example: AccessKeyId `testid`,
        // AccessKeySecret `testsecret`, DescribeRegions on 2016-02-23T12:46:24Z,
        // whose documented signature is OLeaidS1JvxuMvnyHOwuJ+uX5qY= (also
        // recomputed with Python's hmac while writing this test).
        let query = pairs(&[
            ("Format", "XML"),
            ("Action", "DescribeRegions"),
            ("Version", "2014-05-26"),
        ]);
        let signer = AliyunSigner::new("testid".into(), SecretString::from("testsecret"));
        let signed = signer.sign(&SignInput {
            host: "example.com",
            method: "GET",
            path: "/",
            query: &query,
            body: b"",
            now: UNIX_EPOCH + Duration::from_secs(1_456_231_584),
            nonce: "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        });
        let added: Vec<(&str, &str)> = signed
            .query
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            added,
            [
                ("AccessKeyId", "testid"),
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
                ("SignatureVersion", "1.0"),
                ("Timestamp", "2016-02-23T12:46:24Z"),
                ("Signature", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="),
            ]
        );
        assert!(signed.query.last().unwrap().secret);
    }

    #[test]
    fn aliyun_adds_json_format_when_the_job_sets_none() {
        let query = pairs(&[("Action", "DescribeRegions")]);
        let signer = AliyunSigner::new("id".into(), SecretString::from("s"));
        let signed = signer.sign(&SignInput {
            host: "example.com",
            method: "GET",
            path: "/",
            query: &query,
            body: b"",
            now: at(0),
            nonce: "n",
        });
        assert!(
            signed
                .query
                .iter()
                .any(|p| p.name == "Format" && p.value == "JSON")
        );
    }
}
