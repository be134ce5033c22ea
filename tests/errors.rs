//! Errors that suggest, end to end: a misspelt law, function, predicate,
//! scenario or key is answered with the name meant (and still the list of
//! what is valid), and the common slips of notation — `=` for `~`, `E(...)`
//! for `E[...]`, `[claim]` for `[[claim]]` — are explained in the file's
//! terms. Each is the binary's real output: located, exit status 2.

mod common;

use common::initaudit;

/// Writes `text` to a fresh file `name` in a scratch folder of this test and
/// audits it: (status, stderr). The error names the file by its path.
fn audit(name: &str, text: &str) -> (i32, String, String) {
    let dir = std::env::temp_dir().join(format!("initaudit-errors-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
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
