//! Serves a generated corpus as a paginated API (see
//! `hydrant_bench::api`) until killed, printing its URL on the first line
//! of standard output:
//! `corpus-api [SHAPE] [PAGES] [RECORDS] [DISTINCT] [ADDR] [JOBS]`
//! (defaults: nested 1000 1000 50 127.0.0.1:0). `SHAPE+gzip` serves the
//! pages gzip-compressed (offset and link-header styles only). With `JOBS`,
//! a folder, it also writes there, for each style served, `STYLE.toml`
//! (the job, NDJSON into `JOBS/STYLE.ndjson`) and `STYLE.curl` (a curl
//! config fetching the same pages to standard output).

use std::io::Write;
use std::process::ExitCode;

use hydrant_bench::api::{CorpusApi, Style};
use hydrant_bench::corpus::Shape;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    // `SHAPE+gzip` serves the pages gzip-compressed.
    let shape_arg = arg(0, "nested");
    let (shape_name, gzip) = match shape_arg.strip_suffix("+gzip") {
        Some(name) => (name.to_owned(), true),
        None => (shape_arg.clone(), false),
    };
    let Some(shape) = Shape::parse(&shape_name) else {
        eprintln!("corpus-api: unknown shape `{}`", arg(0, ""));
        return ExitCode::from(2);
    };
    let numbers: Option<Vec<u64>> = [(1, "1000"), (2, "1000"), (3, "50")]
        .into_iter()
        .map(|(i, default)| arg(i, default).parse().ok())
        .collect();
    let Some(&[pages, records, distinct]) = numbers.as_deref() else {
        eprintln!("corpus-api: PAGES, RECORDS and DISTINCT are whole numbers");
        return ExitCode::from(2);
    };
    let Ok(addr) = arg(4, "127.0.0.1:0").parse() else {
        eprintln!("corpus-api: ADDR is a socket address such as 127.0.0.1:8080");
        return ExitCode::from(2);
    };
    let mut api = CorpusApi::new(shape, pages, records as usize, distinct);
    if gzip {
        api = api.gzip();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("corpus-api: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let served = api.clone();
        let server =
            match hydrant_bench::serve_fn(addr, move |seen| served.answer(&seen.target)).await {
                Ok(server) => server,
                Err(e) => {
                    eprintln!("corpus-api: cannot listen on {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            };
        if let Some(jobs) = args.get(5)
            && let Err(e) = write_jobs(&api, &server.url(), std::path::Path::new(jobs))
        {
            eprintln!("corpus-api: cannot write the jobs into `{jobs}`: {e}");
            return ExitCode::FAILURE;
        }
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{}", server.url());
        let _ = out.flush();
        std::future::pending::<()>().await;
        ExitCode::SUCCESS
    })
}

fn write_jobs(api: &CorpusApi, url: &str, dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for style in Style::ALL {
        let toml = dir.join(format!("{}.toml", style.name()));
        let curl = dir.join(format!("{}.curl", style.name()));
        if !api.styles().contains(&style) {
            for stale in [&toml, &curl] {
                let _ = std::fs::remove_file(stale);
            }
            continue;
        }
        let output = dir.join(format!("{}.ndjson", style.name()));
        let job = api.job(style, url, &output.to_string_lossy(), 4);
        std::fs::write(toml, job)?;
        // Bodies go to curl's stdout, which the bench sends to /dev/null
        // or to a file.
        let curl_config: String = api
            .targets(style)
            .iter()
            .map(|target| format!("url = \"{url}{target}\"\n"))
            .collect();
        std::fs::write(curl, curl_config)?;
    }
    Ok(())
}
