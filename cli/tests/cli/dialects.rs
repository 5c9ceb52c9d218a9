//! Job files of other systems (`fixtures/dialects/`), run as they are and
//! from their `hydrant convert` output, against servers that check what
//! the documented API would.

use hydrant_bench::{Exchange, Seen};
use serde_json::{Value, json};

use crate::util::{Dir, Run, TestServer, hydrant, json, path_str};

fn fixture(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/dialects/");
    std::fs::read_to_string(format!("{root}{path}")).unwrap()
}

/// That a job file was refused (exit 2) with `message`.
#[track_caller]
fn refused(run: &Run, message: &str) {
    assert_eq!(run.code, 2, "{message}: {}", run.stderr);
    assert!(run.stderr.contains(message), "{}", run.stderr);
}

/// The value of query parameter `name`.
fn param<'s>(seen: &'s Seen, name: &str) -> Option<&'s str> {
    let query = seen.target.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Writes the original and its conversion side by side in `dir`.
fn original_and_converted(dir: &Dir, name: &str, text: &str) -> (String, String) {
    let original = dir.write(name, text);
    let converted = hydrant(&["convert", path_str(&original)]);
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    let toml = dir.write("converted.toml", &converted.stdout);
    (path_str(&original).to_owned(), path_str(&toml).to_owned())
}

/// The DataWorks reader demo: Basic auth, both header maps, `parameters`
/// as the query, pages 1 to 3 of `pageNumber`, `dataPath`, typed columns,
/// `dirtyData = "null"`.
#[test]
fn dataworks_reader_runs_as_written_and_as_converted() {
    let server = TestServer::start_fn(|seen| {
        let authorized = seen.header("authorization") == Some("Basic cmVhZGVyOnMzY3JldA==");
        let headers = seen.header("x-tenant") == Some("acme")
            && seen.header("x-request-source") == Some("dataworks");
        let query = param(seen, "status") == Some("open")
            && matches!(param(seen, "region"), Some("cn%20east" | "cn+east"));
        if !(authorized && headers && query && seen.target.starts_with("/api/orders?")) {
            return Exchange {
                status: 400,
                ..Exchange::json(&seen.target, r#"{"error":"unexpected request"}"#)
            };
        }
        let page: u64 = param(seen, "pageNumber").unwrap().parse().unwrap();
        let list: Vec<Value> = (0..2)
            .map(|i| {
                let id = page * 10 + i;
                let mut record = json!({"id": id, "customer": {"name": format!("c{id}")}, "amount": id as f64 / 4.0});
                // A record without `paid` keeps a null there (dirtyData = null).
                if id != 21 {
                    record["paid"] = json!(id.is_multiple_of(2));
                }
                record
            })
            .collect();
        Exchange::json(&seen.target, json!({"data": {"list": list}}).to_string())
    });
    let dir = Dir::new();
    let (original, converted) =
        original_and_converted(&dir, "reader.json", &fixture("dataworks/reader.json"));
    let base = format!("base={}", server.url());
    let vars = ["--var", &base, "--var", "password=s3cret"];
    let first = hydrant(&[&["run", &original][..], &vars].concat());
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains("`order` is ignored"),
        "{}",
        first.stderr
    );
    let lines: Vec<Value> = first
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[0],
        json!({"id": 10, "customer.name": "c10", "amount": 2.5, "paid": true})
    );
    assert_eq!(
        lines[3],
        json!({"id": 21, "customer.name": "c21", "amount": 5.25, "paid": null})
    );
    assert_eq!(server.requests().len(), 3);
    let second = hydrant(&[&["run", &converted][..], &vars].concat());
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout, first.stdout);

    // Saved by a Windows editor, with a byte order mark: the same job.
    let marked = dir.write(
        "reader-bom.json",
        &format!("\u{feff}{}", fixture("dataworks/reader.json")),
    );
    let third = hydrant(&[&["run", path_str(&marked)][..], &vars].concat());
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(third.stdout, first.stdout);
    let converted = hydrant(&["convert", path_str(&marked)]);
    assert_eq!(converted.code, 0, "{}", converted.stderr);
}

/// A DataX job: a restapi reader into a text-file writer, whose settings
/// are honoured, refused naming the key, or (DataX's defaults that
/// hydrant's CSV does not share) noted.
#[test]
fn datax_text_file_writer_settings_are_honoured_refused_or_noted() {
    let server = TestServer::start(vec![Exchange::json(
        "/api/items",
        r#"{"data": [{"id": 1, "name": "a|b"}, {"id": 2, "name": null}]}"#,
    )]);
    let dir = Dir::new();
    let job = |writer: &str| {
        format!(
            r#"{{"job": {{"content": [{{
                "reader": {{"name": "restapireader", "parameter": {{
                    "url": "{}/api/items", "method": "get", "dataMode": "multiData",
                    "dataPath": "data", "responseType": "json",
                    "column": [{{"name": "id", "type": "long"}}, {{"name": "name", "type": "string"}}]}}}},
                "writer": {{"name": "txtfilewriter", "parameter": {{
                    "path": "{}", "fileName": "items.csv", "fieldDelimiter": "|"{writer}}}}}}}]}}}}"#,
            server.url(),
            path_str(&dir.path("out")),
        )
    };
    // As DataX writes it when told csv, truncate, UTF-8 and an empty null.
    let text = job(
        r#", "writeMode": "truncate", "encoding": "UTF-8", "nullFormat": "", "fileFormat": "csv""#,
    );
    let (original, converted) = original_and_converted(&dir, "datax.json", &text);
    let notes = dir.read("converted.toml");
    assert!(
        !notes
            .lines()
            .any(|l| l.contains("writer.parameter") && l.contains("is ignored")),
        "{notes}"
    );
    for job in [&original, &converted] {
        let run = hydrant(&["run", job]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(dir.read("out/items.csv"), "1|\"a|b\"\n2|\n");
    }
    // DataX's defaults: `\N` for a null, text without quoting. Noted.
    let defaults = dir.write("defaults.json", &job(""));
    let converted = hydrant(&["convert", path_str(&defaults)]);
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    for said in [
        "nullFormat` is ignored: hydrant writes a null as an empty field, not as DataX's default `\\N`",
        "fileFormat` is ignored: hydrant writes csv",
    ] {
        assert!(converted.stdout.contains(said), "{}", converted.stdout);
    }
    for (writer, message) in [
        (
            r#", "writeMode": "append""#,
            "writeMode`: `append` is not honoured: hydrant replaces the file at path/fileName",
        ),
        (
            r#", "writeMode": "nonConflict""#,
            "writeMode`: `nonConflict` is not honoured",
        ),
        (
            r#", "encoding": "GBK""#,
            "encoding`: `GBK` is not written: hydrant writes UTF-8 files only",
        ),
        (
            r#", "compress": "gzip""#,
            "compress`: `gzip` is not written: hydrant's CSV files are not compressed",
        ),
        (
            r#", "nullFormat": "NULL""#,
            "nullFormat`: `NULL` is not written: hydrant writes a null as an empty field",
        ),
    ] {
        let bad = dir.write("bad.json", &job(writer));
        refused(&hydrant(&["run", path_str(&bad)]), message);
    }
    assert!(
        dir.read("out/items.csv").starts_with("1|"),
        "an earlier file is left as it was"
    );
}

/// A DataX job: a text-file reader into a restapi writer, PUT in batches
/// of 2 wrapped in `data`, with Token auth (the bare token).
#[test]
fn datax_writer_sends_the_same_batches_as_written_and_as_converted() {
    let server = TestServer::start_fn(|seen| {
        let ok = seen.method == "PUT"
            && seen.target == "/api/customers"
            && seen.header("authorization") == Some("t0ken")
            && seen.header("x-source") == Some("datax");
        Exchange {
            status: if ok { 200 } else { 400 },
            ..Exchange::json(&seen.target, r#"{"ok":true}"#)
        }
    });
    let dir = Dir::new();
    dir.write(
        "customers.ndjson",
        "{\"id\":\"1\",\"name\":\"a\",\"extra\":1}\n{\"id\":2,\"name\":\"b\"}\n{\"id\":3,\"name\":\"c\"}\n",
    );
    let (original, converted) =
        original_and_converted(&dir, "writer.json", &fixture("dataworks/writer.json"));
    let base = format!("base={}", server.url());
    let vars = ["--var", &base, "--var", "token=t0ken"];
    for job in [&original, &converted] {
        let run = hydrant(&[&["run", job.as_str()][..], &vars].concat());
        assert_eq!(run.code, 0, "{job}: {}", run.stderr);
    }
    let bodies: Vec<Value> = server
        .requests()
        .iter()
        .map(|seen| serde_json::from_slice(&seen.body).unwrap())
        .collect();
    let batch = |ids: &[(i64, &str)]| {
        let data: Vec<Value> = ids
            .iter()
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect();
        json!({ "data": data })
    };
    let expected = [batch(&[(1, "a"), (2, "b")]), batch(&[(3, "c")])];
    assert_eq!(bodies, [&expected[..], &expected[..]].concat());
}

#[test]
fn a_dataworks_file_hydrant_cannot_run_is_refused_naming_the_key() {
    let dir = Dir::new();
    let cases = [
        (
            fixture("dataworks/reader.json")
                .replace("\"stepType\": \"stream\"", "\"stepType\": \"mysql\""),
            "`steps[1].stepType`: a `restapi` reader with a `mysql` writer is not a REST job",
        ),
        (
            fixture("dataworks/reader.json").replace("\"dataPath\"", "\"dataPth\""),
            "`steps[0].parameter.dataPth`: is not a key of the DataWorks restapi plugin",
        ),
        (
            fixture("dataworks/reader.json").replace("\"Basic\"", "\"Kerberos\""),
            "`steps[0].parameter.authType`: `kerberos` is not one of Basic, Token, AK",
        ),
    ];
    for (text, message) in cases {
        let job = dir.write("bad.json", &text);
        let run = hydrant(&["run", path_str(&job), "--var", "base=http://127.0.0.1:9"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("DataWorks job file `"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(message), "{}", run.stderr);
        let convert = hydrant(&["convert", path_str(&job)]);
        assert_eq!(convert.code, 2);
        assert!(convert.stderr.contains(message), "{}", convert.stderr);
    }
}

/// Copies `fixtures/dialects/<from>` (a folder) into `dir`.
fn copy_fixture_folder(from: &str, dir: &Dir) {
    let root = format!("{}/../fixtures/dialects/{from}", env!("CARGO_MANIFEST_DIR"));
    for sub in ["pipeline", "dataset", "linkedService"] {
        std::fs::create_dir_all(dir.path(sub)).unwrap();
        for entry in std::fs::read_dir(format!("{root}/{sub}")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path(sub).join(entry.file_name())).unwrap();
        }
    }
}

/// An ADF Git repository: a Copy activity from a REST dataset (Basic
/// auth with a SecureString, `authHeaders`, `additionalHeaders`,
/// `paginationRules` AbsoluteUrl) into a Json dataset on a FileServer.
#[test]
fn adf_git_pipeline_runs_as_written_and_as_converted() {
    let server = TestServer::start_fn(|seen| {
        let ok = seen.header("authorization") == Some("Basic YWRmOnB3")
            && seen.header("x-functions-key") == Some("k3y")
            && seen.header("x-api-version") == Some("2024-01-01")
            && seen.target.starts_with("/api/v1/orders?status=open");
        if !ok {
            return Exchange {
                status: 400,
                ..Exchange::json(&seen.target, r#"{"error":"unexpected request"}"#)
            };
        }
        let page: u64 = param(seen, "page").map_or(1, |p| p.parse().unwrap());
        let next = if page < 3 {
            json!(format!("/api/v1/orders?status=open&page={}", page + 1))
        } else {
            Value::Null
        };
        // Data Factory's cross-apply: the document's `number` and `city`
        // beside each element of `value`.
        let body = json!({
            "number": format!("0{page}"),
            "value": [
                {"id": page * 10, "customer": {"name": format!("c{page}")}},
                {"id": page * 10 + 1, "customer": {"name": "d"}},
            ],
            "city": [{"name": if page == 2 { "Oslo" } else { "Seattle" }}],
            "paging": {"next": next},
        });
        Exchange::json(&seen.target, body.to_string())
    });
    let dir = Dir::new();
    copy_fixture_folder("adf/git", &dir);
    // The pipeline and a dataset saved by a Windows editor, with a byte
    // order mark each.
    for file in ["pipeline/CopyOrders.json", "dataset/RestOrders.json"] {
        let text = std::fs::read_to_string(dir.path(file)).unwrap();
        dir.write(file, &format!("\u{feff}{text}"));
    }
    let pipeline = dir.path("pipeline/CopyOrders.json");
    let converted = hydrant(&["convert", path_str(&pipeline)]);
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    assert!(
        converted
            .stdout
            .contains("url = \"${base}/api/v1/orders?status=open\""),
        "{}",
        converted.stdout
    );
    assert!(
        converted
            .stdout
            .contains("name = \"orderNumber\"\npage_path = \"$['number']\""),
        "{}",
        converted.stdout
    );
    let toml = dir.write("converted.toml", &converted.stdout);
    let base = format!("base={}", server.url());
    let mut outputs = Vec::new();
    for (job, out) in [(&pipeline, "first"), (&toml, "second")] {
        let out_dir = dir.path(out);
        std::fs::create_dir_all(out_dir.join("exports")).unwrap();
        let out_var = format!("out_dir={}", out_dir.display());
        let run = hydrant(&[
            "run",
            path_str(job),
            "--var",
            &base,
            "--var",
            "password=pw",
            "--var",
            &out_var,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        outputs.push(std::fs::read_to_string(out_dir.join("exports/orders.json")).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    let records: Vec<Value> = outputs[0]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 6);
    let row = |id: u64, customer: &str, number: &str, city: &str| json!({"order_id": id, "customer": customer, "orderNumber": number, "city": city});
    assert_eq!(records[0], row(10, "c1", "01", "Seattle"));
    assert_eq!(records[3], row(21, "d", "02", "Oslo"));
    assert_eq!(records[5], row(31, "d", "03", "Seattle"));
    assert_eq!(server.requests().len(), 6);
}

/// An ARM template export: a CSV file on a FileServer into a RestSink
/// (PATCH, batches of 2), the URL from a template parameter given by
/// `--var`. AadServicePrincipal is converted to the OAuth2 token URL of
/// the tenant.
#[test]
fn adf_arm_template_writes_as_written_and_as_converted() {
    let text = fixture("adf/arm/template.json");
    let dir = Dir::new();
    let original = dir.write("template.json", &text);
    let converted = hydrant(&["convert", path_str(&original)]);
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    for line in [
        "token_url = \"https://login.microsoftonline.com/tenant-9/oauth2/token\"",
        "client_secret = \"${RestSinkLS_servicePrincipalKey}\"",
        "url = \"${RestSinkLS_properties_typeProperties_url:-https://api.example.com}/v2/customers\"",
        "batch_size = 2",
    ] {
        assert!(
            converted.stdout.contains(line),
            "{line}\n{}",
            converted.stdout
        );
    }
    // The run itself, without the token endpoint: anonymous.
    let server = TestServer::start_fn(|seen| {
        let ok = seen.method == "PATCH"
            && seen.target == "/v2/customers"
            && seen.header("x-source") == Some("adf");
        Exchange {
            status: if ok { 200 } else { 400 },
            ..Exchange::json(&seen.target, "{}")
        }
    });
    let anonymous = text.replace("\"AadServicePrincipal\"", "\"Anonymous\"");
    let original = dir.write("template.json", &anonymous);
    let converted = hydrant(&["convert", path_str(&original)]);
    let toml = dir.write("converted.toml", &converted.stdout);
    dir.write("customers.csv", "id,name\n1,a\n2,b\n3,c\n");
    let url = format!("RestSinkLS_properties_typeProperties_url={}", server.url());
    let host = format!("Files_host={}", dir.dir.path().display());
    for job in [&original, &toml] {
        let run = hydrant(&["run", path_str(job), "--var", &url, "--var", &host]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let bodies: Vec<Value> = server
        .requests()
        .iter()
        .map(|seen| serde_json::from_slice(&seen.body).unwrap())
        .collect();
    // Batches go out concurrently: each run sent both, in some order.
    let mut sent: Vec<String> = bodies.iter().map(Value::to_string).collect();
    sent.sort();
    let first = json!([{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]).to_string();
    let second = json!([{"id": "3", "name": "c"}]).to_string();
    assert_eq!(sent, [first.clone(), first, second.clone(), second]);
}

#[test]
fn an_adf_file_hydrant_cannot_run_is_refused_naming_the_key() {
    let dir = Dir::new();
    copy_fixture_folder("adf/git", &dir);
    let pipeline = fixture("adf/git/pipeline/CopyOrders.json");
    let cases = [
        (
            pipeline.replace("\"GET\"", "\"@pipeline().parameters.method\""),
            "`activities[CopyOrdersToFile].typeProperties.source.requestMethod`: `@pipeline().parameters.method` is a pipeline expression",
        ),
        (
            pipeline.replace("\"RestOrders\"", "\"Missing\""),
            "`activities[CopyOrdersToFile].inputs[0].referenceName`: names `Missing`, but `",
        ),
    ];
    for (text, message) in cases {
        let job = dir.write("pipeline/Bad.json", &text);
        let run = hydrant(&["run", path_str(&job)]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("Data Factory job file `"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(message), "{}", run.stderr);
    }
}

/// The copy's settings on the REST side: the shared ones set or noted,
/// any other refused naming it.
#[test]
fn adf_copy_settings_are_set_noted_or_refused() {
    let dir = Dir::new();
    copy_fixture_folder("adf/git", &dir);
    let pipeline = fixture("adf/git/pipeline/CopyOrders.json");
    // The pipeline converted with `settings` put after `anchor`.
    let after = |anchor: &str, settings: &str| {
        let text = pipeline.replace(anchor, &format!("{anchor} {settings}"));
        let job = dir.write("pipeline/CopyOrders.json", &text);
        hydrant(&["convert", path_str(&job)])
    };
    let with = |settings: &str| after("\"requestMethod\": \"GET\",", settings);
    let converted = with(
        r#""maxConcurrentConnections": 3, "sourceRetryCount": 2, "sourceRetryWait": "00:00:05", "disableMetricsCollection": true,"#,
    );
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    for said in [
        "concurrency = 3",
        "max_retries = 2",
        "# `activities[CopyOrdersToFile].typeProperties.source.sourceRetryWait` is ignored: hydrant waits between retries with its backoff",
        "# `activities[CopyOrdersToFile].typeProperties.source.disableMetricsCollection` is ignored",
    ] {
        assert!(
            converted.stdout.contains(said),
            "{said}: {}",
            converted.stdout
        );
    }
    for (settings, message) in [
        (
            r#""additionalColumns": [{"name": "src", "value": "api"}],"#,
            "`activities[CopyOrdersToFile].typeProperties.source.additionalColumns`: is not a setting of a REST copy that hydrant honours",
        ),
        (
            r#""maxConcurrentConnections": 0,"#,
            "`activities[CopyOrdersToFile].typeProperties.source.maxConcurrentConnections`: must be a whole number above 0",
        ),
    ] {
        refused(&with(settings), message);
    }
    // The translator's settings: noted, or refused when unknown.
    let translator = |settings: &str| after("\"type\": \"TabularTranslator\",", settings);
    let converted = translator(
        r#""mapComplexValuesToString": true, "typeConversion": true, "typeConversionSettings": {"allowDataTruncation": true},"#,
    );
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    assert!(
        converted.stdout.contains("# `activities[CopyOrdersToFile].typeProperties.translator.typeConversionSettings` is ignored: values convert by hydrant's own rules"),
        "{}",
        converted.stdout
    );
    refused(
        &translator(r#""columnFlattenSettings": {"treatArrayAsString": true},"#),
        "`activities[CopyOrdersToFile].typeProperties.translator.columnFlattenSettings`: is not a setting of a TabularTranslator that hydrant honours",
    );
    // A sink's timeout and retries.
    let template = fixture("adf/arm/template.json").replace(
        "\"writeBatchSize\": 2,",
        "\"writeBatchSize\": 2, \"httpRequestTimeout\": \"00:00:30\", \"sinkRetryCount\": 4,",
    );
    let job = dir.write("template.json", &template);
    let converted = hydrant(&["convert", path_str(&job)]);
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    for said in ["timeout = \"30000ms\"", "max_retries = 4"] {
        assert!(
            converted.stdout.contains(said),
            "{said}: {}",
            converted.stdout
        );
    }
}

/// A file dataset's settings: Data Factory's Parquet codec (snappy unless
/// told) is kept; a setting hydrant's files cannot honour is refused
/// naming it; a Data Factory default hydrant's CSV does not share is
/// noted.
#[test]
fn adf_file_dataset_settings_are_kept_refused_or_noted() {
    let dir = Dir::new();
    copy_fixture_folder("adf/git", &dir);
    let pipeline = path_str(&dir.path("pipeline/CopyOrders.json")).to_owned();
    let dataset = |kind: &str, settings: &str| {
        let text = fixture("adf/git/dataset/OrdersJson.json")
            .replace("\"Json\"", &format!("\"{kind}\""))
            .replace("\"location\":", &format!("{settings}\"location\":"));
        dir.write("dataset/OrdersJson.json", &text);
        hydrant(&["convert", &pipeline])
    };
    let converted = dataset("Parquet", "");
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    assert!(
        converted
            .stdout
            .contains("[output.parquet]\ncompression = \"snappy\""),
        "{}",
        converted.stdout
    );
    let converted = dataset("Parquet", r#""compressionCodec": "gzip", "#);
    assert!(
        converted.stdout.contains("compression = \"gzip\""),
        "{}",
        converted.stdout
    );
    // CSV as Data Factory writes it by default: both differences noted.
    let converted = dataset("DelimitedText", "");
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    for said in [
        "# `dataset.typeProperties.escapeChar` is ignored: hydrant reads and writes a quote inside a quoted value doubled (RFC 4180)",
        "# `dataset.typeProperties.rowDelimiter` is ignored: hydrant ends each CSV line with \\n",
    ] {
        assert!(converted.stdout.contains(said), "{}", converted.stdout);
    }
    let converted = dataset(
        "DelimitedText",
        r#""escapeChar": "\"", "rowDelimiter": "\n", "nullValue": "", "quoteChar": "\"", "encodingName": "UTF8", "#,
    );
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    assert!(
        !converted.stdout.contains("escapeChar") && !converted.stdout.contains("rowDelimiter"),
        "{}",
        converted.stdout
    );
    for (kind, settings, message) in [
        (
            "Json",
            r#""compression": { "type": "GZip", "level": "Optimal" }, "#,
            "`dataset.typeProperties.compression.type`: `GZip` is not read or written",
        ),
        (
            "Json",
            r#""encodingName": "UTF-16", "#,
            "`dataset.typeProperties.encodingName`: hydrant reads and writes UTF-8 files only",
        ),
        (
            "Json",
            r#""fileFilter": "*.json", "#,
            "`dataset.typeProperties.fileFilter`: is not a setting of a Json dataset that hydrant knows",
        ),
        (
            "Parquet",
            r#""compressionCodec": "lzo", "#,
            "`dataset.typeProperties.compressionCodec`: `lzo` is not written",
        ),
        (
            "DelimitedText",
            r#""compressionCodec": "bzip2", "#,
            "`dataset.typeProperties.compressionCodec`: `bzip2` is not read or written",
        ),
        (
            "DelimitedText",
            r#""nullValue": "NULL", "#,
            "`dataset.typeProperties.nullValue`: `NULL` is not read or written: hydrant's CSV has a null as an empty field",
        ),
        (
            "DelimitedText",
            r#""quoteChar": "'", "#,
            "`dataset.typeProperties.quoteChar`: `'` is not read or written: hydrant's CSV quotes values with",
        ),
    ] {
        refused(&dataset(kind, settings), message);
    }
}

/// The YAML `rest_api` format: offset pages of 2 with an api key header,
/// `root_key`, a schema, templates from `--var` and the environment.
#[test]
fn yaml_rest_api_input_runs_as_written_and_as_converted() {
    let server = TestServer::start_fn(|seen| {
        let ok = seen.header("x-api-key") == Some("k-123")
            && seen.header("accept-language") == Some("en")
            && param(seen, "status") == Some("active")
            && param(seen, "limit") == Some("2");
        if !ok {
            return Exchange {
                status: 400,
                ..Exchange::json(&seen.target, r#"{"error":"unexpected request"}"#)
            };
        }
        let offset: u64 = param(seen, "offset").unwrap().parse().unwrap();
        let data: Vec<Value> = (offset..(offset + 2).min(5))
            .map(|id| json!({"id": id, "email": format!("u{id}@x"), "created": 1_700_000_000 + id, "extra": true}))
            .collect();
        Exchange::json(&seen.target, json!({ "data": data }).to_string())
    });
    let dir = Dir::new();
    let (original, converted) =
        original_and_converted(&dir, "customers.yaml", &fixture("yaml/customers.yaml"));
    let base = format!("base={}", server.url());
    let mut outputs = Vec::new();
    for (job, out) in [(&original, "a.jsonl"), (&converted, "b.jsonl")] {
        let out_var = format!("out={}", dir.path(out).display());
        let run = crate::util::hydrant_with(
            &["run", job, "--var", &base, "--var", &out_var],
            &[("CUSTOMERS_KEY", "k-123")],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        outputs.push(dir.read(out));
    }
    assert_eq!(outputs[0], outputs[1]);
    let records: Vec<Value> = outputs[0]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 5);
    assert_eq!(
        records[4],
        json!({"id": 4, "email": "u4@x", "created": "2023-11-14T22:13:24Z"})
    );
}

/// The customer-sync example: a JSON lines file into batches of 2 with a
/// bearer token from the environment.
#[test]
fn yaml_customer_sync_sends_batches_as_written_and_as_converted() {
    let server = TestServer::start_fn(|seen| {
        let ok = seen.method == "POST"
            && seen.target == "/api/customers/bulk"
            && seen.header("authorization") == Some("Bearer crm-t")
            && seen.header("x-sync") == Some("nightly");
        Exchange {
            status: if ok { 200 } else { 400 },
            ..Exchange::json(&seen.target, "{}")
        }
    });
    let dir = Dir::new();
    dir.write("changed.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
    let (original, converted) =
        original_and_converted(&dir, "sync.yaml", &fixture("yaml/customer-sync.yaml"));
    let url = format!("crm_url={}", server.url());
    for job in [&original, &converted] {
        let run =
            crate::util::hydrant_with(&["run", job, "--var", &url], &[("CRM_TOKEN", "crm-t")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let mut sent: Vec<String> = server
        .requests()
        .iter()
        .map(|seen| String::from_utf8(seen.body.clone()).unwrap())
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            r#"[{"id":1},{"id":2}]"#,
            r#"[{"id":1},{"id":2}]"#,
            r#"[{"id":3}]"#,
            r#"[{"id":3}]"#
        ]
    );
}

#[test]
fn a_yaml_template_hydrant_cannot_read_is_refused_naming_it() {
    let dir = Dir::new();
    let text = fixture("yaml/customers.yaml")
        .replace("{{ env.CUSTOMERS_KEY }}", "{{ secrets.key | upper }}");
    let job = dir.write("bad.yaml", &text);
    let run = hydrant(&["run", path_str(&job)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("YAML rest_api job file `")
            && run.stderr.contains("`CONFIG.inputs[0].auth.value`: `{{ secrets.key | upper }}` is not a template hydrant reads"),
        "{}",
        run.stderr
    );
}

/// A key the YAML converter does not read is refused naming it, as a
/// native job refuses an unknown key: left out, it would change the run.
#[test]
fn a_yaml_key_hydrant_does_not_read_is_refused_naming_it() {
    let dir = Dir::new();
    let text = fixture("yaml/customers.yaml");
    let cases = [
        (
            "        root_key: data\n",
            "        root_key: data\n        total_key: total\n",
            "`CONFIG.inputs.customers.response.total_key`: is not a key hydrant reads here (it reads root_key)",
        ),
        (
            "        max_pages: 10\n",
            "        max_pages: 10\n        stop_on_empty: true\n",
            "`CONFIG.inputs.customers.pagination.stop_on_empty`: is not a key",
        ),
        (
            "        in: header\n",
            "        in: header\n        prefix: Token\n",
            "`CONFIG.inputs.customers.auth.prefix`: is not a key",
        ),
        (
            "      method: GET\n",
            "      method: GET\n      timeout: 30\n",
            "`CONFIG.inputs.customers.timeout`: is not a key",
        ),
        (
            "        max_retries: 3\n",
            "        max_retries: 3\n        burst: 5\n",
            "`CONFIG.inputs.customers.rate_limit.burst`: is not a key",
        ),
        (
            "          type: timestamp\n",
            "          type: timestamp\n          format: \"%Y\"\n",
            "`CONFIG.inputs.customers.schema[2].format`: is not a key",
        ),
        (
            "      format: jsonl\n",
            "      format: jsonl\n      compression: gzip\n",
            "`CONFIG.outputs.customers_file.compression`: is not a key",
        ),
        (
            "  outputs:\n",
            "  transforms:\n    - drop: email\n  outputs:\n",
            "`CONFIG.transforms`: is not a key hydrant reads here (it reads inputs, outputs)",
        ),
    ];
    for (from, to, message) in cases {
        assert!(text.contains(from), "{from}");
        let job = dir.write("bad.yaml", &text.replacen(from, to, 1));
        refused(&hydrant(&["convert", path_str(&job)]), message);
    }
}

/// A pipeline with two Copy activities, and a YAML file with two inputs:
/// each needs its flag, which picks one.
#[test]
fn activity_input_and_output_name_pick_one_of_several() {
    let dir = Dir::new();
    copy_fixture_folder("adf/git", &dir);
    let mut pipeline: Value =
        serde_json::from_str(&fixture("adf/git/pipeline/CopyOrders.json")).unwrap();
    let mut other = pipeline["properties"]["activities"][0].clone();
    other["name"] = json!("CopyElsewhere");
    other["inputs"][0]["referenceName"] = json!("Nowhere");
    pipeline["properties"]["activities"]
        .as_array_mut()
        .unwrap()
        .push(other);
    let job = dir.write("pipeline/Two.json", &pipeline.to_string());
    let both = hydrant(&["convert", path_str(&job)]);
    assert_eq!(both.code, 2);
    assert!(
        both.stderr.contains(
            "has several Copy activities (CopyOrdersToFile, CopyElsewhere): pick one with --activity NAME"
        ),
        "{}",
        both.stderr
    );
    let picked = hydrant(&["convert", path_str(&job), "--activity", "CopyOrdersToFile"]);
    assert_eq!(picked.code, 0, "{}", picked.stderr);
    assert!(picked.stdout.contains("/api/v1/orders?status=open"));
    let missing = hydrant(&["convert", path_str(&job), "--activity", "Nope"]);
    assert!(
        missing
            .stderr
            .contains("`--activity`: no Copy activity is named `Nope` (there are: CopyOrdersToFile, CopyElsewhere)"),
        "{}",
        missing.stderr
    );

    let yaml = fixture("yaml/customers.yaml").replace(
        "  outputs:",
        "    - name: orders\n      type: rest_api\n      url: https://example.com/orders\n  outputs:",
    );
    let job = dir.write("two.yaml", &yaml);
    let both = hydrant(&["convert", path_str(&job)]);
    assert_eq!(both.code, 2);
    assert!(
        both.stderr.contains(
            "`CONFIG.inputs`: has several entries (customers, orders): pick one with --input NAME"
        ),
        "{}",
        both.stderr
    );
    let picked = hydrant(&[
        "convert",
        path_str(&job),
        "--input",
        "orders",
        "--output-name",
        "customers_file",
    ]);
    assert_eq!(picked.code, 0, "{}", picked.stderr);
    assert!(
        picked
            .stdout
            .contains("url = \"https://example.com/orders\""),
        "{}",
        picked.stdout
    );
    let explain = hydrant(&["explain", path_str(&job), "--input", "orders"]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    assert!(
        explain.stdout.contains("https://example.com/orders"),
        "{}",
        explain.stdout
    );
}

/// The minimal YAML input: one GET, the records at the root, NDJSON to
/// stdout, columns inferred.
#[test]
fn yaml_minimal_input_prints_the_records() {
    let server = TestServer::start_fn(|seen| {
        Exchange::json(
            &seen.target,
            r#"[{"id":1,"title":"a","done":false},{"id":2,"title":"b","done":true}]"#,
        )
    });
    let dir = Dir::new();
    let (original, converted) =
        original_and_converted(&dir, "minimal.yaml", &fixture("yaml/minimal.yaml"));
    let base = format!("base={}", server.url());
    let first = hydrant(&["run", &original, "--var", &base]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(
        first.stdout,
        "{\"id\":1,\"title\":\"a\",\"done\":false}\n{\"id\":2,\"title\":\"b\",\"done\":true}\n"
    );
    let second = hydrant(&["run", &converted, "--var", &base]);
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(server.requests()[0].target, "/todos");
}

/// The DataWorks writer demo: a stream reader's constant columns,
/// `sliceRecordCount` times, one record a request (`oneData`), the
/// writer's dotted names building nested objects.
#[test]
fn dataworks_stream_reader_feeds_the_restapi_writer() {
    let server = TestServer::start_fn(|seen| Exchange::json(&seen.target, "{}"));
    let dir = Dir::new();
    let (original, converted) = original_and_converted(
        &dir,
        "stream.json",
        &fixture("dataworks/stream-writer.json"),
    );
    let base = format!("base={}", server.url());
    for job in [&original, &converted] {
        let run = hydrant(&["run", job, "--var", &base]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 6);
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/api/events");
        assert_eq!(
            String::from_utf8(request.body.clone()).unwrap(),
            r#"{"event":{"id":42,"message":"hello"},"ok":true}"#
        );
    }
}

/// ADF pagination Example 6 (a page range that ends when a member holds a
/// constant) in a pipeline: the rules pass through verbatim, placeholders
/// and end conditions included.
#[test]
fn adf_pagination_rules_pass_through_a_pipeline_verbatim() {
    let server = TestServer::start_fn(|seen| {
        let page: u64 = param(seen, "page").unwrap().parse().unwrap();
        let body = json!({"value": [{"id": page}], "meta": {"completed": page == 3}});
        Exchange::json(&seen.target, body.to_string())
    });
    let dir = Dir::new();
    copy_fixture_folder("adf/git", &dir);
    let pipeline = fixture("adf/git/pipeline/CopyOrders.json").replace(
        r#""paginationRules": { "AbsoluteUrl": "$.paging.next" }"#,
        r#""paginationRules": { "QueryParameters.page": "RANGE:1::1", "EndCondition:$.meta.completed": "Const:true" }"#,
    );
    let job = dir.write("pipeline/Ranged.json", &pipeline);
    let converted = hydrant(&["convert", path_str(&job)]);
    assert_eq!(converted.code, 0, "{}", converted.stderr);
    assert!(
        converted
            .stdout
            .contains("\"EndCondition:$.meta.completed\" = \"Const:true\""),
        "{}",
        converted.stdout
    );
    let toml = dir.write("converted.toml", &converted.stdout);
    let base = format!("base={}", server.url());
    let mut outputs = Vec::new();
    for (job, out) in [(&job, "a"), (&toml, "b")] {
        std::fs::create_dir_all(dir.path(out).join("exports")).unwrap();
        let out_var = format!("out_dir={}", dir.path(out).display());
        let run = hydrant(&[
            "run",
            path_str(job),
            "--var",
            &base,
            "--var",
            "password=pw",
            "--var",
            &out_var,
            "--summary-json",
            path_str(&dir.path(&format!("{out}.json"))),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        outputs.push(std::fs::read_to_string(dir.path(out).join("exports/orders.json")).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    let ids: Vec<Value> = outputs[0]
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["order_id"].clone())
        .collect();
    assert_eq!(ids, [json!(1), json!(2), json!(3)]);
    let summary: Value = serde_json::from_str(&dir.read("a.json")).unwrap();
    assert_eq!(summary["stopped"], "end_condition");
}

/// The paginationRules of ADF's Examples 1 to 8, each in a pipeline: the
/// converted job holds them exactly, placeholders and end conditions
/// included. (Each runs against a server in `paginate::adf_examples_*`.)
#[test]
fn adf_pagination_examples_1_to_8_convert_verbatim() {
    let examples = [
        json!({"QueryParameters.{offset}": "RANGE:0:4:2"}),
        json!({"AbsoluteUrl.{id}": "RANGE:1:3:1"}),
        json!({"Headers.{id}": "RANGE:0:20:10"}),
        json!({"AbsoluteUrl.{id}": "RANGE:1::1", "EndCondition:$.data": "Empty"}),
        json!({"QueryParameters.page": "RANGE:1::1", "EndCondition:$.data": "NonExist"}),
        json!({"QueryParameters.page": "RANGE:1::1", "EndCondition:$.meta.completed": "Const:true"}),
        json!({"QueryParameters.page": "RANGE:1::1", "EndCondition:Headers.Complete": "Exist"}),
        json!({"AbsoluteUrl": "body.{@odata.nextLink}"}),
    ];
    let dir = Dir::new();
    copy_fixture_folder("adf/git", &dir);
    let mut pipeline: Value =
        serde_json::from_str(&fixture("adf/git/pipeline/CopyOrders.json")).unwrap();
    for (n, rules) in examples.iter().enumerate() {
        pipeline["properties"]["activities"][0]["typeProperties"]["source"]["paginationRules"] =
            rules.clone();
        let job = dir.write("pipeline/Example.json", &pipeline.to_string());
        let converted = hydrant(&["convert", path_str(&job)]);
        assert_eq!(converted.code, 0, "example {}: {}", n + 1, converted.stderr);
        let native: toml::Table = toml::from_str(&converted.stdout).unwrap();
        let got = serde_json::to_value(&native["paginate"]["rules"]).unwrap();
        assert_eq!(&got, rules, "example {}", n + 1);
        assert_eq!(native["paginate"]["type"].as_str(), Some("rules"));
        // And the converted job is a valid hydrant job.
        let toml = dir.write("example.toml", &converted.stdout);
        let explain = hydrant(&[
            "explain",
            path_str(&toml),
            "--var",
            "base=http://127.0.0.1:9",
            "--var",
            "password=pw",
            "--var",
            "out_dir=/tmp",
        ]);
        assert_eq!(explain.code, 0, "example {}: {}", n + 1, explain.stderr);
    }
}

/// Only `[parameters('NAME')]` is evaluated in an ARM template, whatever
/// the key holding an expression is called (`name` included).
#[test]
fn an_arm_function_other_than_parameters_is_refused_naming_the_key() {
    let text = fixture("adf/arm/template.json").replace(
        r#""additionalHeaders": { "x-source": "adf" }"#,
        r#""additionalHeaders": { "name": "[variables('source')]" }"#,
    );
    let dir = Dir::new();
    let job = dir.write("template.json", &text);
    let run = hydrant(&["convert", path_str(&job)]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "`pipeline.properties.activities[0].typeProperties.sink.additionalHeaders.name`: `[variables('source')]`: only [parameters('NAME')] is evaluated"
        ),
        "{}",
        run.stderr
    );
}

/// Runs a Dataphin example job with `base` set to the server and returns
/// its NDJSON records.
fn run_dataphin(name: &str, base: &str) -> Vec<Value> {
    let dir = Dir::new();
    let job = dir.write(name, &fixture(&format!("dataphin/{name}")));
    let base = format!("base={base}");
    let run = hydrant(&["run", path_str(&job), "--var", &base]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Dataphin's paging loop by page number, the parameter a JSON path into a
/// POST body: `paging.pageNo` counts 1, 2, 3 and the loop ends at the
/// first empty page.
#[test]
fn dataphin_page_loop_counts_a_member_of_the_body() {
    let server = TestServer::start_fn(|seen| {
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
        let page = body["paging"]["pageNo"].as_u64();
        let expected = seen.method == "POST"
            && seen.target == "/open/v1/orders"
            && body["query"]["status"] == "PAID"
            && body["paging"]["pageSize"] == 2
            && page.is_some();
        if !expected {
            return json(400, r#"{"error":"unexpected request"}"#);
        }
        let page = page.unwrap();
        let rows: Vec<Value> = if page <= 3 {
            (0..2)
                .map(|i| {
                    let id = page * 10 + i;
                    json!({"id": id, "buyer": {"name": format!("b{id}")}, "amount": id as f64 / 2.0})
                })
                .collect()
        } else {
            vec![]
        };
        json(200, json!({"data": {"rows": rows}}).to_string())
    });
    let records = run_dataphin("page.toml", &server.url());
    let ids: Vec<u64> = records
        .iter()
        .map(|r| r["order_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [10, 11, 20, 21, 30, 31]);
    assert_eq!(
        records[3],
        json!({"order_id": 21, "buyer": "b21", "amount": 10.5})
    );
    // Pages may be asked for ahead of the answers: past the empty page,
    // some may have gone out (and their answers are dropped).
    let mut pages: Vec<u64> = server
        .requests()
        .iter()
        .map(|seen| {
            let body: Value = serde_json::from_slice(&seen.body).unwrap();
            body["paging"]["pageNo"].as_u64().unwrap()
        })
        .collect();
    pages.sort_unstable();
    assert_eq!(pages[..4], [1, 2, 3, 4]);
}

/// Dataphin's paging loop by cursor: the token comes from
/// `data.nextToken` of each answer; the first request has none.
#[test]
fn dataphin_cursor_loop_sends_the_token_of_the_last_answer() {
    let server = TestServer::start_fn(|seen| {
        if !seen.target.starts_with("/open/v1/events?") || param(seen, "limit") != Some("3") {
            return json(400, r#"{"error":"unexpected request"}"#);
        }
        let (items, next) = match param(seen, "nextToken") {
            None => (vec![1, 2, 3], json!("t-2")),
            Some("t-2") => (vec![4, 5, 6], json!("t-3")),
            Some("t-3") => (vec![7], Value::Null),
            Some(_) => return json(400, r#"{"error":"bad token"}"#),
        };
        let items: Vec<Value> = items.iter().map(|i| json!({"event": i})).collect();
        json(
            200,
            json!({"data": {"items": items, "nextToken": next}}).to_string(),
        )
    });
    let records = run_dataphin("cursor.toml", &server.url());
    let events: Vec<u64> = records
        .iter()
        .map(|r| r["event"].as_u64().unwrap())
        .collect();
    assert_eq!(events, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(server.requests().len(), 3);
}

/// Dataphin's parameter traversal loop: one request per city, the city
/// kept as a column beside each record.
#[test]
fn dataphin_traversal_loop_asks_once_per_value() {
    let server = TestServer::start_fn(|seen| {
        let city = param(seen, "city").unwrap_or_default();
        let temp = match city {
            "Hangzhou" => 21,
            "Shanghai" => 19,
            "Beijing" => 8,
            _ => return json(400, r#"{"error":"unknown city"}"#),
        };
        let data = json!([
            {"date": "2026-12-01", "temp": temp},
            {"date": "2026-12-02", "temp": temp + 1},
        ]);
        json(200, json!({"data": data}).to_string())
    });
    let records = run_dataphin("traversal.toml", &server.url());
    assert_eq!(records.len(), 6);
    assert_eq!(
        records[2],
        json!({"city": "Shanghai", "date": "2026-12-01", "temp": 19})
    );
    assert_eq!(
        records[5],
        json!({"city": "Beijing", "date": "2026-12-02", "temp": 9})
    );
}
