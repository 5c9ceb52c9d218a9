//! AWS Signature Version 4: `type = "aws_sigv4"`. API Gateway with IAM
//! authorization, DynamoDB, OpenSearch Service and the other AWS APIs
//! take a request signed with the caller's access key.

use percent_encoding::{AsciiSet, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::sign::{Algorithm, Param, SignInput, Signed, UNRESERVED, encode};

/// A path's characters as SigV4 keeps them: the unreserved ones and `/`.
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Signs each request with an AWS access key.
#[derive(Debug, Clone)]
pub struct AwsSigner {
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
    region: String,
    service: String,
}

impl AwsSigner {
    pub(crate) fn new(
        access_key_id: String,
        secret_access_key: SecretString,
        session_token: Option<SecretString>,
        (region, service): (String, String),
    ) -> AwsSigner {
        AwsSigner {
            access_key_id,
            secret_access_key,
            session_token,
            region,
            service,
        }
    }

    /// The `Authorization`, `X-Amz-Date` and (with a session token)
    /// `X-Amz-Security-Token` headers, and for S3 `X-Amz-Content-Sha256`.
    /// The query goes out as it was signed: sorted, each name and value
    /// percent-encoded as RFC 3986 says (a space is `%20`), so that the
    /// service reads the text that was signed.
    pub fn sign(&self, input: &SignInput<'_>) -> Signed {
        let time = chrono::DateTime::<chrono::Utc>::from(input.now);
        let amz_date = time.format("%Y%m%dT%H%M%SZ").to_string();
        let payload = hex(&Sha256::digest(input.body));
        let mut headers = vec![
            ("host", input.host.to_owned(), false),
            ("x-amz-date", amz_date.clone(), false),
        ];
        if self.service == "s3" {
            headers.push(("x-amz-content-sha256", payload.clone(), false));
        }
        if let Some(token) = &self.session_token {
            headers.push((
                "x-amz-security-token",
                token.expose_secret().to_owned(),
                true,
            ));
        }
        headers.sort_by(|a, b| a.0.cmp(b.0));
        let signed_headers = (headers.iter().map(|h| h.0)).collect::<Vec<_>>().join(";");
        let query = canonical_query(input.query);
        let canonical = format!(
            "{}\n{}\n{query}\n{}\n{signed_headers}\n{payload}",
            input.method,
            self.canonical_path(input.path),
            (headers.iter())
                .map(|(name, value, _)| format!("{name}:{}\n", value.trim()))
                .collect::<String>(),
        );
        let scope = format!(
            "{}/{}/{}/aws4_request",
            &amz_date[..8],
            self.region,
            self.service
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let signature = hex(&self.signing_key(&amz_date[..8], to_sign.as_bytes()));
        let mut signed = Signed {
            query_text: Some(query),
            ..Signed::default()
        };
        for (name, value, secret) in headers.into_iter().filter(|h| h.0 != "host") {
            signed.headers.push(param(name, value, secret));
        }
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, \
             Signature={signature}",
            self.access_key_id
        );
        signed
            .headers
            .push(param("authorization", authorization, true));
        signed
    }

    /// The path as signed: S3 signs it as sent; every other service
    /// encodes the sent path's `%` again, as AWS's SDKs do.
    fn canonical_path(&self, path: &str) -> String {
        let path = if path.is_empty() { "/" } else { path };
        match self.service.as_str() {
            "s3" => path.to_owned(),
            _ => utf8_percent_encode(path, PATH).to_string(),
        }
    }

    /// The HMAC of `message` under the key derived for the day, region
    /// and service.
    fn signing_key(&self, day: &str, message: &[u8]) -> Vec<u8> {
        let secret = format!("AWS4{}", self.secret_access_key.expose_secret());
        let mut key = secret.into_bytes();
        for part in [day, &self.region, &self.service, "aws4_request"] {
            key = mac(&key, part.as_bytes());
        }
        mac(&key, message)
    }
}

/// Every query parameter, name and value percent-encoded, sorted.
fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = (query.iter())
        .map(|(name, value)| (encode(name), encode(value)))
        .collect();
    pairs.sort();
    (pairs.iter())
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn mac(key: &[u8], message: &[u8]) -> Vec<u8> {
    Algorithm::HmacSha256.digest(key, message)
}

fn hex(bytes: &[u8]) -> String {
    crate::sign::hex(bytes, b"0123456789abcdef")
}

fn param(name: &str, value: String, secret: bool) -> Param {
    Param {
        name: name.to_owned(),
        value,
        secret,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// 2015-08-30T12:36:00Z, the time of AWS's own examples.
    fn at_example_time(input: SignInput<'_>) -> SignInput<'_> {
        SignInput {
            now: UNIX_EPOCH + Duration::from_secs(1_440_938_160),
            ..input
        }
    }

    fn signer(service: &str, token: Option<&str>) -> AwsSigner {
        AwsSigner::new(
            "AKIDEXAMPLE".to_owned(),
            SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            token.map(SecretString::from),
            ("us-east-1".to_owned(), service.to_owned()),
        )
    }

    fn header<'s>(signed: &'s Signed, name: &str) -> Option<&'s str> {
        (signed.headers.iter())
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }

    /// Each signature is botocore's (1.44) for the same request: its
    /// `SigV4Auth`, and `S3SigV4Auth` for S3. `.ci/sigv4_check.py` has
    /// botocore check hydrant's requests as they are sent.
    #[test]
    fn requests_are_signed_as_aws_sdks_sign_them() {
        let query = [
            ("q".to_owned(), "a b&c=d".to_owned()),
            ("limit".to_owned(), "5".to_owned()),
        ];
        let input = at_example_time(SignInput {
            method: "GET",
            host: "example.amazonaws.com",
            path: "/prod/my%20orders",
            query: &query,
            body: b"",
            now: UNIX_EPOCH,
            nonce: "",
        });
        let signed = signer("execute-api", None).sign(&input);
        assert_eq!(
            header(&signed, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/\
                 aws4_request, SignedHeaders=host;x-amz-date, \
                 Signature=21cb231b88ecca08b08e32a1faf3b317bb4f25a90a90586f821e781d725978bb"
            )
        );
        assert_eq!(header(&signed, "x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            signed.query_text.as_deref(),
            Some("limit=5&q=a%20b%26c%3Dd")
        );
        let body = at_example_time(SignInput {
            method: "POST",
            path: "/",
            query: &[],
            body: br#"{"TableName":"orders"}"#,
            ..input
        });
        let signed = signer("dynamodb", Some("session/token=")).sign(&body);
        let authorization = header(&signed, "authorization").unwrap();
        assert!(
            authorization.ends_with(
                "SignedHeaders=host;x-amz-date;x-amz-security-token, \
                 Signature=9dc2d1c33e563c9eda4f4d32557ba9cfddf6ec66066d385656a7c5f088fec6a0"
            ),
            "{authorization}"
        );
        assert_eq!(
            header(&signed, "x-amz-security-token"),
            Some("session/token=")
        );
        let query = [("list-type".to_owned(), "2".to_owned())];
        let s3 = at_example_time(SignInput {
            host: "bucket.s3.amazonaws.com",
            path: "/a%20b.json",
            query: &query,
            ..input
        });
        let signed = signer("s3", None).sign(&s3);
        assert!(
            (header(&signed, "authorization").unwrap()).ends_with(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
                 Signature=37aab41bdda7fbe2da013e34a717087986352dcf466d0d18d5cf80f32a5bb0b2"
            ),
            "{signed:?}"
        );
        assert_eq!(
            header(&signed, "x-amz-content-sha256"),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    /// The authorization and the session token are secrets: shown
    /// masked; the date and the payload's digest are not.
    #[test]
    fn only_the_authorization_and_the_token_are_secret() {
        let input = at_example_time(SignInput {
            method: "GET",
            host: "h",
            path: "/",
            query: &[],
            body: b"",
            now: UNIX_EPOCH,
            nonce: "",
        });
        let signed = signer("s3", Some("t")).sign(&input);
        let secret: Vec<(&str, bool)> = (signed.headers.iter())
            .map(|p| (p.name.as_str(), p.secret))
            .collect();
        assert_eq!(
            secret,
            [
                ("x-amz-content-sha256", false),
                ("x-amz-date", false),
                ("x-amz-security-token", true),
                ("authorization", true)
            ]
        );
    }
}
