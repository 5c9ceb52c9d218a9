//! Writes one page of every corpus shape into a folder:
//! `corpus DIR [RECORDS] [PAGE]` writes `DIR/<shape>.json`.

use hydrant_bench::corpus::Shape;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: corpus DIR [RECORDS] [PAGE]");
        return std::process::ExitCode::from(2);
    };
    let number = |i: usize, default: u64| args.get(i).map_or(Some(default), |a| a.parse().ok());
    let (Some(records), Some(page)) = (number(1, 20), number(2, 0)) else {
        eprintln!("corpus: RECORDS and PAGE are whole numbers");
        return std::process::ExitCode::from(2);
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("corpus: cannot create `{dir}`: {e}");
        return std::process::ExitCode::FAILURE;
    }
    for shape in Shape::ALL {
        let path = std::path::Path::new(dir).join(format!("{}.json", shape.name()));
        if let Err(e) = std::fs::write(&path, shape.page(page, records as usize)) {
            eprintln!("corpus: cannot write `{}`: {e}", path.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}
