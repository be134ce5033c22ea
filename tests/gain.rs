//! `initaudit gain` end to end: the values the issue names, the ReLU and
//! tanh facts, a user-defined activation, bad input, and the numbers that
//! derivations/frameworks.toml copies from the command (so they cannot
//! drift apart).

use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_initaudit"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn json(args: &[&str]) -> Value {
    let out = json_output(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid json")
}

/// `gain ARGS --resolution 5% --format json`, for the tests that hold
/// exact values to independent truth (closed forms, mpmath) at 1e-9 or
/// closer, far below anything a sampled self-check resolves. The
/// self-check still runs, and the run must still exit 0 (no defect), at a
/// 5% resolution: a pilot of 131072 draws a moment, which sees the
/// factor-of-two slips issue 8 found (hardtanh's moments reported as q/2
/// and 1/2, hardswish's chi_1 halved); at the default resolution the same
/// moments cost 3 to 30 times more draws. The self-check at the default
/// resolution, its powered draws and their thread-count identity are
/// tested on tanh and relu (`every_printed_moment_is_self_checked_by_sampling`,
/// `seed_resolution_and_max_samples_act_on_the_self_check`,
/// `same_bytes_every_run`).
fn exact(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--resolution", "5%"]);
    json(&all)
}

/// `gain ARGS --format json`, run once per distinct ARGS however many
/// tests read it (see [`shared`]).
fn json_output(args: &[&str]) -> Arc<Output> {
    let mut all = vec!["gain"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    shared(&all)
}

/// The binary run once per distinct argument list however many tests
/// read it: the output is a function of the arguments (each distinct
/// thread count is a run of its own, which `same_bytes_every_run`
/// compares), and each run is seconds of quadrature and sampling.
fn shared(args: &[&str]) -> Arc<Output> {
    type Runs = Mutex<HashMap<Vec<String>, Arc<OnceLock<Arc<Output>>>>>;
    static RUNS: OnceLock<Runs> = OnceLock::new();
    let key: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let once = RUNS
        .get_or_init(Runs::default)
        .lock()
        .expect("no test panics holding the lock")
        .entry(key)
        .or_default()
        .clone();
    once.get_or_init(|| Arc::new(run(args))).clone()
}

fn gain_row<'a>(v: &'a Value, label: &str) -> &'a Value {
    v["gains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == label)
        .unwrap_or_else(|| panic!("no {label} row in {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn tanh_with_pytorch_gain_matches_the_reference_values() {
    let v = json(&["tanh"]);
    let p = gain_row(&v, "pytorch");
    assert!(close(f(&p["gain"]), 5.0 / 3.0, 1e-15));
    assert_eq!(p["fixed_point"]["kind"], "point");
    assert_eq!(p["fixed_point"]["stable"], true);
    // docs/REFERENCES.md: q* = 1.17848, chi_1 = 1.2098 (the issue: 1.20983).
    assert!(close(f(&p["fixed_point"]["q_star"]), 1.17848, 5e-6));
    assert!(close(f(&p["chi_1"]), 1.20983, 5e-6));
    assert_eq!(p["phase"], "chaotic");
}

#[test]
fn tanh_gains_follow_from_its_high_precision_moments() {
    // E[tanh^2] and E[tanh'^2] to 17 digits (docs/REFERENCES.md), so the gains
    // are 1/sqrt of them.
    let v = json(&["tanh"]);
    let fwd = 1.0 / 0.394_294_490_397_841_17_f64.sqrt();
    let bwd = 1.0 / 0.464_402_902_448_268_24_f64.sqrt();
    assert!(close(f(&v["forward_gain"]), fwd, 1e-10));
    assert!(close(f(&v["backward_gain"]), bwd, 1e-10));
    // The forward gain makes q = 1 the fixed point.
    let fw = gain_row(&v, "forward");
    assert!(close(f(&fw["fixed_point"]["q_star"]), 1.0, 1e-9));
}

#[test]
fn tanh_has_no_single_gain_for_both_passes() {
    let v = json(&["tanh"]);
    assert_eq!(v["gains_coincide"], false);
    let s = v["summary"].as_str().unwrap();
    assert!(s.starts_with("no single gain"), "{s}");
    // Neither gain is critical: both rows are chaotic at their q*.
    for label in ["forward", "backward"] {
        assert_eq!(gain_row(&v, label)["phase"], "chaotic");
    }
}

#[test]
fn relu_gains_coincide_at_sqrt_two_and_are_critical() {
    let v = json(&["relu"]);
    assert!(close(f(&v["forward_gain"]), 2f64.sqrt(), 1e-12));
    assert!(close(f(&v["backward_gain"]), 2f64.sqrt(), 1e-12));
    assert_eq!(v["gains_coincide"], true);
    for label in ["pytorch", "forward", "backward"] {
        let r = gain_row(&v, label);
        assert_eq!(r["fixed_point"]["kind"], "every_q", "{label}");
        assert!(close(f(&r["chi_1"]), 1.0, 1e-12), "{label}");
        assert_eq!(r["phase"], "critical");
    }
    let table = shared(&["gain", "relu"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("every q is fixed"), "{text}");
    assert!(text.contains("coincide at 1.414214"), "{text}");
}

#[test]
fn relu_below_and_above_the_critical_gain() {
    // q' = g^2 q / 2 + sigma_b^2. An expression that is not a bare call
    // gets no PyTorch gain, but the same gains as relu.
    let v = exact(&["identity(relu(x))"]);
    assert_eq!(v["gains"].as_array().unwrap().len(), 2);
    assert!(close(f(&v["forward_gain"]), 2f64.sqrt(), 1e-12));
    // At sqrt(2) and no bias, any input q is carried unchanged.
    let lin = exact(&["relu", "--q", "4", "--depth", "10"]);
    let r = gain_row(&lin, "pytorch");
    assert!(close(f(&r["forward_at_depth"]), 1.0, 1e-12));
    // Bias makes q grow by sigma_b^2 per layer at the critical gain: no
    // fixed point, and q_D = q + D sigma_b^2.
    let b = exact(&["relu", "--bias-var", "0.1"]);
    let r = gain_row(&b, "pytorch");
    assert_eq!(r["fixed_point"]["kind"], "diverges");
    assert!(close(f(&r["forward_at_depth"]), 1.0 + 30.0 * 0.1, 1e-10));
}

#[test]
fn with_a_bias_the_forward_gain_makes_the_chosen_q_its_fixed_point() {
    // Issue 8: the forward gain once preserved only the bias-free map. Its
    // definition is the gain whose length map q' = g^2 E[relu(sqrt(q) z)^2]
    // + sigma_b^2 = g^2 q / 2 + sigma_b^2 fixes q; check that with relu's
    // closed form E[relu(sqrt(q) z)^2] = q/2, at two q.
    for (q, b) in [(1.0, 0.1), (3.0, 0.5)] {
        let v = exact(&["relu", "--q", &q.to_string(), "--bias-var", &b.to_string()]);
        let g = f(&v["forward_gain"]);
        assert!(close(g * g * q / 2.0 + b, q, 1e-12), "q = {q}: gain {g}");
        let r = gain_row(&v, "forward");
        assert_eq!(r["fixed_point"]["kind"], "point", "{r}");
        assert!(close(f(&r["fixed_point"]["q_star"]), q, 1e-9), "{r}");
        assert!(close(f(&r["forward_factor"]), 1.0, 1e-12), "{r}");
        assert!(close(f(&r["forward_at_depth"]), 1.0, 1e-10), "{r}");
    }
    // tanh has no closed form: the fixed point is checked against the
    // second moment the command printed, and the row's own q*.
    let v = exact(&["tanh", "--bias-var", "0.2"]);
    let g = f(&v["forward_gain"]);
    assert!(close(g * g * f(&v["second_moment"]) + 0.2, 1.0, 1e-12));
    let r = gain_row(&v, "forward");
    assert!(close(f(&r["fixed_point"]["q_star"]), 1.0, 1e-9), "{r}");
}

#[test]
fn a_bias_as_large_as_q_leaves_no_forward_gain() {
    let out = run(&["gain", "relu", "--q", "0.5", "--bias-var", "0.5"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no forward gain can hold q fixed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Phi(t), the standard normal CDF, from libm's erfc (within an ulp).
fn phi_cdf(t: f64) -> f64 {
    0.5 * libm::erfc(-t / std::f64::consts::SQRT_2)
}

/// The standard normal density.
fn phi(t: f64) -> f64 {
    (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

#[test]
fn hardswish_chi_1_as_q_goes_to_zero_is_the_slope_at_zero() {
    // hardswish(x) = x (x + 3) / 6 on (-3, 3), so f'(x) = (2x + 3)/6 there
    // and f'(0) = 1/2: as q -> 0, chi -> sigma_w^2 f'(0)^2 = sigma_w^2 / 4
    // (issue 8: it was reported as half of that).
    let v = exact(&["x*min(max(x+3, 0), 6)/6"]);
    let r = gain_row(&v, "backward");
    assert_eq!(r["fixed_point"]["kind"], "collapses", "{r}");
    let g = f(&r["gain"]);
    assert!(close(f(&r["chi_1"]), g * g / 4.0, 1e-9), "{r}");
    assert_eq!(r["phase"], "ordered");
    // And the backward gain itself, from E[f'(z)^2] written out with the
    // normal law: (2z+3)^2/36 on |z| < 3, 1 above 3, so with
    // P = P(|z| < 3) and E[z^2; |z| < 3] = P - 6 phi(3):
    // E = (13 P - 24 phi(3)) / 36 + P(z > 3).
    let p = phi_cdf(3.0) - phi_cdf(-3.0);
    let e = (13.0 * p - 24.0 * phi(3.0)) / 36.0 + phi_cdf(-3.0);
    assert!(close(f(&v["derivative_second_moment"]), e, 1e-10), "{e}");
    assert!(close(g, 1.0 / e.sqrt(), 1e-10));
    // The figures: sigma_w = 1.670076, chi_1 = 0.6972888.
    assert!(close(g, 1.670076, 1e-6) && close(f(&r["chi_1"]), 0.6972888, 1e-6));
}

#[test]
fn hardtanh_moments_hold_at_any_q_however_small() {
    // With c = 1/sqrt(q), the kinks' distance in standard deviations:
    // E[hardtanh(sqrt(q) z)^2] = q (P(|z| < c) - 2 c phi(c)) + P(|z| > c)
    // and E[hardtanh'(sqrt(q) z)^2] = P(|z| < c). At q = 1e-8 the first
    // was reported as q/2 and the second as 1/2; at 1e-9 the command
    // failed.
    for q in [1e-9_f64, 1e-8, 1e-4, 0.25, 4.0] {
        let v = exact(&["hardtanh", "--q", &format!("{q:e}")]);
        let c = 1.0 / q.sqrt();
        let inside = phi_cdf(c) - phi_cdf(-c);
        let second = q * (inside - 2.0 * c * phi(c)) + 2.0 * phi_cdf(-c);
        assert!(close(f(&v["second_moment"]), second, 1e-10), "q = {q}: {v}");
        assert!(
            close(f(&v["derivative_second_moment"]), inside, 1e-10),
            "q = {q}"
        );
        assert!(
            close(f(&v["forward_gain"]), (q / second).sqrt(), 1e-10),
            "q = {q}"
        );
        assert_eq!(f(&v["mean"]), 0.0, "q = {q}: hardtanh is odd");
        assert_eq!(v["self_check"]["defect"], false, "q = {q}");
    }
    // At q = 1e-8 the length map at gain 1 is the identity to every digit
    // near q, but not everywhere (it shrinks q = 1 by a third): a fixed
    // point whose slope is 1 to the moments' precision, not "every q".
    let v = exact(&["hardtanh", "--q", "1e-8"]);
    let r = gain_row(&v, "forward");
    assert_eq!(r["fixed_point"]["kind"], "point", "{r}");
    assert_eq!(r["fixed_point"]["stable"], Value::Null, "{r}");
    assert!(close(f(&r["fixed_point"]["q_star"]), 1e-8, 1e-12), "{r}");
}

#[test]
fn every_printed_moment_is_self_checked_by_sampling() {
    let v = json(&["tanh"]);
    let checks = v["self_check"]["moments"].as_array().unwrap();
    // The three moments at q, and for the PyTorch and backward rows the
    // moments at their q* (the forward row's q* is q itself).
    let main: Vec<&Value> = checks
        .iter()
        .filter(|c| c["along_depth"] == false)
        .collect();
    assert_eq!(main.len(), 7, "{main:?}");
    for c in &main {
        assert_eq!(c["result"], "agrees", "{c}");
        let (e, s, se) = (f(&c["exact"]), f(&c["sampled"]), f(&c["se"]));
        assert!((e - s).abs() < 7.0 * se.max(1e-300), "{c}");
    }
    // The q* and chi_1 of each row are among them, at the row's q*.
    let p = gain_row(&v, "pytorch");
    let q_star = f(&p["fixed_point"]["q_star"]);
    assert!(
        main.iter()
            .any(|c| c["moment"] == "E[f'(z)^2]" && f(&c["q"]) == q_star)
    );
    // The depth columns' moments too, in one look each.
    assert!(checks.iter().filter(|c| c["along_depth"] == true).count() >= 60);
    assert_eq!(v["self_check"]["defect"], false);
    // The table says so (relu's, which has the same sections, is cheaper).
    let table = shared(&["gain", "relu"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("self-check: each moment behind the numbers above"),
        "{text}"
    );
    assert!(text.contains("along the depth path:"), "{text}");
}

#[test]
fn a_rare_event_missed_by_every_batch_is_no_defect() {
    // relu(x - 5): no draw in 131072 lands above 5 (P = 2.9e-7), so every
    // batch agrees on 0 with no spread. The exact value is right (here
    // against Phi(-5) from erfc), and the estimator's exact variance keeps
    // the check from calling it a defect: consistent, not resolved.
    let out = run(&["gain", "relu(x - 5)", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(close(
        f(&v["derivative_second_moment"]),
        phi_cdf(-5.0),
        1e-10
    ));
    assert_eq!(v["self_check"]["defect"], false);
    let first = &v["self_check"]["moments"][0];
    assert_eq!(first["sampled"], 0.0);
    assert_eq!(first["result"], "consistent", "{first}");
}

#[test]
fn seed_resolution_and_max_samples_act_on_the_self_check() {
    let sampled = |v: &Value| -> Vec<(f64, u64)> {
        v["self_check"]["moments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (f(&c["sampled"]), c["draws"].as_u64().unwrap()))
            .collect()
    };
    let base = json(&["relu"]);
    // Same seed, same figures, at any thread count.
    let again = json(&["relu", "--threads", "1"]);
    assert_eq!(sampled(&base), sampled(&again));
    // Another seed, other draws; the exact values do not move.
    let other = json(&["relu", "--seed", "7"]);
    assert_ne!(sampled(&base), sampled(&other));
    assert_eq!(base["second_moment"], other["second_moment"]);
    assert_eq!(other["self_check"]["seed"], 7);
    // A coarser resolution is reached with fewer draws.
    let coarse = json(&["relu", "--resolution", "5%"]);
    let draws = |v: &Value| sampled(v).iter().map(|s| s.1).sum::<u64>();
    assert!(
        draws(&coarse) < draws(&base),
        "{} vs {}",
        draws(&coarse),
        draws(&base)
    );
    // A cap on the draws is obeyed, and what it leaves unresolved is said.
    let capped = json(&["relu", "--max-samples", "20000"]);
    assert!(sampled(&capped).iter().all(|s| s.1 <= 20000));
    let results: Vec<&str> = capped["self_check"]["moments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["result"].as_str().unwrap())
        .collect();
    assert!(results.contains(&"consistent"), "{results:?}");
    assert!(!results.contains(&"defect"), "{results:?}");
}

#[test]
fn leaky_relu_takes_pytorchs_slope_from_the_call() {
    let v = exact(&["leaky_relu(x, 0.2)"]);
    let g = (2.0 / (1.0 + 0.04f64)).sqrt();
    assert!(close(f(&gain_row(&v, "pytorch")["gain"]), g, 1e-15));
    assert!(close(f(&v["forward_gain"]), g, 1e-12));
    assert_eq!(v["gains_coincide"], true);
}

#[test]
fn a_defined_activation_uses_its_symbolic_derivative() {
    let v = exact(&["swish2", "--define", "swish2(x) = x * sigmoid(2*x)"]);
    // No PyTorch gain for it.
    assert!(
        v["gains"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["label"] != "pytorch")
    );
    // Stein's lemma cross-check through `check`: the backward moment the
    // gain command used is the one a hand-written derivative gives.
    let d = f(&v["derivative_second_moment"]);
    let claim = format!("E[(sigmoid(2*y) + 2*y*sigmoid(2*y)*(1 - sigmoid(2*y)))^2] = {d:e}");
    let out = run(&["check", &claim, "--given", "y ~ Normal(0, 1)"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // And the forward gain is 1/sqrt(E[f^2]).
    assert!(close(
        f(&v["forward_gain"]),
        1.0 / f(&v["second_moment"]).sqrt(),
        1e-14
    ));
}

#[test]
fn functions_come_from_a_file() {
    let dir = std::env::temp_dir().join(format!("initaudit-gain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f.toml");
    std::fs::write(&path, "[functions]\nhalf_relu = \"relu(x) / 2\"\n").unwrap();
    let v = exact(&["half_relu", "--functions", path.to_str().unwrap()]);
    // relu/2: E[f^2] = 1/8, so the forward gain is sqrt(8).
    assert!(close(f(&v["forward_gain"]), 8f64.sqrt(), 1e-12));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_newer_activations_have_computed_gains_and_no_pytorch_one() {
    // E[relu6(z)^2] = 0.49999999807527047738 (mpmath at 40 digits; also the
    // closed form in derivations/activations.toml): forward gain 1/sqrt.
    let v = exact(&["relu6"]);
    assert!(close(
        f(&v["forward_gain"]),
        1.0 / 0.499_999_998_075_270_5f64.sqrt(),
        1e-12
    ));
    // calculate_gain raises for these: no pytorch row.
    for name in ["relu6", "hardswish", "gelu_tanh", "swish"] {
        let v = exact(&[name]);
        assert_eq!(v["gains"].as_array().unwrap().len(), 2, "{name}");
    }
    // swish is silu by another name: the same numbers.
    let (swish, silu) = (exact(&["swish"]), exact(&["silu"]));
    assert_eq!(swish["forward_gain"], silu["forward_gain"]);
    assert_eq!(swish["backward_gain"], silu["backward_gain"]);
}

#[test]
fn unknown_activation_is_bad_input_listing_the_valid_ones() {
    let out = run(&["gain", "swish3"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("`swish3` is not an activation"), "{err}");
    for name in [
        "relu",
        "tanh",
        "gelu",
        "selu",
        "mish",
        "gelu_tanh",
        "hardswish",
        "swish",
        "--define",
    ] {
        assert!(err.contains(name), "{name} missing from: {err}");
    }
}

#[test]
fn other_bad_input_exits_2_without_panicking() {
    for args in [
        vec!["gain", "prelu"],
        vec!["gain", "relu(x"],
        vec!["gain", "relu", "--q", "0"],
        vec!["gain", "relu", "--bias-var=-1"],
        vec!["gain", "step(x)"],
        vec!["gain", "exp(x^2)"],
        vec!["gain", "f", "--define", "f(x) = g(x)"],
        vec!["gain", "relu", "--functions", "no/such/file.toml"],
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn same_bytes_every_run() {
    // Thread-count identity of the whole output. tanh takes the paths mish
    // took here (moments by quadrature only, the sampled self-check, the
    // fixed point's bisection) in a quarter of the time; mish's moments are
    // audited in derivations/activations.toml (`mish.stein`). At a 5%
    // resolution tanh's self-check is the pilot alone, so relu at the
    // default resolution, whose self-check goes on to powered draws (tens
    // of millions a moment), is compared too.
    for args in [&["tanh", "--resolution", "5%"][..], &["relu"]] {
        let mut one = args.to_vec();
        one.extend_from_slice(&["--threads", "1"]);
        let (a, b) = (json_output(args), json_output(&one));
        assert!(a.status.success(), "{args:?}");
        assert_eq!(a.stdout, b.stdout, "{args:?}");
    }
}

/// The q* written in derivations/frameworks.toml on the line marked as
/// coming from `initaudit gain NAME`.
fn q_star_in_frameworks(name: &str) -> f64 {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/derivations/frameworks.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let marker = format!("from `initaudit gain {name} --format json`");
    let line = text
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no line marked {marker}"));
    let value = line.split('#').next().unwrap().trim();
    let value = value.strip_prefix("q = ").expect("q = VALUE # ...");
    value.parse().unwrap()
}

#[test]
fn frameworks_file_holds_the_gain_commands_fixed_points() {
    // Both copies must agree to the precision the exact verdict in the
    // file needs (1e-9 relative), so neither can drift alone.
    for name in ["tanh", "selu"] {
        let v = exact(&[name]);
        let q = f(&gain_row(&v, "pytorch")["fixed_point"]["q_star"]);
        let in_file = q_star_in_frameworks(name);
        assert!(
            close(in_file, q, 1e-12),
            "{name}: file {in_file}, command {q}"
        );
    }
}

#[test]
fn a_mistake_in_an_activation_expression_is_shown_where_it_is() {
    let out = run(&["gain", "foo(x)+1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown function `foo`"), "{err}");
    assert!(err.contains("1 | foo(x)+1\n  | ^^^\n"), "{err}");
    // The name the expression is registered under internally is no
    // function a user can call, so it is not offered as one.
    let help = err
        .lines()
        .find(|l| l.contains("= help:"))
        .expect("a help line");
    assert!(
        help.contains("relu") && !help.contains("activation"),
        "{err}"
    );
}

#[test]
fn tanh_forward_gain_with_a_bias_matches_mpmath() {
    // The gain whose length map fixes q: sigma_w = sqrt((q - sigma_b^2) /
    // E[tanh(sqrt(q) z)^2]). mpmath 1.3, 25 digits, tanh-sinh quadrature
    // split at 0:
    //   python3 -c "from mpmath import *; mp.dps = 25; \
    //     m = quad(lambda z: tanh(sqrt(q)*z)**2*exp(-z*z/2), [-inf, 0, inf]) / sqrt(2*pi); \
    //     print(m, sqrt((q - b)/m))"
    // q = 1, b = 0.2: E = 0.3942944903978411744, gain 1.4244087708849461460;
    // q = 3, b = 0.5: E = 0.5894390844781302518, gain 2.0594466191199396241.
    for (q, b, gain) in [
        ("1", "0.2", 1.424_408_770_884_946),
        ("3", "0.5", 2.059_446_619_119_939_6),
    ] {
        let v = exact(&["tanh", "--q", q, "--bias-var", b]);
        assert!(close(f(&v["forward_gain"]), gain, 1e-12), "q = {q}: {v}");
        assert_eq!(v["self_check"]["defect"], false, "q = {q}");
    }
}
