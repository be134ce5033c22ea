//! The proof audit as a test: runs every file in derivations/ exactly as
//! `cargo run --release` does, prints the tables, and fails when any verdict
//! contradicts its file's expectations or the engines disagree, or when a
//! line of the tables is wider than a terminal of 100 columns.

use initaudit::audit;
use initaudit::report::{Format, WIDTH, render};
use initaudit::verdict::Settings;
use std::path::PathBuf;
use std::process::ExitCode;
use unicode_width::UnicodeWidthStr;

fn main() -> ExitCode {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("derivations");
    let paths = audit::collect_files(&[dir]).expect("derivations/ is readable");
    let mut files = Vec::new();
    for p in &paths {
        match audit::load_path(p) {
            Ok(f) => files.push(f),
            Err(e) => {
                eprint!("{}", e.render());
                return ExitCode::FAILURE;
            }
        }
    }
    let report = match audit::run(&files, &Settings::default()) {
        Ok(r) => r,
        Err(e) => {
            eprint!("{}", e.render());
            return ExitCode::FAILURE;
        }
    };
    let out = render(&report, Format::Table);
    print!("{out}");
    // The default report fits a terminal of 100 columns (display width).
    let wide: Vec<&str> = out
        .lines()
        .filter(|l| UnicodeWidthStr::width(*l) > WIDTH)
        .collect();
    if !wide.is_empty() {
        eprintln!("{} lines wider than {WIDTH} columns:", wide.len());
        for l in &wide {
            eprintln!("{l}");
        }
        return ExitCode::FAILURE;
    }
    let results = report.checked().map(|(_, c)| c.rows.len()).sum::<usize>();
    let failed = report
        .checked()
        .map(|(_, c)| {
            c.rows
                .iter()
                .filter(|r| !r.as_expected || !r.evaluation.defects.is_empty())
                .count()
        })
        .sum::<usize>();
    println!("audit: {} passed, {} failed", results - failed, failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
