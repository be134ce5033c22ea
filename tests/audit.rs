//! The proof audit as a test: runs every file in derivations/ exactly as
//! `cargo run --release` does, prints the tables, and fails when any verdict
//! contradicts its file's expectations or the engines disagree, or when a
//! line of the tables is wider than a terminal of 100 columns.
//!
//! It has no harness, so it reads the harness's arguments itself: `--list`
//! lists it without running it, and a name filter that does not match
//! "audit" skips it, so `cargo test --release NAME` does not wait for the
//! whole audit. Its target is named to run last (Cargo.toml), so that its
//! summary line ends `cargo test`'s output; it fails if another test
//! target would sort after it.

use initaudit::audit;
use initaudit::report::{Format, WIDTH, render};
use initaudit::verdict::Settings;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use unicode_width::UnicodeWidthStr;

/// Test targets whose names sort after this one's: cargo would run them
/// after the audit, burying its summary. Targets are the files under
/// tests/ (this one's file is claimed by its `[[test]]` entry).
fn targets_after_this_one(root: &Path) -> Vec<String> {
    let own = env!("CARGO_CRATE_NAME");
    let mut after: Vec<String> = std::fs::read_dir(root.join("tests"))
        .expect("tests/ is readable")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let stem = path.file_stem()?.to_str()?.to_string();
            let target =
                path.extension().is_some_and(|x| x == "rs") || path.join("main.rs").is_file();
            (target && stem != "audit" && stem.as_str() > own).then_some(stem)
        })
        .collect();
    after.sort();
    after
}

/// Whether libtest's arguments leave out a test named "audit": name
/// filters (substrings, or whole names with `--exact`) that all miss it, or
/// a `--skip` that matches it.
fn filtered_out(args: &[String]) -> bool {
    let exact = args.iter().any(|a| a == "--exact");
    let matches = |f: &str| {
        if exact {
            f == "audit"
        } else {
            "audit".contains(f)
        }
    };
    let mut filters = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--skip" => {
                if it.next().is_some_and(|f| matches(f)) {
                    return true;
                }
            }
            // Options whose value is the next argument.
            "--test-threads" | "--color" | "--format" | "--logfile" | "-Z" | "--shuffle-seed" => {
                it.next();
            }
            a if a.starts_with('-') => {}
            f => filters.push(f),
        }
    }
    !filters.is_empty() && !filters.iter().any(|f| matches(f))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("audit: test");
        return ExitCode::SUCCESS;
    }
    if filtered_out(&args) {
        println!("audit: skipped (filtered out)");
        return ExitCode::SUCCESS;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let after = targets_after_this_one(&root);
    if !after.is_empty() {
        eprintln!(
            "error: test targets {after:?} sort after `{}` and would run after the audit: \
             rename them or the audit's [[test]] in Cargo.toml",
            env!("CARGO_CRATE_NAME")
        );
        return ExitCode::FAILURE;
    }
    let dir = root.join("derivations");
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
