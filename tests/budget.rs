//! Work budgets, end to end: every run is estimated before it samples,
//! what cannot be afforded is refused (exit 2) with what it would cost,
//! and exact values too expensive to self-check in full are checked at a
//! size that fits, with the report saying so. None of these tests times
//! anything: each example is one that ran for hours before budgets, and
//! now must be decided or refused from its estimate.

mod common;

use common::initaudit;
use serde_json::Value;

/// The one result of `check ... --format json`, which must exit 0.
fn checked(args: &[&str]) -> Value {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let (code, out, err) = initaudit(&all);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    v["results"][0].clone()
}

fn notes(r: &Value) -> String {
    r["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| n.as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_sum_of_ten_million_is_decided_by_the_rules_and_checked_smaller() {
    let r = checked(&[
        "E[sum(10000000, y)^2] = 10000000",
        "--given",
        "y ~ Normal(0, 1)",
    ]);
    assert_eq!(r["verdict"], "holds", "{r}");
    assert_eq!(r["defects"].as_array().map(Vec::len), Some(0), "{r}");
    let n = notes(&r);
    // What was not checked, and what was instead: the same rule at n' < n.
    assert!(
        n.contains("E[sum(10000000, y)^2]: not sampled at full size"),
        "{n}"
    );
    assert!(
        n.contains("self-checked through the same rules at a smaller size, E[sum("),
        "{n}"
    );
    // E[sum(n', y)^2] = n' for a unit normal: the exact value printed for the
    // smaller sum is its own count.
    let small = n
        .split("E[sum(")
        .nth(2)
        .and_then(|t| t.split(',').next())
        .and_then(|t| t.parse::<u64>().ok())
        .expect("the smaller count");
    assert!(small > 1 && small < 10_000_000, "{small}");
    assert!(n.contains(&format!("y)^2] = {small} exact")), "{n}");
}

#[test]
fn nested_sums_are_not_forced_past_their_share() {
    let r = checked(&[
        "E[s] = 0",
        "--given",
        "y ~ Normal(0, 1); s = sum(1000, sum(1000, sum(1000, y)))",
    ]);
    assert_eq!(r["verdict"], "holds", "{r}");
    let n = notes(&r);
    assert!(n.contains("not sampled at full size"), "{n}");
    assert!(n.contains("E[sum("), "{n}");
    assert!(
        !n.contains("E[sum(1000, sum(1000, sum(1000, y)))] = 0 exact"),
        "{n}"
    );
}

#[test]
fn a_sampled_test_that_needs_more_draws_than_allowed_is_refused_with_the_count() {
    // No exact form for three variables jointly: sampling decides, and at a
    // resolution of 0.001% the power calculation asks for far more than
    // --max-samples.
    let (code, out, err) = initaudit(&[
        "check",
        "E[relu(a + b + c)] = sqrt(3/(2*pi))",
        "--given",
        "a ~ Normal(0, 1); b ~ Normal(0, 1); c ~ Normal(0, 1)",
        "--resolution",
        "0.001%",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("cannot be decided within the budget"), "{err}");
    assert!(
        err.contains("draws") && err.contains("--max-samples 67108864"),
        "{err}"
    );
    assert!(err.contains("<claim>:1:1"), "{err}");
    // At the default resolution the same claim is decided.
    let r = checked(&[
        "E[relu(a + b + c)] = sqrt(3/(2*pi))",
        "--given",
        "a ~ Normal(0, 1); b ~ Normal(0, 1); c ~ Normal(0, 1)",
    ]);
    assert_eq!(r["verdict"], "holds", "{r}");
}

#[test]
fn a_run_over_the_budget_is_refused_before_any_work() {
    // The shipped networks, estimated at tens of seconds: refused from the
    // estimate, naming the dearest network, before a draw. (The whole of
    // derivations/ is refused the same way, for the same network, after
    // seconds of planning its claims' exact moments.)
    let (code, out, err) = initaudit(&["audit", "derivations/networks.toml", "--budget", "5"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("of work on one core, over the budget of 5.00 s; network `"),
        "{err}"
    );
    assert!(err.contains("= help: raise --budget"), "{err}");
    let (code, _, err) = initaudit(&["audit", "derivations", "--budget", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a budget"), "{err}");
}

/// A network whose own estimate is about 15 hours of work on one core.
const HUGE: &str = r#"
[network.huge]
depth = 30
width = 2048
activation = "relu"
weight = "Normal(0, sqrt(2/fan_in))"
input = "Normal(0, 1)"
inputs = 256
draws = 2000

[[series]]
id = "huge.flat"
says = "E[x(l)^2] ~= E[x(l-1)^2]"
within = "5%"
layers = "2..L"
"#;

#[test]
fn a_network_estimated_at_hours_is_refused_up_front() {
    let dir = std::env::temp_dir().join(format!("initaudit-budget-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join("huge.toml");
    std::fs::write(&file, HUGE).expect("written");
    let path = file.to_str().expect("utf-8 path");
    let (code, out, err) = initaudit(&["net", "huge", "--in", path]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    // Refused from the estimate, before the first draw (whose progress line
    // would say "about ... s of work").
    assert!(!err.contains("per draw, about"), "{err}");
    assert!(
        err.contains("network `huge`: 2000 draws of 256 inputs"),
        "{err}"
    );
    assert!(
        err.contains(" h of work on one core, over the budget of 300 s"),
        "{err}"
    );
    let (code, out, err) = initaudit(&["audit", path]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("network `huge` alone is"), "{err}");
    assert!(err.contains("huge.toml:2:1"), "{err}");
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

#[test]
fn nested_sums_of_any_depth_end_promptly() {
    // Found by the fuzzer: fifty sum(2, ...) around y are 2^50 copies a draw,
    // each count far below the limit of one sum. The sum rules decide what
    // they can exactly (E[s^2] = 2^50 Var[y]), and what only sampling could
    // decide is refused up front with its cost, before any draw.
    let deep = format!(
        "y ~ Normal(0, 1); s = {}y{}",
        "sum(2, ".repeat(50),
        ")".repeat(50)
    );
    let r = checked(&["E[s^2] = 2^50", "--given", &deep]);
    assert_eq!(r["verdict"], "holds", "{r}");
    let (code, out, err) = initaudit(&["check", "E[tanh(s)] = 0", "--given", &deep]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("cannot be decided within the budget"), "{err}");
}

#[test]
fn gains_self_check_is_estimated_and_refused_over_the_budget() {
    // `gain tanh` samples 127 moments (its printed numbers and 120 along
    // the depth path). Before, --budget bounded only each test's first
    // look, so the run spent about 2 s of CPU whatever the budget said.
    // Now the first looks together are estimated before any draw...
    let (code, out, err) = initaudit(&["gain", "tanh", "--budget", "0.01", "--quiet"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("the self-check of its 127 printed moments is estimated at")
            && err.contains("over the budget of 0.01 s"),
        "{err}"
    );
    // ...and what the power calculations ask for on top of them is refused
    // before it is drawn, with the total.
    let (code, out, err) = initaudit(&["gain", "tanh", "--budget", "1", "--quiet"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("the self-check's sampled tests need")
            && err.contains("in all, over the budget of 1.00 s"),
        "{err}"
    );
    assert!(err.contains("raise --budget"), "{err}");
}
