//! `hydrant init`: a job written from an API's first page must fetch
//! every record of that API.

use std::path::{Path, PathBuf};

use hydrant_bench::Exchange;

use crate::util::{self, Dir, TestServer, hydrant, hydrant_with, ids, lines, path_str};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first URL of a cookbook style: the host of its example job and
/// the target of the first exchange of its fixture set.
fn first_url(name: &str) -> String {
    let job: toml::Value = toml::from_str(
        &std::fs::read_to_string(root().join(format!("examples/paginate/{name}.toml"))).unwrap(),
    )
    .unwrap();
    let url = url::Url::parse(job["request"]["url"].as_str().unwrap()).unwrap();
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(format!("fixtures/examples/{name}/exchanges.json")))
            .unwrap(),
    )
    .unwrap();
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap(),
        index[0]["target"].as_str().unwrap()
    )
}

/// The job `hydrant init URL` writes to `job`, once it exits 0.
fn init_job(url: &str, job: &Path) -> String {
    init_job_with(url, &[], job)
}

/// [`init_job`] with more arguments to init.
fn init_job_with(url: &str, args: &[&str], job: &Path) -> String {
    let init = hydrant(&[&["init", url], args, &["--out", path_str(job)]].concat());
    assert_eq!(init.code, 0, "{}", init.stderr);
    std::fs::read_to_string(job).unwrap()
}

/// The number a request's `target` sends as query parameter `key`.
fn query_number(target: &str, key: &str) -> Option<u32> {
    util::query_param(target, key)?.parse::<u32>().ok()
}

/// Writes the job of `url` with init into `dir` as `name`, runs it, and
/// checks that it exits 0, writes `expected` and says nothing. Gives the
/// job, parsed, for its guesses to be checked.
fn init_and_run(dir: &Dir, name: &str, url: &str, expected: &str) -> toml::Value {
    init_and_run_with(dir, name, (url, &[]), expected).0
}

/// [`init_and_run`] with more arguments to init; gives the run's summary
/// too.
fn init_and_run_with(
    dir: &Dir,
    name: &str,
    (url, args): (&str, &[&str]),
    expected: &str,
) -> (toml::Value, serde_json::Value) {
    let job = dir.path(&format!("{name}.toml"));
    let text = init_job_with(url, args, &job);
    let summary = dir.path("summary.json");
    let run = hydrant(&["run", path_str(&job), "--summary-json", path_str(&summary)]);
    assert_eq!(run.code, 0, "{}\n{text}", run.stderr);
    assert_eq!(run.stdout, expected, "{text}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(summary["warnings"], serde_json::json!([]), "{text}");
    (toml::from_str(&text).unwrap(), summary)
}

#[test]
fn a_job_written_by_init_fetches_every_record_of_each_cookbook_style() {
    let dir = Dir::new();
    for (name, paginate) in [
        ("github", "link_header"),
        ("stripe", "cursor"),
        ("graph", "next_link"),
        ("odata", "offset"),
        ("salesforce", "next_link"),
        ("jira", "offset"),
        ("servicenow", "offset"),
        ("slack", "cursor"),
        ("notion", "cursor"),
        ("hubspot", "cursor"),
        ("page", "page"),
    ] {
        let fixtures = root().join("fixtures/examples").join(name);
        let job = dir.path(&format!("{name}.toml"));
        let url = first_url(name);
        let init = hydrant(&[
            "init",
            &url,
            "--replay",
            path_str(&fixtures),
            "--out",
            path_str(&job),
        ]);
        assert_eq!(init.code, 0, "{name}: {}", init.stderr);
        let text = std::fs::read_to_string(&job).unwrap();
        let parsed: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(
            parsed["paginate"]["type"].as_str(),
            Some(paginate),
            "{name}:\n{text}"
        );
        assert!(text.contains("[[columns]]"), "{name}:\n{text}");
        let run = hydrant(&["run", path_str(&job), "--replay", path_str(&fixtures)]);
        assert_eq!(run.code, 0, "{name}: {}\n{text}", run.stderr);
        let expected = std::fs::read_to_string(fixtures.join("expected.ndjson")).unwrap();
        assert_eq!(run.stdout, expected, "{name}:\n{text}");
    }
}

/// json-server's shapes: 1.0's pages name the next page's number
/// (`"next": 2` for `_page=1`) and answer a page past the last with the
/// last again; 0.17's take offsets as `_start` and `_limit`. The jobs init
/// writes read every record, and say nothing.
#[test]
fn a_job_written_by_init_pages_json_servers_shapes() {
    let server = TestServer::start_fn(|seen| {
        let number = |key: &str| query_number(&seen.target, key);
        let records = |range: std::ops::Range<u32>| {
            let items: Vec<String> = range.map(|i| format!("{{\"id\":{i}}}")).collect();
            format!("[{}]", items.join(","))
        };
        if let Some(page) = number("_page") {
            // Seven records, pages of `_per_page`.
            let size = number("_per_page").unwrap();
            let last = 7u32.div_ceil(size);
            let page = page.min(last);
            let next = if page < last {
                (page + 1).to_string()
            } else {
                "null".to_owned()
            };
            let body = format!(
                "{{\"first\":1,\"prev\":null,\"next\":{next},\"last\":{last},\"pages\":{last},\
                 \"items\":7,\"data\":{}}}",
                records((page - 1) * size..(page * size).min(7))
            );
            return Exchange::json(&seen.target, body);
        }
        let start = number("_start").unwrap();
        let end = (start + number("_limit").unwrap()).min(7);
        Exchange::json(&seen.target, records(start.min(end)..end))
    });
    let dir = Dir::new();
    for (n, (first, paginate)) in [
        ("/posts?_page=1&_per_page=2", "cursor"),
        // A size of 1 is not taken for the page.
        ("/posts?_per_page=1&_page=1", "cursor"),
        ("/posts?_start=0&_limit=3", "offset"),
    ]
    .into_iter()
    .enumerate()
    {
        let url = format!("{}{first}", server.url());
        let job = init_and_run(&dir, &n.to_string(), &url, &lines(0..7));
        assert_eq!(job["paginate"]["type"].as_str(), Some(paginate), "{job}");
    }
}

/// Feathers and DummyJSON echo their offsets in the body (`{"total",
/// "skip", "limit", "data"}`) and read them as `$skip` and `$limit`
/// (Feathers, which takes any other parameter for a filter of the
/// records) or `skip` and `limit` (DummyJSON). From a first URL with no
/// query, init tries each spelling on the second page and keeps the one
/// whose answer echoes it; from one with `$limit` and `$skip`, it reads
/// them, echoed or not. The jobs read every record, and say nothing.
#[test]
fn a_job_written_by_init_pages_offsets_its_body_echoes() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let number = |key: &str| query_number(&seen.target, key);
        let (skip, limit, filtered) = match url.path() {
            // Another parameter is a filter: no record holds a `skip`.
            "/feathers" | "/plain" => (
                number("$skip").unwrap_or(0),
                number("$limit").unwrap_or(3),
                url.query_pairs().any(|(k, _)| !k.starts_with('$')),
            ),
            _ => (
                number("skip").unwrap_or(0),
                number("limit").unwrap_or(3),
                false,
            ),
        };
        let (total, end) = if filtered {
            (0, 0)
        } else {
            (8, (skip + limit).min(8))
        };
        let items: Vec<String> = (skip.min(end)..end)
            .map(|i| format!("{{\"id\":{i}}}"))
            .collect();
        let body = match url.path() {
            // Offsets in the URL alone, none in the body.
            "/plain" => format!("{{\"data\":[{}]}}", items.join(",")),
            _ => format!(
                "{{\"total\":{total},\"skip\":{},\"limit\":{limit},\"data\":[{}]}}",
                if filtered { 0 } else { skip },
                items.join(",")
            ),
        };
        Exchange::json(&seen.target, body)
    });
    let dir = Dir::new();
    for (n, (first, param, limit)) in [
        ("/feathers", "$skip", 3),
        ("/dummy", "skip", 3),
        // A size in the URL is sent once in the probe, as in the job.
        ("/dummy?limit=5", "skip", 5),
        ("/plain?$limit=3&$skip=0", "$skip", 3),
    ]
    .into_iter()
    .enumerate()
    {
        let url = format!("{}{first}", server.url());
        let job = init_and_run(&dir, &n.to_string(), &url, &lines(0..8));
        assert_eq!(job["paginate"]["type"].as_str(), Some("offset"), "{job}");
        assert_eq!(job["paginate"]["param"].as_str(), Some(param), "{job}");
        assert_eq!(job["paginate"]["limit"].as_integer(), Some(limit), "{job}");
        assert!(job["request"].get("query").is_none(), "{job}");
    }
}

/// FastAPI's and Flask's pages echo their number and size (`{"items",
/// "total", "page", "size", "pages"}`, `meta.page` and `meta.per_page`),
/// Spring's from zero (`{"content", "number", "size"}`), Strapi's in
/// `meta.pagination` (read as `pagination[page]`), and none of them has a
/// next link. From a first URL with no page in it, init asks for
/// the second page and keeps page numbers where the answer echoes the
/// number sent. The jobs read every record, and say nothing. An API that
/// reads its page from another parameter answers page 1 again: no guess.
#[test]
fn a_job_written_by_init_pages_numbers_its_body_echoes() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let number = |key: &str| query_number(&seen.target, key);
        let (first, page_param, size_param) = match url.path() {
            "/flask" => (1, "page", "per_page"),
            "/spring" => (0, "page", "size"),
            "/strapi" => (1, "pagination[page]", "pagination[pageSize]"),
            "/litestar" => (1, "current_page", "page_size"),
            _ => (1, "page", "size"),
        };
        let page = match url.path() {
            "/deaf" => 1,
            _ => number(page_param).unwrap_or(first),
        };
        let size = number(size_param).unwrap_or(3);
        let skip = (page - first) * size;
        let items: Vec<String> = (skip.min(8)..(skip + size).min(8))
            .map(|i| format!("{{\"id\":{i}}}"))
            .collect();
        let items = items.join(",");
        let body = match url.path() {
            "/flask" => format!(
                "{{\"data\":[{items}],\"meta\":{{\"page\":{page},\"per_page\":{size},\"total\":8}}}}"
            ),
            "/spring" => format!(
                "{{\"content\":[{items}],\"number\":{page},\"size\":{size},\"totalElements\":8}}"
            ),
            "/strapi" => format!(
                "{{\"data\":[{items}],\"meta\":{{\"pagination\":{{\"page\":{page},\"pageSize\":{size},\
                 \"pageCount\":{},\"total\":8}}}}}}",
                8u32.div_ceil(size)
            ),
            "/litestar" => format!(
                "{{\"items\":[{items}],\"page_size\":{size},\"current_page\":{page},\
                 \"total_pages\":{}}}",
                8u32.div_ceil(size)
            ),
            // The page's own cursor echoed beside its number.
            "/echoing" => format!(
                "{{\"items\":[{items}],\"cursor\":\"c{page}\",\"page\":{page},\"size\":{size}}}"
            ),
            _ => format!(
                "{{\"items\":[{items}],\"total\":8,\"page\":{page},\"size\":{size},\"pages\":{}}}",
                8u32.div_ceil(size)
            ),
        };
        Exchange::json(&seen.target, body)
    });
    let dir = Dir::new();
    for (n, (first, page, param, start, size)) in [
        ("/fastapi", "page", "size", None, 3),
        ("/fastapi?size=5", "page", "size", None, 5),
        ("/flask", "page", "per_page", None, 3),
        ("/spring", "page", "size", Some(0), 3),
        ("/echoing", "page", "size", None, 3),
        ("/litestar", "current_page", "page_size", None, 3),
        (
            "/strapi",
            "pagination[page]",
            "pagination[pageSize]",
            None,
            3,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let url = format!("{}{first}", server.url());
        let job = init_and_run(&dir, &n.to_string(), &url, &lines(0..8));
        let paginate = &job["paginate"];
        assert_eq!(paginate["type"].as_str(), Some("page"), "{job}");
        assert_eq!(paginate["param"].as_str(), Some(page), "{job}");
        assert_eq!(paginate["size_param"].as_str(), Some(param), "{job}");
        assert_eq!(paginate["size"].as_integer(), Some(size), "{job}");
        assert_eq!(
            paginate.get("start").and_then(toml::Value::as_integer),
            start
        );
        assert!(job["request"].get("query").is_none(), "{job}");
    }
    let text = init_job(&format!("{}/deaf", server.url()), &dir.path("deaf.toml"));
    assert!(!text.contains("[paginate]"), "{text}");
}

/// flask-smorest and ASP.NET APIs give their paging in an `X-Pagination`
/// header's JSON object, and the records as the body's array:
/// flask-smorest's `page` without the size (`page_size` is not echoed),
/// ASP.NET's `CurrentPage` beside `PageSize`, read from `pageNumber` and
/// `pageSize`. init asks for the second page and keeps page numbers where
/// the header echoes the number sent. The jobs read every record, and
/// say nothing. A header that answers page 1 again: no guess.
#[test]
fn a_job_written_by_init_pages_numbers_its_pagination_header_echoes() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let dotnet = url.path() == "/dotnet";
        let (page_param, size_param) = match dotnet {
            true => ("pageNumber", "pageSize"),
            false => ("page", "page_size"),
        };
        let page = match url.path() {
            "/deaf" => 1,
            _ => query_number(&seen.target, page_param).unwrap_or(1),
        };
        let size = query_number(&seen.target, size_param).unwrap_or(3);
        let skip = (page - 1) * size;
        let items: Vec<String> = (skip.min(8)..(skip + size).min(8))
            .map(|i| format!("{{\"id\":{i}}}"))
            .collect();
        let pages = 8u32.div_ceil(size);
        let header = match dotnet {
            true => format!(
                "{{\"TotalCount\":8,\"PageSize\":{size},\"CurrentPage\":{page},\
                 \"TotalPages\":{pages},\"HasNext\":{},\"HasPrevious\":{}}}",
                page < pages,
                page > 1
            ),
            // flask-smorest names no page past the last.
            false if page > pages => {
                format!(
                    "{{\"total\":8,\"total_pages\":{pages},\"first_page\":1,\"last_page\":{pages}}}"
                )
            }
            false => format!(
                "{{\"total\":8,\"total_pages\":{pages},\"first_page\":1,\
                 \"last_page\":{pages},\"page\":{page}}}"
            ),
        };
        let mut exchange = Exchange::json(&seen.target, format!("[{}]", items.join(",")));
        (exchange.headers).push(("x-pagination".to_owned(), header));
        exchange
    });
    let dir = Dir::new();
    for (path, param, size) in [
        ("/smorest", "page", None),
        ("/dotnet", "pageNumber", Some(("pageSize", 3))),
    ] {
        let url = format!("{}{path}", server.url());
        let job = init_and_run(&dir, &path[1..], &url, &lines(0..8));
        let paginate = &job["paginate"];
        assert_eq!(paginate["type"].as_str(), Some("page"), "{job}");
        assert_eq!(paginate["param"].as_str(), Some(param), "{job}");
        let size_param = paginate.get("size_param").and_then(toml::Value::as_str);
        let size_of = paginate.get("size").and_then(toml::Value::as_integer);
        assert_eq!(size_param.zip(size_of), size, "{job}");
    }
    let text = init_job(&format!("{}/deaf", server.url()), &dir.path("deaf.toml"));
    assert!(!text.contains("[paginate]"), "{text}");
}

/// django-ninja counts its records beside them and echoes neither offset
/// nor page (`{"items", "count"}`): its limit-offset pagination reads
/// `offset` and `limit`, its page-number pagination `page` at a size of
/// its own. Elasticsearch counts its `hits` in `hits.total` and reads
/// `from` and `size`. Where pages count from 0, page 1 is the second.
/// Directus counts nothing, but its first page holds a page size (20);
/// so does Sails (30), which reads `skip` and `limit`. init asks for the second page each way and keeps the one
/// whose answer holds records the first did not; so for a body that is
/// the records, counted in `X-Total-Count`. The jobs read every record,
/// and say nothing. An API that reads neither answers the first page
/// again: no guess.
#[test]
fn a_job_written_by_init_pages_a_count_it_was_not_told_how_to_page() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let number = |key: &str| query_number(&seen.target, key);
        let (skip, size) = match url.path() {
            "/limit-offset" => (number("offset").unwrap_or(0), number("limit").unwrap_or(3)),
            "/elastic" => (number("from").unwrap_or(0), number("size").unwrap_or(3)),
            "/deaf" => (0, 3),
            "/from-zero" => (number("page").unwrap_or(0) * 3, 3),
            _ => ((number("page").unwrap_or(1) - 1) * 3, 3),
        };
        let items: Vec<String> = (skip.min(8)..(skip + size).min(8))
            .map(|i| format!("{{\"id\":{i}}}"))
            .collect();
        let items = items.join(",");
        // Directus: 20 records a page here, no count, no next.
        if url.path() == "/directus" {
            let (skip, limit) = (number("offset").unwrap_or(0), number("limit").unwrap_or(20));
            let rows: Vec<String> = (skip.min(45)..(skip + limit).min(45))
                .map(|i| format!("{{\"id\":{i}}}"))
                .collect();
            return Exchange::json(&seen.target, format!("{{\"data\":[{}]}}", rows.join(",")));
        }
        // Sails: 30 records a page, no count; `skip` and `limit` read,
        // and any other parameter a filter that matches nothing.
        if url.path() == "/sails" {
            let filtered = url.query_pairs().any(|(k, _)| k != "skip" && k != "limit");
            let (skip, limit) = (number("skip").unwrap_or(0), number("limit").unwrap_or(30));
            let rows: Vec<String> = (skip.min(75)..(skip + limit).min(75))
                .filter(|_| !filtered)
                .map(|i| format!("{{\"id\":{i}}}"))
                .collect();
            return Exchange::json(&seen.target, format!("[{}]", rows.join(",")));
        }
        if url.path() == "/array" {
            let mut exchange = Exchange::json(&seen.target, format!("[{items}]"));
            (exchange.headers).push(("x-total-count".to_owned(), "8".to_owned()));
            return exchange;
        }
        if url.path() == "/elastic" {
            let total = "{\"value\":8,\"relation\":\"eq\"}";
            let body = format!("{{\"hits\":{{\"total\":{total},\"hits\":[{items}]}}}}");
            return Exchange::json(&seen.target, body);
        }
        Exchange::json(&seen.target, format!("{{\"items\":[{items}],\"count\":8}}"))
    });
    let dir = Dir::new();
    for (path, kind, param, limit_param) in [
        ("/limit-offset", "offset", "offset", Some("limit")),
        ("/elastic", "offset", "from", Some("size")),
        ("/page-number", "page", "page", None),
        ("/from-zero", "page", "page", None),
        ("/array", "page", "page", None),
    ] {
        let url = format!("{}{path}", server.url());
        let job = init_and_run(&dir, &path[1..], &url, &lines(0..8));
        let paginate = &job["paginate"];
        assert_eq!(paginate["type"].as_str(), Some(kind), "{job}");
        assert_eq!(paginate["param"].as_str(), Some(param), "{job}");
        let start = paginate.get("start").and_then(toml::Value::as_integer);
        assert_eq!(start, (path == "/from-zero").then_some(0), "{job}");
        let limit = paginate.get("limit_param").and_then(toml::Value::as_str);
        assert_eq!(limit, limit_param, "{job}");
        if limit.is_some() {
            assert_eq!(paginate["limit"].as_integer(), Some(3), "{job}");
        }
    }
    let url = format!("{}/directus", server.url());
    let job = init_and_run(&dir, "directus", &url, &lines(0..45));
    assert_eq!(job["paginate"]["type"].as_str(), Some("offset"), "{job}");
    assert_eq!(job["paginate"]["limit"].as_integer(), Some(20), "{job}");
    let url = format!("{}/sails", server.url());
    let job = init_and_run(&dir, "sails", &url, &lines(0..75));
    assert_eq!(job["paginate"]["param"].as_str(), Some("skip"), "{job}");
    assert_eq!(job["paginate"]["limit"].as_integer(), Some(30), "{job}");
    let text = init_job(&format!("{}/deaf", server.url()), &dir.path("deaf.toml"));
    assert!(!text.contains("[paginate]"), "{text}");
}

/// Kinto names its next page's URL in a `Next-Page` header, Azure
/// DevOps its token in `x-ms-continuationtoken` (taken back as the
/// `continuationToken` parameter), Cosmos DB its token in
/// `x-ms-continuation` (taken back in the same header); none names one
/// in the body, and the last page names none. The jobs init writes read
/// every record and say nothing.
#[test]
fn a_job_written_by_init_follows_the_next_page_a_header_names() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let token = match url.path() {
            "/kinto" => query_number(&seen.target, "_token"),
            "/devops" => query_number(&seen.target, "continuationToken"),
            _ => seen
                .header("x-ms-continuation")
                .and_then(|t| t.parse().ok()),
        };
        let skip = token.unwrap_or(0);
        let items: Vec<String> = (skip..(skip + 3).min(8))
            .map(|i| format!("{{\"id\":{i}}}"))
            .collect();
        let items = items.join(",");
        let body = match url.path() {
            "/kinto" => format!("{{\"data\":[{items}]}}"),
            "/devops" => format!("{{\"count\":3,\"value\":[{items}]}}"),
            _ => format!("{{\"_rid\":\"x\",\"Documents\":[{items}],\"_count\":3}}"),
        };
        let mut exchange = Exchange::json(&seen.target, body);
        if skip + 3 < 8 {
            let next = skip + 3;
            let header = match url.path() {
                "/kinto" => (
                    "next-page",
                    format!(
                        "http://{}/kinto?_token={next}",
                        seen.header("host").unwrap()
                    ),
                ),
                "/devops" => ("x-ms-continuationtoken", next.to_string()),
                _ => ("x-ms-continuation", next.to_string()),
            };
            exchange.headers.push((header.0.to_owned(), header.1));
        }
        exchange
    });
    let dir = Dir::new();
    let cases = [
        ("/kinto", "next_link", None),
        ("/devops", "cursor", Some(("continuationToken", "query"))),
        ("/cosmos", "cursor", Some(("x-ms-continuation", "header"))),
    ];
    for (path, kind, param) in cases {
        let url = format!("{}{path}", server.url());
        let job = init_and_run(&dir, &path[1..], &url, &lines(0..8));
        let paginate = &job["paginate"];
        assert_eq!(paginate["type"].as_str(), Some(kind), "{job}");
        let header = paginate["header"].as_str().unwrap();
        let own = |key: &str| paginate.get(key).and_then(toml::Value::as_str);
        assert_eq!(own("param").zip(own("in")), param, "{job}");
        let named = match path {
            "/kinto" => "Next-Page",
            "/devops" => "x-ms-continuationtoken",
            _ => "x-ms-continuation",
        };
        assert_eq!(header, named, "{job}");
    }
}

/// django-rest-framework-json-api serves `application/vnd.api+json`
/// alone and answers 406 to the `Accept: application/json` a run sends.
/// init asks again accepting any type, and its job asks for the type
/// served: it reads every record and says nothing. An API that refuses
/// every type fails init with its 406.
#[test]
fn a_job_written_by_init_asks_for_the_type_a_json_api_serves() {
    let server = TestServer::start_fn(|seen| {
        let accept = seen.header("accept").unwrap_or_default();
        let served = accept == "*/*" || accept == "application/vnd.api+json";
        if seen.target.starts_with("/deaf") || !served {
            let mut refused = Exchange::json(&seen.target, "{\"errors\":[{\"status\":\"406\"}]}");
            refused.status = 406;
            return refused;
        }
        let page = query_number(&seen.target, "page[number]").unwrap_or(1);
        let skip = (page - 1) * 3;
        let items: Vec<String> = (skip..(skip + 3).min(8))
            .map(|i| format!("{{\"type\":\"item\",\"id\":{i}}}"))
            .collect();
        let next = match skip + 3 < 8 {
            true => format!(
                "\"http://{}/jsonapi?page%5Bnumber%5D={}\"",
                seen.header("host").unwrap(),
                page + 1
            ),
            false => "null".to_owned(),
        };
        let body = format!(
            "{{\"links\":{{\"next\":{next}}},\"data\":[{}]}}",
            items.join(",")
        );
        let mut exchange = Exchange::json(&seen.target, body);
        exchange.headers = vec![(
            "content-type".to_owned(),
            "application/vnd.api+json; charset=utf-8".to_owned(),
        )];
        exchange
    });
    let dir = Dir::new();
    let url = format!("{}/jsonapi", server.url());
    let expected: String = (0..8)
        .map(|i| format!("{{\"type\":\"item\",\"id\":{i}}}\n"))
        .collect();
    let job = init_and_run(&dir, "jsonapi", &url, &expected);
    let accept = job["request"]["headers"]["Accept"].as_str();
    assert_eq!(accept, Some("application/vnd.api+json"), "{job}");
    assert_eq!(
        job["paginate"]["from"].as_str(),
        Some("links.next"),
        "{job}"
    );
    // An API that refuses every type, and a type asked for with -H, are
    // not asked for again.
    let deaf = format!("{}/deaf", server.url());
    let out = path_str(&dir.path("deaf.toml")).to_owned();
    let asked = ["-H", "Accept: application/json"];
    for (url, args) in [(&deaf, &[][..]), (&url, &asked[..])] {
        let init = hydrant_with(&[&["init", url, "--out", &out], args].concat(), &[]);
        assert_eq!(init.code, 1, "{}", init.stderr);
        let refused = format!("GET {url} answered 406 Not Acceptable");
        assert!(init.stderr.contains(&refused), "{}", init.stderr);
    }
}

/// Solr (and CKAN, which it answers) counts its results in
/// `response.numFound` and reads `start` and `rows`; asked with
/// `cursorMark=*`, it names the next page's `nextCursorMark`, and ends
/// with an empty page that names the mark it was asked with. The jobs
/// init writes read every record and say nothing: the cursor's stops
/// where the mark named is the mark sent, not at a loop.
#[test]
fn a_job_written_by_init_pages_solr_by_start_and_by_cursor_mark() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let rows = query_number(&seen.target, "rows").unwrap_or(3);
        let mark = url.query_pairs().find(|(k, _)| k == "cursorMark");
        let mark = mark.map(|(_, v)| v.into_owned());
        let start = match &mark {
            Some(mark) => mark.strip_prefix("Ao").map_or(0, |n| n.parse().unwrap()),
            None => query_number(&seen.target, "start").unwrap_or(0),
        };
        let docs: Vec<String> = (start.min(8)..(start + rows).min(8))
            .map(|i| format!("{{\"id\":{i}}}"))
            .collect();
        let next = match (&mark, docs.is_empty()) {
            (Some(mark), true) => format!(",\"nextCursorMark\":\"{mark}\""),
            (Some(_), false) => format!(",\"nextCursorMark\":\"Ao{}\"", start + rows),
            (None, _) => String::new(),
        };
        let body = format!(
            "{{\"responseHeader\":{{\"status\":0}},\"response\":{{\"numFound\":8,\
             \"start\":{start},\"numFoundExact\":true,\"docs\":[{}]}}{next}}}",
            docs.join(",")
        );
        Exchange::json(&seen.target, body)
    });
    let dir = Dir::new();
    let url = format!("{}/solr/core/select?q=*:*", server.url());
    let job = init_and_run(&dir, "start", &url, &lines(0..8));
    let paginate = &job["paginate"];
    assert_eq!(paginate["type"].as_str(), Some("offset"), "{job}");
    assert_eq!(paginate["param"].as_str(), Some("start"), "{job}");
    assert_eq!(paginate["limit_param"].as_str(), Some("rows"), "{job}");
    let url = format!("{url}&sort=id+asc&cursorMark=*");
    let job = init_and_run(&dir, "mark", &url, &lines(0..8));
    let paginate = &job["paginate"];
    assert_eq!(paginate["type"].as_str(), Some("cursor"), "{job}");
    assert_eq!(paginate["from"].as_str(), Some("nextCursorMark"), "{job}");
    assert_eq!(paginate["param"].as_str(), Some("cursorMark"), "{job}");
    assert_eq!(paginate["initial"].as_str(), Some("*"), "{job}");
    // Its end is the empty page that names the mark it was asked with.
    assert!(paginate.get("stop").is_none(), "{job}");
    let summary: serde_json::Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    assert_eq!(summary["stopped"], "no_next");
}

/// Flask's jsonify and pandas-backed APIs send a float NaN or infinity
/// as `NaN` or `Infinity`, which are not JSON: init asks again reading
/// them as null and writes `non_finite = "null"`, with records at a path
/// and as the body itself. Its jobs read every record, the values null.
#[test]
fn a_job_written_by_init_reads_nan_as_null() {
    let server = TestServer::start(vec![
        Exchange::json(
            "/flask",
            r#"{"data": [{"id": 0, "x": NaN}, {"id": 1, "x": 1.5}]}"#,
        ),
        Exchange::json(
            "/bare",
            r#"[{"id": 0, "x": -Infinity}, {"id": 1, "x": 2.5}]"#,
        ),
    ]);
    let dir = Dir::new();
    for (target, last) in [("/flask", "1.5"), ("/bare", "2.5")] {
        let url = format!("{}{target}", server.url());
        let expected = format!("{{\"id\":0,\"x\":null}}\n{{\"id\":1,\"x\":{last}}}\n");
        let job = init_and_run(&dir, &target[1..], &url, &expected);
        assert_eq!(job["records"]["non_finite"].as_str(), Some("null"), "{job}");
    }
}

/// CouchDB's `_changes` feed, asked with a `limit`: `results`, the
/// `last_seq` to ask `since`, and (CouchDB, not PouchDB) the changes
/// still `pending`. Its last page is empty and names the sequence it was
/// asked with. The job init writes reads every change and says nothing.
#[test]
fn a_job_written_by_init_pages_couchdb_changes_since_the_last_seq() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let limit = query_number(&seen.target, "limit").unwrap_or(8);
        let since = url.query_pairs().find(|(k, _)| k == "since");
        let since = since.map_or(0, |(_, seq)| {
            seq.split('-').next().unwrap().parse().unwrap()
        });
        let last = (since + limit).min(8);
        let results: Vec<String> = (since..last).map(|i| format!("{{\"id\":{i}}}")).collect();
        let body = format!(
            "{{\"results\":[{}],\"last_seq\":\"{last}-g1AAAAFTeJzLYWBg\",\"pending\":{}}}",
            results.join(","),
            8 - last
        );
        Exchange::json(&seen.target, body)
    });
    let dir = Dir::new();
    let url = format!("{}/db/_changes?limit=3", server.url());
    let job = init_and_run(&dir, "changes", &url, &lines(0..8));
    let paginate = &job["paginate"];
    assert_eq!(paginate["type"].as_str(), Some("cursor"), "{job}");
    assert_eq!(paginate["from"].as_str(), Some("last_seq"), "{job}");
    assert_eq!(paginate["param"].as_str(), Some("since"), "{job}");
    let summary: serde_json::Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    assert_eq!(summary["stopped"], "no_next");
    assert_eq!(summary["warnings"], serde_json::json!([]));
}

/// MediaWiki's `continue`, an object of the parameters of the next
/// request (`apcontinue` and `continue`), and Kubernetes'
/// `metadata.continue`, a token sent back as `continue`. The jobs init
/// writes read every record and say nothing; a job without `[paginate]`
/// on MediaWiki is told how to page it.
#[test]
fn a_job_written_by_init_sends_back_mediawikis_continue_and_kubernetes_token() {
    let server = TestServer::start_fn(|seen| {
        let param = |name: &str| util::query_param(&seen.target, name);
        if seen.target.starts_with("/w/api.php") {
            // Titles `T0` … `T7`, three an answer; `continue` must come back.
            let from = match (param("apcontinue"), param("continue").as_deref()) {
                (None, None) => 0,
                (Some(title), Some("-||")) => title[1..].parse().unwrap(),
                _ => return util::json(400, r#"{"error":{"code":"badcontinue"}}"#),
            };
            let pages = ids(from..(from + 3).min(8));
            let more = match from + 3 < 8 {
                true => format!(
                    ",\"continue\":{{\"apcontinue\":\"T{}\",\"continue\":\"-||\"}}",
                    from + 3
                ),
                false => String::new(),
            };
            let body =
                format!("{{\"batchcomplete\":\"\"{more},\"query\":{{\"allpages\":{pages}}}}}");
            return Exchange::json(&seen.target, body);
        }
        let from = param("continue").map_or(0, |token| token[3..].parse().unwrap());
        let items = ids(from..(from + 3).min(8));
        let token = match from + 3 < 8 {
            true => format!(",\"continue\":\"eyJ{}\"", from + 3),
            false => String::new(),
        };
        let body = format!(
            "{{\"kind\":\"PodList\",\"metadata\":{{\"resourceVersion\":\"7\"{token}}},\"items\":{items}}}"
        );
        Exchange::json(&seen.target, body)
    });
    let dir = Dir::new();
    let url = format!(
        "{}/w/api.php?action=query&list=allpages&aplimit=3&format=json",
        server.url()
    );
    let job = init_and_run(&dir, "mediawiki", &url, &lines(0..8));
    let paginate = &job["paginate"];
    assert_eq!(paginate["type"].as_str(), Some("cursor"), "{job}");
    assert_eq!(paginate["from"].as_str(), Some("continue"), "{job}");
    assert_eq!(paginate.get("param"), None, "{job}");
    let url = format!("{}/api/v1/pods?limit=3", server.url());
    let job = init_and_run(&dir, "kubernetes", &url, &lines(0..8));
    let paginate = &job["paginate"];
    assert_eq!(
        paginate["from"].as_str(),
        Some("metadata.continue"),
        "{job}"
    );
    assert_eq!(paginate["param"].as_str(), Some("continue"), "{job}");
    let unpaged = dir.write(
        "unpaged.toml",
        &format!(
            "[request]\nurl = \"{}/w/api.php\"\n[records]\npath = \"query.allpages\"\n",
            server.url()
        ),
    );
    let run = hydrant(&["run", path_str(&unpaged)]);
    assert_eq!(run.stdout, lines(0..3));
    assert!(
        run.stderr.contains(
            "names the next page's parameters in `continue`, but the job has no [paginate], so \
             no page after it is read: set [paginate] to `type = \"cursor\"`, `from = \
             \"continue\"` and no `param`, so that each of its members is sent"
        ),
        "{}",
        run.stderr
    );
}

/// Records keyed by their ids, the members of an object: MediaWiki's
/// `query.pages` (`{"3": {"pageid": 3, …}}`, its default format). init
/// wrote the page as one record whose columns named the first page's ids
/// (`query_pages_3_pageid`), null on every page after it. Its records are
/// the object's members now, as are those of an object keyed by numbers.
/// Two objects of one shape that are no ids (`billing`, `shipping`) stay
/// one record's members.
#[test]
fn a_job_written_by_init_reads_records_keyed_by_their_ids() {
    let server = TestServer::start_fn(|seen| {
        let from = util::query_param(&seen.target, "gapcontinue").map_or(0, |g| g.parse().unwrap());
        let body = match seen.target.split('?').next().unwrap() {
            "/w/api.php" => {
                let pages: Vec<String> = (from..(from + 3).min(8))
                    .map(|i| format!("\"{}\":{{\"pageid\":{},\"id\":{i}}}", i + 100, i + 100))
                    .collect();
                let more = match from + 3 < 8 {
                    true => format!(
                        ",\"continue\":{{\"gapcontinue\":\"{}\",\"continue\":\"gapcontinue||\"}}",
                        from + 3
                    ),
                    false => String::new(),
                };
                format!(
                    "{{\"batchcomplete\":\"\"{more},\"query\":{{\"pages\":{{{}}}}}}}",
                    pages.join(",")
                )
            }
            "/rates" => r#"{"data":{"7":{"id":0},"9":{"id":1}}}"#.to_owned(),
            "/users" => r#"{"users":{"ada":{"login":"ada","id":0},"bob":{"login":"bob","id":1}}}"#
                .to_owned(),
            // Firebase's Realtime Database: a list keyed by push ids,
            // which the records do not hold.
            "/firebase" => r#"{"-NxAbCdEfGhIjKlMnOpQ":{"name":"a","n":0},"-NxAbCdEfGhIjKlMnOpR":{"name":"b","n":1}}"#
                .to_owned(),
            // netdata's `allmetrics`: the body itself keyed by chart
            // names, each chart's dimensions keyed by theirs.
            "/allmetrics" => r#"{"cpu.a":{"name":"cpu.a","id":0,"dims":{"u":{"name":"u"},"s":{"name":"s"},"w":{"name":"w"}}},"cpu.b":{"name":"cpu.b","id":1,"dims":{"u":{"name":"u"}}}}"#
                .to_owned(),
            // A record's own list, longer than the records.
            "/links" => r#"{"query":{"pages":{"1":{"pageid":1,"links":[{"t":"a"},{"t":"b"},{"t":"c"}]},"2":{"pageid":2}}}}"#
                .to_owned(),
            // An index beside a longer list of the records.
            "/mixed" => {
                r#"{"items":[{"id":0},{"id":1},{"id":2}],"by_id":{"1":{"id":1},"2":{"id":2}}}"#
                    .to_owned()
            }
            _ => r#"{"id":0,"billing":{"city":"A"},"shipping":{"city":"B"}}"#.to_owned(),
        };
        Exchange::json(&seen.target, body)
    });
    let dir = Dir::new();
    let url = format!(
        "{}/w/api.php?action=query&generator=allpages&format=json",
        server.url()
    );
    let pages: String = (0..8)
        .map(|i| format!("{{\"pageid\":{},\"id\":{i}}}\n", i + 100))
        .collect();
    let job = init_and_run(&dir, "mediawiki", &url, &pages);
    assert_eq!(
        job["records"]["path"].as_str(),
        Some("$.query.pages.*"),
        "{job}"
    );
    assert_eq!(job["paginate"]["from"].as_str(), Some("continue"), "{job}");
    let job = init_and_run(
        &dir,
        "rates",
        &format!("{}/rates", server.url()),
        &lines(0..2),
    );
    assert_eq!(job["records"]["path"].as_str(), Some("$.data.*"), "{job}");
    let users = "{\"login\":\"ada\",\"id\":0}\n{\"login\":\"bob\",\"id\":1}\n";
    let job = init_and_run(&dir, "users", &format!("{}/users", server.url()), users);
    assert_eq!(job["records"]["path"].as_str(), Some("$.users.*"), "{job}");
    // The dimensions stay a record's own; a first page of so few keys
    // flattens them.
    let charts = "{\"name\":\"cpu.a\",\"id\":0,\"dims_u_name\":\"u\",\"dims_s_name\":\"s\",\"dims_w_name\":\"w\"}\n\
                  {\"name\":\"cpu.b\",\"id\":1,\"dims_u_name\":\"u\",\"dims_s_name\":null,\"dims_w_name\":null}\n";
    let lists = "{\"name\":\"a\",\"n\":0}\n{\"name\":\"b\",\"n\":1}\n";
    for (api, rows) in [("allmetrics", charts), ("firebase", lists)] {
        let job = init_and_run(&dir, api, &format!("{}/{api}", server.url()), rows);
        assert_eq!(job["records"]["path"].as_str(), Some("$.*"), "{api}: {job}");
    }
    let job = init_and_run(
        &dir,
        "mixed",
        &format!("{}/mixed", server.url()),
        &lines(0..3),
    );
    assert_eq!(job["records"]["path"].as_str(), Some("items"), "{job}");
    let job = init_job_with(
        &format!("{}/links", server.url()),
        &[],
        &dir.path("links.toml"),
    );
    assert!(job.contains("path = \"$.query.pages.*\""), "{job}");
    let job = init_job_with(
        &format!("{}/order", server.url()),
        &[],
        &dir.path("order.toml"),
    );
    assert!(!job.contains(".*"), "{job}");
    assert!(job.contains("path = \"billing.city\""), "{job}");
}

/// A cursor whose parameter no known style says: Zoom's
/// `next_page_token` (read back as itself), Twitter's `meta.next_token`
/// (as `pagination_token`), Box's `next_marker` (as `marker`), Stripe's
/// search `next_page` (as `page`), Google's `nextPageToken` (as
/// `pageToken`; Google refuses other names) and Jira's (as itself),
/// Intercom's `pages.next.starting_after` (as itself). init asks for the
/// first page again with the cursor under each name an API may read;
/// these APIs take an unknown one for nothing. It wrote a job of one
/// request, which a run warned of.
#[test]
fn a_job_written_by_init_finds_the_parameter_a_cursor_goes_back_as() {
    let server = TestServer::start_fn(|seen| {
        let path = seen.target.split('?').next().unwrap().to_owned();
        let (param, from) = match path.as_str() {
            "/zoom" => ("next_page_token", "next_page_token"),
            "/twitter" => ("pagination_token", "meta.next_token"),
            "/box" => ("marker", "next_marker"),
            "/search" => ("page", "next_page"),
            // Google's APIs refuse a parameter they do not know; Jira's
            // search takes its token back under its own name.
            "/google"
                if seen.target.contains('?')
                    && util::query_param(&seen.target, "pageToken").is_none() =>
            {
                return util::json(
                    400,
                    r#"{"error":{"code":400,"message":"Invalid argument"}}"#,
                );
            }
            "/google" => ("pageToken", "nextPageToken"),
            "/jira" => ("nextPageToken", "nextPageToken"),
            "/dotted" => ("token", "$['meta']['next.token']"),
            _ => ("starting_after", "pages.next.starting_after"),
        };
        let start: u32 =
            util::query_param(&seen.target, param).map_or(0, |c| c[1..].parse().unwrap());
        let records = ids(start..(start + 3).min(8));
        let next = match start + 3 < 8 {
            true => format!("\"c{}\"", start + 3),
            false => "null".to_owned(),
        };
        let body = match from {
            "meta.next_token" => {
                format!("{{\"data\":{records},\"meta\":{{\"next_token\":{next}}}}}")
            }
            // A key with a dot, which the path spells in brackets.
            "$['meta']['next.token']" => {
                format!("{{\"data\":{records},\"meta\":{{\"next.token\":{next}}}}}")
            }
            "pages.next.starting_after" => format!(
                "{{\"data\":{records},\"pages\":{{\"page\":{},\"total_pages\":3,\"next\":{{\"starting_after\":{next}}}}}}}",
                start / 3 + 1
            ),
            name => format!("{{\"items\":{records},\"{name}\":{next}}}"),
        };
        Exchange::json(&seen.target, body)
    });
    let dir = Dir::new();
    for (name, from, param) in [
        ("zoom", "next_page_token", "next_page_token"),
        ("twitter", "meta.next_token", "pagination_token"),
        ("box", "next_marker", "marker"),
        ("search", "next_page", "page"),
        ("google", "nextPageToken", "pageToken"),
        ("jira", "nextPageToken", "nextPageToken"),
        ("intercom", "pages.next.starting_after", "starting_after"),
        ("dotted", "$['meta']['next.token']", "token"),
    ] {
        let url = format!("{}/{name}", server.url());
        let job = init_and_run(&dir, name, &url, &lines(0..8));
        let paginate = &job["paginate"];
        assert_eq!(paginate["type"].as_str(), Some("cursor"), "{job}");
        assert_eq!(paginate["from"].as_str(), Some(from), "{job}");
        assert_eq!(paginate["param"].as_str(), Some(param), "{job}");
    }
}

/// Links to the next page inside objects and arrays: HAL's
/// `_links.next.href` (Spring Data REST), JSON:API's link objects,
/// PayPal's `links` array of `{href, rel}`, Zendesk's `next_page`. And
/// fastapi-pagination's `next_page`, a token, not a link, read back as
/// `cursor`. The jobs init writes read every record, and say nothing.
#[test]
fn a_job_written_by_init_follows_next_links_in_objects_and_arrays() {
    let server = TestServer::start_fn(|seen| {
        let url = url::Url::parse(&format!("http://h{}", seen.target)).unwrap();
        let airtable = url.query_pairs().find(|(k, _)| k == "offset");
        let page = query_number(&seen.target, "page")
            .or_else(|| query_number(&seen.target, "cursor").map(|c| c / 10))
            .or_else(|| airtable?.1.strip_prefix("itr")?.parse().ok())
            .unwrap_or(0);
        let items: Vec<String> = (page * 3..(page * 3 + 3).min(8))
            .map(|i| format!("{{\"id\":{i}}}"))
            .collect();
        let items = items.join(",");
        let more = page < 2;
        let link = format!("\"{}?page={}\"", url.path(), page + 1);
        let next = if more { link.as_str() } else { "null" };
        let body = match url.path() {
            "/hal" => format!(
                "{{\"_embedded\":{{\"items\":[{items}]}},\"_links\":{{\"self\":{{\"href\":\"/hal\"}}{}}},\
                 \"page\":{{\"size\":3,\"totalElements\":8,\"number\":{page}}}}}",
                if more {
                    format!(",\"next\":{{\"href\":{link}}}")
                } else {
                    String::new()
                }
            ),
            "/jsonapi" => format!(
                "{{\"data\":[{items}],\"links\":{{\"self\":{{\"href\":\"/jsonapi\"}},\"next\":{}}}}}",
                if more {
                    format!("{{\"href\":{link}}}")
                } else {
                    "null".to_owned()
                }
            ),
            "/paypal" => format!(
                "{{\"items\":[{items}],\"total_items\":8,\"links\":[{{\"href\":\"/paypal\",\"rel\":\"self\"}}{}]}}",
                if more {
                    format!(",{{\"href\":{link},\"rel\":\"next\",\"method\":\"GET\"}}")
                } else {
                    String::new()
                }
            ),
            "/asana" => format!(
                "{{\"data\":[{items}],\"next_page\":{}}}",
                if more {
                    format!("{{\"offset\":\"x\",\"path\":\"/x\",\"uri\":{link}}}")
                } else {
                    "null".to_owned()
                }
            ),
            "/airtable" => format!(
                "{{\"records\":[{items}]{}}}",
                if more {
                    format!(",\"offset\":\"itr{}\"", page + 1)
                } else {
                    String::new()
                }
            ),
            "/algolia" => format!(
                "{{\"hits\":[{items}],\"nbHits\":8{}}}",
                if more {
                    format!(",\"cursor\":\"{}\"", (page + 1) * 10)
                } else {
                    String::new()
                }
            ),
            "/zendesk" => format!(
                "{{\"tickets\":[{items}],\"next_page\":{next},\"previous_page\":null,\"count\":8}}"
            ),
            _ => format!(
                "{{\"items\":[{items}],\"total\":8,\"current_page\":\"c\",\"previous_page\":null,\"next_page\":{}}}",
                if more {
                    format!("\"{}\"", (page + 1) * 10)
                } else {
                    "null".to_owned()
                }
            ),
        };
        Exchange::json(&seen.target, body)
    });
    let dir = Dir::new();
    for (n, (first, paginate, from)) in [
        ("/hal", "next_link", "_links.next.href"),
        ("/jsonapi", "next_link", "links.next.href"),
        ("/paypal", "next_link", "$.links[?@.rel == 'next'].href"),
        ("/zendesk", "next_link", "next_page"),
        ("/fastapi", "cursor", "next_page"),
        ("/asana", "next_link", "next_page.uri"),
        ("/airtable", "cursor", "offset"),
        ("/algolia", "cursor", "cursor"),
    ]
    .into_iter()
    .enumerate()
    {
        let url = format!("{}{first}", server.url());
        let job = init_and_run(&dir, &n.to_string(), &url, &lines(0..8));
        assert_eq!(job["paginate"]["type"].as_str(), Some(paginate), "{job}");
        assert_eq!(job["paginate"]["from"].as_str(), Some(from), "{job}");
    }
}

/// Strapi pages by `pagination[page]` and `pagination[pageSize]`,
/// JSON:API servers by `page[offset]` and `page[limit]` or `page[number]`
/// and `page[size]`, without a next link in the body. The jobs init
/// writes from such first URLs read every record, and say nothing.
#[test]
fn a_job_written_by_init_pages_bracketed_query_names() {
    let server = TestServer::start_fn(|seen| {
        let number = |key: &str| query_number(&seen.target, key);
        let (first, size) = match (number("page[offset]"), number("page[number]")) {
            (Some(offset), _) => (offset, number("page[limit]").unwrap()),
            (None, Some(page)) => (page.saturating_sub(1) * 3, number("page[size]").unwrap()),
            (None, None) => {
                let size = number("pagination[pageSize]").unwrap();
                ((number("pagination[page]").unwrap() - 1) * size, size)
            }
        };
        let items: Vec<String> = (first.min(8)..(first + size).min(8))
            .map(|i| format!("{{\"id\":{i},\"attributes\":{{\"title\":\"t{i}\"}}}}"))
            .collect();
        let body = format!(
            "{{\"data\":[{}],\"meta\":{{\"pagination\":{{\"total\":8}}}}}}",
            items.join(",")
        );
        Exchange::json(&seen.target, body)
    });
    let dir = Dir::new();
    for (n, (first, paginate)) in [
        (
            "/api/articles?pagination[page]=1&pagination[pageSize]=3",
            "page",
        ),
        ("/articles?page[offset]=0&page[limit]=3", "offset"),
        ("/articles?page[number]=1&page[size]=3", "page"),
    ]
    .into_iter()
    .enumerate()
    {
        let url = format!("{}{first}", server.url());
        let expected: String = (0..8)
            .map(|i| format!("{{\"id\":{i},\"attributes_title\":\"t{i}\"}}\n"))
            .collect();
        let job = init_and_run(&dir, &n.to_string(), &url, &expected);
        assert_eq!(job["paginate"]["type"].as_str(), Some(paginate), "{job}");
    }
}

/// Datasette gives a table's rows as arrays, named by `columns`, beside
/// a short array of objects (`suggested_facets`, empty after the first
/// page). The job init writes reads the rows, each place a column.
#[test]
fn a_job_written_by_init_reads_rows_named_by_the_array_beside_them() {
    let page = |target: &str, rows: std::ops::Range<u32>, facets: &str, next: Option<&str>| {
        let rows: Vec<String> = rows
            .map(|i| format!("[{i},\"t{i}\",{{\"id\":{}}},{}]", i % 3, i * 10))
            .collect();
        let body = format!(
            "{{\"database\":\"db\",\"columns\":[\"id\",\"title\",\"author\",\"a b\"],\
             \"rows\":[{}],\"suggested_facets\":{facets}}}",
            rows.join(",")
        );
        let mut exchange = Exchange::json(target, body);
        if let Some(next) = next {
            (exchange.headers).push(("link".to_owned(), format!("<{next}>; rel=\"next\"")));
        }
        exchange
    };
    let facets = "[{\"name\":\"title\"},{\"name\":\"author\"},{\"name\":\"a b\"}]";
    let exchanges = vec![
        page("/db/t.json", 0..3, facets, Some("/db/t.json?_next=3")),
        page("/db/t.json?_next=3", 3..5, "[]", None),
    ];
    let server = TestServer::start(exchanges);
    let dir = Dir::new();
    let job = dir.path("job.toml");
    let text = init_job(&format!("{}/db/t.json", server.url()), &job);
    assert!(
        text.contains("[records]\n# rows as arrays, named by `columns`\npath = \"rows\"\n"),
        "{text}"
    );
    assert!(
        text.contains("name = \"author_id\"\npath = \"$[2].id\"\ntype = \"long\"\n"),
        "{text}"
    );
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 0, "{}\n{text}", run.stderr);
    let expected: String = (0..5)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"title\":\"t{i}\",\"author_id\":{},\"a b\":{}}}\n",
                i % 3,
                i * 10
            )
        })
        .collect();
    assert_eq!(run.stdout, expected, "{text}");
}

/// An API that answers a JSON value a line (Datasette's `_nl=on`): init
/// asks again as the job will, reading the lines as records.
#[test]
fn a_job_written_by_init_reads_an_ndjson_answer_a_record_a_line() {
    let lines = |range: std::ops::Range<u32>| -> String {
        range
            .map(|i| format!("{{\"id\":{i},\"n\":\"r{i}\"}}\n"))
            .collect()
    };
    let mut first = Exchange::json("/t.json?_nl=on", lines(0..3));
    (first.headers).push((
        "link".to_owned(),
        "</t.json?_nl=on&_next=3>; rel=\"next\"".to_owned(),
    ));
    let server = TestServer::start(vec![
        first,
        Exchange::json("/t.json?_nl=on&_next=3", lines(3..5)),
    ]);
    let dir = Dir::new();
    let job = dir.path("job.toml");
    let text = init_job(&format!("{}/t.json?_nl=on", server.url()), &job);
    assert!(
        text.contains("[records]\n# a JSON value a line, each a record\nformat = \"ndjson\"\n"),
        "{text}"
    );
    assert!(text.contains("name = \"n\"\ntype = \"string\"\n"), "{text}");
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 0, "{}\n{text}", run.stderr);
    assert_eq!(run.stdout, lines(0..5), "{text}");
}

/// A key in the URL's query (`?api_key=…`, as many APIs document it) is
/// a credential too: the job holds a `${VAR}` in its place, and runs with
/// the variable set.
#[test]
fn init_moves_a_credential_in_the_url_into_a_variable() {
    let server = TestServer::start_fn(|seen| {
        let (path, query) = seen.target.split_once('?').unwrap_or((&seen.target, ""));
        let mut pairs: Vec<&str> = query.split('&').collect();
        let Some(at) = pairs.iter().position(|pair| *pair == "api_key=q-secret") else {
            return crate::util::json(401, r#"{"error":"unauthorized"}"#);
        };
        pairs.remove(at);
        pairs.sort_unstable();
        let page = match (path, pairs.join("&").as_str()) {
            ("/v1/things", "page_size=2") => r#"{"items":[{"id":1},{"id":2}],"next_cursor":"c3"}"#,
            ("/v1/things", "cursor=c3&page_size=2") => r#"{"items":[{"id":3}],"next_cursor":null}"#,
            _ => return crate::util::json(404, "{}"),
        };
        Exchange::json(&seen.target, page)
    });
    let dir = Dir::new();
    // Missing folders on the way are made, as for a run's output.
    let job = dir.path("jobs/things/things.toml");
    let url = format!("{}/v1/things?page_size=2&api_key=q-secret", server.url());
    let init = hydrant(&["init", &url, "--out", path_str(&job)]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(
        init.stderr.contains("credentials from: API_KEY"),
        "{}",
        init.stderr
    );
    assert!(!init.stderr.contains("q-secret"), "{}", init.stderr);
    let text = std::fs::read_to_string(&job).unwrap();
    assert!(!text.contains("q-secret"), "{text}");
    assert!(text.contains("api_key = \"${API_KEY}\""), "{text}");

    let run = hydrant_with(&["run", path_str(&job)], &[("API_KEY", "q-secret")]);
    assert_eq!(run.code, 0, "{}\n{text}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
}

/// A query member without a value (`?all`) is a flag: some APIs read
/// `all=` as false, or refuse it. The job keeps it in its URL, and each
/// page's request sends it as the URL spelled it.
#[test]
fn init_keeps_a_query_flag_without_a_value() {
    let server = TestServer::start_fn(|seen| {
        let (path, query) = seen.target.split_once('?').unwrap_or((&seen.target, ""));
        let mut parts: Vec<&str> = query.split('&').collect();
        let Some(at) = parts.iter().position(|part| *part == "all") else {
            return crate::util::json(200, r#"{"items":[],"next_cursor":null}"#);
        };
        parts.remove(at);
        parts.sort_unstable();
        let page = match (path, parts.join("&").as_str()) {
            ("/v1/alarms", "page_size=2") => r#"{"items":[{"id":1},{"id":2}],"next_cursor":"c3"}"#,
            ("/v1/alarms", "cursor=c3&page_size=2") => r#"{"items":[{"id":3}],"next_cursor":null}"#,
            _ => return crate::util::json(404, "{}"),
        };
        Exchange::json(&seen.target, page)
    });
    let dir = Dir::new();
    let url = format!("{}/v1/alarms?all&page_size=2", server.url());
    let job = init_and_run(&dir, "alarms", &url, "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
    assert_eq!(
        job["request"]["url"].as_str(),
        Some(format!("{}/v1/alarms?all", server.url()).as_str())
    );
    assert_eq!(job["request"]["query"]["page_size"].as_str(), Some("2"));
    assert!(job["request"]["query"].get("all").is_none(), "{job}");
}

/// `user:password@` in the URL is basic auth: the probe sends it, the
/// job reads both from variables, and neither is written or echoed.
#[test]
fn init_turns_a_password_in_the_url_into_basic_auth() {
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ada@corp:p@ss w+rd")
    );
    let server = TestServer::start_fn(move |seen| {
        if seen.header("authorization") != Some(expected.as_str()) {
            return crate::util::json(401, r#"{"error":"unauthorized"}"#);
        }
        let page = match seen.target.as_str() {
            "/v1/things?page_size=2" => r#"{"items":[{"id":1},{"id":2}],"next_cursor":"c3"}"#,
            "/v1/things?page_size=2&cursor=c3" => r#"{"items":[{"id":3}],"next_cursor":null}"#,
            _ => return crate::util::json(404, "{}"),
        };
        Exchange::json(&seen.target, page)
    });
    let dir = Dir::new();
    let job = dir.path("things.toml");
    let url = server
        .url()
        .replacen("://", "://ada%40corp:p%40ss%20w+rd@", 1);
    let url = format!("{url}/v1/things?page_size=2");
    let init = hydrant(&["init", &url, "--out", path_str(&job)]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(
        init.stderr
            .contains("credentials from: HYDRANT_USER, HYDRANT_PASSWORD"),
        "{}",
        init.stderr
    );
    let text = std::fs::read_to_string(&job).unwrap();
    for secret in ["ada", "p%40ss", "p@ss", "w+rd"] {
        assert!(!text.contains(secret), "{secret} in {text}");
        assert!(!init.stderr.contains(secret), "{secret} in {}", init.stderr);
    }
    assert!(text.contains("type = \"basic\""), "{text}");
    assert!(text.contains("username = \"${HYDRANT_USER}\""), "{text}");
    assert!(
        text.contains("password = \"${HYDRANT_PASSWORD}\""),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}/v1/things\"", server.url())),
        "{text}"
    );

    let env = [
        ("HYDRANT_USER", "ada@corp"),
        ("HYDRANT_PASSWORD", "p@ss w+rd"),
    ];
    let run = hydrant_with(&["run", path_str(&job)], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");

    // With credentials given twice, init asks for one, echoing neither.
    let twice = hydrant(&[
        "init",
        &url,
        "--bearer",
        "t0k",
        "--out",
        path_str(&dir.path("b.toml")),
    ]);
    assert_eq!(twice.code, 2, "{}", twice.stderr);
    assert!(
        twice.stderr.contains("--bearer and a user name in the URL"),
        "{}",
        twice.stderr
    );
    assert!(!twice.stderr.contains("p%40ss"), "{}", twice.stderr);
    assert_eq!(server.requests().len(), 3);
}

/// Credentials reach the probe, and the job holds only `${VAR}`
/// references to them; init names the variables to set.
#[test]
fn init_keeps_credentials_out_of_the_job() {
    let server = TestServer::start_fn(|seen| {
        let authorized = seen.header("authorization") == Some("Bearer t0k-secret")
            && seen.header("x-api-key") == Some("k3y-secret")
            && seen.header("notion-version") == Some("2022-06-28");
        if !authorized {
            return crate::util::json(401, r#"{"error":"unauthorized"}"#);
        }
        let page = match seen.target.as_str() {
            "/v1/things?page_size=2" => {
                r#"{"items":[{"id":1,"at":"2024-03-01T12:00:00Z"},{"id":2,"at":"2024-03-02T12:00:00Z"}],"next_cursor":"c3"}"#
            }
            "/v1/things?page_size=2&cursor=c3" => {
                r#"{"items":[{"id":3,"at":"2024-03-03T12:00:00Z"}],"next_cursor":null}"#
            }
            _ => return crate::util::json(404, "{}"),
        };
        Exchange::json(&seen.target, page)
    });
    let dir = Dir::new();
    let job = dir.path("things.toml");
    let init = hydrant(&[
        "init",
        &format!("{}/v1/things?page_size=2", server.url()),
        "--bearer",
        "t0k-secret",
        "--header",
        "X-Api-Key: k3y-secret",
        "-H",
        "Notion-Version: 2022-06-28",
        "--out",
        path_str(&job),
    ]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    // One request: the columns come from the page the guesses did.
    assert_eq!(server.requests().len(), 1);
    assert!(
        init.stderr
            .contains("reads its credentials from: HYDRANT_TOKEN, X_API_KEY\n"),
        "{}",
        init.stderr
    );
    let text = std::fs::read_to_string(&job).unwrap();
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("token = \"${HYDRANT_TOKEN}\""), "{text}");
    assert!(text.contains("X-Api-Key = \"${X_API_KEY}\""), "{text}");
    // An API's version is no secret: the job keeps it, and needs no
    // variable for it.
    assert!(text.contains("Notion-Version = \"2022-06-28\""), "{text}");
    assert!(text.contains("type = \"timestamp\""), "{text}");

    let without = hydrant(&["run", path_str(&job)]);
    assert_eq!(without.code, 2, "{}", without.stderr);
    assert!(
        without.stderr.contains("HYDRANT_TOKEN"),
        "{}",
        without.stderr
    );
    let env = [("HYDRANT_TOKEN", "t0k-secret"), ("X_API_KEY", "k3y-secret")];
    let run = hydrant_with(&["run", path_str(&job)], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"id\":1,\"at\":\"2024-03-01T12:00:00Z\"}\n\
         {\"id\":2,\"at\":\"2024-03-02T12:00:00Z\"}\n\
         {\"id\":3,\"at\":\"2024-03-03T12:00:00Z\"}\n"
    );

    // An existing file is never overwritten.
    let again = hydrant(&[
        "init",
        &format!("{}/v1/things", server.url()),
        "--out",
        path_str(&job),
    ]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&job).unwrap(), text);
}

/// A written job's paging: its type, its parameter and where it goes.
fn paged(job: &toml::Value) -> (Option<&str>, Option<&str>, Option<&str>) {
    let paginate = &job["paginate"];
    (
        paginate["type"].as_str(),
        paginate["param"].as_str(),
        paginate["in"].as_str(),
    )
}

/// Search APIs take their query as a JSON body they are POSTed (MLflow's
/// `runs/search`, Elasticsearch's `_search`), and a GET gets a 405. With
/// `--body`, init posts it, and a cursor, an offset or its size goes
/// back in the body: the cursor under the name that gave other records,
/// the offset and the size where the body had them.
#[test]
fn a_job_written_by_init_posts_a_search_and_pages_it_in_the_body() {
    let server = TestServer::start_fn(|seen| {
        if seen.method != "POST" {
            return crate::util::json(405, r#"{"error":"method not allowed"}"#);
        }
        let asked: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
        let ids = |from: u64, size: u64| -> Vec<u64> { (from..5.min(from + size)).collect() };
        let body = match seen.target.as_str() {
            "/api/2.0/mlflow/runs/search" => {
                assert_eq!(asked["experiment_ids"], serde_json::json!(["1"]), "{asked}");
                let size = asked["max_results"].as_u64().unwrap();
                let from = match asked["page_token"].as_str() {
                    Some(token) => token.strip_prefix("after-").unwrap().parse().unwrap(),
                    None => 0,
                };
                let runs: Vec<_> = (ids(from, size).into_iter())
                    .map(|id| serde_json::json!({"info": {"run_id": format!("r{id}")}}))
                    .collect();
                let mut page = serde_json::json!({ "runs": runs });
                if from + size < 5 {
                    page["next_page_token"] = format!("after-{}", from + size).into();
                }
                page
            }
            "/orders/_search" => {
                assert_eq!(asked["query"]["term"]["open"], true, "{asked}");
                let (from, size) = (
                    asked["from"].as_u64().unwrap_or(0),
                    asked["size"].as_u64().unwrap_or(10),
                );
                let hits: Vec<_> = (ids(from, size).into_iter())
                    .map(|id| serde_json::json!({"_id": id.to_string(), "_source": {"n": id}}))
                    .collect();
                serde_json::json!({"hits": {"total": {"value": 5, "relation": "eq"}, "hits": hits}})
            }
            // A page number in the URL's query, the search in the body.
            target if target.starts_with("/numbered?") => {
                assert_eq!(asked, serde_json::json!({"q": "x"}), "{target}");
                let page: u64 = util::query_param(target, "_page").unwrap().parse().unwrap();
                let items: Vec<_> = (ids(page * 2 - 2, 2).into_iter())
                    .map(|id| serde_json::json!({"id": id}))
                    .collect();
                let next = (page < 3).then_some(page + 1);
                serde_json::json!({ "items": items, "next": next })
            }
            _ => return crate::util::json(404, "{}"),
        };
        Exchange::json(&seen.target, body.to_string())
    });
    let dir = Dir::new();
    let url = format!("{}/numbered?_page=1", server.url());
    let numbered: String = (0..5).map(|id| format!("{{\"id\":{id}}}\n")).collect();
    let job = init_and_run_with(&dir, "numbered", (&url, &["-d", r#"{"q":"x"}"#]), &numbered).0;
    // The page number goes back where it was, in the query.
    assert_eq!(job["paginate"]["param"].as_str(), Some("_page"), "{job}");
    assert!(job["paginate"].get("in").is_none(), "{job}");
    let url = format!("{}/api/2.0/mlflow/runs/search", server.url());
    let body = r#"{"experiment_ids":["1"],"max_results":2}"#;
    let runs: String = (0..5)
        .map(|id| format!("{{\"info_run_id\":\"r{id}\"}}\n"))
        .collect();
    let job = init_and_run_with(&dir, "runs", (&url, &["--body", body]), &runs).0;
    assert_eq!(job["request"]["method"].as_str(), Some("POST"));
    assert_eq!(job["request"]["body"]["max_results"].as_integer(), Some(2));
    assert_eq!(
        paged(&job),
        (Some("cursor"), Some("page_token"), Some("body"))
    );

    let url = format!("{}/orders/_search", server.url());
    let body = r#"{"query":{"term":{"open":true}},"from":0,"size":2}"#;
    let hits: String = (0..5)
        .map(|id| format!("{{\"_id\":\"{id}\",\"_source_n\":{id}}}\n"))
        .collect();
    let job = init_and_run_with(&dir, "orders", (&url, &["-d", body]), &hits).0;
    assert_eq!(paged(&job), (Some("offset"), Some("from"), Some("body")));
    assert_eq!(job["paginate"]["limit"].as_integer(), Some(2));
    // The offset and the size are the paging's, not the body's.
    assert!(job["request"]["body"].get("from").is_none(), "{job}");
    assert!(job["request"]["body"].get("size").is_none(), "{job}");

    let refused = hydrant(&["init", &url]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("405")
            && refused.stderr.contains(
                "hint: an API that takes its query as a POSTed JSON body: give it with --body"
            ),
        "{}",
        refused.stderr
    );
    let refused = hydrant(&["init", &url, "--body", r#"{"q":null}"#]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("--body: `q` holds a null, which a job file cannot: leave it out"),
        "{}",
        refused.stderr
    );
}

/// A GraphQL API pages a Relay connection by the cursor its query passes
/// as `after`. init could not write such a job: it probes with a GET. With
/// `--graphql`, it posts the query and pages the connection it answers,
/// `nodes` or `edges`, by the query's own variable; the example's fixture
/// set (recorded from graphql-js) reads as its job does.
#[test]
fn a_job_written_by_init_pages_a_graphql_connection() {
    let server = TestServer::start_fn(|seen| {
        let asked: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
        let query = asked["query"].as_str().unwrap();
        if query.contains("itemz") {
            let said =
                r#"{"errors":[{"message":"Cannot query field \"itemz\" on type \"Shop\"."}]}"#;
            return Exchange::json(&seen.target, said);
        }
        // The cursor is whichever variable the query sent: `c` and where
        // the page before ended.
        let vars = asked["variables"].as_object().cloned().unwrap_or_default();
        let after = (vars.values())
            .find_map(|c| c.as_str()?.strip_prefix('c')?.parse::<u32>().ok())
            .unwrap_or(0);
        // A `$first` variable sets the page's size.
        let size = vars.get("first").and_then(|n| n.as_u64()).unwrap_or(3) as u32;
        let end = (after + size).min(7);
        let nodes: Vec<String> = (after..end).map(|i| format!("{{\"id\":{i}}}")).collect();
        let records = match query.contains("edges") {
            true => {
                let edges: Vec<String> =
                    nodes.iter().map(|n| format!("{{\"node\":{n}}}")).collect();
                format!("\"edges\":[{}]", edges.join(","))
            }
            false => format!("\"nodes\":[{}]", nodes.join(",")),
        };
        let body = format!(
            "{{\"data\":{{\"shop\":{{\"items\":{{\"totalCount\":7,\"pageInfo\":{{\"hasNextPage\":{},\
             \"endCursor\":\"c{end}\"}},{records}}}}}}}}}",
            end < 7
        );
        Exchange::json(&seen.target, body)
    });
    let url = format!("{}/graphql", server.url());
    let dir = Dir::new();
    // A query from a file, with variables of its own beside the cursor.
    let file = dir.write(
        "items.graphql",
        "query($first: Int, $after: String) {\n  shop { items(first: $first, after: $after) \
         { pageInfo { hasNextPage endCursor } nodes { id } } }\n}\n",
    );
    let from_file = format!("@{}", path_str(&file));
    let args = ["--graphql", &from_file, "--variables", r#"{"first": 2}"#];
    let (parsed, summary) = init_and_run_with(&dir, "variables", (&url, &args), &lines(0..7));
    let variables = &parsed["request"]["body"]["variables"];
    assert_eq!(variables["first"].as_integer(), Some(2), "{parsed}");
    assert_eq!(summary["requests"], 4, "{parsed}");
    for (query, variable, records) in [
        (
            "query($after: String) {\n  shop {\n    items(first: 3, after: $after) {\n      totalCount\n      pageInfo { hasNextPage endCursor }\n      nodes { id }\n    }\n  }\n}",
            "variables.after",
            "data.shop.items.nodes",
        ),
        (
            "query($c: String) { shop { items(first: 3, after:$c) { pageInfo { endCursor hasNextPage } edges { node { id } } } } }",
            "variables.c",
            "$.data.shop.items.edges[*].node",
        ),
    ] {
        let args = ["--graphql", query];
        let (parsed, summary) = init_and_run_with(&dir, "graphql", (&url, &args), &lines(0..7));
        let body = &parsed["request"]["body"];
        assert_eq!(body["query"].as_str(), Some(query), "{parsed}");
        assert_eq!(
            parsed["records"]["path"].as_str(),
            Some(records),
            "{parsed}"
        );
        assert_eq!(
            parsed["paginate"]["param"].as_str(),
            Some(variable),
            "{parsed}"
        );
        assert_eq!(summary["requests"], 3, "{parsed}");
        std::fs::remove_file(dir.path("graphql.toml")).unwrap();
    }
    // More pages and no variable to ask for them by; an answer of errors.
    for (query, says) in [
        (
            "{ shop { items(first: 3) { pageInfo { hasNextPage endCursor } nodes { id } } } }",
            "the connection at `data.shop.items` has more pages, but the query passes no \
             variable as its `after`",
        ),
        (
            "{ shop { itemz { id } } }",
            "the GraphQL API answered the query with errors: Cannot query field \"itemz\" on \
             type \"Shop\".",
        ),
    ] {
        let init = hydrant(&["init", &url, "--graphql", query]);
        assert_eq!(init.code, 1, "{}", init.stderr);
        assert!(init.stderr.contains(says), "{}", init.stderr);
    }
    // The cookbook's example, from its fixtures.
    let fixtures = root().join("fixtures/examples/graphql");
    let example: toml::Value = toml::from_str(
        &std::fs::read_to_string(root().join("examples/paginate/graphql.toml")).unwrap(),
    )
    .unwrap();
    let query = example["request"]["body"]["query"].as_str().unwrap();
    let job = dir.path("example.toml");
    let init = hydrant(&[
        "init",
        &first_url("graphql"),
        "--graphql",
        query,
        "--replay",
        path_str(&fixtures),
        "--out",
        path_str(&job),
    ]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let text = std::fs::read_to_string(&job).unwrap();
    let parsed: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(parsed["paginate"], example["paginate"], "{text}");
    assert_eq!(parsed["records"], example["records"], "{text}");
    let run = hydrant(&["run", path_str(&job), "--replay", path_str(&fixtures)]);
    assert_eq!(run.code, 0, "{}\n{text}", run.stderr);
    let expected = std::fs::read_to_string(fixtures.join("expected.ndjson")).unwrap();
    assert_eq!(run.stdout, expected, "{text}");
}
