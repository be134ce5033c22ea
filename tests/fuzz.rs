//! A fuzzer for the language and the file loader, written here so that CI
//! needs nothing beyond `cargo test`.
//!
//! Inputs start from what users actually write — the shipped derivation
//! files, the `toml` blocks and `initaudit check` lines of docs/LANGUAGE.md,
//! and the committed corpus in tests/fuzz-corpus/ — and are mutated by a
//! seeded, hand-written mutator: tokens of the language inserted or
//! swapped, numbers replaced by huge, tiny and non-finite ones, spans
//! deleted and duplicated, lines swapped and spliced between inputs, deep
//! nesting, unicode, CRLF line ends and a byte-order mark. Structure-aware
//! mutation reaches the resolver and the engines; random bytes alone would
//! rarely get past the TOML parser.
//!
//! Each case goes through the library (files: `load`, then, for small ones,
//! planning every claim without evaluating; claims: `adhoc` then a whole
//! run with few draws), under `catch_unwind`, with a watchdog that fails
//! the run if any case takes longer than `CASE_LIMIT`. One case in
//! `BINARY_EVERY` also runs the binary on the same input under a timeout:
//! its exit status must be 0, 1 or 2 — never a panic (101), a signal or a
//! hang.
//!
//! `cargo test --release --test fuzz` runs the fast slice (the corpus, then
//! 1500 mutations, in two halves that run side by side). The full run is
//! `FUZZ_CASES=100000 cargo test --release --test fuzz -- --ignored --nocapture`
//! (`FUZZ_SEED` picks the stream, `FUZZ_SAVE=1` adds newly interesting
//! inputs to the corpus); its figures are in docs/CALIBRATION.md.

use initaudit::audit;
use initaudit::verdict::Settings;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest any one case may take in the library before the run fails as a
/// hang. Real inputs take milliseconds; the slowest planned file, seconds.
const CASE_LIMIT: Duration = Duration::from_secs(60);
/// Longest the binary may take on one sampled input.
const BINARY_LIMIT: Duration = Duration::from_secs(120);
/// One case in this many also runs the binary.
const BINARY_EVERY: u64 = 250;
/// Most inputs one full run adds to the corpus.
const CORPUS_MAX: usize = 60;
/// Files longer than this are only loaded, not planned: planning a whole
/// shipped file settles sampled requirements and takes seconds.
const PLAN_BELOW: usize = 2500;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// SplitMix64: a fixed, seedable stream, so a run is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One input: a file, or the arguments of `initaudit check`.
#[derive(Clone, Debug, PartialEq)]
enum Case {
    File(String),
    Check {
        claim: String,
        given: String,
        define: Vec<String>,
        within: Option<String>,
    },
}

impl Case {
    fn to_json(&self) -> Value {
        match self {
            Case::File(t) => json!({ "file": t }),
            Case::Check {
                claim,
                given,
                define,
                within,
            } => json!({ "claim": claim, "given": given, "define": define, "within": within }),
        }
    }

    fn from_json(v: &Value) -> Case {
        if let Some(t) = v["file"].as_str() {
            return Case::File(t.to_string());
        }
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Case::Check {
            claim: s("claim"),
            given: s("given"),
            define: v["define"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|d| d.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            within: v["within"].as_str().map(str::to_string),
        }
    }
}

/// The fenced blocks of a given language in a markdown text.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some(String::new()),
            Some(_) if line.trim() == "```" => out.push(current.take().expect("in a block")),
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

/// The quoted arguments of a documented `initaudit check` line.
fn check_case(line: &str) -> Option<Case> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                words.push(std::mem::take(&mut word));
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let claim = words.get(2)?.clone();
    let (mut given, mut define, mut within) = (String::new(), Vec::new(), None);
    for pair in words[3..].windows(2) {
        match pair[0].as_str() {
            "--given" => given = pair[1].clone(),
            "--define" => define.push(pair[1].clone()),
            "--within" => within = Some(pair[1].clone()),
            _ => {}
        }
    }
    Some(Case::Check {
        claim,
        given,
        define,
        within,
    })
}

/// Every starting input: shipped files, docs examples, the corpus.
fn seeds() -> Vec<Case> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("derivations"))
        .expect("derivations/")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    for f in files {
        out.push(Case::File(std::fs::read_to_string(f).expect("readable")));
    }
    let doc = std::fs::read_to_string(root().join("docs/LANGUAGE.md")).expect("the docs");
    out.extend(blocks(&doc, "toml").into_iter().map(Case::File));
    for block in blocks(&doc, "sh") {
        out.extend(
            block
                .lines()
                .filter(|l| l.starts_with("initaudit check "))
                .filter_map(check_case),
        );
    }
    out.extend(corpus().into_iter().map(|(_, c)| c));
    out
}

fn corpus_dir() -> PathBuf {
    root().join("tests/fuzz-corpus")
}

/// The committed corpus, by file name.
fn corpus() -> Vec<(String, Case)> {
    let Ok(dir) = std::fs::read_dir(corpus_dir()) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Case)> = dir
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        // `slow-` entries end (the exact engine's work cap bounds them) but
        // take tens of seconds: stored for the record, not replayed.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("slow-"))
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let v: Value = serde_json::from_str(&text).expect("corpus entries are json");
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                Case::from_json(&v),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Pieces of the language and of the file format, and things that break
/// naive code: numbers at the edges of f64, unicode, control characters.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    "~",
    "~=",
    "<=",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "^",
    "'",
    "''",
    "E[",
    "Var[",
    "Cov[",
    "sum(",
    "sum(1000000000, ",
    "relu",
    "tanh'",
    "leaky_relu(",
    "x",
    "y",
    "w",
    "n",
    "pi",
    "e",
    "\"",
    "\"\"\"",
    "'''",
    "\n",
    "\r\n",
    "\r",
    "#",
    ";",
    "é",
    "∑",
    "\u{200b}",
    "\u{feff}",
    "💥",
    "\u{0}",
    "\t",
    "ﬁ",
    "İ",
    "Ω",
    "\\",
    "\\u0041",
    "{",
    "}",
    "[[claim]]\nid = \"z\"\nsays = \"E[y] = 0\"\n",
    "[functions]\n",
    "[scenario.q]\n",
    "[[derivation.step]]\nto = \"E[y]\"\n",
    "[[series]]\n",
    "[network.m]\n",
    "Normal(0, 1)",
    "BivariateNormal(1, 1, 0.5)",
    "Cauchy(0, 1)",
    "StudentsT(0, 1, 2)",
    "Uniform(0, 0)",
    "Bernoulli(1)",
    "Gamma(0.001, 1000)",
    "LogNormal(0, 30)",
    "TruncatedNormal(0, 1, 50, 51)",
    "Exponential(1e-300)",
    "1/y",
    "log(y)",
    "sqrt(-1)",
    "exp(exp(y))",
    "y^y",
    "0^0",
    "abs(y)^0.5",
    "sign(y)",
    "step(y)",
    "f(x)",
    "g(x) = x",
    "requires = [\"symmetric(y)\"]\n",
    "within = \"2%\"\n",
    "expect = { q = \"holds\" }\n",
    "in = [\"q\"]\n",
    "layers = \"1..L\"\n",
    "depth = 1000\nwidth = 4\n",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "0.5",
    "1e308",
    "-1e308",
    "1e-308",
    "5e-324",
    "1e400",
    "1e-400",
    "1.7976931348623157e308",
    "2.2250738585072014e-308",
    "9007199254740993",
    "18446744073709551616",
    "4294967296",
    "1e7",
    "10000001",
    "1e9",
    "0.000000001",
    "1e-9",
    "3.141592653589793",
    "1e15",
    "123456789012345678901234567890",
    ".5",
    "5.",
    "1e",
    "0x10",
    "NaN",
    "inf",
    "-inf",
    "1_000",
];

/// A char boundary at or before `i`.
fn boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A random span of `s`, on char boundaries, at most `max` bytes.
fn span(rng: &mut Rng, s: &str, max: usize) -> (usize, usize) {
    let a = boundary(s, rng.below(s.len() + 1));
    let b = boundary(s, a + rng.below(max.min(s.len() - a) + 1));
    (a, b)
}

/// Byte ranges of the numbers in `s`.
fn numbers(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric());
        if starts {
            let j = i + b[i..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == b'.' || **c == b'e')
                .count();
            out.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Identifiers (a letter then letters, digits, `_`) in `s`.
fn words(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let j = i + b[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            out.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// One mutation of `s`; `other` is another input to splice from.
fn mutate_once(rng: &mut Rng, s: &str, other: &str) -> String {
    let mut s = s.to_string();
    match rng.below(14) {
        0 | 1 => {
            let at = boundary(&s, rng.below(s.len() + 1));
            let token: &str = rng.pick::<&str>(TOKENS);
            s.insert_str(at, token);
        }
        2 | 3 => {
            let nums = numbers(&s);
            if !nums.is_empty() {
                let (a, b) = *rng.pick(&nums);
                let number: &str = rng.pick::<&str>(NUMBERS);
                s.replace_range(a..b, number);
            }
        }
        4 => {
            let (a, b) = span(rng, &s, 40);
            s.replace_range(a..b, "");
        }
        5 => {
            let (a, b) = span(rng, &s, 200);
            let piece = s[a..b].to_string();
            s.insert_str(b, &piece);
        }
        6 => {
            let mut lines: Vec<&str> = s.split_inclusive('\n').collect();
            if lines.len() > 1 {
                let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(i, j);
            }
            s = lines.concat();
        }
        7 => {
            // Deep nesting of one kind or another around a word.
            let depth = [3, 50, 199, 201, 1000, 20000][rng.below(6)];
            let (open, close) = *rng.pick(&[
                ("(", ")"),
                ("-", ""),
                ("relu(", ")"),
                ("2^", ""),
                ("E[", "]"),
                ("sum(2, ", ")"),
                ("f(", ")"),
                ("[", "]"),
                ("{a=", "}"),
            ]);
            let ws = words(&s);
            let (a, b) = if ws.is_empty() {
                (0, 0)
            } else {
                *rng.pick(&ws)
            };
            s.replace_range(
                a..b,
                &format!("{}{}{}", open.repeat(depth), &s[a..b], close.repeat(depth)),
            );
        }
        8 => s = s.replace('\n', "\r\n"),
        9 => s.insert(0, '\u{feff}'),
        10 => {
            let (a, b) = span(rng, other, 300);
            let at = boundary(&s, rng.below(s.len() + 1));
            s.insert_str(at, &other[a..b]);
        }
        11 => {
            let ws = words(&s);
            if !ws.is_empty() {
                let (a, b) = *rng.pick(&ws);
                let (c, d) = *rng.pick(&ws);
                let replacement = s[c..d].to_string();
                s.replace_range(a..b, &replacement);
            }
        }
        12 => {
            // A long run of one token: huge inputs, long names, many items.
            let token = *rng.pick(TOKENS);
            let at = boundary(&s, rng.below(s.len() + 1));
            s.insert_str(at, &token.repeat(1 + rng.below(3000)));
        }
        _ => {
            let (a, b) = span(rng, &s, 8);
            let flipped: String = s[a..b]
                .chars()
                .map(|c| char::from_u32(c as u32 ^ (1 << rng.below(7))).unwrap_or(c))
                .collect();
            s.replace_range(a..b, &flipped);
        }
    }
    s
}

fn mutate(rng: &mut Rng, case: &Case, other: &Case) -> Case {
    let other_text = match other {
        Case::File(t) => t.clone(),
        Case::Check { claim, given, .. } => format!("{claim}\n{given}"),
    };
    let rounds = 1 + rng.below(4);
    match case {
        Case::File(t) => {
            let mut t = t.clone();
            for _ in 0..rounds {
                t = mutate_once(rng, &t, &other_text);
            }
            Case::File(t)
        }
        Case::Check {
            claim,
            given,
            define,
            within,
        } => {
            let (mut claim, mut given, mut define, mut within) =
                (claim.clone(), given.clone(), define.clone(), within.clone());
            for _ in 0..rounds {
                match rng.below(5) {
                    0 | 1 => claim = mutate_once(rng, &claim, &other_text),
                    2 => given = mutate_once(rng, &given, &other_text),
                    3 => {
                        if define.is_empty() {
                            define.push("f(x) = x * tanh(x)".to_string());
                        }
                        let i = rng.below(define.len());
                        define[i] = mutate_once(rng, &define[i], &other_text);
                    }
                    _ => {
                        within = match within {
                            Some(w) => Some(mutate_once(rng, &w, &other_text)),
                            None => Some(rng.pick(NUMBERS).to_string()),
                        }
                    }
                }
            }
            Case::Check {
                claim,
                given,
                define,
                within,
            }
        }
    }
}

/// What a case did in the library: its class (for the corpus) or a panic.
fn run_library(case: &Case) -> Result<String, String> {
    let settings = Settings {
        max_samples: 1 << 14,
        ..Settings::default()
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| match case {
        Case::File(text) => match audit::load("fuzz.toml", text) {
            Err(e) => format!("load: {}", e.diag.message),
            Ok(f) if text.len() < PLAN_BELOW => {
                match audit::run_selected(&[f], &settings, &|_| false) {
                    Err(e) => format!("plan: {}", e.diag.message),
                    Ok(_) => "planned".to_string(),
                }
            }
            Ok(_) => "loaded".to_string(),
        },
        Case::Check {
            claim,
            given,
            define,
            within,
        } => match audit::adhoc(claim, given, &[], define, within.as_deref()) {
            Err(e) => format!("load: {}", e.diag.message),
            Ok(f) => match audit::run(&[f], &settings) {
                Err(e) => format!("run: {}", e.diag.message),
                Ok(r) if r.passed() => "holds".to_string(),
                Ok(_) => "contradicted".to_string(),
            },
        },
    }));
    outcome.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".to_string())
    })
}

/// Whether the OS can pass the case to the binary: an argument cannot
/// hold a NUL byte (a file can, and is written as it is).
fn passable(case: &Case) -> bool {
    match case {
        Case::File(_) => true,
        Case::Check {
            claim,
            given,
            define,
            within,
        } => ![claim, given]
            .into_iter()
            .chain(define)
            .chain(within)
            .any(|a| a.contains('\0')),
    }
}

/// Runs the binary on a case under a timeout; Err says what went wrong.
fn run_binary(case: &Case, scratch: &Path) -> Result<i32, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_initaudit"));
    match case {
        Case::File(text) => {
            let path = scratch.join("case.toml");
            std::fs::write(&path, text).map_err(|e| e.to_string())?;
            // A large file is planned, not run: a whole shipped audit
            // takes a minute.
            if text.len() < PLAN_BELOW {
                cmd.arg("audit").arg(&path);
            } else {
                cmd.args(["explain", "no-such-id"]).arg(&path);
            }
        }
        Case::Check {
            claim,
            given,
            define,
            within,
        } => {
            cmd.args(["check", claim, "--given", given]);
            for d in define {
                cmd.args(["--define", d]);
            }
            if let Some(w) = within {
                cmd.arg(format!("--within={w}"));
            }
        }
    }
    cmd.args(["--max-samples", "65536", "--threads", "1"]);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the binary: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => {
                return match status.code() {
                    Some(c @ 0..=2) => Ok(c),
                    Some(c) => Err(format!("exit status {c}")),
                    None => Err(format!("killed by a signal: {status}")),
                };
            }
            None if start.elapsed() > BINARY_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no exit within {BINARY_LIMIT:?}"));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// What a fuzz run found.
#[derive(Default)]
struct Findings {
    cases: u64,
    binary_runs: u64,
    failures: Vec<(String, Case)>,
    /// Classes of outcome seen, and the first case of each new one.
    classes: BTreeSet<String>,
    interesting: Vec<(String, Case)>,
    slowest: (Duration, Option<Case>),
    /// How far cases got: refused at load, at planning, or run to a verdict.
    depth: std::collections::BTreeMap<String, u64>,
}

/// The class of an outcome, with the specifics (names, numbers) taken out
/// so that one kind of error is one class.
fn class(outcome: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in outcome.chars() {
        match c {
            '`' => {
                quoted = !quoted;
                if quoted {
                    out.push_str("`_");
                }
            }
            _ if quoted => {}
            c if c.is_ascii_digit() => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Runs the cases numbered `cases` of one stream (the corpus first, then
/// mutations) with a watchdog. The cases before `cases.start` are drawn,
/// not run, so that a range is the same cases whether it is run alone or
/// as part of a longer run.
fn fuzz(cases: Range<u64>, seed: u64, binary_every: u64) -> Findings {
    let scratch = std::env::temp_dir().join(format!(
        "initaudit-fuzz-{}-{}",
        std::process::id(),
        cases.start
    ));
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let findings = Arc::new(Mutex::new(Findings::default()));
    let current = Arc::new(Mutex::new(None::<Case>));
    let started = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let worker = {
        let (findings, current, started, done) = (
            findings.clone(),
            current.clone(),
            started.clone(),
            done.clone(),
        );
        let scratch = scratch.clone();
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                let pool = seeds();
                let replay: Vec<Case> = corpus().into_iter().map(|(_, c)| c).collect();
                let mut rng = Rng(seed);
                for i in 0..cases.end {
                    let case = match replay.get(i as usize) {
                        Some(c) => c.clone(),
                        None => {
                            let base = rng.pick(&pool).clone();
                            let other = rng.pick(&pool).clone();
                            mutate(&mut rng, &base, &other)
                        }
                    };
                    if i < cases.start {
                        continue;
                    }
                    *current.lock().unwrap() = Some(case.clone());
                    started.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::SeqCst);
                    let t = Instant::now();
                    let lib = run_library(&case);
                    let took = t.elapsed();
                    let bin = (binary_every > 0 && i % binary_every == 0 && passable(&case))
                        .then(|| run_binary(&case, &scratch));
                    started.store(0, Ordering::SeqCst);
                    let mut f = findings.lock().unwrap();
                    f.cases += 1;
                    if took > f.slowest.0 {
                        f.slowest = (took, Some(case.clone()));
                    }
                    match lib {
                        Err(p) => f.failures.push((format!("panic: {p}"), case.clone())),
                        Ok(outcome) => {
                            let stage = outcome.split(':').next().unwrap_or_default();
                            *f.depth.entry(stage.to_string()).or_default() += 1;
                            let c = class(&outcome);
                            if f.classes.insert(c.clone()) {
                                f.interesting.push((c, case.clone()));
                            }
                        }
                    }
                    if let Some(b) = bin {
                        f.binary_runs += 1;
                        if let Err(e) = b {
                            f.failures.push((format!("binary: {e}"), case.clone()));
                        }
                    }
                }
                done.store(true, Ordering::SeqCst);
            })
            .expect("a worker thread")
    };
    // The watchdog: a case that does not end within CASE_LIMIT is a hang.
    while !done.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        let s = started.load(Ordering::SeqCst);
        if s != 0 && epoch.elapsed().as_millis() as u64 + 1 - s > CASE_LIMIT.as_millis() as u64 {
            let case = current.lock().unwrap().clone();
            panic!(
                "a case ran longer than {CASE_LIMIT:?} (a hang):\n{}",
                case.map(|c| c.to_json().to_string()).unwrap_or_default()
            );
        }
        if worker.is_finished() {
            break;
        }
    }
    if let Err(p) = worker.join() {
        std::panic::resume_unwind(p);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Arc::try_unwrap(findings)
        .ok()
        .expect("the worker is done")
        .into_inner()
        .unwrap()
}

fn report(f: &Findings, elapsed: Duration) -> String {
    let mut out = format!(
        "{} cases ({} through the binary) in {:.1} s; {} classes of outcome; slowest case {:.2} s\n",
        f.cases,
        f.binary_runs,
        elapsed.as_secs_f64(),
        f.classes.len(),
        f.slowest.0.as_secs_f64()
    );
    let depth: Vec<String> = f.depth.iter().map(|(k, v)| format!("{k} {v}")).collect();
    out.push_str(&format!("outcomes: {}\n", depth.join(", ")));
    if let Some(case) = &f.slowest.1 {
        let text: String = case.to_json().to_string().chars().take(300).collect();
        out.push_str(&format!("slowest: {text}\n"));
    }
    for (what, case) in &f.failures {
        out.push_str(&format!("FAILED: {what}\n  {}\n", case.to_json()));
    }
    out
}

/// Mutations in the fast slice of `cargo test`, after the corpus.
const SLICE: u64 = 1500;

#[test]
fn the_corpus_ends_cleanly_in_the_library_and_the_binary() {
    let replayed = corpus().len() as u64;
    let t = Instant::now();
    let f = fuzz(0..replayed, 1, 1);
    let text = report(&f, t.elapsed());
    println!("{text}");
    assert_eq!(f.cases, replayed);
    assert!(f.failures.is_empty(), "{text}");
}

/// Half of the slice's mutations (stream 0x5eed, after the corpus) through
/// the library, one case in a hundred through the binary as well. The two
/// halves are one run of 1500 cases, split so that they run side by side:
/// the slice is single-threaded, and a few of its cases (mutated copies of
/// derivations/limits.toml, whose load resolves the whole broken file to
/// report every error) take seconds each.
fn half_of_the_slice(half: u64) {
    let start = corpus().len() as u64 + half * SLICE / 2;
    let t = Instant::now();
    let f = fuzz(start..start + SLICE / 2, 0x5eed, 100);
    let text = report(&f, t.elapsed());
    println!("{text}");
    assert_eq!(f.cases, SLICE / 2);
    assert!(f.failures.is_empty(), "{text}");
}

#[test]
fn the_first_half_of_a_slice_of_mutations_ends_cleanly() {
    half_of_the_slice(0);
}

#[test]
fn the_second_half_of_a_slice_of_mutations_ends_cleanly() {
    half_of_the_slice(1);
}

#[test]
fn mutations_are_reproducible_and_stay_text() {
    let pool = seeds();
    assert!(pool.len() > 60, "{} seeds", pool.len());
    let run = |seed| {
        let mut rng = Rng(seed);
        (0..200)
            .map(|_| {
                let (a, b) = (rng.pick(&pool).clone(), rng.pick(&pool).clone());
                mutate(&mut rng, &a, &b)
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(7), run(7));
    assert_eq!(a, b);
    // They do mutate.
    assert!(a.iter().filter(|c| !pool.contains(c)).count() > 150);
}

#[test]
#[ignore = "the full fuzz run: FUZZ_CASES=100000 cargo test --release --test fuzz -- --ignored --nocapture"]
fn fuzz_the_language_and_the_loader() {
    let cases: u64 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let t = Instant::now();
    let f = fuzz(0..cases, seed, BINARY_EVERY);
    let text = report(&f, t.elapsed());
    println!("{text}");
    if std::env::var("FUZZ_SAVE").is_ok() {
        std::fs::create_dir_all(corpus_dir()).expect("the corpus folder");
        let known: Vec<Value> = corpus().iter().map(|(_, c)| c.to_json()).collect();
        let mut saved = 0;
        // At most CORPUS_MAX new entries, spread evenly over the classes,
        // so the fast slice that replays them stays fast.
        let step = f.interesting.len().div_ceil(CORPUS_MAX).max(1);
        for (i, (_, case)) in f.interesting.iter().enumerate().step_by(step) {
            let v = case.to_json();
            if known.contains(&v) || v.to_string().len() > 4000 {
                continue;
            }
            let path = corpus_dir().join(format!("seed{seed}-{i:04}.json"));
            std::fs::write(path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
            saved += 1;
        }
        println!("{saved} inputs added to tests/fuzz-corpus/");
    }
    assert!(f.failures.is_empty(), "{text}");
}
