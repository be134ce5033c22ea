//! Finite-width networks: loading, the simulation against closed forms, the
//! delta-method standard errors, determinism, and bad input.

mod common;

use common::{TWO_NETWORKS_AND_A_SERIES, initaudit_with, load, load_err};
use initaudit::audit;
use initaudit::net::simulate::{Atom, Need, Norm, Signal, Stats, simulate};
use initaudit::net::{self, MULTIPLY_ADD_SECONDS, NORMAL_SECONDS, Network};
use initaudit::verdict::{Settings, Verdict};

fn network(text: &str) -> Network {
    load(text).networks.remove(0)
}

fn stats(net: &Network, seed: u64) -> Stats {
    simulate(net, net::key(net, seed)).unwrap_or_else(|d| panic!("{}", d.message))
}

fn layer(stats: &Stats, s: Signal, l: usize) -> (f64, f64) {
    stats.delta(&[Atom::Layer(s, l, 2)], &|m| m[0])
}

const LINEAR: &str = r#"
[network.lin]
widths = [8, 5, 3]
activation = "identity"
weight = "Normal(0, 1/sqrt(fan_in))"
input = "2"
inputs = 3
draws = 40
"#;

#[test]
fn widths_fans_and_laws_follow_the_table() {
    let net = network(LINEAR);
    assert_eq!(net.widths, vec![8, 5, 3]);
    assert_eq!(net.depth(), 2);
    // fan_in of layer l is n_{l-1}: sd 1/sqrt(8), then 1/sqrt(5).
    let sd = |l: usize| match net.weights[l] {
        net::WeightLaw::Iid(initaudit::model::law::Law::Normal { sd, .. }) => sd,
        ref other => panic!("{other:?}"),
    };
    assert!((sd(0) - 1.0 / 8f64.sqrt()).abs() < 1e-15);
    assert!((sd(1) - 1.0 / 5f64.sqrt()).abs() < 1e-15);
    let eq = network(
        "[network.e]\ndepth = 3\nwidth = 4\nactivation = \"relu\"\nweight = \"Normal(0, 1)\"\ninput = \"Normal(0, 1)\"\ninputs = 1\ndraws = 32\n",
    );
    assert_eq!(eq.widths, vec![4, 4, 4, 4]);
}

#[test]
fn a_constant_input_and_the_identity_give_exact_values() {
    let net = network(LINEAR);
    let s = stats(&net, 1);
    // x_0 = 2 everywhere: E[x_0] = 2 and E[x_0^2] = 4 with no spread.
    let (m2, se) = layer(&s, Signal::X, 0);
    assert_eq!(m2, 4.0);
    // Only rounding in the sums of equal values spreads the draws.
    assert!(se < 1e-14, "{se}");
    // The identity's derivative is 1, so dC/dy = dC/dx at every layer and
    // every draw, and dC/dx_L = g.
    for l in 1..=2 {
        assert_eq!(layer(&s, Signal::Dy, l).0, layer(&s, Signal::Dx, l).0);
    }
    // ||x_0||^2 = 8 * 4 for every input, so gain2 = norm2 / 32 exactly.
    let n = s.mean(Atom::Norm(Norm::Norm2, 1));
    let g = s.mean(Atom::Norm(Norm::Gain2, 1));
    assert!((n / 32.0 - g).abs() <= 1e-12 * g);
}

#[test]
fn delta_method_matches_closed_forms() {
    let depth = 0;
    let slots = 5 * (depth + 1) * 2 + 4;
    let values = [(1.0, 2.0), (2.0, 3.0), (3.0, 7.0), (4.0, 5.0)];
    let s = Stats {
        depth,
        need: Need::ALL,
        per_draw: values
            .iter()
            .map(|&(a, b)| {
                let mut v = vec![0.0; slots];
                v[0] = a;
                v[1] = b;
                v
            })
            .collect(),
    };
    let (a, b) = (Atom::Layer(Signal::X, 0, 1), Atom::Layer(Signal::X, 0, 2));
    // A mean: sd / sqrt(n) with the n - 1 sample variance.
    let (m, se) = s.delta(&[a], &|m| m[0]);
    assert_eq!(m, 2.5);
    let var_a = (1.5f64.powi(2) * 2.0 + 0.5f64.powi(2) * 2.0) / 3.0;
    assert!((se - (var_a / 4.0).sqrt()).abs() < 1e-9 * se);
    // A ratio of means: the first-order formula
    // Var(A/B) ~ (Var A - 2 r Cov(A,B) + r^2 Var B) / (n B^2), r = A/B.
    let (r, se) = s.delta(&[a, b], &|m| m[0] / m[1]);
    let (ma, mb) = (2.5, 17.0 / 4.0);
    assert!((r - ma / mb).abs() < 1e-15);
    let var_b = values.iter().map(|v| (v.1 - mb).powi(2)).sum::<f64>() / 3.0;
    let cov = values.iter().map(|v| (v.0 - ma) * (v.1 - mb)).sum::<f64>() / 3.0;
    let want = ((var_a - 2.0 * r * cov + r * r * var_b) / (4.0 * mb * mb)).sqrt();
    assert!((se - want).abs() < 1e-6 * want, "{se} vs {want}");
}

#[test]
fn he_relu_keeps_the_second_moment_and_hanins_one_layer_law() {
    // E[x_l^2] = E[x_0^2] = 1 exactly in expectation for Gaussian He init;
    // a 5-sigma band at a fixed seed can fail only if the simulation is
    // wrong (or with probability < 1e-6 per layer).
    let net = network(
        "[network.he]\ndepth = 3\nwidth = 64\nactivation = \"relu\"\nweight = \"Normal(0, sqrt(2/fan_in))\"\ninput = \"Normal(0, 1)\"\ninputs = 8\ndraws = 400\n",
    );
    let s = stats(&net, 7);
    for l in 0..=3 {
        let (m, se) = layer(&s, Signal::X, l);
        assert!((m - 1.0).abs() < 5.0 * se, "layer {l}: {m} ± {se}");
    }
    // One layer: ||x_1||^2/||x_0||^2 = (2/n) sum relu(z_i)^2, relative
    // variance 5/n (E[relu(z)^4] = 3/2, E[relu(z)^2] = 1/2).
    let one = network(
        "[network.one]\ndepth = 1\nwidth = 20\nactivation = \"relu\"\nweight = \"Normal(0, sqrt(2/fan_in))\"\ninput = \"Normal(0, 1)\"\ninputs = 1\ndraws = 20000\n",
    );
    let s = stats(&one, 3);
    let (rel, se) = s.delta(
        &[Atom::Norm(Norm::Gain2, 1), Atom::Norm(Norm::Gain2, 2)],
        &|m| (m[1] - m[0] * m[0]) / (m[0] * m[0]),
    );
    assert!((rel - 0.25).abs() < 5.0 * se, "{rel} ± {se}");
    assert!(se < 0.01);
}

#[test]
fn same_seed_same_numbers_at_any_thread_count() {
    let net = network(LINEAR);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| bits(&stats(&net, 5)))
    };
    // Bit patterns, so that the NaN of a slot no signal has compares equal.
    fn bits(s: &Stats) -> Vec<Vec<u64>> {
        s.per_draw
            .iter()
            .map(|d| d.iter().map(|v| v.to_bits()).collect())
            .collect()
    }
    let one = run(1);
    assert_eq!(one, run(2));
    assert_ne!(one, bits(&stats(&net, 6)));
}

#[test]
fn series_claims_decide_as_the_recurrences_say() {
    let file = load(TWO_NETWORKS_AND_A_SERIES);
    let report = audit::run(&[file], &Settings::default()).expect("runs");
    assert!(report.passed());
    let (_, c) = report.checked().next().expect("one claim");
    assert_eq!(c.rows.len(), 2);
    assert_eq!(c.rows[0].evaluation.verdict, Verdict::Fails);
    assert_eq!(c.rows[1].evaluation.verdict, Verdict::Holds);
    // He's per-layer ratio is 1, shown against the claimed 1/2: a
    // deviation of (1 - 1/2) / (1/2) = 1 relative to the right side (as
    // the 15% band is), within 0.1 of the ratio, so 0.2 of the deviation.
    assert!((c.rows[0].evaluation.deviation - 1.0).abs() < 0.2);
}

#[test]
fn bad_networks_are_located_errors() {
    let base = |extra: &str| {
        format!(
            "[network.n]\n{extra}activation = \"relu\"\nweight = \"Normal(0, sqrt(2/fan_in))\"\ninput = \"Normal(0, 1)\"\ninputs = 4\ndraws = 32\n"
        )
    };
    let e = load_err(&base("widths = [4, 0, 3]\n"));
    assert!(e.contains("t.toml:2:") && e.contains("at least 1"), "{e}");
    let e = load_err(&base("widths = [4]\n"));
    assert!(e.contains("at least two"), "{e}");
    let e = load_err(&base("depth = 2\n"));
    assert!(e.contains("either `widths` or both"), "{e}");
    let e = load_err(&base("widths = [4, 4]\n").replace("draws = 32", "draws = 5"));
    assert!(e.contains("at least 32"), "{e}");
    let e = load_err(
        &base("widths = [4, 4]\n").replace("Normal(0, sqrt(2/fan_in))", "Normal(0, -fan_in)"),
    );
    assert!(e.contains("t.toml:4:"), "{e}");
    let e = load_err(&base("widths = [4, 4]\n").replace("\"relu\"", "\"nosuch\""));
    assert!(e.contains("nosuch"), "{e}");
    let e = load_err(&base("widths = [4, 4]\n").replace("Normal(0, 1)", "y"));
    assert!(e.contains("t.toml:5:"), "{e}");
}

#[test]
fn bad_series_claims_are_located_errors() {
    let with = |series: &str| {
        format!(
            "[network.n]\nwidths = [4, 4, 4]\nactivation = \"relu\"\nweight = \"Normal(0, 1)\"\ninput = \"Normal(0, 1)\"\ninputs = 4\ndraws = 32\n\n[[series]]\nid = \"s\"\n{series}"
        )
    };
    let plan_err = |text: &str| -> String {
        match audit::load("t.toml", text) {
            Err(e) => e.render(),
            Ok(f) => match audit::run(&[f], &Settings::default()) {
                Err(e) => e.render(),
                Ok(_) => panic!("accepted: {text}"),
            },
        }
    };
    let e = plan_err(&with("says = \"E[x(L+1)^2] = 1\"\n"));
    assert!(
        e.contains("layer 3 of x does not exist") && e.contains("t.toml:11:"),
        "{e}"
    );
    let e = plan_err(&with("says = \"E[y(0)] = 1\"\n"));
    assert!(e.contains("from 1 to L = 2"), "{e}");
    let e = plan_err(&with("says = \"E[x(l)^2] = 1\"\n"));
    assert!(e.contains("`l` is defined only"), "{e}");
    let e = plan_err(&with("says = \"E[w(1)] = 1\"\n"));
    assert!(e.contains("not a network statistic"), "{e}");
    let e = plan_err(&with("says = \"E[x(1)] ~= 1\"\n"));
    assert!(e.contains("needs a `within`"), "{e}");
    let e = plan_err(&with("says = \"E[x(1)] = 1\"\nin = [\"m\"]\n"));
    assert!(
        e.contains("no network `m`") && e.contains("networks: n"),
        "{e}"
    );
    let e = plan_err(&with("says = \"E[x(l)] = 1\"\nlayers = \"3..L\"\n"));
    assert!(e.contains("layer 3 of the range does not exist"), "{e}");
    let e = plan_err(&with("says = \"E[x(l)] = 1\"\nlayers = \"2..1\"\n"));
    assert!(e.contains("empty"), "{e}");
    let e = plan_err(&with("says = \"E[x(l)] = 1\"\nlayers = \"1-L\"\n"));
    assert!(e.contains("not a layer range"), "{e}");
}

#[test]
fn the_net_command_names_missing_networks() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_initaudit"))
        .args(["net", "no-such-network"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no network `no-such-network`") && err.contains("he-30"),
        "{err}"
    );
}

/// A network of `widths` with one input per draw, in a file.
fn sized(widths: &str) -> String {
    format!(
        "[network.big]\nwidths = {widths}\nactivation = \"relu\"\nweight = \"Normal(0, sqrt(2/fan_in))\"\ninput = \"Normal(0, 1)\"\ninputs = 1\ndraws = 32\n\n[[series]]\nid = \"s\"\nsays = \"E[x(1)^2] = 1\"\n"
    )
}

#[test]
fn memory_is_planned_against_what_the_machine_has() {
    // [4, 1000, 4], read by a claim on x alone: 8000 weights and the
    // 2 * 1008 values of x and y, 8 bytes each.
    let net = network(&sized("[4, 1000, 4]"));
    assert_eq!(net.need, Need::FORWARD);
    let per_draw = 8.0 * (8000.0 + 2.0 * 1008.0);
    assert_eq!(net.bytes_per_draw(), per_draw);
    // With the backward pass a draw holds dx and dy too.
    let mut backward = net.clone();
    backward.need.backward = true;
    assert_eq!(backward.bytes_per_draw(), 8.0 * (8000.0 + 4.0 * 1008.0));
    // Three-quarters of what is available goes to draws in flight.
    assert_eq!(
        net.draws_at_once(Some((per_draw * 4.0 / 0.75) as u64 + 1))
            .unwrap(),
        4
    );
    assert_eq!(net.draws_at_once(Some(u64::MAX)).unwrap(), 32);
    let d = backward
        .draws_at_once(Some(backward.bytes_per_draw() as u64))
        .unwrap_err();
    assert!(
        d.message.contains("this machine has 94.0 KiB available")
            && d.message.contains("8000 weights and 4032 signal values"),
        "{}",
        d.message
    );
    assert!(d.help.contains("narrower layers"), "{}", d.help);
}

#[test]
fn a_network_beyond_the_machines_memory_is_refused_before_any_work() {
    // 10^14 weights: 0.8 PB for one draw, more than any machine has.
    let text = sized("[4, 10000000, 10000000]");
    let file = load(&text);
    let e = audit::run(&[file], &Settings::default())
        .expect_err("refused")
        .render();
    // 8 bytes x (10^14 + 4 x 20000004): 727.6 TiB.
    assert!(e.contains("would need 727.6 TiB for one draw"), "{e}");
    assert!(
        e.contains("t.toml:2:") && e.contains("this machine has"),
        "{e}"
    );
    // The command line: exit 2, the same message, for `net` and `audit`.
    let dir = std::env::temp_dir().join(format!("initaudit-net-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("big.toml"), &text).unwrap();
    for args in [
        &["net", "big", "--in", "big.toml"][..],
        &["audit", "big.toml"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_initaudit"))
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("this machine has") && err.contains("big.toml:2:"),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_address_space_limit_is_memory_the_machine_does_not_have() {
    // 2.6 x 10^8 weights, 2 GiB a draw, under `ulimit -v` of 1 GiB: refused
    // from the estimate, cleanly, not aborted by the allocator.
    if !cfg!(target_os = "linux") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("initaudit-net-ulimit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("big.toml"), sized("[4, 16000, 16000]")).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1048576 && exec '{}' net big --in big.toml",
            env!("CARGO_BIN_EXE_initaudit")
        ))
        .current_dir(&dir)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("would need 1.9 GiB for one draw"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `initaudit net ARGS` in a folder holding LINEAR as lin.toml.
fn net_command(tag: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["net", "lin", "--in", "lin.toml"];
    all.extend_from_slice(args);
    initaudit_with(&format!("net-{tag}"), &[("lin.toml", LINEAR)], &all)
}

#[test]
fn net_json_has_every_layers_values_and_standard_errors() {
    let (code, out, err) = net_command("json", &["--format", "json", "--seed", "3"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid json");
    let nets = v["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 1);
    let n = &nets[0];
    assert_eq!(n["network"], "lin");
    assert_eq!(n["widths"], serde_json::json!([8, 5, 3]));
    assert_eq!(n["draws"], 40);
    let layers = n["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    // x_0 = 2 everywhere (LINEAR's input): E[x] = 2, E[x^2] = 4, no spread;
    // layer 0 has no pre-activation, so Var[y] is null there.
    let l0 = &layers[0]["values"];
    assert_eq!(l0["E[x]"]["value"], 2.0);
    assert_eq!(l0["E[x^2]"]["value"], 4.0);
    assert!(l0["E[x^2]"]["se"].as_f64().unwrap() < 1e-14, "{l0}");
    assert!(l0["Var[y]"].is_null(), "{l0}");
    // Every other number is the library's own at the same seed, bit for bit.
    let s = stats(&network(LINEAR), 3);
    // serde_json prints the shortest round-trip digits but reads them back
    // without its float_roundtrip feature, to within one ulp.
    let same = |a: f64, b: f64| (a - b).abs() <= 2.0 * f64::EPSILON * b.abs();
    for l in 1..=2 {
        let (m, se) = layer(&s, Signal::X, l);
        let x2 = &layers[l]["values"]["E[x^2]"];
        assert!(
            same(x2["value"].as_f64().unwrap(), m),
            "layer {l}: {x2} {m}"
        );
        assert!(same(x2["se"].as_f64().unwrap(), se), "layer {l}: {x2} {se}");
        assert_eq!(layers[l]["width"], [8, 5, 3][l]);
        for name in ["Var[y]", "Var[dx]", "E[dW^2]"] {
            let c = &layers[l]["values"][name];
            assert!(
                c["value"].is_f64() && c["se"].as_f64().unwrap() >= 0.0,
                "{name}: {c}"
            );
        }
    }
    let norms = n["norms"].as_array().unwrap();
    assert_eq!(norms[0]["name"], "norm2");
    assert!(same(
        norms[0]["mean"]["value"].as_f64().unwrap(),
        s.mean(Atom::Norm(Norm::Norm2, 1))
    ));
    assert_eq!(v["seed"], 3);
}

#[test]
fn net_markdown_is_the_terminal_table_in_markdown() {
    let (code, md, err) = net_command("md", &["--format", "markdown"]);
    assert_eq!(code, 0, "{err}");
    let (_, plain, _) = net_command("plain", &[]);
    assert!(md.starts_with("### network lin"), "{md}");
    let header = md
        .lines()
        .find(|l| l.starts_with('|'))
        .expect("a markdown table");
    assert!(
        header.contains("E[x^2]") && header.contains("E[dW^2]"),
        "{md}"
    );
    assert!(
        md.lines()
            .any(|l| l.starts_with("|-") || l.starts_with("| -")),
        "{md}"
    );
    // The same numbers as the terminal's table: each cell of a layer row.
    let row = |text: &str, l: &str| -> Vec<String> {
        text.lines()
            .map(|r| r.replace('|', " "))
            .find(|r| r.split_whitespace().next() == Some(l) && r.contains('±'))
            .map(|r| r.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    for l in ["0", "1", "2"] {
        assert!(!row(&plain, l).is_empty(), "{plain}");
        assert_eq!(row(&md, l), row(&plain, l), "layer {l}");
    }
    assert!(
        !plain.lines().any(|l| l.starts_with('|')) && plain.starts_with("network lin"),
        "{plain}"
    );
}

/// A small tanh network with a bias, so that no statistic is zero.
const SMALL: &str = "[network.s]\ndepth = 3\nwidth = 6\nactivation = \"tanh\"\n\
weight = \"Normal(0, 1.5/sqrt(fan_in))\"\nbias = \"0.1\"\ninput = \"Normal(0, 1)\"\n\
inputs = 3\ndraws = 40\n";

fn with_claim(says: &str) -> String {
    format!("{SMALL}\n[[series]]\nid = \"c\"\nsays = \"{says}\"\n")
}

/// Every kind of atom a series claim reads marks the work that computes
/// it, and the draws then give what a draw doing everything gives, bit for
/// bit (the same streams in the same order); the audit reads them (a
/// statistic not computed would stop it) and decides.
#[test]
fn every_statistic_a_claim_reads_is_computed_and_is_the_full_draws() {
    use Atom::{Layer, Pair};
    use Signal::{Dw, Dx, Dy, X, Y};
    let full = network(SMALL);
    assert_eq!(full.need, Need::ALL, "no claim: everything");
    let all = stats(&full, 0);
    let backward = Need {
        backward: true,
        ..Need::FORWARD
    };
    let pairs = Need {
        pairs: true,
        ..Need::FORWARD
    };
    let norms = Need {
        norms: true,
        ..Need::FORWARD
    };
    let cases: [(&str, Vec<Atom>, Need); 9] = [
        (
            "E[x(2)] + E[y(3)^2] = 1e6",
            vec![Layer(X, 2, 1), Layer(X, 2, 2), Layer(Y, 3, 2)],
            Need::FORWARD,
        ),
        (
            "Var[dx(0)] = 1e6",
            vec![Layer(Dx, 0, 1), Layer(Dx, 0, 2)],
            backward,
        ),
        ("E[dy(1)^2] = 1e6", vec![Layer(Dy, 1, 2)], backward),
        (
            "E[dW(2)] = 1e6",
            vec![Layer(Dw, 2, 1), Layer(Dw, 2, 2)],
            backward,
        ),
        ("corr(x(1)) = 1e6", vec![Pair(X, 1), Layer(X, 1, 2)], pairs),
        ("cross(y(2)) = 1e6", vec![Pair(Y, 2), Layer(Y, 2, 2)], pairs),
        (
            "E[norm2] = 1e6",
            vec![Atom::Norm(Norm::Norm2, 1), Atom::Norm(Norm::Norm2, 2)],
            norms,
        ),
        (
            "Var[gain2] = 1e6",
            vec![Atom::Norm(Norm::Gain2, 1), Atom::Norm(Norm::Gain2, 2)],
            norms,
        ),
        (
            "E[dW(1)^2] + corr(y(1)) = 1e6",
            vec![Layer(Dw, 1, 2), Pair(Y, 1), Layer(Y, 1, 2)],
            Need {
                backward: true,
                pairs: true,
                norms: false,
            },
        ),
    ];
    for (says, atoms, need) in cases {
        let file = load(&with_claim(says));
        let net = &file.networks[0];
        assert_eq!(net.need, need, "{says}");
        let got = stats(net, 0);
        for a in atoms {
            let (g, w) = (got.mean(a), all.mean(a));
            assert!(g.is_finite() && g != 0.0, "{says}: {a:?} = {g}");
            assert_eq!(g.to_bits(), w.to_bits(), "{says}: {a:?}");
        }
        let report = audit::run(&[file], &Settings::default()).expect("runs");
        let (_, c) = report.checked().next().expect("one claim");
        assert_eq!(c.rows[0].evaluation.verdict, Verdict::Fails, "{says}");
    }
}

/// Reading a statistic the draws did not compute stops, rather than
/// giving NaN as a number.
#[test]
#[should_panic(expected = "did not compute")]
fn a_statistic_not_computed_is_never_read() {
    let file = load(&with_claim("E[x(1)^2] = 1e6"));
    let s = stats(&file.networks[0], 0);
    s.mean(Atom::Layer(Signal::Dx, 1, 2));
}

/// A claim on Var[dx] makes the audit run the backward pass, and its value
/// is the one `initaudit net` prints for the same network and seed.
#[test]
fn a_claim_on_the_backward_pass_reads_what_net_prints() {
    let text = with_claim("Var[dx(1)] = 1e6");
    let file = load(&text);
    let report = audit::run(&[file], &Settings::default()).expect("runs");
    let (_, c) = report.checked().next().expect("one claim");
    let claimed = c.rows[0].evaluation.lhs.as_ref().expect("a side").value;
    let (code, out, err) = initaudit_with(
        "need-dx",
        &[("t.toml", &text)],
        &["net", "s", "--in", "t.toml", "--format", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid json");
    let printed = v["networks"][0]["layers"][1]["values"]["Var[dx]"]["value"]
        .as_f64()
        .unwrap();
    // serde_json reads the shortest round-trip digits back to within an ulp.
    assert!(
        (claimed - printed).abs() <= 2.0 * f64::EPSILON * printed.abs(),
        "{claimed} against {printed}"
    );
}

/// The cost estimate follows the work asked for: forward only is the
/// cheapest, the backward pass adds a product per layer and the cost
/// vector, pairs of inputs a pass over the signals; the table's memory
/// estimate and the budget's seconds both move.
#[test]
fn the_estimate_follows_the_work_a_draw_is_asked_for() {
    let mut net = network(SMALL);
    let mut at = |need: Need| {
        net.need = need;
        (net.seconds(), net.bytes_per_draw())
    };
    let forward = at(Need::FORWARD);
    let backward = at(Need {
        backward: true,
        ..Need::FORWARD
    });
    let pairs = at(Need {
        pairs: true,
        ..Need::FORWARD
    });
    let all = at(Need::ALL);
    assert!(
        forward.0 < pairs.0 && pairs.0 < all.0,
        "{forward:?} {pairs:?} {all:?}"
    );
    assert!(forward.0 < backward.0 && backward.0 < all.0);
    assert!(forward.1 < backward.1 && forward.1 < pairs.1 && backward.1 < all.1);
    // The backward pass's product W^T dy costs what the forward W x does:
    // with 3 layers of 6 x 6 weights and 3 inputs, 324 multiply-adds, and
    // 3 * 6 normals of the cost vector g.
    let seconds = (backward.0 - forward.0) / 40.0;
    assert!(
        (seconds - (324.0 * MULTIPLY_ADD_SECONDS + 18.0 * NORMAL_SECONDS)).abs() < 1e-15,
        "{seconds}"
    );
}
