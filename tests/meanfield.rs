//! `initaudit meanfield` end to end, against independent values:
//!
//! - tanh: the numbers, recomputed in mpmath at 20 digits by
//!   tests/meanfield_reference.py (its own quadrature and root finding; the
//!   values below are that script's output);
//! - erf: closed forms (Williams 1997's arcsine kernel), iterated to their
//!   fixed points here in f64;
//! - ReLU: q* = sigma_b^2 / (1 - sigma_w^2 / 2) and chi_1 = sigma_w^2 / 2;
//!
//! and bad input, the budget, and the phase diagram's file.

mod common;

use common::initaudit;
use serde_json::Value;
use std::f64::consts::PI;

fn json(args: &[&str]) -> Value {
    let mut all = vec!["meanfield"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let (code, out, err) = initaudit(&all);
    assert_eq!(code, 0, "{args:?}: {err}{out}");
    let v: Value = serde_json::from_str(&out).expect("valid json");
    assert_eq!(v["self_check"]["passed"], true, "{v}");
    v
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs(),
        "{what}: {got} against {want} (relative {rel})"
    );
}

#[test]
fn tanh_matches_mpmath_in_both_phases_and_at_the_edge() {
    // sigma_w^2 = 2.5, sigma_b^2 = 0.05, chaotic; mpmath
    // (tests/meanfield_reference.py, 20 digits; the same digits with 24
    // nodes a piece on [-10, 10] and 12 on [-9, 9]).
    let v = json(&[
        "tanh",
        "--sigma-w",
        "1.5811388300841898",
        "--bias-var",
        "0.05",
    ]);
    let p = &v["point"];
    close("q*", f(&p["q_star"]), 1.063_958_377_42, 1e-9);
    close("chi_1", f(&p["chi_1"]["value"]), 1.133_515_698_7, 1e-9);
    close("c*", f(&p["c_star"]), 0.446_804_232_344, 1e-8);
    close("chi_c", f(&p["chi_c"]["value"]), 0.918_716_774_914, 1e-8);
    close("xi_q", f(&p["xi_q"]), 1.179_872_916_48, 1e-8);
    close("xi_c", f(&p["xi_c"]), 11.795_597_515_9, 1e-7);
    assert_eq!(p["phase"], "chaotic");

    // sigma_w^2 = 0.8: ordered, c* = 1 and chi_c = chi_1; mpmath.
    let v = json(&[
        "tanh",
        "--sigma-w",
        "0.8944271909999159",
        "--bias-var",
        "0.05",
    ]);
    let p = &v["point"];
    close("q*", f(&p["q_star"]), 0.138_080_277_966, 1e-9);
    close("chi_1", f(&p["chi_1"]["value"]), 0.646_838_513_353, 1e-9);
    assert_eq!(f(&p["c_star"]), 1.0);
    close("xi_c", f(&p["xi_c"]), 2.295_375_278_41, 1e-8);
    close("xi_q", f(&p["xi_q"]), 1.514_373_431_01, 1e-8);
    assert_eq!(p["phase"], "ordered");

    // No --sigma-w: the edge of chaos.
    let v = json(&["tanh", "--bias-var", "0.05"]);
    close("edge", f(&v["edge_sigma_w2"]), 1.760_954_639_61, 1e-9);
    close(
        "q* at the edge",
        f(&v["point"]["q_star"]),
        0.570_047_881_641,
        1e-9,
    );
    assert_eq!(v["point"]["phase"], "critical");
    assert!(v["point"]["xi_c"].is_null(), "xi_c is infinite on the edge");
}

/// erf's mean-field maps in closed form, for u ~ N(0, q) and a pair of
/// correlation c: E[erf(u1) erf(u2)] = (2/pi) asin(2 q c / (1 + 2 q));
/// E[erf'(u1) erf'(u2)] = (4/pi) / sqrt((1 + 2q)^2 - 4 q^2 c^2).
struct Erf {
    w2: f64,
    b2: f64,
}

impl Erf {
    fn q_map(&self, q: f64) -> f64 {
        self.w2 * 2.0 / PI * (2.0 * q / (1.0 + 2.0 * q)).asin() + self.b2
    }
    fn q_star(&self) -> f64 {
        let mut q = 1.0;
        for _ in 0..10_000 {
            q = self.q_map(q);
        }
        q
    }
    fn pair(&self, q: f64, c: f64) -> f64 {
        self.w2 * 4.0 / PI / ((1.0 + 2.0 * q).powi(2) - 4.0 * q * q * c * c).sqrt()
    }
    fn c_star(&self, q: f64) -> f64 {
        let mut c = 0.5;
        for _ in 0..100_000 {
            c = (self.w2 * 2.0 / PI * (2.0 * q * c / (1.0 + 2.0 * q)).asin() + self.b2) / q;
        }
        c
    }
}

/// Without a bias, an odd activation's c-map has c = 0 as a fixed point,
/// the stable one in the chaotic phase: c* is 0, not the first grid point
/// above it (a bisection that started from an end whose sign was rounding
/// walked to the bracket's other end and printed c* = 0.1, which the
/// self-check then refuted). chi_c there is sigma_w^2 E[tanh'(sqrt(q*) z)]^2;
/// mpmath at 30 digits (mp.quad over (-inf, 0, inf), findroot for q*):
/// q* = 0.24951304023795282586, chi_c = 0.98420777872464036632,
/// xi_c = 62.820987842424039249.
#[test]
fn an_odd_activation_without_bias_decorrelates_to_zero() {
    let v = json(&["tanh", "--sigma-w", "1.2"]);
    let p = &v["point"];
    assert_eq!(p["phase"], "chaotic");
    assert!(f(&p["c_star"]).abs() < 1e-12, "{p}");
    close("q*", f(&p["q_star"]), 0.249_513_040_237_952_8, 1e-9);
    close(
        "chi_c",
        f(&p["chi_c"]["value"]),
        0.984_207_778_724_640_4,
        1e-9,
    );
    close("xi_c", f(&p["xi_c"]), 62.820_987_842_424_04, 1e-7);
}

#[test]
fn erf_matches_its_closed_forms() {
    let e = Erf { w2: 4.0, b2: 0.05 };
    let q = e.q_star();
    let c = e.c_star(q);
    let chi_1 = e.pair(q, 1.0);
    let chi_c = e.pair(q, c);
    let slope = e.w2 * 4.0 / PI / ((1.0 + 2.0 * q) * (1.0 + 4.0 * q).sqrt());
    assert!(
        chi_1 > 1.0 && c < 1.0,
        "the closed forms put this point in the chaotic phase"
    );
    let v = json(&["erf(x)", "--sigma-w", "2", "--bias-var", "0.05"]);
    let p = &v["point"];
    close("q*", f(&p["q_star"]), q, 1e-9);
    close("chi_1", f(&p["chi_1"]["value"]), chi_1, 1e-9);
    close("c*", f(&p["c_star"]), c, 1e-8);
    close("chi_c", f(&p["chi_c"]["value"]), chi_c, 1e-8);
    close("xi_q", f(&p["xi_q"]), -1.0 / slope.ln(), 1e-8);
    close("xi_c", f(&p["xi_c"]), -1.0 / chi_c.ln(), 1e-7);
}

#[test]
fn relu_is_critical_at_he_and_linear_below() {
    // No bias: the edge is sigma_w^2 = 2 (chi_1 = sigma_w^2 / 2 at every q).
    let v = json(&["relu"]);
    close("edge", f(&v["edge_sigma_w2"]), 2.0, 1e-9);
    assert_eq!(v["point"]["phase"], "critical");
    // sigma_w = 1, sigma_b^2 = 0.1: q* = 0.1 / (1 - 1/2) = 0.2, chi_1 = 1/2,
    // and the length map's slope is 1/2 too: xi_q = xi_c = 1/log 2.
    let v = json(&["relu", "--sigma-w", "1", "--bias-var", "0.1"]);
    let p = &v["point"];
    close("q*", f(&p["q_star"]), 0.2, 1e-9);
    close("chi_1", f(&p["chi_1"]["value"]), 0.5, 1e-12);
    close("xi_q", f(&p["xi_q"]), 1.0 / 2f64.ln(), 1e-9);
    close("xi_c", f(&p["xi_c"]), 1.0 / 2f64.ln(), 1e-9);
}

#[test]
fn bad_input_and_the_budget_are_refused() {
    let cases: [&[&str]; 4] = [
        &["tanh", "--sigma-w", "-1"],
        &["tanh", "--bias-var", "-0.1"],
        &["nosuch"],
        &["tanh", "relu"],
    ];
    for args in cases {
        let (code, out, err) = initaudit(&[&["meanfield"], args].concat());
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(err.contains("error"), "{args:?}: {err}");
    }
    let (code, out, err) =
        initaudit(&["meanfield", "tanh", "--sigma-w", "1.5", "--budget", "0.001"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("budget"), "{err}");
}

#[test]
fn a_phase_diagram_over_the_budget_is_refused_before_any_work() {
    // The diagram is estimated at about 160 s of one core (src/meanfield/
    // plot.rs); 10 s refuses it up front, so no file is written and the
    // test takes no quadrature's time.
    let path = std::env::temp_dir().join(format!(
        "initaudit-phase-refused-{}.svg",
        std::process::id()
    ));
    let shown = path.display().to_string();
    let (code, out, err) = initaudit(&[
        "meanfield",
        "tanh",
        "relu",
        "--plot",
        &shown,
        "--budget",
        "10",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("the phase diagram is estimated at")
            && err.contains("over the budget of 10 s")
            && err.contains("96 shading cells")
            && err.contains("raise --budget"),
        "{err}"
    );
    assert!(!path.exists(), "a refused plot was written");
}
