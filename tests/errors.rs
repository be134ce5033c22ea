//! Errors that suggest, end to end: a misspelt law, function, predicate,
//! scenario or key is answered with the name meant (and still the list of
//! what is valid), and the common slips of notation — `=` for `~`, `E(...)`
//! for `E[...]`, `[claim]` for `[[claim]]` — are explained in the file's
//! terms. Each is the binary's real output: located, exit status 2.

mod common;

use common::{Scratch, initaudit};

/// Writes `text` to a fresh file `name` in a scratch folder of this test and
/// audits it: (status, stderr). The error names the file by its path.
fn audit(name: &str, text: &str) -> (i32, String, String) {
    let dir = Scratch::new(&format!("errors-{name}"));
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("the file is written");
    let path = path.to_str().expect("a utf-8 path").to_string();
    let (code, out, err) = initaudit(&["audit", &path]);
    assert_eq!(code, 2, "{out}{err}");
    (code, err, path)
}

const SCENARIO: &str = "[scenario.unit]\nmodel = \"y ~ Normal(0, 1)\"\n";

#[test]
fn a_misspelt_key_names_the_key_meant_and_the_keys_of_its_table() {
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[y] = 0\"\nrequire = [\"symmetric(y)\"]\n"
    );
    let (_, err, path) = audit("key", &text);
    assert_eq!(
        err,
        format!(
            "error: unknown field `require`\n --> {path}:7:1\n  |\n7 | require = [\"symmetric(y)\"]\n  | ^^^^^^^\n  = help: did you mean `requires`? keys here: id, cite, says, requires, within, expect, in\n"
        )
    );
}

#[test]
fn a_single_bracketed_claim_table_is_explained() {
    let text = format!("{SCENARIO}\n[claim]\nid = \"a\"\nsays = \"E[y] = 0\"\n");
    let (_, err, path) = audit("single", &text);
    assert_eq!(
        err,
        format!(
            "error: `[claim]` is a single table, but `claim` is a list\n --> {path}:4:1\n  |\n4 | [claim]\n  | ^^^^^^^\n  = help: write `[[claim]]`, with double brackets: each one starts a new entry\n"
        )
    );
}

#[test]
fn a_law_in_the_wrong_case_names_the_law() {
    let text = "[scenario.unit]\nmodel = \"y ~ normal(0, 1)\"\n";
    let (_, err, path) = audit("law", text);
    assert!(
        err.starts_with(&format!(
            "error: unknown law `normal`\n --> {path}:2:14\n  |\n2 | model = \"y ~ normal(0, 1)\"\n  |              ^^^^^^\n  = help: did you mean `Normal`? valid laws: Normal(mean, sd), Uniform(lo, hi),"
        )),
        "{err}"
    );
}

#[test]
fn a_law_called_like_a_function_suggests_a_draw() {
    let text = "[scenario.unit]\nmodel = \"y = Normal(0, 1)\"\n";
    let (_, err, path) = audit("draw", text);
    assert_eq!(
        err,
        format!(
            "error: `Normal` is a law, not a function\n --> {path}:2:14\n  |\n2 | model = \"y = Normal(0, 1)\"\n  |              ^^^^^^\n  = help: a model draws from a law with `~`: `y ~ Normal(mean, sd)`\n"
        )
    );
}

#[test]
fn a_misspelt_function_names_the_function_and_still_lists_them() {
    let text = format!("{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[rellu(y)] = 0\"\n");
    let (_, err, path) = audit("function", &text);
    assert!(
        err.starts_with(&format!(
            "error: in scenario `unit`: unknown function `rellu`\n --> {path}:6:11\n  |\n6 | says = \"E[rellu(y)] = 0\"\n  |           ^^^^^\n  = help: did you mean `relu`? functions: sqrt, exp,"
        )),
        "{err}"
    );
    assert!(err.contains(", relu, leaky_relu,"), "{err}");
}

#[test]
fn a_file_function_is_suggested_too() {
    let text = format!(
        "[functions]\nmy_swish = \"x * sigmoid(x)\"\n\n{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[my_swsh(y)] <= 1\"\n"
    );
    let (_, err, _) = audit("file-function", &text);
    assert!(err.contains("unknown function `my_swsh`"), "{err}");
    assert!(
        err.contains("= help: did you mean `my_swish`? functions:"),
        "{err}"
    );
}

#[test]
fn a_moment_with_parentheses_suggests_brackets() {
    let text = format!("{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"Var(y) = 1\"\n");
    let (_, err, path) = audit("moment", &text);
    assert_eq!(
        err,
        format!(
            "error: in scenario `unit`: `Var` is a moment, not a function\n --> {path}:6:9\n  |\n6 | says = \"Var(y) = 1\"\n  |         ^^^\n  = help: a moment takes square brackets: `Var[X]`\n"
        )
    );
}

#[test]
fn a_misspelt_predicate_names_the_predicate() {
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[y] = 0\"\nrequires = [\"gausian(y)\"]\n"
    );
    let (_, err, path) = audit("predicate", &text);
    assert_eq!(
        err,
        format!(
            "error: unknown predicate `gausian`\n --> {path}:7:14\n  |\n7 | requires = [\"gausian(y)\"]\n  |              ^^^^^^^\n  = help: did you mean `gaussian`? zero_mean(X), symmetric(X), independent(X, Y), gaussian(X), finite_moment(X, k)\n"
        )
    );
}

#[test]
fn a_misspelt_scenario_names_the_scenario() {
    let text = format!(
        "{SCENARIO}\n[scenario.wide]\nmodel = \"y ~ Normal(0, 2)\"\n\n[[claim]]\nid = \"a\"\nsays = \"E[y] = 0\"\nin = [\"unti\"]\n"
    );
    let (_, err, path) = audit("scenario", &text);
    assert_eq!(
        err,
        format!(
            "error: no scenario `unti` in this file\n  --> {path}:10:7\n   |\n10 | in = [\"unti\"]\n   |       ^^^^^^\n   = help: did you mean `unit`? scenarios: unit, wide\n"
        )
    );
}

#[test]
fn a_distant_name_gets_no_guess_only_the_list() {
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[y] = 0\"\nrequires = [\"finit(y)\"]\n"
    );
    let (_, err, _) = audit("distant", &text);
    assert!(err.contains("unknown predicate `finit`"), "{err}");
    assert!(!err.contains("did you mean"), "{err}");
    assert!(err.contains("= help: zero_mean(X), symmetric(X)"), "{err}");
}

#[test]
fn the_command_line_suggests_too() {
    let (code, _, err) = initaudit(&["check", "E[y] = 0", "--given", "y ~ normal(0, 1)"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(" --> --given:1:5\n"), "{err}");
    assert!(
        err.contains("= help: did you mean `Normal`? valid laws:"),
        "{err}"
    );
}

/// A claim about numbers has no scenario to decide a requirement in: the
/// requirement is refused where it is written, not ignored.
#[test]
fn a_requirement_on_a_claim_about_numbers_is_refused() {
    let text = "[[claim]]\nid = \"n\"\nsays = \"1 + 1 = 2\"\nrequires = [\"zero_mean(1)\"]\n";
    let (_, err, path) = audit("numbers", text);
    assert_eq!(
        err,
        format!(
            "error: `n` is a claim about numbers: no scenario to decide `zero_mean(1)` in\n --> {path}:4:14\n  |\n4 | requires = [\"zero_mean(1)\"]\n  |              ^^^^^^^^^^^^\n  = help: leave out `requires`, or state the claim over variables of a [scenario.NAME] model\n"
        )
    );
}

/// Three independent mistakes in one file — a law misspelt in a scenario,
/// a claim that does not parse, a function misspelt in another claim (found
/// only when the claim is resolved) — are reported together, in file
/// order, and counted; none hides another.
#[test]
fn every_error_of_a_file_is_reported_in_file_order() {
    let text = "[scenario.unit]\nmodel = \"y ~ Normal(0, 1)\"\n\n[scenario.bad]\nmodel = \"y ~ Normall(0, 1)\"\n\n[[claim]]\nid = \"a\"\nsays = \"E[y^2] = = 1\"\n\n[[claim]]\nid = \"b\"\nsays = \"E[rellu(y)] = 0\"\nin = [\"unit\"]\n";
    let (_, err, path) = audit("three", text);
    let heads: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(
        heads,
        [
            "error: unknown law `Normall`",
            "error: unexpected `=`",
            "error: in scenario `unit`: unknown function `rellu`",
            "error: 3 errors",
        ],
        "{err}"
    );
    for at in [":5:14\n", ":9:18\n", ":13:11\n"] {
        assert!(err.contains(&format!(" --> {path}{at}")), "{at}: {err}");
    }
    assert!(err.contains("= help: did you mean `Normal`?"), "{err}");
    assert!(err.contains("= help: did you mean `relu`?"), "{err}");
}

/// A mistake in a table's keys does not hide one in another table: each
/// entry of a file is read on its own.
#[test]
fn a_bad_key_in_one_claim_does_not_hide_another_claims_error() {
    let text = format!(
        "{SCENARIO}\n[[claim]]\nid = \"a\"\nsay = \"E[y] = 0\"\n\n[[claim]]\nid = \"a\"\nsays = \"E[y] = 0\"\n\n[[claim]]\nid = \"c\"\nsays = \"E[y] = 0\"\nexpect = {{ unit = \"hold\" }}\n"
    );
    let (_, err, _) = audit("keys", &text);
    let heads: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(
        heads,
        [
            "error: unknown field `say`",
            "error: unknown verdict `hold`",
            "error: 2 errors",
        ],
        "{err}"
    );
}

/// Past twenty errors the rest are counted, not printed.
#[test]
fn past_twenty_errors_the_rest_are_counted() {
    let text: String = (0..23)
        .map(|i| format!("[[claim]]\nid = \"c{i}\"\nsays = \"1 = = 1\"\n"))
        .collect();
    let (_, err, _) = audit("many", &text);
    assert_eq!(err.matches("error: unexpected `=`").count(), 20, "{err}");
    assert!(
        err.ends_with("\nerror: 23 errors; the first 20 are shown\n"),
        "{err}"
    );
}

/// The errors of every file of a run are reported, not only the first
/// file's.
#[test]
fn the_errors_of_every_file_are_reported() {
    let dir = Scratch::new("errors-two");
    for name in ["a", "b"] {
        let text = format!("[[claim]]\nid = \"{name}\"\nsays = \"1 = = 1\"\n");
        std::fs::write(dir.join(format!("{name}.toml")), text).expect("written");
    }
    let (code, _, err) = initaudit(&["audit", dir.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a.toml:3:13\n"), "{err}");
    assert!(err.contains("b.toml:3:13\n"), "{err}");
    assert!(err.ends_with("\nerror: 2 errors\n"), "{err}");
}

/// An error inside a `[functions]` body points at the body, in the
/// scenario where it was met, with the call as a note at its own place.
#[test]
fn an_error_in_a_function_body_points_at_the_body() {
    let text = format!(
        "[functions]\nscaled = \"x * k\"\n\n{SCENARIO}\n[[claim]]\nid = \"a\"\nsays = \"E[scaled(y)] = 0\"\n"
    );
    let (_, err, path) = audit("body", &text);
    assert_eq!(
        err,
        format!(
            "error: in scenario `unit`: in the body of `scaled`: unknown name `k`\n --> {path}:2:15\n  |\n2 | scaled = \"x * k\"\n  |               ^\n  = help: defined here: x, y; constants: pi, e\nnote: `scaled` is called here\n --> {path}:9:11\n  |\n9 | says = \"E[scaled(y)] = 0\"\n  |           ^^^^^^\n"
        )
    );
}

/// On the command line the body is a `--define`, and the call is in the
/// model or the claim.
#[test]
fn an_error_in_a_defined_function_points_at_the_definition() {
    let (code, _, err) = initaudit(&[
        "check",
        "E[g(y)] = 0",
        "--given",
        "y ~ Normal(0, 1)",
        "--define",
        "g(x) = x * k",
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err,
        "error: in scenario `given`: in the body of `g`: unknown name `k`\n --> --define #1:1:12\n  |\n1 | g(x) = x * k\n  |            ^\n  = help: defined here: x, y; constants: pi, e\nnote: `g` is called here\n --> <claim>:1:3\n  |\n1 | E[g(y)] = 0\n  |   ^\n"
    );
}

/// A tab before the span is shown as four spaces and the caret counts
/// them; a wide character under the caret gets two carets.
#[test]
fn the_caret_sits_under_the_span_after_tabs_and_wide_characters() {
    let text = "[scenario.unit]\nmodel = \"y ~ Normal(0, 1)\"\n\n[[claim]]\nid = \"a\"\nsays = \"E[y] =\t\u{4e2d} = 0\"\n";
    let (_, err, path) = audit("wide", text);
    assert_eq!(
        err,
        format!(
            "error: unexpected character `\u{4e2d}`\n --> {path}:6:16\n  |\n6 | says = \"E[y] =    \u{4e2d} = 0\"\n  |                   ^^\n  = help: expected a number, a name, an operator (`+ - * / ^`), a bracket, `,`, or a relation (`=`, `~=`, `<=`, `>=`)\n"
        )
    );
}

/// Help lists the keys of the table where the mistake is, for every kind of
/// table; a wrong value's help says what the table holds.
#[test]
fn help_lists_the_keys_of_the_table_at_fault() {
    let cases: [(&str, &str, &str); 8] = [
        (
            "top",
            "claims = 1\n",
            "did you mean `claim`? keys here: functions, scenario, claim, derivation, network, series",
        ),
        (
            "scenario",
            "[scenario.u]\nmodel = \"y ~ Normal(0, 1)\"\nmodl = \"x\"\n",
            "did you mean `model`? keys here: model, about",
        ),
        (
            "claim",
            "[[claim]]\nid = \"a\"\nsays = \"1 = 1\"\nwithn = \"1%\"\n",
            "did you mean `within`? keys here: id, cite, says, requires, within, expect, in",
        ),
        (
            "derivation",
            "[[derivation]]\nid = \"d\"\nstart = \"1\"\nexpects = {}\n[[derivation.step]]\nto = \"1\"\n",
            "did you mean `expect`? keys here: id, cite, start, expect, in, step",
        ),
        (
            "step",
            "[[derivation]]\nid = \"d\"\nstart = \"1\"\n[[derivation.step]]\nto = \"1\"\nrequire = []\n",
            "did you mean `requires`? keys here: to, why, requires, within, expect",
        ),
        (
            "network",
            "[network.n]\nactivation = \"relu\"\nweights = \"x\"\n",
            "did you mean `weight`? keys here: about, widths, depth, width, activation, weight, bias, input, inputs, input_corr, draws, seed, residual, norm",
        ),
        (
            "series",
            "[[series]]\nid = \"s\"\nsays = \"x\"\nlayer = \"1\"\n",
            "did you mean `layers`? keys here: id, cite, says, layers, within, expect, in",
        ),
        (
            "functions",
            "[functions]\nsq = 3\n",
            "[functions] holds definitions: name = \"body in x\" or name = \"f(x, a) = body\"",
        ),
    ];
    for (name, text, help) in cases {
        let (_, err, _) = audit(&format!("help-{name}"), text);
        assert!(err.contains(&format!("= help: {help}\n")), "{name}: {err}");
        let errors = err.lines().filter(|l| l.starts_with("error")).count();
        assert_eq!(errors, 1, "{name}: {err}");
    }
}

#[test]
fn every_table_with_a_syntax_error_is_reported_and_no_echoes() {
    // Three tables with a syntax error each: an unterminated string, an
    // unclosed array, a doubled `=`. The header-like line inside the
    // multi-line string and the multi-line array are not tables. The
    // parser's own recovery would add five echoes of the unclosed array.
    let text = "[scenario.unit]\nmodel = \"y ~ Normal(0, 1)\"\nabout = \"\"\"\n[not a header]\n\"\"\"\n\n\
                [[claim]]\nid = \"a\"\nsays = \"E[y] = 0\nin = [\"unit\"]\n\n\
                [[claim]]\nid = \"b\"\nsays = \"E[y^2] = 1\"\nin = [\n  [\"unit\"],\n]\n\n\
                [[claim]]\nid = \"c\"\nsays = \"E[y] = 0\"\nin = [\"unit\",\n\n\
                [[claim]]\nid = = \"d\"\n";
    let (_, err, path) = audit("syntax", text);
    let located: Vec<&str> = err
        .lines()
        .filter(|l| l.trim_start().starts_with("--> "))
        .collect();
    assert_eq!(
        located,
        [
            format!(" --> {path}:9:17"),
            format!("  --> {path}:22:14"),
            format!("  --> {path}:25:6"),
        ],
        "{err}"
    );
    assert!(err.starts_with("error: invalid basic string"), "{err}");
    assert!(err.contains("error: unclosed array"), "{err}");
    assert!(err.ends_with("error: 3 errors\n"), "{err}");
}
