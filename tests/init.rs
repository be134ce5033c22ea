//! `initaudit init` end to end: the issue's four examples, the fan rules on
//! every layout of both frameworks (the claim language has no shapes, so
//! the rule itself, dims to fans, is tested here; derivations/frameworks.toml
//! checks what a fan means, the number of terms a unit sums), the gains
//! an activation gives, the orthogonal scheme's mean square on drawn
//! matrices, and bad input.
//!
//! Expected values are closed forms of the frameworks' rules (read from
//! torch/nn/init.py and jax/_src/nn/initializers.py), computed here in f64,
//! never copied from the command's output.

mod common;

use common::initaudit;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let mut all = vec!["init"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let (code, out, err) = initaudit(&all);
    assert_eq!(code, 0, "{args:?}: {err}{out}");
    serde_json::from_str(&out).expect("valid json")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs(),
        "{got} against {want} (relative {rel})"
    );
}

#[test]
fn the_issues_four_examples_are_reproduced() {
    // PyTorch kaiming_uniform on a Conv2d (64, 3, 3, 3) under ReLU.
    let (code, out, err) = initaudit(&[
        "init",
        "kaiming_uniform",
        "--shape",
        "64,3,3,3",
        "--act",
        "relu",
    ]);
    assert_eq!(code, 0, "{err}");
    for want in ["fan_in  ", " 27\n", "0.2721655", "0.4714045", "all hold"] {
        assert!(out.contains(want), "{want:?} not in\n{out}");
    }
    let v = json(&[
        "kaiming_uniform",
        "--shape",
        "64,3,3,3",
        "--act",
        "relu",
        "--depth",
        "2",
    ]);
    assert_eq!(v["fan_in"], 27);
    close(f(&v["weight"]["std"]), (2.0f64 / 27.0).sqrt(), 1e-12);
    close(f(&v["weight"]["bound"]), (6.0f64 / 27.0).sqrt(), 1e-12);
    // ReLU at He's gain keeps the forward second moment: 1 per layer.
    close(f(&v["forward_per_layer"]), 1.0, 1e-9);

    // PyTorch's own Conv2d default: weights and bias U(±1/sqrt(27)).
    let (_, out, _) = initaudit(&["init", "default", "--shape", "64,3,3,3", "--depth", "1"]);
    for row in ["bound ", "bias bound "] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(row) && l.trim_end().ends_with("0.1924501")),
            "no {row:?} row of 0.1924501 in\n{out}"
        );
    }
    let v = json(&["default", "--shape", "64,3,3,3", "--depth", "1"]);
    close(f(&v["weight"]["bound"]), 1.0 / 27f64.sqrt(), 1e-12);
    close(f(&v["bias"]["bound"]), 1.0 / 27f64.sqrt(), 1e-12);

    // JAX variance_scaling(2, fan_in, truncated_normal) on (3, 3, 64, 128).
    let args = [
        "variance_scaling",
        "--framework",
        "jax",
        "--scale",
        "2",
        "--mode",
        "fan_in",
        "--distribution",
        "truncated_normal",
        "--shape",
        "3,3,64,128",
        "--depth",
        "1",
    ];
    let (_, out, _) = initaudit(&[&["init"], &args[..]].concat());
    assert!(out.contains("576") && out.contains("0.06698937"), "{out}");
    let v = json(&args);
    assert_eq!(v["fan_in"], 576);
    assert_eq!(v["fan_out"], 1152);
    // JAX's own constant: the sd of N(0, 1) truncated to (-2, 2).
    close(
        f(&v["weight"]["underlying_std"]),
        (2.0f64 / 576.0).sqrt() / 0.879_625_661_034_239_8,
        1e-12,
    );
    close(f(&v["weight"]["std"]), (2.0f64 / 576.0).sqrt(), 1e-12);

    // Xavier uniform on a (128, 256) Linear: sqrt(6 / 384) = 1/8.
    let (_, out, _) = initaudit(&[
        "init",
        "xavier_uniform",
        "--shape",
        "128,256",
        "--depth",
        "1",
    ]);
    assert!(out.contains("0.1250000"), "{out}");
    let v = json(&["xavier_uniform", "--shape", "128,256", "--depth", "1"]);
    assert_eq!(f(&v["weight"]["bound"]), 0.125);
}

#[test]
fn fans_follow_each_frameworks_rule_on_every_layout() {
    // (framework, shape, extra flags, fan_in, fan_out)
    let cases: [(&str, &str, &[&str], u64, u64); 7] = [
        // PyTorch (out, in, k...): in x prod(k), out x prod(k).
        ("torch", "128,256", &[], 256, 128),
        ("torch", "16,8,5", &[], 8 * 5, 16 * 5),
        ("torch", "8,4,3,3,3", &[], 4 * 27, 8 * 27),
        // ConvTranspose (in, out/groups, k...): the same rule, dims 1 and 0.
        ("torch", "64,32,3,3", &["--transposed"], 32 * 9, 64 * 9),
        // JAX/Flax (k..., in, out).
        ("jax", "256,128", &[], 256, 128),
        ("jax", "3,3,64,128", &[], 576, 1152),
        ("jax", "5,16,8", &[], 5 * 16, 5 * 8),
    ];
    for (fw, shape, extra, fan_in, fan_out) in cases {
        let scheme = if fw == "torch" {
            "kaiming_normal"
        } else {
            "lecun_normal"
        };
        let mut args = vec![scheme, "--framework", fw, "--shape", shape, "--depth", "1"];
        args.extend_from_slice(extra);
        let v = json(&args);
        assert_eq!(v["fan_in"], fan_in, "{fw} {shape}");
        assert_eq!(v["fan_out"], fan_out, "{fw} {shape}");
    }
    let v = json(&[
        "kaiming_normal",
        "--shape",
        "64,32,3,3",
        "--transposed",
        "--depth",
        "1",
    ]);
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap()
            .contains("reverse of the data flow"),
        "{v}"
    );
    // fan_out mode: kaiming_normal's std is gain / sqrt(fan_out).
    let v = json(&[
        "kaiming_normal",
        "--shape",
        "64,3,3,3",
        "--mode",
        "fan_out",
        "--depth",
        "1",
    ]);
    close(f(&v["weight"]["std"]), (2.0f64 / 576.0).sqrt(), 1e-12);
}

#[test]
fn gains_come_from_the_activation() {
    // Forward gain of tanh: 1/sqrt(E[tanh(z)^2]), E[tanh(z)^2] =
    // 0.39429449039784117 (mpmath, as in docs/LANGUAGE.md).
    let v = json(&[
        "kaiming_normal",
        "--shape",
        "100,400",
        "--act",
        "tanh",
        "--depth",
        "1",
    ]);
    close(
        f(&v["gain"]["value"]),
        1.0 / 0.394_294_490_397_841_17f64.sqrt(),
        1e-9,
    );
    close(f(&v["forward_per_layer"]), 1.0, 1e-9);
    // Backward, by default for fan_out: 1/sqrt(E[tanh'(z)^2]) =
    // 1/sqrt(0.46440290244826824).
    let v = json(&[
        "kaiming_normal",
        "--shape",
        "100,400",
        "--act",
        "tanh",
        "--mode",
        "fan_out",
        "--depth",
        "1",
    ]);
    close(
        f(&v["gain"]["value"]),
        1.0 / 0.464_402_902_448_268_24f64.sqrt(),
        1e-9,
    );
    close(
        f(&v["weight"]["std"]),
        v["gain"]["value"].as_f64().unwrap() / 10.0,
        1e-12,
    );
    // PyTorch's table where asked: 5/3 for tanh.
    let v = json(&[
        "xavier_normal",
        "--shape",
        "100,400",
        "--act",
        "tanh",
        "--gain-rule",
        "pytorch",
        "--depth",
        "1",
    ]);
    close(f(&v["gain"]["value"]), 5.0 / 3.0, 1e-15);
    close(
        f(&v["weight"]["std"]),
        5.0 / 3.0 * (2.0f64 / 500.0).sqrt(),
        1e-12,
    );
    // JAX variance_scaling with a gain: scale = gain^2 = 2 for relu.
    let v = json(&[
        "variance_scaling",
        "--framework",
        "jax",
        "--shape",
        "400,100",
        "--act",
        "relu",
        "--depth",
        "1",
    ]);
    close(f(&v["scale"]), 2.0, 1e-9);
    // JAX's he_normal has its scale, 2, whatever the activation: --act
    // only sets what the layer is analysed under, and no gain is shown.
    let v = json(&[
        "kaiming_normal",
        "--framework",
        "jax",
        "--shape",
        "400,100",
        "--act",
        "tanh",
        "--depth",
        "1",
    ]);
    assert!(v["gain"].is_null(), "{v}");
    close(f(&v["scale"]), 2.0, 1e-15);
    close(
        f(&v["forward_per_layer"]),
        2.0 * 0.394_294_490_397_841_17,
        1e-9,
    );
}

/// PyTorch and JAX draw a Gaussian matrix, take Q of its QR (of the
/// transpose when it is wide) and multiply by the gain; the entries' mean
/// square is then gain^2 / max(rows, cols) for every draw, which is what
/// `init orthogonal` prints.
#[test]
fn orthogonal_mean_square_holds_on_drawn_matrices() {
    let v = json(&[
        "orthogonal",
        "--shape",
        "6,2,5",
        "--gain",
        "1.5",
        "--depth",
        "1",
    ]);
    assert_eq!(
        (v["weight"]["rows"].as_u64(), v["weight"]["cols"].as_u64()),
        (Some(6), Some(10))
    );
    let printed = f(&v["weight"]["root_mean_square"]).powi(2);
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    for (rows, cols) in [(6usize, 10usize), (10, 6), (7, 7)] {
        for _ in 0..5 {
            let (r, c) = (rows.max(cols), rows.min(cols));
            let a = DMatrix::<f64>::from_fn(r, c, |_, _| StandardNormal.sample(&mut rng));
            let q = a.qr().q();
            let q = if rows < cols { q.transpose() } else { q };
            let mean_square =
                1.5f64.powi(2) * q.iter().map(|x| x * x).sum::<f64>() / (rows * cols) as f64;
            close(mean_square, 1.5f64.powi(2) / rows.max(cols) as f64, 1e-12);
            if (rows, cols) == (6, 10) {
                close(printed, mean_square, 1e-12);
            }
        }
    }
    // JAX keeps the last axis as the columns.
    let v = json(&[
        "orthogonal",
        "--framework",
        "jax",
        "--shape",
        "3,3,4,16",
        "--depth",
        "1",
    ]);
    assert_eq!(
        (v["weight"]["rows"].as_u64(), v["weight"]["cols"].as_u64()),
        (Some(36), Some(16))
    );
}

#[test]
fn bad_input_is_a_located_error() {
    let cases: [&[&str]; 9] = [
        &[
            "kaiming_normal",
            "--framework",
            "jax",
            "--shape",
            "4,4",
            "--act",
            "tanh",
            "--gain-rule",
            "backward",
        ],
        &["lecun_normal", "--shape", "4,4"],
        &["xavier_uniform", "--shape", "4,4", "--mode", "fan_in"],
        &[
            "kaiming_normal",
            "--shape",
            "4,4",
            "--distribution",
            "uniform",
        ],
        &[
            "kaiming_normal",
            "--framework",
            "jax",
            "--shape",
            "4,4",
            "--transposed",
        ],
        &["kaiming_normal", "--shape", "4"],
        &["kaiming_normal", "--shape", "4,0"],
        &["default", "--shape", "4,4", "--gain", "2"],
        &["kaiming_normal", "--shape", "4,4", "--act", "nosuch"],
    ];
    for args in cases {
        let (code, out, err) = initaudit(&[&["init"], args].concat());
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(
            err.contains("error") && err.contains('^'),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn over_the_budget_is_refused_before_sampling() {
    let (code, out, err) = initaudit(&[
        "init",
        "kaiming_normal",
        "--shape",
        "64,64",
        "--act",
        "tanh",
        "--budget",
        "0.001",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("budget"), "{err}");
}
