//! The self-check's shared samples, end to end: the claims the exact
//! engine decides in one scenario are checked against one sample of their
//! moments (`verdict::Pool`), so a moment they share reads the same in
//! each, `explain` reports the numbers the audit does, and the bytes do
//! not depend on the thread count. (A wrong exact value caught through a
//! pool, and the pool's cost estimate against its spend, are unit tests in
//! `verdict` and `audit::run`.)

mod common;

use common::initaudit_with;
use serde_json::Value;

/// Every claim holds in both scenarios (w has mean 0 and is independent of
/// y, so Var[w y] = Var[w] E[y^2]; E[y^2] = 1 and 1.25), and every moment
/// has an exact value: every row is a pooled self-check. `second`,
/// `again` and `product` share E[y^2].
const SHARED: &str = r#"
[scenario.unit]
model = """
y ~ Normal(0, 1)
w ~ Normal(0, 0.5)
"""

[scenario.shifted]
model = """
y ~ Normal(0.5, 1)
w ~ Normal(0, 0.5)
"""

[[claim]]
id = "second"
says = "E[y^2] = Var[y] + E[y]^2"

[[claim]]
id = "again"
says = "E[y^2] >= 0.5"

[[claim]]
id = "product"
says = "Var[w * y] = Var[w] * E[y^2]"
"#;

fn run(tag: &str, args: &[&str]) -> Value {
    let (code, out, err) = initaudit_with(tag, &[("shared.toml", SHARED)], args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("json")
}

fn row<'a>(v: &'a Value, id: &str, scenario: &str) -> &'a Value {
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["id"] == id && r["scenario"] == scenario)
        .unwrap_or_else(|| panic!("no row {id} in {scenario}: {v}"))
}

#[test]
fn claims_that_share_a_moment_report_one_sample_of_it() {
    let v = run("pool-share", &["audit", "shared.toml", "--format", "json"]);
    for r in v["results"].as_array().expect("results") {
        assert_eq!(r["verdict"], "holds", "{r}");
        assert_eq!(r["defects"].as_array().map(Vec::len), Some(0), "{r}");
        assert_eq!(r["draws"], 131_072, "a first look's draws: {r}");
    }
    for scenario in ["unit", "shifted"] {
        let second = &row(&v, "second", scenario)["lhs"]["sampled"];
        let again = &row(&v, "again", scenario)["lhs"]["sampled"];
        assert!(second["value"].is_f64(), "{second}");
        assert_eq!(second, again, "E[y^2] in {scenario}");
    }
    // Each scenario has its own sample.
    assert_ne!(
        row(&v, "again", "unit")["lhs"]["sampled"]["se"],
        row(&v, "again", "shifted")["lhs"]["sampled"]["se"]
    );
}

#[test]
fn explain_reports_a_pooled_claims_sampled_sides_as_the_audit_does() {
    // `again` alone reads only E[y^2], which a pool of its own would draw
    // without w: the same numbers show that its pool is still the
    // scenario's whole.
    let all = run("pool-audit", &["audit", "shared.toml", "--format", "json"]);
    let one = run(
        "pool-explain",
        &["explain", "again", "shared.toml", "--format", "json"],
    );
    let rows = one["results"].as_array().expect("results");
    assert_eq!(rows.len(), 2, "{one}");
    for r in rows {
        let scenario = r["scenario"].as_str().expect("a scenario");
        assert_eq!(r, row(&all, "again", scenario));
    }
}

#[test]
fn a_pooled_file_is_byte_identical_at_any_thread_count() {
    let at = |threads: &str| {
        initaudit_with(
            &format!("pool-threads-{threads}"),
            &[("shared.toml", SHARED)],
            &[
                "audit",
                "shared.toml",
                "--format",
                "json",
                "--threads",
                threads,
            ],
        )
    };
    let (one, two) = (at("1"), at("2"));
    assert_eq!(one.0, 0, "{}", one.2);
    assert_eq!(one, two);
}
