//! Every auth method end to end, checked by servers that verify what they
//! receive; credentials kept to the job's origin; secrets kept out of
//! everything hydrant writes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use hydrant_bench::{Exchange, Seen};
use sha2::Digest;

use crate::util::{Dir, TestServer, hydrant, hydrant_with, json, path_str, run_job};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn path_of(target: &str) -> &str {
    target.split('?').next().unwrap_or_default()
}

fn query_of(target: &str) -> Vec<(String, String)> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn form_of(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// RFC 3986 percent-encoding, written out here on purpose: the servers
/// below check hydrant's signatures with code of their own.
fn rfc3986(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn canonical(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", rfc3986(n), rfc3986(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn hmac_sha256_hex(key: &[u8], text: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(text);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn basic_bearer_and_api_key_arrive_as_configured() {
    let server = TestServer::start(vec![
        Exchange::json("/basic", "[{\"id\":1}]"),
        Exchange::json("/bearer", "[{\"id\":2}]"),
        Exchange::json("/bare", "[{\"id\":3}]"),
        Exchange::json("/query?api_key=k%2F1", "[{\"id\":4}]"),
        Exchange {
            method: "POST".into(),
            ..Exchange::json("/json", "[{\"id\":5}]")
        },
        Exchange {
            method: "POST".into(),
            ..Exchange::json("/form", "[{\"id\":6}]")
        },
    ]);
    let cases = [
        (
            "/basic",
            "[auth]\ntype = \"basic\"\nusername = \"Aladdin\"\npassword = \"open sesame\"\n",
        ),
        (
            "/bearer",
            "[auth]\ntype = \"bearer\"\ntoken = \"abc\"\nprefix = \"Token\"\n",
        ),
        (
            "/bare",
            "[auth]\ntype = \"bearer\"\ntoken = \"abc\"\nprefix = \"\"\n",
        ),
        (
            "/query",
            "[auth]\ntype = \"api_key\"\nname = \"api_key\"\nvalue = \"k/1\"\nin = \"query\"\n",
        ),
        (
            "/json",
            "method = \"POST\"\nbody = { filter = { a = 1 } }\n[auth]\ntype = \"api_key\"\nname = \"auth.key\"\nvalue = \"k-2\"\nin = \"body\"\n",
        ),
        (
            "/form",
            "method = \"POST\"\nform = { q = \"x\" }\n[auth]\ntype = \"api_key\"\nname = \"key\"\nvalue = \"k 3\"\nin = \"body\"\n",
        ),
    ];
    for (target, rest) in cases {
        let (run, _) = run_job(&server.url(), target, rest, &[]);
        assert_eq!(run.code, 0, "{target}: {}", run.stderr);
    }
    let seen = server.requests();
    // RFC 7617's example credentials and their encoding.
    assert_eq!(
        seen[0].header("authorization"),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    assert_eq!(seen[1].header("authorization"), Some("Token abc"));
    assert_eq!(seen[2].header("authorization"), Some("abc"));
    assert_eq!(seen[3].target, "/query?api_key=k%2F1");
    assert_eq!(seen[3].header("authorization"), None);
    assert_eq!(
        String::from_utf8_lossy(&seen[4].body),
        r#"{"filter":{"a":1},"auth":{"key":"k-2"}}"#
    );
    assert_eq!(String::from_utf8_lossy(&seen[5].body), "q=x&key=k+3");
}

/// What the OAuth2 test server has seen.
#[derive(Default)]
struct TokenState {
    issued: u32,
    uses: HashMap<u32, u32>,
    rejected: u32,
}

const CLIENT_SECRET: &str = "cl!ent secret";

/// A token endpoint at `/token` and an API at `/items?page=N` (five pages
/// of two records, then an empty one) that takes a token `uses_per_token`
/// times and then answers 401, as if it had expired.
fn oauth2_server(body_auth: bool, uses_per_token: u32) -> (TestServer, Arc<Mutex<TokenState>>) {
    let state = Arc::new(Mutex::new(TokenState::default()));
    let shared = state.clone();
    let server = TestServer::start_fn(move |seen: &Seen| {
        let mut state = shared.lock().unwrap();
        if path_of(&seen.target) == "/token" {
            let form = form_of(&seen.body);
            let client_ok = if body_auth {
                seen.header("authorization").is_none()
                    && form.get("client_id").map(String::as_str) == Some("app")
                    && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
            } else {
                // RFC 6749 §2.3.1: form-encoded id and secret, then Basic.
                let expected = format!("Basic {}", b64(b"app:cl%21ent+secret"));
                seen.header("authorization") == Some(expected.as_str())
                    && !form.contains_key("client_secret")
            };
            if seen.method != "POST"
                || form.get("grant_type").map(String::as_str) != Some("client_credentials")
                || form.get("scope").map(String::as_str) != Some("read")
                || !client_ok
            {
                return json(401, r#"{"error":"invalid_client"}"#);
            }
            state.issued += 1;
            return json(
                200,
                format!(
                    r#"{{"access_token":"tok-{}","token_type":"Bearer","expires_in":3600}}"#,
                    state.issued
                ),
            );
        }
        let current = state.issued;
        let valid = seen.header("authorization") == Some(format!("Bearer tok-{current}").as_str())
            && state.uses.get(&current).copied().unwrap_or(0) < uses_per_token;
        if !valid {
            state.rejected += 1;
            return json(401, r#"{"error":"invalid_token"}"#);
        }
        *state.uses.entry(current).or_default() += 1;
        let page: u32 = query_of(&seen.target)
            .iter()
            .find(|(n, _)| n == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        if (1..=5).contains(&page) {
            json(
                200,
                format!(r#"[{{"id":{}}},{{"id":{}}}]"#, page * 10, page * 10 + 1),
            )
        } else {
            json(200, "[]")
        }
    });
    (server, state)
}

fn oauth2_job(server: &TestServer, body_auth: bool, concurrency: u32) -> String {
    format!(
        "[paginate]\ntype = \"page\"\n[limits]\nconcurrency = {concurrency}\n[auth]\ntype = \"oauth2\"\ntoken_url = \"{}/token\"\nclient_id = \"app\"\nclient_secret = \"${{SECRET}}\"\nscope = \"read\"\n{}",
        server.url(),
        if body_auth {
            "client_auth = \"body\"\n"
        } else {
            ""
        }
    )
}

#[test]
fn oauth2_token_expiring_mid_run_is_fetched_again_in_both_client_auth_modes() {
    for body_auth in [false, true] {
        let (server, state) = oauth2_server(body_auth, 2);
        let (run, summary) = run_job(
            &server.url(),
            "/items",
            &oauth2_job(&server, body_auth, 1),
            &[("SECRET", CLIENT_SECRET)],
        );
        assert_eq!(run.code, 0, "body_auth={body_auth}: {}", run.stderr);
        let expected: String = (1..=5)
            .map(|p| format!("{{\"id\":{}}}\n{{\"id\":{}}}\n", p * 10, p * 10 + 1))
            .collect();
        assert_eq!(run.stdout, expected);
        // Six pages on tokens good for two requests each: the API rejected
        // tok-1 and tok-2 once each, and each 401 cost one new token.
        let state = state.lock().unwrap();
        assert_eq!(state.issued, 3);
        assert_eq!(state.rejected, 2);
        assert_eq!(summary["requests"], 6, "{summary}");
        assert_eq!(summary["retries"], 2, "{summary}");
        assert_eq!(summary["records"], 10, "{summary}");
    }
}

#[test]
fn concurrent_requests_share_one_token_fetch() {
    let (server, state) = oauth2_server(false, u32::MAX);
    let (run, summary) = run_job(
        &server.url(),
        "/items",
        &oauth2_job(&server, false, 4),
        &[("SECRET", CLIENT_SECRET)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(summary["records"], 10, "{summary}");
    let state = state.lock().unwrap();
    assert_eq!(state.issued, 1);
    assert_eq!(state.rejected, 0);
}

#[test]
fn a_rejected_fresh_token_fails_after_one_retry_without_looping() {
    let (server, state) = oauth2_server(false, 0);
    let (run, _) = run_job(
        &server.url(),
        "/items",
        &oauth2_job(&server, false, 1),
        &[("SECRET", CLIENT_SECRET)],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains(&format!("GET {}/items?page=1 answered 401", server.url())),
        "{}",
        run.stderr
    );
    let state = state.lock().unwrap();
    assert_eq!((state.issued, state.rejected), (2, 2));
}

/// A token endpoint that refuses the client, with an error status or
/// with a 200 and an RFC 6749 error, and echoes what it was sent: the
/// error says why, the secret redacted.
#[test]
fn a_failing_token_endpoint_is_named_and_prints_no_secret() {
    for status in [400, 200] {
        let server = TestServer::start_fn(move |seen: &Seen| {
            json(
                status,
                format!(
                    r#"{{"error":"invalid_client","error_description":"got {}"}}"#,
                    String::from_utf8_lossy(&seen.body).replace('&', " ")
                ),
            )
        });
        let (run, _) = run_job(
            &server.url(),
            "/items",
            &oauth2_job(&server, true, 1),
            &[("SECRET", "s3cr3t-echoed")],
        );
        assert_eq!(run.code, 1);
        let says = match status {
            400 => format!(
                "oauth2 token request to {}/token answered 400 Bad Request",
                server.url()
            ),
            _ => "the token response has nothing at auth.token_path `$.access_token`; it says \
                  `invalid_client`: got "
                .to_owned(),
        };
        assert!(run.stderr.contains(&says), "{}", run.stderr);
        assert!(run.stderr.contains("client_secret=***"), "{}", run.stderr);
        assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);
        assert_eq!(server.requests().len(), 1, "no API request without a token");
    }
}

#[test]
fn signatures_verify_on_a_server_that_recomputes_them() {
    let nonces = Arc::new(Mutex::new(HashSet::new()));
    let seen_nonces = nonces.clone();
    let server = TestServer::start_fn(move |seen: &Seen| {
        let mut query = query_of(&seen.target);
        let Some(at) = query.iter().position(|(n, _)| n == "sign") else {
            return json(403, r#"{"error":"unsigned"}"#);
        };
        let sign = query.remove(at).1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ts: u64 = query
            .iter()
            .find(|(n, _)| n == "ts")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let nonce = seen.header("x-nonce").unwrap_or_default().to_owned();
        let fresh = !nonce.is_empty() && seen_nonces.lock().unwrap().insert(nonce);
        let text = format!(
            "{}\n{}\n{}\n{}",
            seen.method,
            path_of(&seen.target),
            canonical(query.clone()),
            String::from_utf8_lossy(&seen.body)
        );
        if sign != hmac_sha256_hex(b"k3y", text.as_bytes()) || now.abs_diff(ts) > 300 || !fresh {
            return json(403, r#"{"error":"bad signature"}"#);
        }
        let page = query
            .iter()
            .find(|(n, _)| n == "page")
            .map_or("0", |(_, v)| v.as_str())
            .to_owned();
        if page == "3" {
            json(200, "[]")
        } else {
            json(200, format!(r#"[{{"page":{page}}}]"#))
        }
    });
    let rest = "query = { q = \"a b/c\", lang = \"en\" }\n[paginate]\ntype = \"page\"\n[limits]\nconcurrency = 1\n[auth]\ntype = \"signature\"\nalgorithm = \"HMAC_SHA256\"\nsecret = \"${SIG}\"\ntimestamp = { name = \"ts\" }\nnonce = { name = \"X-Nonce\", in = \"header\" }\n";
    let (run, summary) = run_job(&server.url(), "/items", rest, &[("SIG", "k3y")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"page\":1}\n{\"page\":2}\n");
    assert_eq!(summary["requests"], 3, "{summary}");
    assert_eq!(nonces.lock().unwrap().len(), 3);
}

#[test]
fn a_plain_hash_signature_on_top_of_bearer_verifies() {
    let server = TestServer::start_fn(|seen: &Seen| {
        let query = query_of(&seen.target);
        // MD5HEX over the job's template `{query}{secret}`, sent in a header.
        let digest = md5::Md5::digest(format!("{}k3y", canonical(query)).as_bytes());
        let expected: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if seen.header("x-sign") != Some(expected.as_str())
            || seen.header("authorization") != Some("Bearer t0k")
        {
            return json(403, r#"{"error":"bad signature"}"#);
        }
        json(200, r#"[{"ok":true}]"#)
    });
    let rest = "query = { b = \"2\", a = \"1\" }\n[auth]\ntype = \"bearer\"\ntoken = \"t0k\"\n[auth.signature]\nalgorithm = \"MD5HEX\"\nsecret = \"k3y\"\nname = \"X-Sign\"\nin = \"header\"\nstring_to_sign = \"{query}{secret}\"\n";
    let (run, _) = run_job(&server.url(), "/x", rest, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"ok\":true}\n");
}

#[test]
fn aliyun_signatures_verify_on_a_server_that_recomputes_them() {
    let server = TestServer::start_fn(|seen: &Seen| {
        let mut params = query_of(&seen.target);
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let common_ok = get("AccessKeyId") == "testid"
            && get("SignatureMethod") == "HMAC-SHA1"
            && get("SignatureVersion") == "1.0"
            && get("Format") == "JSON"
            && get("Timestamp").len() == 20
            && get("Timestamp").ends_with('Z')
            && !get("SignatureNonce").is_empty();
        let signature = get("Signature");
        params.retain(|(n, _)| n != "Signature");
        let text = format!("{}&%2F&{}", seen.method, rfc3986(&canonical(params)));
        let mut mac = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(b"ak-secret&").unwrap();
        mac.update(text.as_bytes());
        if !common_ok || signature != b64(&mac.finalize().into_bytes()) {
            return json(400, r#"{"Code":"SignatureDoesNotMatch"}"#);
        }
        json(
            200,
            r#"{"Regions":{"Region":[{"RegionId":"cn-hangzhou"},{"RegionId":"cn-shanghai"}]}}"#,
        )
    });
    let rest = "query = { Action = \"DescribeRegions\", Version = \"2014-05-26\", RegionId = \"cn hangzhou*\" }\n[auth]\ntype = \"aliyun\"\naccess_key_id = \"testid\"\naccess_key_secret = \"${AK}\"\n[records]\npath = \"Regions.Region\"\n";
    let (run, _) = run_job(&server.url(), "/", rest, &[("AK", "ak-secret")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"RegionId\":\"cn-hangzhou\"}\n{\"RegionId\":\"cn-shanghai\"}\n"
    );
}

/// Credentials of three kinds: a query parameter, a secret header and a
/// signature header.
const CREDENTIALS: &str = "[auth]\ntype = \"api_key\"\nname = \"key\"\nvalue = \"k-1\"\nin = \"query\"\n[auth.headers]\nX-Secret = \"h-1\"\n[auth.signature]\nalgorithm = \"HMAC_SHA1\"\nsecret = \"s-1\"\nname = \"X-Sign\"\nin = \"header\"\n";

/// The region and service of the AWS jobs.
const AWS_PLACE: &str = "region = \"eu-west-1\"\nservice = \"execute-api\"\n";

/// An AWS SigV4 job signs each request to its origin: `Authorization`,
/// `X-Amz-Date`, the session token, and the query as it was signed
/// (sorted, `%20` for a space). A next link to another origin gets none
/// of them. (`.ci/sigv4_check.py` has botocore verify the signatures.)
#[test]
fn aws_signatures_go_to_the_job_origin_alone() {
    let other = second_origin();
    let link = format!("http://127.0.0.1:{}/page2", other.port());
    let first = TestServer::start(vec![Exchange::json(
        "/page1?a=1&q=x%20y&z=2",
        format!(r#"{{"data":[{{"id":1}}],"next":"{link}"}}"#),
    )]);
    let rest = format!(
        "query = {{ z = \"2\", q = \"x y\", a = \"1\" }}\n{FOLLOW_NEXT}[auth]\n\
         type = \"aws_sigv4\"\naccess_key_id = \"AKID\"\nsecret_access_key = \"${{S}}\"\n\
         session_token = \"tok\"\n{AWS_PLACE}"
    );
    let (run, _) = run_job(&first.url(), "/page1", &rest, &[("S", "sk")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1}\n{\"id\":2}\n");
    let sent = &first.requests()[0];
    assert_eq!(sent.target, "/page1?a=1&q=x%20y&z=2");
    let authorization = sent.header("authorization").unwrap();
    let day = &sent.header("x-amz-date").unwrap()[..8];
    assert!(
        authorization.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential=AKID/{day}/eu-west-1/execute-api/aws4_request, \
             SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
        )),
        "{authorization}"
    );
    assert_eq!(sent.header("x-amz-security-token"), Some("tok"));
    let off = &other.requests()[0];
    assert!(
        (off.headers.iter()).all(|(name, _)| !name.starts_with("x-amz") && name != "authorization"),
        "{off:?}"
    );
}

fn carries_credentials(seen: &Seen) -> bool {
    seen.target.contains("key=")
        || seen.header("x-secret").is_some()
        || seen.header("x-sign").is_some()
        || seen.header("authorization").is_some()
}

fn second_origin() -> TestServer {
    TestServer::start(vec![Exchange::json("/page2", r#"{"data":[{"id":2}]}"#)])
}

/// The job's server, whose first page links to `/page2` on `host` at the
/// port of `other`.
fn linking_to(host: &str, other: &TestServer) -> TestServer {
    let link = format!("http://{host}:{}/page2", other.port());
    TestServer::start(vec![Exchange::json(
        "/page1?key=k-1",
        format!(r#"{{"data":[{{"id":1}}],"next":"{link}"}}"#),
    )])
}

const FOLLOW_NEXT: &str =
    "[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n[records]\npath = \"data\"\n";

#[test]
fn a_link_to_another_origin_gets_no_credentials_and_needs_allowed_hosts() {
    let other = second_origin();
    let first = linking_to("localhost", &other);

    let (refused, _) = run_job(
        &first.url(),
        "/page1",
        &format!("{FOLLOW_NEXT}{CREDENTIALS}"),
        &[],
    );
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("to host `localhost`")
            && refused.stderr.contains("request.allowed_hosts"),
        "{}",
        refused.stderr
    );
    assert!(other.requests().is_empty());

    let allowed = format!("allowed_hosts = [\"localhost\"]\n{FOLLOW_NEXT}{CREDENTIALS}");
    let (run, _) = run_job(&first.url(), "/page1", &allowed, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1}\n{\"id\":2}\n");
    let sent = &first.requests()[1];
    assert!(
        sent.header("x-secret") == Some("h-1") && sent.header("x-sign").is_some(),
        "the job's own origin gets every credential"
    );
    let off = &other.requests()[0];
    assert_eq!(off.target, "/page2");
    assert!(!carries_credentials(off), "{off:?}");
}

#[test]
fn the_same_host_on_another_port_is_another_origin() {
    let other = second_origin();
    let first = linking_to("127.0.0.1", &other);
    let rest = format!("{FOLLOW_NEXT}{CREDENTIALS}");
    let (run, _) = run_job(&first.url(), "/page1", &rest, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1}\n{\"id\":2}\n");
    assert!(!carries_credentials(&other.requests()[0]));
}

#[test]
fn redirects_keep_credentials_on_the_origin_and_drop_them_off_it() {
    let other = second_origin();
    let first = TestServer::start(vec![
        Exchange {
            status: 301,
            headers: vec![("location".into(), "/moved?key=k-1".into())],
            ..Exchange::json("/old?key=k-1", "")
        },
        Exchange::json("/moved?key=k-1", r#"{"data":[{"id":1}]}"#),
        Exchange {
            status: 302,
            headers: vec![(
                "location".into(),
                format!("http://localhost:{}/page2?key=k-1", other.port()),
            )],
            ..Exchange::json("/away?key=k-1", "")
        },
    ]);
    let records = "[records]\npath = \"data\"\n";

    let (run, _) = run_job(
        &first.url(),
        "/old",
        &format!("{records}{CREDENTIALS}"),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1}\n");
    let moved = &first.requests()[1];
    assert_eq!(moved.target, "/moved?key=k-1");
    assert!(moved.header("x-secret").is_some() && moved.header("x-sign").is_some());

    let (refused, _) = run_job(
        &first.url(),
        "/away",
        &format!("{records}{CREDENTIALS}"),
        &[],
    );
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("redirect to host `localhost`"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("k-1"), "{}", refused.stderr);
    assert!(other.requests().is_empty());

    let allowed = format!("allowed_hosts = [\"localhost\"]\n{records}{CREDENTIALS}");
    let (run, _) = run_job(&first.url(), "/away", &allowed, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":2}\n");
    let off = &other.requests()[0];
    // The API key the server put in the Location is taken out too.
    assert_eq!(off.target, "/page2");
    assert!(!carries_credentials(off), "{off:?}");
}

#[test]
fn canary_secrets_appear_in_nothing_hydrant_writes() {
    const CANARY: &str = "canary-9f3e-secret";
    // What the token endpoint issues: a secret hydrant did not know at start.
    const TOKEN: &str = "canary-7a1b-token";
    let server = TestServer::start_fn(|seen: &Seen| {
        if path_of(&seen.target) == "/token" {
            return json(
                200,
                format!(r#"{{"access_token":"{TOKEN}","expires_in":3600}}"#),
            );
        }
        if path_of(&seen.target).starts_with("/paged") {
            // A next link that carries back all it was sent, which puts
            // the secrets into what a checkpoint saves.
            let echo = format!(
                "{} {} {:?}",
                String::from_utf8_lossy(&seen.body),
                seen.target,
                seen.headers
            );
            let echo: String = url::form_urlencoded::byte_serialize(echo.as_bytes()).collect();
            return json(
                200,
                format!(r#"{{"data":[{{"id":1}}],"next":"/fail?echo={echo}"}}"#),
            );
        }
        if path_of(&seen.target).starts_with("/fail") {
            // Echo everything received, as some servers do in errors.
            return json(
                500,
                format!(
                    "{} {} {:?}",
                    String::from_utf8_lossy(&seen.body),
                    seen.target,
                    seen.headers,
                ),
            );
        }
        json(200, r#"[{"id":1},{"id":"not a number"}]"#)
    });
    let token_url = format!("{}/token", server.url());
    let methods = [
        "[auth]\ntype = \"basic\"\nusername = \"u\"\npassword = \"${C}\"\n".to_owned(),
        "[auth]\ntype = \"bearer\"\ntoken = \"${C}\"\n".to_owned(),
        "[auth]\ntype = \"api_key\"\nname = \"k\"\nvalue = \"${C}\"\nin = \"query\"\n".to_owned(),
        "method = \"POST\"\nbody = { q = 1 }\n[auth]\ntype = \"api_key\"\nname = \"k\"\nvalue = \"${C}\"\nin = \"body\"\n".to_owned(),
        format!("[auth]\ntype = \"oauth2\"\ntoken_url = \"{token_url}\"\nclient_id = \"app\"\nclient_secret = \"${{C}}\"\nclient_auth = \"body\"\n"),
        "[auth]\ntype = \"signature\"\nalgorithm = \"MD5HEX\"\nsecret = \"${C}\"\nstring_to_sign = \"{secret}\"\n".to_owned(),
        "[auth]\ntype = \"aliyun\"\naccess_key_id = \"id\"\naccess_key_secret = \"${C}\"\n".to_owned(),
        format!("[auth]\ntype = \"aws_sigv4\"\naccess_key_id = \"id\"\nsecret_access_key = \"${{C}}\"\n{AWS_PLACE}"),
        format!("[auth]\ntype = \"aws_sigv4\"\naccess_key_id = \"id\"\nsecret_access_key = \"s\"\nsession_token = \"${{C}}\"\n{AWS_PLACE}"),
        "[auth.headers]\nX-Api-Secret = \"${C}\"\n".to_owned(),
        "query = { code = \"${C}\" }\n".to_owned(),
    ];
    // Credentials written into the URL itself: given by a variable, or
    // under a credential's name; in the path, by a variable named as one.
    let in_url = [
        "?code=${C}&n=1".to_owned(),
        format!("?n=1&access_token={CANARY}"),
        "/bot${BOT_TOKEN}/updates".to_owned(),
    ];
    let methods = (methods.iter().map(|m| (String::new(), m.clone())))
        .chain(in_url.into_iter().map(|query| (query, String::new())));
    let env = [("C", CANARY), ("BOT_TOKEN", CANARY), ("RUST_LOG", "trace")];
    for (query, method) in methods {
        let method = &method;
        let dir = Dir::new();
        let columns = "[records]\ndirty_path = \"DIRTY\"\nmax_dirty = 5\n[[columns]]\nname = \"id\"\ntype = \"long\"\n"
            .replace("DIRTY", path_str(&dir.path("dirty.ndjson")));
        let (ok_url, fail_url) = (
            format!("{}/ok{query}", server.url()),
            format!("{}/fail{query}", server.url()),
        );
        let ok = dir.write(
            "ok.toml",
            &format!("[request]\nurl = \"{ok_url}\"\n{method}{columns}"),
        );
        let fail = dir.write(
            "fail.toml",
            &format!("[request]\nurl = \"{fail_url}\"\n{method}[limits]\nmax_retries = 0\n"),
        );
        let paged = dir.write(
            "paged.toml",
            &format!(
                "[request]\nurl = \"{}/paged{query}\"\n{method}[limits]\nmax_retries = 0\n\
                 [records]\npath = \"data\"\n[paginate]\ntype = \"next_link\"\nfrom = \"next\"\n\
                 [output]\npath = \"{}\"\n[state]\npath = \"{}\"\n",
                server.url(),
                path_str(&dir.path("paged.ndjson")),
                path_str(&dir.path("paged.state")),
            ),
        );
        let (out, summary) = (dir.path("out.ndjson"), dir.path("summary.json"));
        let explain = hydrant_with(&["explain", path_str(&ok)], &env);
        let check = hydrant_with(&["check", path_str(&ok)], &env);
        let run = hydrant_with(
            &[
                "run",
                path_str(&ok),
                "--output",
                path_str(&out),
                "--summary-json",
                path_str(&summary),
            ],
            &env,
        );
        let failed = hydrant_with(&["run", path_str(&fail)], &env);
        let cut_off = hydrant_with(&["run", path_str(&paged)], &env);
        assert_eq!(cut_off.code, 1, "{method}: {}", cut_off.stderr);
        let state = dir.read("paged.state");
        assert!(state.contains("/fail?echo="), "{method}: {state}");
        assert_eq!(explain.code, 0, "{method}: {}", explain.stderr);
        assert_eq!(check.code, 0, "{method}: {}", check.stderr);
        assert_eq!(run.code, 0, "{method}: {}", run.stderr);
        assert_eq!(failed.code, 1, "{method}: {}", failed.stderr);
        // The echoed request is quoted masked; signatures send no secret.
        let sends_secret = !method.contains("signature")
            && !method.contains("aliyun")
            && !method.contains("secret_access_key = \"${C}\"");
        assert_eq!(
            failed.stderr.contains("***"),
            sends_secret,
            "{method}: {}",
            failed.stderr
        );
        assert_eq!(dir.read("out.ndjson"), "{\"id\":1}\n");
        assert!(dir.read("dirty.ndjson").contains("not a number"));
        for (what, text) in [
            ("explain", explain.stdout + &explain.stderr),
            ("check", check.stdout + &check.stderr),
            ("run", run.stdout + &run.stderr),
            ("failed run", failed.stdout + &failed.stderr),
            ("output", dir.read("out.ndjson")),
            ("dirty", dir.read("dirty.ndjson")),
            ("summary", dir.read("summary.json")),
            ("cut-off run", cut_off.stdout + &cut_off.stderr),
            ("state", state),
            ("partial output", dir.read("paged.ndjson.partial")),
        ] {
            assert!(
                !text.contains(CANARY) && !text.contains(TOKEN),
                "{query}{method}: a secret leaked into {what}: {text}"
            );
        }
    }
    assert!(
        server
            .requests()
            .iter()
            .any(|s| s.header("authorization") == Some(&format!("Bearer {TOKEN}"))),
        "the oauth2 job used the token"
    );
}

/// Tokens that live one second, as the server counts it.
#[test]
fn queued_requests_take_their_token_after_waiting_for_their_turn() {
    let issued: Arc<Mutex<Vec<std::time::Instant>>> = Arc::default();
    let rejected = Arc::new(Mutex::new(0u32));
    let (tokens, refused) = (issued.clone(), rejected.clone());
    let server = TestServer::start_fn(move |seen: &Seen| {
        let mut tokens = tokens.lock().unwrap();
        if path_of(&seen.target) == "/token" {
            tokens.push(std::time::Instant::now());
            let body = format!(
                r#"{{"access_token":"tok-{}","expires_in":1}}"#,
                tokens.len() - 1
            );
            return json(200, body);
        }
        let fresh = seen
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer tok-"))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| tokens.get(n))
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1));
        if !fresh {
            *refused.lock().unwrap() += 1;
            return json(401, r#"{"error":"invalid_token"}"#);
        }
        let page: u32 = query_of(&seen.target)
            .iter()
            .find(|(n, _)| n == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        json(200, format!(r#"[{{"id":{page}}}]"#))
    });
    // Ten requests 300 ms apart, four queued at a time: a token taken
    // before the wait would be over a second old when it is sent.
    let job = format!(
        "interval = \"300ms\"\n[paginate]\ntype = \"range\"\nparam = \"page\"\nstart = 1\nend = 10\n[limits]\nconcurrency = 4\n[auth]\ntype = \"oauth2\"\ntoken_url = \"{}/token\"\nclient_id = \"app\"\nclient_secret = \"s3cret\"\n",
        server.url()
    );
    let (run, summary) = run_job(&server.url(), "/items", &job, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected: String = (1..=10).map(|p| format!("{{\"id\":{p}}}\n")).collect();
    assert_eq!(run.stdout, expected);
    assert_eq!(
        *rejected.lock().unwrap(),
        0,
        "requests went out with expired tokens"
    );
    assert_eq!(summary["retries"], 0, "{summary}");
}

#[test]
fn an_api_key_in_the_body_of_a_get_is_a_config_error() {
    let rest = "[auth]\ntype = \"api_key\"\nname = \"key\"\nvalue = \"k\"\nin = \"body\"\n";
    let (run, _) = run_job("http://127.0.0.1:9", "/x", rest, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "auth.in: `body` needs `request.method = \"POST\"`; a GET request has no body"
        ),
        "{}",
        run.stderr
    );
}

/// A server that answers `/items` with a page whose next link goes to
/// `other` (another origin: the same host on another port), keeping the
/// query it was sent, as some APIs echo it.
fn echoing_link_to(other: &TestServer) -> TestServer {
    let other = other.url();
    TestServer::start_fn(move |seen: &Seen| {
        let query = seen.target.split_once('?').map_or("", |(_, q)| q);
        json(
            200,
            format!(r#"{{"data":[{{"id":1}}],"next":"{other}/more?{query}"}}"#),
        )
    })
}

#[test]
fn credentials_written_into_headers_or_query_stay_on_the_job_origin() {
    let other = TestServer::start_fn(|_: &Seen| json(200, r#"{"data":[{"id":2}],"next":null}"#));
    let first = echoing_link_to(&other);
    let rest = "headers = { Authorization = \"Bearer abc123\", X-Trace = \"t1\", X-Tenant = \"${TENANT}\" }\nquery = { access_token = \"qwerty1\", page_size = 1 }\nallowed_hosts = [\"127.0.0.1\"]\n[paginate]\ntype = \"next_link\"\nfrom = \"$.next\"\n[records]\npath = \"data\"\n";
    let (run, _) = run_job(&first.url(), "/items", rest, &[("TENANT", "acme-9")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1}\n{\"id\":2}\n");
    let sent = &first.requests()[0];
    assert_eq!(sent.header("authorization"), Some("Bearer abc123"));
    assert!(
        sent.target.contains("access_token=qwerty1"),
        "{}",
        sent.target
    );
    let away = &other.requests()[0];
    assert_eq!(away.header("authorization"), None);
    assert_eq!(away.header("x-tenant"), None);
    assert_eq!(away.header("x-trace"), Some("t1"));
    assert!(!away.target.contains("qwerty1"), "{}", away.target);
    assert!(away.target.contains("page_size=1"), "{}", away.target);

    // explain masks them, even a value taken from a variable.
    let dir = Dir::new();
    let job = dir.write(
        "job.toml",
        &format!("[request]\nurl = \"{}/items\"\n{rest}", first.url()),
    );
    let shown = hydrant_with(&["explain", path_str(&job)], &[("TENANT", "acme-9")]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    for secret in ["abc123", "qwerty1", "acme-9"] {
        assert!(!shown.stdout.contains(secret), "{secret}: {}", shown.stdout);
    }
    assert!(
        shown.stdout.contains("authorization: ***"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("access_token=***"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("x-trace: t1"), "{}", shown.stdout);
}

#[test]
fn credentials_echoed_into_a_link_to_another_origin_are_stripped() {
    let other = TestServer::start_fn(|_: &Seen| json(200, r#"{"data":[{"id":2}],"next":null}"#));
    let first = echoing_link_to(&other);
    let follow = "allowed_hosts = [\"127.0.0.1\"]\n[paginate]\ntype = \"next_link\"\nfrom = \"$.next\"\n[records]\npath = \"data\"\n";
    let auths = [
        (
            "[auth]\ntype = \"api_key\"\nname = \"api_key\"\nvalue = \"k-secret-1\"\nin = \"query\"\n",
            vec!["api_key"],
        ),
        (
            "[auth]\ntype = \"signature\"\nalgorithm = \"HMAC_SHA256\"\nsecret = \"sig-secret\"\nname = \"sign\"\ntimestamp = { name = \"ts\" }\nnonce = { name = \"nonce\" }\n",
            vec!["sign", "ts", "nonce"],
        ),
        (
            "[auth]\ntype = \"aliyun\"\naccess_key_id = \"AKID-1\"\naccess_key_secret = \"aliyun-secret\"\n",
            vec!["AccessKeyId", "Signature", "SignatureNonce"],
        ),
    ];
    for (auth, names) in auths {
        let (run, _) = run_job(&first.url(), "/items", &format!("{follow}{auth}"), &[]);
        assert_eq!(run.code, 0, "{auth}: {}", run.stderr);
        let sent = first.requests().last().unwrap().target.clone();
        let away = other.requests().last().unwrap().target.clone();
        for name in names {
            assert!(sent.contains(&format!("{name}=")), "{sent}");
            assert!(
                !away.contains(&format!("{name}=")),
                "{name} left the origin: {away}"
            );
        }
    }
}

#[test]
fn a_secret_shorter_than_four_bytes_does_not_garble_messages() {
    let server = TestServer::start_fn(|_: &Seen| {
        json(
            400,
            r#"{"error":"invalid_client","detail":"this request is refused"}"#,
        )
    });
    let rest = format!(
        "[auth]\ntype = \"oauth2\"\ntoken_url = \"{}/token\"\nclient_id = \"app\"\nclient_secret = \"s\"\n",
        server.url()
    );
    let (run, _) = run_job(&server.url(), "/items", &rest, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("this request is refused"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("***"), "{}", run.stderr);
}

/// `https://user:password@host/` is not sent as Basic auth, so the job
/// is refused, and the message does not quote the password.
#[test]
fn a_password_in_the_url_is_refused_unquoted() {
    let server = TestServer::start(vec![Exchange::json("/x", "[]")]);
    let at = server.url().replacen("://", "://bob:hunter2@", 1);
    for (key, job) in [
        ("request.url", format!("[request]\nurl = \"{at}/x\"\n")),
        (
            "write.url",
            format!("[input]\nrecords = [{{ id = 1 }}]\n[write]\nurl = \"{at}/x\"\n"),
        ),
    ] {
        let dir = Dir::new();
        let file = dir.write("job.toml", &job);
        for command in ["run", "explain", "check"] {
            let run = hydrant(&[command, path_str(&file)]);
            assert_eq!(run.code, 2, "{command} {key}: {}", run.stderr);
            assert!(
                run.stderr.contains(&format!(
                    "{key}: a user name or password in the URL is neither sent nor kept secret; \
                     give them as [auth] type = \"basic\""
                )),
                "{command}: {}",
                run.stderr
            );
            assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
        }
    }
    assert!(server.requests().is_empty());
}
