//! Residual blocks and LayerNorm: the simulator against closed forms and
//! exact invariances, bad input, and determinism across thread counts.
//! (The backward pass against finite differences is in `net::simulate`'s
//! unit tests, which can reach one draw's matrices.)

mod common;

use common::{initaudit_with, load, load_err};
use initaudit::model::law::Law;
use initaudit::net::simulate::{Atom, Signal, Stats, simulate};
use initaudit::net::{self, Network, WeightLaw};

fn network(text: &str) -> Network {
    load(text).networks.remove(0)
}

fn stats(net: &Network, seed: u64) -> Stats {
    simulate(net, net::key(net, seed)).unwrap_or_else(|d| panic!("{}", d.message))
}

fn second(stats: &Stats, s: Signal, l: usize) -> (f64, f64) {
    stats.delta(&[Atom::Layer(s, l, 2)], &|m| m[0])
}

/// A network of width 16 and depth 5 with the given extra keys.
fn small(activation: &str, weight: &str, extra: &str) -> String {
    format!(
        "[network.n]\ndepth = 5\nwidth = 16\nactivation = \"{activation}\"\nweight = \"{weight}\"\ninput = \"Normal(0, 1)\"\ninputs = 4\ndraws = 2000\n{extra}"
    )
}

#[test]
fn a_linear_residual_net_grows_by_one_plus_alpha_squared_n_var_w_per_block() {
    // f = identity: x_l = (I + alpha_l W_l) x_{l-1}. W_l has mean zero and
    // is independent of x_{l-1}, so E[x^T W x] = 0 and
    // E||x_l||^2 = (1 + alpha_l^2 n Var[w]) E||x_{l-1}||^2, exactly, for any
    // input law. Backward, dC/dx_l = prod_{k > l} (I + alpha_k W_k)^T g does
    // not involve W_l, so the same factor holds for E[dx^2] going down.
    // Here n Var[w] = 1 and alpha_l = l/4: factors 1 + l^2/16.
    let net = network(&small(
        "identity",
        "Normal(0, 1/sqrt(fan_in))",
        "residual = \"l/4\"\n",
    ));
    let s = stats(&net, 11);
    let mut forward = 1.0; // E[x_0^2] = 1
    for l in 0..=5 {
        if l > 0 {
            forward *= 1.0 + (l * l) as f64 / 16.0;
        }
        let (m, se) = second(&s, Signal::X, l);
        assert!(
            (m - forward).abs() < 5.0 * se,
            "x_{l}: {m} ± {se}, want {forward}"
        );
        // dC/dx_L = g ~ N(0, I): E[dx_l^2] = prod_{k > l} (1 + k^2/16).
        let backward: f64 = (l + 1..=5).map(|k| 1.0 + (k * k) as f64 / 16.0).product();
        let (m, se) = second(&s, Signal::Dx, l);
        assert!(
            (m - backward).abs() < 5.0 * se,
            "dx_{l}: {m} ± {se}, want {backward}"
        );
    }
    // The branch y_l = W_l x_{l-1}: E[y_l^2] = n Var[w] E[x_{l-1}^2], and
    // dC/dy_l = alpha_l dC/dx_l exactly, draw by draw.
    for l in 1..=5 {
        let (m, se) = second(&s, Signal::Y, l);
        let want = second(&s, Signal::X, l - 1).0;
        assert!(
            (m - want).abs() < 5.0 * se,
            "y_{l}: {m} ± {se}, want {want}"
        );
        let alpha = l as f64 / 4.0;
        for d in 0..s.draws() {
            let dy = one(&s, d, Atom::Layer(Signal::Dy, l, 2));
            let dx = one(&s, d, Atom::Layer(Signal::Dx, l, 2));
            assert!(
                (dy - alpha * alpha * dx).abs() <= 1e-12 * dx,
                "{dy} vs {dx}"
            );
        }
    }
}

/// One draw's value of an atom: the mean over that draw alone.
fn one(s: &Stats, d: usize, atom: Atom) -> f64 {
    Stats {
        depth: s.depth,
        need: s.need,
        per_draw: vec![s.per_draw[d].clone()],
    }
    .mean(atom)
}

#[test]
fn the_alphas_are_the_expression_at_every_block() {
    let net = network(&small(
        "relu",
        "Normal(0, sqrt(2/fan_in))",
        "residual = \"1/sqrt(2*L) + l^2\"\n",
    ));
    let alphas = &net.residual.as_ref().expect("residual").alphas;
    for (i, a) in alphas.iter().enumerate() {
        let l = (i + 1) as f64;
        assert_eq!(*a, 1.0 / (2.0f64 * 5.0).sqrt() + l * l);
    }
    assert_eq!(alphas.len(), 5);
}

#[test]
fn a_layer_norm_output_has_mean_zero_and_mean_square_one_in_every_draw() {
    // With the identity, x_l = LN(y_l) itself: every vector has mean 0 and
    // mean square 1, so every draw's means are 0 and 1 to rounding, however
    // large the weights.
    let net = network(&small("identity", "Normal(0, 30)", "norm = \"layer\"\n"));
    let s = stats(&net, 2);
    for l in 1..=5 {
        for d in 0..s.draws() {
            let m1 = one(&s, d, Atom::Layer(Signal::X, l, 1));
            let m2 = one(&s, d, Atom::Layer(Signal::X, l, 2));
            assert!(m1.abs() < 1e-15, "layer {l}, draw {d}: mean {m1}");
            assert!(
                (m2 - 1.0).abs() < 1e-14,
                "layer {l}, draw {d}: mean square {m2}"
            );
        }
    }
}

#[test]
fn layer_norm_makes_the_stream_blind_to_the_weights_scale() {
    // LN(c y) = LN(y): scaling every weight by 3 on the same random numbers
    // leaves x_l and dC/dx_l unchanged, multiplies y by 3 and divides
    // dC/dy and dC/dW by 3 (squares: 9), draw by draw, up to rounding.
    let he = network(&small(
        "relu",
        "Normal(0, sqrt(2/fan_in))",
        "norm = \"layer\"\n",
    ));
    let mut big = he.clone();
    for w in &mut big.weights {
        let WeightLaw::Iid(Law::Normal { sd, .. }) = w else {
            panic!("{w:?}")
        };
        *sd *= 3.0;
    }
    big.draws = 64;
    let mut he = he;
    he.draws = 64;
    let (a, b) = (stats(&he, 4), stats(&big, 4));
    let near = |x: f64, y: f64| (x - y).abs() <= 1e-9 * (x.abs() + y.abs());
    for d in 0..64 {
        for l in 0..=5 {
            for (signal, factor) in [
                (Signal::X, 1.0),
                (Signal::Dx, 1.0),
                (Signal::Y, 9.0),
                (Signal::Dy, 1.0 / 9.0),
                (Signal::Dw, 1.0 / 9.0),
            ] {
                if l < signal.first_layer() {
                    continue;
                }
                let atom = Atom::Layer(signal, l, 2);
                let (x, y) = (one(&a, d, atom), one(&b, d, atom));
                assert!(
                    near(x * factor, y),
                    "{} at layer {l}, draw {d}: {x} x {factor} vs {y}",
                    signal.name()
                );
            }
        }
    }
    // And with ReLU and symmetric weights, E[x_l^2] = 1/2 in expectation
    // (z and -z have one law, relu(z)^2 + relu(-z)^2 = z^2).
    for l in 1..=5 {
        let (m, se) = second(&a, Signal::X, l);
        assert!((m - 0.5).abs() < 5.0 * se, "layer {l}: {m} ± {se}");
    }
}

#[test]
fn a_layer_norm_of_equal_units_is_an_error_not_a_number() {
    // A residual net normalizes x_0 first; a constant input has no spread.
    let mut text = small(
        "relu",
        "Normal(0, 1)",
        "residual = \"1\"\nnorm = \"layer\"\n",
    );
    text = text.replace("input = \"Normal(0, 1)\"", "input = \"2\"");
    let net = network(&text);
    let e = simulate(&net, net::key(&net, 0)).expect_err("0/0");
    assert!(
        e.message.contains("x_0 whose units are all equal"),
        "{}",
        e.message
    );
}

#[test]
fn bad_residual_and_norm_keys_are_located_errors() {
    let base = small("relu", "Normal(0, sqrt(2/fan_in))", "");
    // Line 9 is the key; the column points into the expression.
    let e = load_err(&format!("{base}residual = \"1/sqrt(K)\"\n"));
    assert!(e.contains("t.toml:9:20") && e.contains("K"), "{e}");
    let e = load_err(&format!("{base}residual = \"-0.5\"\n"));
    assert!(
        e.contains("t.toml:9:") && e.contains("residual scale is -0.5 at l = 1"),
        "{e}"
    );
    let e = load_err(&format!("{base}residual = \"1/(l-1)\"\n"));
    assert!(e.contains("t.toml:9:13") && e.contains("inf"), "{e}");
    let e = load_err(&format!("{base}residual = \"sqrt(\"\n"));
    assert!(e.contains("t.toml:9:"), "{e}");
    let widths = base.replace("depth = 5\nwidth = 16\n", "widths = [16, 16, 8]\n");
    let e = load_err(&format!("{widths}residual = \"0.5\"\n"));
    assert!(
        e.contains("t.toml:8:") && e.contains("every width must be equal"),
        "{e}"
    );
    let e = load_err(&format!("{base}norm = \"batch\"\n"));
    assert!(
        e.contains("t.toml:9:")
            && e.contains("unknown normalization `batch`")
            && e.contains("\"layer\""),
        "{e}"
    );
    let one = base.replace("depth = 5\nwidth = 16\n", "widths = [4, 1, 4]\n");
    let e = load_err(&format!("{one}norm = \"layer\"\n"));
    assert!(e.contains("1 unit divides 0 by 0"), "{e}");
    let e = load_err(&format!("{base}residual = 0.5\n"));
    assert!(e.contains("t.toml:9:"), "{e}");
}

/// `initaudit ARGS` in a fresh folder holding `text` as r.toml.
fn run(tag: &str, text: &str, args: &[&str]) -> (i32, String, String) {
    initaudit_with(&format!("residual-{tag}"), &[("r.toml", text)], args)
}

#[test]
fn residual_and_normalized_runs_are_the_same_bytes_at_one_and_two_threads() {
    let text = small(
        "relu",
        "Normal(0, sqrt(2/fan_in))",
        "residual = \"1/sqrt(L)\"\nnorm = \"layer\"\n",
    )
    .replace("draws = 2000", "draws = 40");
    let one = run(
        "t1",
        &text,
        &["net", "n", "--in", "r.toml", "--threads", "1"],
    );
    let two = run(
        "t2",
        &text,
        &["net", "n", "--in", "r.toml", "--threads", "2"],
    );
    assert_eq!(one.0, 0, "{}", one.2);
    assert_eq!(one.1, two.1);
    assert!(
        one.1
            .contains("residual blocks alpha_l = 1/sqrt(L), norm layer, 40 draws"),
        "{}",
        one.1
    );
    let (_, json, _) = run(
        "json",
        &text,
        &["net", "n", "--in", "r.toml", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let n = &v["networks"][0];
    assert_eq!(n["norm"], "layer");
    assert_eq!(n["residual"]["text"], "1/sqrt(L)");
    assert_eq!(n["residual"]["alphas"].as_array().unwrap().len(), 5);
}

#[test]
fn a_bad_residual_key_exits_with_status_2() {
    let text = small("relu", "Normal(0, 1)", "residual = \"0.5 * K\"\n");
    let (code, _, err) = run("bad", &text, &["net", "n", "--in", "r.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("r.toml:9:"), "{err}");
}

#[test]
fn the_residual_and_layer_norm_examples_of_networks_md_load_and_run() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/networks.md"))
        .expect("docs/networks.md");
    let examples: Vec<&str> = doc
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.contains("\nresidual = ") || b.contains("\nnorm = "))
        .collect();
    assert_eq!(examples.len(), 2, "the two sections' examples");
    for text in examples {
        let net = network(text);
        let s = stats(&net, 0);
        // Both keep the last layer's signal finite and of order one per
        // block: the residual example's E[x_L^2] is near 1.25^20 = 86.7,
        // the normalized one's 1/2.
        let (m, _) = second(&s, Signal::X, net.depth());
        let want = if net.residual.is_some() { 86.74 } else { 0.5 };
        assert!((m / want - 1.0).abs() < 0.2, "{}: {m}", net.name);
    }
}

/// The Jacobian's product form diag(f'(y_l)) W_l and the infinite-width
/// recursions describe the plain MLP only: on a residual or normalized
/// network an `s2` or `limit(...)` claim, and `net --jacobian`, are refused
/// where they are written (exit 2), never answered with the MLP's numbers.
#[test]
fn jacobians_and_limits_of_residual_or_normalized_networks_are_refused() {
    for extra in ["residual = \"0.5\"\n", "norm = \"layer\"\n"] {
        let net =
            small("relu", "Normal(0, sqrt(2/fan_in))", extra).replace("draws = 2000", "draws = 40");
        for (says, wanted) in [
            ("E[s2(2)] = 1", "computed for plain MLPs"),
            (
                "E[x(1)^2] = limit(E[x(1)^2])",
                "no infinite-width limit here",
            ),
        ] {
            let text = format!("{net}\n[[series]]\nid = \"s\"\nsays = \"{says}\"\nin = [\"n\"]\n");
            let (code, _, err) = run("refused", &text, &["audit", "r.toml"]);
            assert_eq!(code, 2, "{extra}{says}: {err}");
            assert!(
                err.contains("r.toml:") && err.contains(wanted),
                "{extra}{says}: {err}"
            );
        }
        let (code, _, err) = run(
            "refused-net",
            &net,
            &["net", "n", "--in", "r.toml", "--jacobian"],
        );
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("computed for plain MLPs"), "{err}");
    }
}
