//! initaudit: checks the mathematics behind weight initialization.
//!
//! Claims written in a small language are evaluated exactly and by seeded
//! Monte Carlo under named scenarios; verdicts say which hold under which
//! assumptions. Data flows one way, and no module uses one that comes
//! after it in [`ORDER`]: `special` (functions) -> `lang` (parse) -> `model` (scenarios) -> `exact` /
//! `sample` -> `verdict`, `requirement` -> `outcome` -> `report` -> `net` ->
//! `audit` -> `gain` -> `meanfield` -> `init`, `calibrate`. See ARCHITECTURE.md for the map.

pub mod audit;
pub mod calibrate;
pub mod diag;
pub mod exact;
pub mod gain;
pub mod init;
pub mod lang;
pub mod meanfield;
pub mod memory;
pub mod model;
pub mod net;
pub mod outcome;
pub mod progress;
pub mod report;
pub mod requirement;
pub mod sample;
pub mod special;
pub mod verdict;
pub mod work;

/// The modules in dependency order: each uses only modules before it (its
/// tests may use any). A new module takes its place here; the test below
/// reads the sources and fails on a use that points later, which is how a
/// cycle would start.
pub const ORDER: [&str; 20] = [
    "special",
    "lang",
    "memory",
    "work",
    "progress",
    "diag",
    "model",
    "sample",
    "exact",
    "verdict",
    "requirement",
    "outcome",
    "report",
    "net",
    "audit",
    "gain",
    "meanfield",
    "init",
    "calibrate",
    "main",
];

#[cfg(test)]
mod tests {
    use super::ORDER;
    use std::path::Path;

    /// The top-level modules a source file uses through `crate::`, outside
    /// its tests (which come last in every file, after `#[cfg(test)]`).
    fn uses(text: &str) -> Vec<String> {
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut out: Vec<String> = code
            .match_indices("crate::")
            .map(|(i, _)| {
                code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("src/ is readable") {
            let p = e.expect("an entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn modules_use_only_modules_before_them() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        let mut checked = 0;
        for f in files {
            let rel = f.strip_prefix(&src).expect("under src/");
            let first = rel.components().next().expect("a path");
            let name = first.as_os_str().to_string_lossy();
            let module = name.trim_end_matches(".rs");
            if module == "lib" {
                continue;
            }
            let at = ORDER
                .iter()
                .position(|m| *m == module)
                .unwrap_or_else(|| panic!("module `{module}` is not in lib.rs's ORDER"));
            let text = std::fs::read_to_string(&f).expect("readable");
            for used in uses(&text) {
                let Some(u) = ORDER.iter().position(|m| *m == used) else {
                    continue;
                };
                assert!(
                    u <= at,
                    "{} uses `{used}`, which comes after `{module}` in ORDER",
                    rel.display()
                );
            }
            checked += 1;
        }
        assert!(checked >= 30, "only {checked} files read");
    }

    #[test]
    fn the_reader_sees_uses_in_code_and_not_in_tests() {
        let text =
            "use crate::lang::ast;\nfn f() { crate::work::x(); }\n#[cfg(test)]\nuse crate::audit;";
        assert_eq!(uses(text), ["lang", "work"]);
    }
}
