//! Orthogonal weights and the Jacobian's spectrum, end to end: the
//! statistics against finite-width closed forms derived here, determinism,
//! the cost estimate, bad input, `initaudit net --jacobian` and the
//! examples of docs/networks.md.

mod common;

use common::{Scratch, initaudit, initaudit_in, load, load_err};
use initaudit::net::jacobian::{Need, Spectral};
use initaudit::net::simulate::{Atom, Stats, simulate};
use initaudit::net::{self, Network};
use std::path::Path;

/// The first network of `text`, asked for every Jacobian statistic.
fn network(text: &str) -> Network {
    let mut n = load(text).networks.remove(0);
    n.jacobian = Need::everything(n.depth());
    n
}

fn stats(net: &Network, seed: u64) -> Stats {
    simulate(net, net::key(net, seed)).unwrap_or_else(|d| panic!("{}", d.message))
}

fn spectral(s: &Stats, which: Spectral, l: usize) -> (f64, f64) {
    s.delta(&[Atom::Spectral(which, l)], &|m| m[0])
}

fn linear(widths: &str, weight: &str, draws: usize) -> String {
    format!(
        "[network.t]\nwidths = {widths}\nactivation = \"identity\"\nweight = \"{weight}\"\n\
         input = \"Normal(0, 1)\"\ninputs = 1\ndraws = {draws}\n"
    )
}

/// E[Var[s2(l)]] of a linear network with iid N(0, 1/n) weights of equal
/// width n, exactly, from the Wishart moments: for W = G / sqrt(n) (G
/// standard, n x n) and a fixed B = J J^T,
///   E tr((W B W^T)^2) = ((n + 1) tr(B^2) + tr(B)^2) / n,
///   E tr(W B W^T)^2   = tr(B)^2 + 2 tr(B^2) / n,
/// (E[S B S] = n(n+1) B + n tr(B) I for S = G^T G; E tr(S B)^2 =
/// n^2 tr(B)^2 + 2 n tr(B^2)), so a = E tr(G_l^2) and b = E tr(G_l)^2 follow
/// a linear recursion from a_0 = n, b_0 = n^2 (J_0 = I), and
/// E Var[s2] = a/n - b/n^2.
fn linear_gaussian_spread(n: f64, depth: usize) -> Vec<f64> {
    let (mut a, mut b) = (n, n * n);
    let mut out = vec![0.0];
    for _ in 0..depth {
        (a, b) = (((n + 1.0) * a + b) / n, b + 2.0 * a / n);
        out.push(a / n - b / (n * n));
    }
    out
}

#[test]
fn the_wishart_recursion_is_marchenko_pastur_at_one_layer() {
    // One layer: 1 + 1/n - 2/n^2 (E tr((W^T W)^2) = n^2 (2n + 1) / n^2 for
    // standard G; tr(W^T W) is chi-square on n^2 degrees over n), which
    // tends to Marchenko-Pastur's variance 1.
    for n in [4.0, 16.0, 256.0] {
        let v = linear_gaussian_spread(n, 1)[1];
        assert!(
            (v - (1.0 + 1.0 / n - 2.0 / (n * n))).abs() < 1e-12,
            "{n}: {v}"
        );
    }
    // The issue's "about 10.3 at L = 10, n = 256" (the recursion gives
    // 10.221), and the formula derivations/spectrum.toml states,
    // (n + 1)((1 + 1/n)^L - 1), within its O(L^2/n^2) relative error.
    let exact = linear_gaussian_spread(256.0, 10)[10];
    let formula = 257.0 * ((1.0 + 1.0 / 256.0f64).powi(10) - 1.0);
    assert!(
        (exact - formula).abs() < 2.0 * 100.0 / 65536.0 * exact,
        "{exact} vs {formula}"
    );
    let exact = linear_gaussian_spread(48.0, 8)[8];
    let formula = 49.0 * ((1.0 + 1.0 / 48.0f64).powi(8) - 1.0);
    assert!(
        (exact - formula).abs() < 2.0 * 64.0 / 2304.0 * exact,
        "{exact} vs {formula}"
    );
}

#[test]
fn linear_gaussian_spectra_match_the_finite_width_closed_forms() {
    // E[s2] = 1 exactly in expectation (E||W u||^2 = ||u||^2), and
    // E[Var[s2(l)]] from the recursion above. Five standard errors over
    // independent draws, and standard errors small enough to tell the
    // truth from its large-n limit l.
    let n = 12;
    let net = network(&linear(
        &format!("[{n}, {n}, {n}, {n}]"),
        "Normal(0, 1/sqrt(fan_in))",
        4000,
    ));
    let s = stats(&net, 1);
    let truth = linear_gaussian_spread(n as f64, 3);
    for (l, &truth) in truth.iter().enumerate().skip(1) {
        let (m, se) = spectral(&s, Spectral::Mean, l);
        assert!(
            (m - 1.0).abs() < 5.0 * se && se < 0.01,
            "E[s2({l})] = {m} ± {se}"
        );
        let (v, se) = spectral(&s, Spectral::Spread, l);
        assert!(
            (v - truth).abs() < 5.0 * se,
            "Var[s2({l})] = {v} ± {se}, exact {}",
            truth
        );
        assert!(
            5.0 * se < truth - l as f64,
            "{se}: too noisy to tell {} from {l}",
            truth
        );
        // The spread is E[s2^2] - E[s2]^2 within each Jacobian.
        let (sq, _) = spectral(&s, Spectral::Square, l);
        let within: f64 = s
            .per_draw
            .iter()
            .map(|d| {
                let one = Stats {
                    depth: s.depth,
                    need: s.need,
                    per_draw: vec![d.clone()],
                };
                let at = |w| one.mean(Atom::Spectral(w, l));
                at(Spectral::Square) - at(Spectral::Mean).powi(2)
            })
            .sum::<f64>()
            / s.draws() as f64;
        assert!((within - v).abs() < 1e-9 * sq, "{within} vs {v}");
        let (max, _) = spectral(&s, Spectral::Max, l);
        let (min, _) = spectral(&s, Spectral::Min, l);
        assert!(min < m && m < max, "{min} < {m} < {max}");
    }
}

#[test]
fn unequal_widths_count_min_of_the_widths_singular_values() {
    // J_1 = W_1, 9 x 6 with Var 1/6: E||J_1||_F^2 = 9 over k = 6 singular
    // values, E[s2(1)] = 1.5. J_2 = W_2 W_1, 4 x 6 with Var[W_2] = 1/9:
    // E||J_2||_F^2 = (4/9) 9 = 4 over k = 4, E[s2(2)] = 1.
    let net = network(&linear("[6, 9, 4]", "Normal(0, 1/sqrt(fan_in))", 3000));
    let s = stats(&net, 2);
    for (l, want) in [(1, 1.5), (2, 1.0)] {
        let (m, se) = spectral(&s, Spectral::Mean, l);
        assert!(
            (m - want).abs() < 5.0 * se && se < 0.02,
            "E[s2({l})] = {m} ± {se}"
        );
    }
}

#[test]
fn orthogonal_linear_networks_are_isometries_times_the_gain() {
    // J_l = g^l Q_l ... Q_1: every s2 is g^(2l), and the spread is rounding,
    // with tall and wide layers where the product is still semi-orthogonal:
    // widening then square (orthonormal columns compose), narrowing twice
    // (orthonormal rows compose). Narrowing after widening is not: W_2 W_1
    // with W_1 9 x 6 and W_2 4 x 9 has W_2 W_1 W_1^T W_2^T, a projection's
    // compression, below the identity.
    for widths in ["[6, 6, 6, 6]", "[6, 9, 9]", "[9, 6, 4]"] {
        let net = network(&linear(widths, "Orthogonal(1.3)", 32));
        let s = stats(&net, 3);
        for l in 1..=net.depth() {
            let want = 1.3f64.powi(2 * l as i32);
            for w in [Spectral::Mean, Spectral::Max, Spectral::Min] {
                let (v, _) = spectral(&s, w, l);
                assert!(
                    (v - want).abs() < 1e-13 * want,
                    "{widths} {} at {l}: {v}",
                    w.name()
                );
            }
            let (v, _) = spectral(&s, Spectral::Spread, l);
            assert!(v < 1e-26 * want * want, "{widths}: Var[s2({l})] = {v}");
        }
    }
}

#[test]
fn orthogonal_draws_and_jacobians_are_the_same_at_any_thread_count() {
    let net = network(
        "[network.t]\ndepth = 3\nwidth = 10\nactivation = \"tanh\"\nweight = \"Orthogonal(1)\"\n\
         bias = \"Normal(0, 0.1)\"\ninput = \"Normal(0, 1)\"\ninputs = 2\ndraws = 40\n",
    );
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| {
                stats(&net, 5)
                    .per_draw
                    .iter()
                    .map(|d| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    // The spectrum is kept, after the statistics: 2 inputs x 10 values.
    let s = stats(&net, 5);
    assert_eq!(s.spectrum().count(), 40 * 2 * 10);
}

#[test]
fn jacobian_work_is_counted_only_when_asked_and_refused_over_budget() {
    let text = "[network.big]\ndepth = 20\nwidth = 256\nactivation = \"tanh\"\nweight = \"Normal(0, 1/sqrt(fan_in))\"\n\
                input = \"Normal(0, 1)\"\ninputs = 1\ndraws = 32\n";
    let plain = load(text).networks.remove(0);
    assert_eq!(plain.jacobian, Need::default());
    let asked = network(text);
    // 20 layers of 256^3 products, Gram matrices and SVDs per input: far
    // more than the draws themselves.
    assert!(
        asked.seconds() > 50.0 * plain.seconds(),
        "{} vs {}",
        asked.seconds(),
        plain.seconds()
    );
    assert!(asked.bytes_per_draw() > plain.bytes_per_draw());
    // A series claim marks the Jacobian work on the networks it runs on.
    let f = load(&format!(
        "{text}\n[network.small]\ndepth = 2\nwidth = 4\nactivation = \"relu\"\nweight = \"Normal(0, 1)\"\n\
         input = \"Normal(0, 1)\"\ninputs = 1\ndraws = 32\n\n\
         [[series]]\nid = \"a\"\nsays = \"E[max(s2(1))] >= 0\"\nin = [\"small\"]\n"
    ));
    assert_eq!(f.networks[0].jacobian, Need::default());
    let small = &f.networks[1];
    assert!(small.jacobian.any && !small.jacobian.gram);
    assert_eq!(small.jacobian.svd, vec![1]);
    // Refused before drawing, with the estimate.
    let dir = scratch("budget");
    std::fs::write(dir.join("big.toml"), text).unwrap();
    let (code, out, err) = initaudit_in(
        &dir,
        &[
            "net",
            "big",
            "--in",
            "big.toml",
            "--jacobian",
            "--budget",
            "5",
        ],
    );
    // Estimated at 16 s; it takes 8.4 s on one idle core, over 5 s too.
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("over the budget of 5.00 s") && out.is_empty(),
        "{err}"
    );
}

#[test]
fn orthogonal_is_refused_where_a_scalar_law_is_required() {
    let base = "[network.t]\ndepth = 2\nwidth = 4\nactivation = \"relu\"\ninputs = 1\ndraws = 32\n";
    let cases = [
        (
            "weight = \"Normal(0, 1)\"\nbias = \"Orthogonal(1)\"\ninput = \"Normal(0, 1)\"\n",
            "the bias needs a law of one number",
        ),
        (
            "weight = \"Normal(0, 1)\"\ninput = \"Orthogonal(1)\"\n",
            "the input needs a law of one number",
        ),
        (
            "weight = \"Orthogonal(0)\"\ninput = \"Normal(0, 1)\"\n",
            "must be a positive number, not 0",
        ),
        (
            "weight = \"Orthogonal(1 - fan_in)\"\ninput = \"Normal(0, 1)\"\n",
            "not -3 (fan_in = 4",
        ),
        (
            "weight = \"Orthogonal(1, 2)\"\ninput = \"Normal(0, 1)\"\n",
            "takes one argument",
        ),
        (
            "weight = \"Orthogonal(q)\"\ninput = \"Normal(0, 1)\"\n",
            "q",
        ),
    ];
    for (keys, want) in cases {
        let err = load_err(&format!("{base}{keys}"));
        assert!(err.contains(want), "{keys}: {err}");
        assert!(err.contains("t.toml:"), "located: {err}");
    }
    // The caret is under the law, on its line.
    let err = load_err(&format!(
        "{base}weight = \"Normal(0, 1)\"\nbias = \"Orthogonal(1)\"\ninput = \"Normal(0, 1)\"\n"
    ));
    assert!(err.contains("t.toml:8:9"), "{err}");
}

#[test]
fn bad_spectral_statistics_are_located_errors() {
    let net = "[network.t]\ndepth = 2\nwidth = 4\nactivation = \"relu\"\nweight = \"Normal(0, 1)\"\n\
               input = \"Normal(0, 1)\"\ninputs = 1\ndraws = 32\n\n[[series]]\nid = \"a\"\n";
    for (says, want) in [
        (
            "Var[max(s2(L))] >= 0",
            "only the mean of max(s2(k)) and min(s2(k))",
        ),
        ("E[max(s2(L))^2] >= 0", "not its square"),
        ("E[s2(0)] >= 0", "layer 0 of s2 does not exist"),
        ("E[s2(3)] >= 0", "layer 3 of s2 does not exist"),
        ("E[max(x(1))] >= 0", "`max(s2(k))`"),
    ] {
        let f = load(&format!("{net}says = \"{says}\"\n"));
        let err = match initaudit::audit::run(&[f], &initaudit::verdict::Settings::default()) {
            Ok(_) => panic!("accepted {says}"),
            Err(e) => e.render(),
        };
        assert!(
            err.contains(want) && err.contains("t.toml:12:"),
            "{says}: {err}"
        );
    }
}

fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("jacobian-{name}"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `toml` blocks of docs/networks.md's Jacobian section, together one
/// audit file, run as written: every verdict as its `expect` says.
#[test]
fn the_docs_jacobian_examples_run() {
    let doc = std::fs::read_to_string(root().join("docs/networks.md")).unwrap();
    let start = doc
        .find("## Orthogonal weights and the Jacobian")
        .expect("the section");
    let section = &doc[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let blocks: Vec<&str> = section
        .split("```toml\n")
        .skip(1)
        .map(|b| &b[..b.find("```").expect("closed block")])
        .collect();
    assert!(blocks.len() >= 2, "{blocks:?}");
    let dir = scratch("docs");
    std::fs::write(dir.join("example.toml"), blocks.concat()).unwrap();
    let (code, out, err) = initaudit_in(&dir, &["audit", "example.toml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("AUDIT PASSED"), "{out}");
    // The command line of the section, on the same file.
    let (code, out, err) = initaudit_in(
        &dir,
        &[
            "net",
            "doc-gauss",
            "doc-orth",
            "--in",
            "example.toml",
            "--jacobian",
            "--plot",
            "s.svg",
        ],
    );
    assert_eq!(code, 0, "{err}");
    for col in ["E[s2]", "Var[s2]", "max(s2)", "min(s2)"] {
        assert!(out.contains(col), "{out}");
    }
    let svg = std::fs::read_to_string(dir.join("s.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("log10 s2"), "{svg}");
    // --series chooses curves against depth, which a histogram has not.
    let (code, _, err) = initaudit_in(
        &dir,
        &[
            "net",
            "doc-gauss",
            "--in",
            "example.toml",
            "--jacobian",
            "--plot",
            "t.svg",
            "--series",
            "Var[y]",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("spectrum's histogram") && !dir.join("t.svg").exists(),
        "{err}"
    );
}

#[test]
fn net_json_carries_the_jacobian_columns() {
    // The shipped orthogonal linear network: every s2 is 1 to rounding.
    let (code, out, err) = initaudit(&["net", "lin-orth", "--jacobian", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    let layers = doc["networks"][0]["layers"].as_array().expect("layers");
    assert!(layers[0]["values"]["E[s2]"].is_null());
    for l in &layers[1..] {
        for col in ["E[s2]", "max(s2)", "min(s2)"] {
            let v = l["values"][col]["value"].as_f64().expect(col);
            assert!((v - 1.0).abs() < 1e-12, "{col}: {v}");
        }
        let spread = l["values"]["Var[s2]"]["value"].as_f64().expect("spread");
        assert!(spread < 1e-24, "{spread}");
    }
    // Without the flag, the table is as it was: no Jacobian columns.
    let (_, out, _) = initaudit(&["net", "lin-orth", "--format", "json"]);
    assert!(!out.contains("s2"), "{out}");
}
