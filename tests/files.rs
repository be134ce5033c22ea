//! Audit files through the public API: every kind of bad input gives a
//! located error (the line and column of the offending character in the
//! file, not in the string it sat in), and a small good file loads and runs.

use initaudit::audit::{load, run};
use initaudit::diag::InputError;
use initaudit::outcome::Entry;
use initaudit::report::{Format, render};
use initaudit::verdict::{Settings, Verdict};

/// 1-based line and column (in characters) of the `nth` occurrence of
/// `needle`, counted here rather than by the code under test.
fn position(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let at = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` occurs {} times", nth + 1))
        .0;
    let line = text[..at].lines().count().max(1) + usize::from(text[..at].ends_with('\n'));
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..at].chars().count() + 1)
}

fn error(text: &str) -> InputError {
    match load("bad.toml", text) {
        Ok(_) => panic!("the file should not load:\n{text}"),
        Err(e) => e,
    }
}

/// The error is at the `nth` occurrence of `needle` and says `message`.
fn error_at(text: &str, needle: &str, nth: usize, message: &str) -> InputError {
    let e = error(text);
    assert_eq!(e.line_col(), position(text, needle, nth), "{}", e.render());
    assert!(e.diag.message.contains(message), "{}", e.render());
    assert_eq!(e.origin, "bad.toml");
    e
}

const SCENARIO: &str = r#"
[scenario.gaussian]
model = """
n = 4
y ~ Normal(0, 1)
x = relu(y)
"""
"#;

#[test]
fn position_counts_lines_and_characters() {
    let text = "ab\ncdé f\n\ng";
    assert_eq!(position(text, "a", 0), (1, 1));
    assert_eq!(position(text, "f", 0), (2, 5));
    assert_eq!(position(text, "g", 0), (4, 1));
}

#[test]
fn unknown_keys() {
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = 1\"\nexpct = {{ gaussian = \"holds\" }}\n"
    );
    let e = error_at(&text, "expct", 0, "unknown field `expct`");
    // The help names the key meant and the keys of a claim, not the file's
    // top-level tables.
    assert_eq!(
        e.diag.help,
        "did you mean `expect`? keys here: id, cite, says, requires, within, expect, in",
        "{}",
        e.render()
    );
    let text = format!("{SCENARIO}\n[scenaro.other]\nmodel = \"y ~ Normal(0, 1)\"\n");
    let e = error_at(&text, "scenaro", 0, "unknown field `scenaro`");
    assert!(
        e.diag
            .help
            .starts_with("did you mean `scenario`? keys here: functions, scenario"),
        "{}",
        e.render()
    );
}

#[test]
fn bad_toml() {
    let text = format!("{SCENARIO}\n[[claim]\nid = \"a\"\n");
    let e = error(&text);
    let (line, _) = e.line_col();
    assert_eq!(line, position(&text, "[[claim]", 0).0, "{}", e.render());
    let text = "says = \"unterminated\n";
    let e = error(text);
    assert_eq!(e.line_col().0, 1, "{}", e.render());
}

#[test]
fn approximation_without_within() {
    let text = format!("{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] ~= 0.4\"\n");
    let e = error_at(&text, "~=", 0, "`~=` needs a `within` band");
    assert!(e.diag.help.contains("within"), "{}", e.render());
    // And the converse: a band on an identity.
    let text =
        format!("{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = 0.4\"\nwithin = \"1%\"\n");
    error_at(&text, "\"1%\"", 0, "only to an approximate claim");
    let text =
        format!("{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] ~= 0.4\"\nwithin = \"lots\"\n");
    error_at(&text, "\"lots\"", 0, "is not a band");
}

#[test]
fn expect_names_an_unknown_scenario() {
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = 0.4\"\nexpect = {{ gausian = \"fails\" }}\n"
    );
    let e = error_at(&text, "\"fails\"", 0, "`gausian`");
    assert!(
        e.diag.help.contains("scenarios: gaussian"),
        "{}",
        e.render()
    );
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = 0.4\"\nexpect = {{ gaussian = \"hold\" }}\n"
    );
    error_at(&text, "\"hold\"", 0, "unknown verdict `hold`");
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = 0.4\"\nin = [\"gaussian\", \"other\"]\n"
    );
    error_at(&text, "\"other\"", 0, "no scenario `other`");
}

#[test]
fn duplicate_ids() {
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"twice\"\nsays = \"E[x] = 0.4\"\n\n[[claim]]\nid = \"twice\"\nsays = \"E[x^2] = 0.5\"\n"
    );
    error_at(&text, "\"twice\"", 1, "the id `twice` is used twice");
    // A derivation's id shares the namespace.
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"d\"\nsays = \"E[x] = 0.4\"\n\n[[derivation]]\nid = \"d\"\nstart = \"E[x^2]\"\n[[derivation.step]]\nto = \"Var[y] / 2\"\n"
    );
    error_at(&text, "\"d\"", 1, "used twice");
}

#[test]
fn bad_expression_inside_a_model() {
    // An unknown name on the third line of a triple-quoted model: the
    // caret is on that name, in file coordinates.
    let text = "# a comment\n[scenario.s]\nmodel = \"\"\"\nn = 4\ny ~ Normal(0, 1)\nx = relu(y) + qq\n\"\"\"\n";
    let e = error_at(text, "qq", 0, "unknown name `qq`");
    assert!(e.render().contains("x = relu(y) + qq"), "{}", e.render());
    // A syntax error, likewise.
    let text = "[scenario.s]\nmodel = \"\"\"\ny ~ Normal(0, 1)\nx = relu(y)) * 2\n\"\"\"\n";
    let e = error(text);
    assert_eq!(e.line_col().0, 4, "{}", e.render());
    // A model that starts on the line of its quotes.
    let text = "[scenario.s]\nmodel = \"\"\"y ~ Normal(0, -2)\n\"\"\"\n";
    error_at(text, "-2", 0, "sd must be > 0");
    // Windows line endings.
    let text = "[scenario.s]\r\nmodel = \"\"\"\r\ny ~ Normal(0, 1)\r\nx = relu(y, 3)\r\n\"\"\"\r\n";
    error_at(text, "relu(y, 3)", 0, "relu takes 1 argument(s), got 2");
    // A single-quoted model and a name used before its definition.
    let text = "[scenario.s]\nmodel = 'x = 2 * y; y ~ Normal(0, 1)'\n";
    error_at(text, "y", 0, "used before it is defined");
}

/// An error found when the file is planned (names resolved per scenario),
/// after it loaded.
fn run_error(text: &str) -> InputError {
    let file = load("bad.toml", text).unwrap_or_else(|e| panic!("loads: {}", e.render()));
    match run(&[file], &Settings::default()) {
        Ok(_) => panic!("the file should not run:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn bad_expressions_in_claims_and_requirements() {
    let text = format!("{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = Var[y] +\"\n");
    let e = error(&text);
    assert_eq!(
        e.line_col().0,
        position(&text, "says", 0).0,
        "{}",
        e.render()
    );
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = 0.4\"\nrequires = [\"zero_mean(y)\", \"symetric(y)\"]\n"
    );
    error_at(&text, "symetric", 0, "unknown predicate `symetric`");
    // Found when planning: a random right side, a name no scenario has.
    let text = format!("{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = 2 * y\"\n");
    let e = run_error(&text);
    assert_eq!(e.line_col(), position(&text, "y\"", 0), "{}", e.render());
    assert!(
        e.diag.message.contains("in scenario `gaussian`"),
        "{}",
        e.render()
    );
    assert!(e.diag.message.contains("random"), "{}", e.render());
    let text = format!("{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = Var[yy]\"\n");
    let e = run_error(&text);
    assert!(
        e.diag.message.contains("`yy` is defined nowhere"),
        "{}",
        e.render()
    );
    assert_eq!(
        e.line_col(),
        position(&text, "E[x] = Var", 0),
        "{}",
        e.render()
    );
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = 0.4\"\nrequires = [\"finite_moment(y, 0)\"]\n"
    );
    let e = run_error(&text);
    assert_eq!(e.line_col(), position(&text, "0)", 0), "{}", e.render());
}

const GOOD: &str = r#"
[functions]
my_swish = "x * sigmoid(x)"

[scenario.gaussian]
about = "He's setting"
model = """
n = 64
w ~ Normal(0, sqrt(2/n))
y ~ Normal(0, 1)
x = relu(y)
s = sum(n, w * x)
"""

[scenario.shifted]
model = """
n = 64
w ~ Normal(0, sqrt(2/n))
y ~ Normal(0.5, 1)
x = relu(y)
s = sum(n, w * x)
"""

[[claim]]
id = "second-moment"
says = "E[x^2] = Var[y] / 2"
requires = ["symmetric(y)"]

[[claim]]
id = "swish-mean"
says = "E[my_swish(y)] >= 0"

[[derivation]]
id = "forward"
start = "Var[s]"
[[derivation.step]]
to = "n * Var[w * x]"
[[derivation.step]]
to = "n * Var[w] * E[x^2]"
requires = ["zero_mean(w)", "independent(w, x)"]
[[derivation.step]]
to = "n * Var[w] * Var[y] / 2"
requires = ["symmetric(y)"]
"#;

#[test]
fn a_small_file_loads_and_runs() {
    let file = load("good.toml", GOOD).expect("the file loads");
    assert_eq!(file.scenarios.len(), 2);
    assert_eq!(file.items.len(), 3);
    let report = run(&[file], &Settings::default()).expect("the file runs");
    assert!(report.passed(), "{}", render(&report, Format::Table));
    let entries = &report.files[0].entries;
    let Entry::Claim(second) = &entries[0] else {
        panic!("a claim first")
    };
    let verdicts: Vec<(&str, Verdict, Option<Verdict>)> = second
        .rows
        .iter()
        .map(|r| (r.scenario.as_str(), r.evaluation.verdict, r.expected))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("gaussian", Verdict::Holds, Some(Verdict::Holds)),
            // symmetric(y) is not met: nothing is expected, and it fails.
            ("shifted", Verdict::Fails, None),
        ]
    );
    let Entry::Derivation { links, overall, .. } = &entries[2] else {
        panic!("a derivation last")
    };
    assert_eq!(links.len(), 3);
    let last_step: Vec<Verdict> = links[2].rows.iter().map(|r| r.evaluation.verdict).collect();
    assert_eq!(last_step, [Verdict::Holds, Verdict::Fails]);
    let first_to_last: Vec<Verdict> = overall.rows.iter().map(|r| r.evaluation.verdict).collect();
    assert_eq!(first_to_last, [Verdict::Holds, Verdict::Fails]);
    // The attribution of the last step: symmetry is load-bearing.
    assert!(
        links[2]
            .attribution
            .iter()
            .any(|(req, a)| req == "symmetric(y)" && format!("{a:?}").contains("LoadBearing")),
        "{:?}",
        links[2].attribution
    );
    // Same seed, same bytes.
    let again = run(
        &[load("good.toml", GOOD).expect("loads")],
        &Settings::default(),
    )
    .expect("runs");
    assert_eq!(render(&again, Format::Json), render(&report, Format::Json));
}

#[test]
fn a_contradicted_expectation_fails_the_audit() {
    let text = GOOD.replace(
        "requires = [\"symmetric(y)\"]\n\n[[claim]]",
        "expect = { shifted = \"holds\" }\n\n[[claim]]",
    );
    assert_ne!(text, GOOD);
    let report = run(
        &[load("pinned.toml", &text).expect("loads")],
        &Settings::default(),
    )
    .expect("runs");
    assert!(!report.passed());
    let out = render(&report, Format::Table);
    assert!(out.contains("CONTRADICTED"), "{out}");
}

#[test]
fn a_function_named_like_a_builtin_is_refused_at_its_name() {
    let text = format!(
        "[functions]\nrelu = \"x\"\n{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[relu(y)] = 1\"\n"
    );
    let e = error_at(&text, "relu", 0, "`relu` is a built-in function");
    assert!(e.diag.help.contains("rename"), "{}", e.render());
    let text = format!("[functions]\nsum = \"x\"\n{SCENARIO}");
    error_at(&text, "sum", 0, "reserved");
}

#[test]
fn a_function_that_cannot_be_evaluated_is_refused_where_it_is_defined() {
    // Never used, and still an error: each at the call that makes it so.
    let cases = [
        (
            "f = \"x + f(x)\"",
            "f(x)",
            "recursive function: `f` reaches itself (f -> f)",
        ),
        (
            "a = \"g(x) = x * b(x)\"\nb = \"2 * c(x)\"\nc = \"a(x)\"",
            "b(x)",
            "`a` reaches itself (a -> b -> c -> a)",
        ),
        (
            "f = \"x + nothing(x)\"",
            "nothing",
            "unknown function `nothing`",
        ),
        (
            "f = \"leaky_relu(x, 1, 2)\"",
            "leaky_relu",
            "takes 1 or 2 argument(s), got 3",
        ),
        (
            "f = \"g(x, x)\"\ng = \"2 * x\"",
            "g(x, x)",
            "g takes 1 argument(s) (x), got 2",
        ),
    ];
    for (functions, needle, message) in cases {
        let text = format!(
            "[functions]\n{functions}\n{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[x] = 1\"\n"
        );
        error_at(&text, needle, 0, message);
    }
}

#[test]
fn a_pair_needs_two_names() {
    let text = "[scenario.s]\nmodel = \"y, y ~ BivariateNormal(1, 1, 0.5)\"\n";
    error_at(text, "y ~", 0, "`y` is named twice in one draw");
}

#[test]
fn a_file_with_nothing_to_check_does_not_pass() {
    for text in ["", "[functions]\nf = \"2 * x\"\n", SCENARIO] {
        let file = load("empty.toml", text).expect("loads");
        let e = run(&[file], &Settings::default()).expect_err("nothing to check is an error");
        assert!(
            e.diag.message.contains("nothing to check"),
            "{}",
            e.render()
        );
        assert_eq!(e.origin, "empty.toml");
    }
}
