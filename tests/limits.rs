//! Infinite-width limits of networks (src/net/limit.rs) against
//! independent values, the two-input statistics, and their bad input:
//!
//! - ReLU: the arc-cosine kernel of degree 1 (Cho & Saul 2009) and its
//!   derivative kernel (pi - acos c) / (2 pi), iterated here in f64;
//! - erf: Williams 1997, E[erf(u) erf(v)] = (2/pi) asin(2k / (1 + 2q)), and
//!   E[erf'(u)^2] = (4/pi) / sqrt(1 + 4q);
//! - tanh at q = 2.5, rho = 0.9: mpmath at 20 digits
//!   (tests/limits_reference.py: its own tanh-sinh quadrature).

mod common;

use common::initaudit;
use initaudit::audit;
use initaudit::net::limit::{Pairs, Prediction, Stat, predict};
use initaudit::net::simulate::{Atom, Signal, simulate};
use initaudit::net::{self, Network};
use std::f64::consts::PI;

fn network(text: &str) -> Network {
    match audit::load("t.toml", text) {
        Ok(mut f) => f.networks.remove(0),
        Err(e) => panic!("{}", e.render()),
    }
}

fn net_text(
    act: &str,
    weight_var: f64,
    bias: &str,
    input_sd: f64,
    rho: f64,
    depth: usize,
) -> String {
    format!(
        "[network.t]\ndepth = {depth}\nwidth = 16\nactivation = \"{act}\"\n\
         weight = \"Normal(0, sqrt({weight_var:?}/fan_in))\"\nbias = \"{bias}\"\n\
         input = \"Normal(0, {input_sd:?})\"\ninputs = 2\ninput_corr = {rho:?}\ndraws = 32\n"
    )
}

const BOTH: Pairs = Pairs {
    cross: true,
    ntk: true,
};

fn prediction(net: &Network, pairs: Pairs) -> Prediction {
    let p = predict(net, pairs).unwrap_or_else(|m| panic!("{m}"));
    assert!(
        p.defects.is_empty(),
        "sampling contradicted: {:?}",
        p.defects
    );
    assert!(p.sampled > 0);
    p
}

/// The value and a check that its bound is small and earned: the
/// difference from the truth within the bound plus `tol`.
fn close(what: &str, got: initaudit::exact::Val, want: f64, tol: f64) {
    assert!(
        (got.value - want).abs() <= tol * want.abs().max(1.0) + got.err,
        "{what}: {} ± {} against {want}",
        got.value,
        got.err
    );
    assert!(
        got.err < 1e-9 * want.abs().max(1.0),
        "{what}: bound {}",
        got.err
    );
}

#[test]
fn relu_nngp_and_ntk_follow_the_arc_cosine_kernel_with_a_bias() {
    let (s, b, rho) = (1.7, 0.2, 0.3);
    let depth = 4;
    let net = network(&net_text(
        "relu",
        s,
        "Normal(0, sqrt(0.2))",
        1.0,
        rho,
        depth,
    ));
    let p = prediction(&net, BOTH);
    // Layer 1 from the input: E[x0^2] = 1, E[x0a x0b] = rho.
    let (mut q, mut k) = (s + b, s * rho + b);
    let (mut theta, mut theta_ab) = (q, k);
    for l in 1..=depth {
        let y = |stat| p.value(stat, Signal::Y, l).expect("a value");
        close(&format!("q({l})"), y(Stat::Square), q, 1e-12);
        close(&format!("k({l})"), y(Stat::Cross), k, 1e-11);
        close(&format!("ntk({l})"), y(Stat::Ntk), theta, 1e-11);
        close(&format!("ntk_pair({l})"), y(Stat::NtkPair), theta_ab, 1e-10);
        // Cho & Saul: E[relu(u) relu(v)] = q (sqrt(1 - c^2) + (pi - acos c) c) / (2 pi).
        let c = k / q;
        let cross = q * ((1.0 - c * c).sqrt() + (PI - c.acos()) * c) / (2.0 * PI);
        close(
            &format!("cross x({l})"),
            p.value(Stat::Cross, Signal::X, l).unwrap(),
            cross,
            1e-11,
        );
        let dot = (PI - c.acos()) / (2.0 * PI);
        let (q2, k2) = (s * q / 2.0 + b, s * cross + b);
        theta = q2 + s * 0.5 * theta;
        theta_ab = k2 + s * dot * theta_ab;
        (q, k) = (q2, k2);
    }
    // Backward: E[dx(L)^2] = 1 and each layer multiplies by s E[relu'^2] = s/2.
    for l in 0..=depth {
        close(
            &format!("dx({l})"),
            p.value(Stat::Square, Signal::Dx, l).unwrap(),
            (s / 2.0).powi((depth - l) as i32),
            1e-12,
        );
    }
}

#[test]
fn erf_nngp_follows_williams_and_its_ntk_diagonal_too() {
    let (s, b, rho) = (1.5, 0.1, 0.4);
    let depth = 3;
    let net = network(&net_text("erf", s, "Normal(0, sqrt(0.1))", 0.8, rho, depth));
    let p = prediction(
        &net,
        Pairs {
            cross: true,
            ntk: false,
        },
    );
    let m2 = 0.64;
    let (mut q, mut k) = (s * m2 + b, s * rho * m2 + b);
    let mut theta = q;
    for l in 1..=depth {
        let y = |stat| p.value(stat, Signal::Y, l).expect("a value");
        close(&format!("q({l})"), y(Stat::Square), q, 1e-11);
        close(&format!("k({l})"), y(Stat::Cross), k, 1e-10);
        close(&format!("ntk({l})"), y(Stat::Ntk), theta, 1e-10);
        let second = 2.0 / PI * (2.0 * q / (1.0 + 2.0 * q)).asin();
        let cross = 2.0 / PI * (2.0 * k / (1.0 + 2.0 * q)).asin();
        let slope = 4.0 / PI / (1.0 + 4.0 * q).sqrt();
        let q2 = s * second + b;
        theta = q2 + s * slope * theta;
        (q, k) = (q2, s * cross + b);
    }
}

#[test]
fn erf_ntk_off_the_diagonal_follows_williams() {
    // Williams: E[erf'(u) erf'(v)] = (4/pi) / sqrt((1 + 2q)^2 - 4k^2).
    let (s, rho) = (1.5, 0.4);
    let net = network(&net_text("erf", s, "0", 1.0, rho, 2));
    let p = prediction(&net, BOTH);
    let (q, k) = (s, s * rho);
    let dot = 4.0 / PI / ((1.0 + 2.0 * q).powi(2) - 4.0 * k * k).sqrt();
    let k2 = s * 2.0 / PI * (2.0 * k / (1.0 + 2.0 * q)).asin();
    close(
        "ntk_pair(2)",
        p.value(Stat::NtkPair, Signal::Y, 2).expect("settled here"),
        k2 + s * dot * k,
        1e-9,
    );
}

#[test]
fn tanh_one_layer_kernels_at_q_2_5_rho_0_9_match_mpmath() {
    // s = 1, no bias, inputs N(0, sqrt(2.5)) of correlation 0.9: layer 1 has
    // q = 2.5, k = 2.25, and layer 2's kernels are one step of the maps there.
    // mpmath, 20 digits (tests/limits_reference.py):
    //   E[tanh(u) tanh(v)]       = 0.48542304282960050489
    //   E[tanh'(u) tanh'(v)]     = 0.27452907814628176767
    // neural-tangents-style 25-point Gauss-Hermite gives 0.48509087 and
    // 0.27646555 for the same two (the script prints them): 0.07% and 0.7%
    // off, where ours agree to 1e-9 with a bound below 1e-9.
    let net = network(&net_text("tanh", 1.0, "0", 2.5f64.sqrt(), 0.9, 2));
    let p = prediction(&net, BOTH);
    let ff = 0.485_423_042_829_600_5;
    let dd = 0.274_529_078_146_281_77;
    close(
        "q(1)",
        p.value(Stat::Square, Signal::Y, 1).unwrap(),
        2.5,
        1e-13,
    );
    close(
        "k(1)",
        p.value(Stat::Cross, Signal::Y, 1).unwrap(),
        2.25,
        1e-13,
    );
    close(
        "E[tanh u tanh v]",
        p.value(Stat::Cross, Signal::X, 1).unwrap(),
        ff,
        1e-9,
    );
    close(
        "k(2)",
        p.value(Stat::Cross, Signal::Y, 2).unwrap(),
        ff,
        1e-9,
    );
    // Theta_2(a, b) = k_2 + s E[tanh' tanh'] Theta_1(a, b), Theta_1 = k_1.
    close(
        "ntk_pair(2)",
        p.value(Stat::NtkPair, Signal::Y, 2).unwrap(),
        ff + dd * 2.25,
        1e-9,
    );
}

#[test]
fn input_corr_gives_the_inputs_that_correlation_and_the_simulation_records_it() {
    let net = network(&net_text("identity", 1.0, "0", 1.0, 0.5, 1));
    let stats = simulate(&net, net::key(&net, 0)).unwrap();
    let (c, se) = stats.delta(
        &[Atom::Pair(Signal::X, 0), Atom::Layer(Signal::X, 0, 2)],
        &|m| m[0] / m[1],
    );
    // 32 draws of 16 coordinates: the sample correlation is 0.5 within a
    // few standard errors, which are about 0.03 here.
    assert!((c - 0.5).abs() < 5.0 * se && se < 0.05, "{c} ± {se}");
    // Linear layers keep it: E[y_a y_b] / E[y^2] is the inputs' correlation.
    let (cy, se_y) = stats.delta(
        &[Atom::Pair(Signal::Y, 1), Atom::Layer(Signal::Y, 1, 2)],
        &|m| m[0] / m[1],
    );
    assert!((cy - 0.5).abs() < 5.0 * se_y, "{cy} ± {se_y}");
    // Without input_corr the same stream draws the same inputs as before:
    // independent inputs of correlation 0.
    let plain =
        network(&net_text("identity", 1.0, "0", 1.0, 0.5, 1).replace("input_corr = 0.5\n", ""));
    let s0 = simulate(&plain, net::key(&plain, 0)).unwrap();
    let (c0, se0) = s0.delta(
        &[Atom::Pair(Signal::X, 0), Atom::Layer(Signal::X, 0, 2)],
        &|m| m[0] / m[1],
    );
    assert!(c0.abs() < 5.0 * se0, "{c0} ± {se0}");
}

/// Runs `audit FILE` on `text` in a fresh folder: (status, stdout + stderr).
fn audit_text(name: &str, text: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("initaudit-limits-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f.toml"), text).unwrap();
    let path = dir.join("f.toml");
    let (code, out, err) = initaudit(&["audit", path.to_str().expect("a utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    (code, out + &err)
}

#[test]
fn bad_two_input_and_limit_input_is_a_located_error() {
    let base = net_text("tanh", 1.0, "0", 1.0, 0.5, 2);
    let series = |says: &str| {
        format!("{base}\n[[series]]\nid = \"s\"\nsays = \"{says}\"\nwithin = \"5%\"\n")
    };
    let cases: Vec<(String, &str)> = vec![
        (
            base.replace("input_corr = 0.5", "input_corr = 1.5"),
            "must be a correlation from 0 to 1",
        ),
        (
            base.replace("Normal(0, 1.0)", "Uniform(-1, 1)"),
            "`input_corr` needs a normal `input` law",
        ),
        (
            base.replace("inputs = 2", "inputs = 1"),
            "but `inputs` is 1",
        ),
        (series("corr(dx(1)) ~= 0.5"), "`corr` takes x or y"),
        (series("ntk(1) ~= 1"), "write it inside limit(...)"),
        (series("limit(E[norm2]) ~= 1"), "no value for norm2"),
        (
            series("limit(limit(Var[y(1)])) ~= 1"),
            "`limit` inside `limit`",
        ),
        (
            series("limit(corr(y(3))) ~= 1"),
            "layer 3 of y does not exist",
        ),
        (
            series("corr(y(1)) ~= 0.5")
                .replace("input_corr = 0.5\n", "")
                .replace("inputs = 2", "inputs = 1"),
            "pushes 1 input through each draw",
        ),
        (
            series("Var[y(1)] ~= limit(Var[y(1)])")
                .replace("bias = \"0\"", "bias = \"Uniform(-1, 1)\""),
            "biases Normal(0, s) or 0",
        ),
        (
            series("Var[y(1)] ~= limit(Var[y(1)])").replace(
                "weight = \"Normal(0, sqrt(1.0/fan_in))\"",
                "weight = \"Orthogonal(1)\"",
            ),
            "independent entries, not `Orthogonal`",
        ),
    ];
    for (text, want) in cases {
        let (code, out) = audit_text("bad", &text);
        assert_eq!(code, 2, "{want}: {out}");
        assert!(out.contains(want), "want `{want}` in:\n{out}");
        assert!(out.contains("f.toml:"), "located: {out}");
        assert!(!out.contains("panicked"), "{out}");
    }
}
