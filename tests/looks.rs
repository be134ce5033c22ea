//! The sequential design: a pilot, the plug-in size, the worst case.
//!
//! A sampled test that its pilot leaves undecided looks again at the size
//! that decides it if the pilot's difference were the truth
//! (`work::draws_for_plug_in`), and only where that look is undecided too,
//! at the worst case of the power calculation (`work::draws_for_power`),
//! which decides it except with the per-test level whatever the truth.
//! These tests check each step on claims whose truth is known in closed
//! form: E[relu(a + b + c)] = sqrt(3 / (2 pi)) for independent standard
//! normals a, b, c (their sum is N(0, 3), and E[relu(s z)] = s / sqrt(2 pi)),
//! which the exact engine has no form for, so sampling decides.

mod common;

use common::{TWO_NETWORKS_AND_A_SERIES, initaudit_with};
use initaudit::lang::ast::Relation;
use initaudit::lang::{FunctionDef, parse_claim, parse_model};
use initaudit::model::resolve::build;
use initaudit::sample::StreamKey;
use initaudit::verdict::{
    BATCHES, Budget, Evaluation, LOOKS, Settings, Stage, Trial, Verdict, decisive_width,
    interval_verdict,
};
use serde_json::Value;
use std::collections::HashMap;

const THREE: &str = "a ~ Normal(0, 1)\nb ~ Normal(0, 1)\nc ~ Normal(0, 1)";

/// E[relu(a + b + c)] for independent standard normals: sqrt(3 / (2 pi)).
fn truth() -> f64 {
    (3.0 / (2.0 * std::f64::consts::PI)).sqrt()
}

/// The pilot and then, where it asks for more, the powered stage of
/// `E[relu(a + b + c)] ~= target` within `band` (relative), on the stream
/// of `seed`, with the budget of a run of that one claim.
fn pilot_and_powered(
    target: f64,
    band: f64,
    seed: u64,
    settings: &Settings,
) -> (Evaluation, Evaluation) {
    let funcs: HashMap<String, FunctionDef> = HashMap::new();
    let model = build("t", &parse_model(THREE).expect("parses"), &funcs).expect("resolves");
    let claim = format!("E[relu(a + b + c)] ~= {target:.17}");
    let c = parse_claim(&claim).expect("parses");
    let mut moments = Vec::new();
    let lhs = model.side(&c.lhs, &funcs, &mut moments).expect("lhs");
    let rhs = model.side(&c.rhs, &funcs, &mut moments).expect("rhs");
    let trial = Trial {
        scenario: &model.scenario,
        moments: &moments,
        lhs: &lhs,
        rhs: &rhs,
        relation: c.relation,
        within: Some((band, true)),
        key: StreamKey::new(seed, &["looks", &claim]),
    };
    let exact = trial.exact_moments();
    assert!(Trial::needs_sampling(&exact), "sampling decides");
    let budget = Budget::new(Budget::tests_for(moments.len(), true));
    let pilot = trial.evaluate(&exact, settings, &budget, Stage::Pilot);
    let powered = match pilot.need {
        Some(n) => trial.evaluate(&exact, settings, &budget, Stage::Powered(n)),
        None => pilot.clone(),
    };
    // `decide` is the same two stages.
    assert_eq!(trial.decide(&exact, settings, &budget), powered);
    (pilot, powered)
}

/// The looks a powered evaluation took, in draws, from its note, with
/// what each was ("the pilot", "plug-in", "worst case").
fn looks(ev: &Evaluation) -> Vec<(u64, String)> {
    let Some(note) = ev.notes.iter().find(|n| n.starts_with("sampled in looks")) else {
        return Vec::new();
    };
    note.split(')')
        .filter_map(|piece| {
            let (before, what) = piece.split_once('(')?;
            let draws = before.split_whitespace().last()?.parse().ok()?;
            Some((draws, what.to_string()))
        })
        .collect()
}

#[test]
fn the_decisive_width_is_where_the_interval_verdict_decides() {
    // Just inside the width the look decides; just outside it does not.
    let relations = [Relation::Eq, Relation::Le, Relation::Ge, Relation::Approx];
    for relation in relations {
        for d in [-1.7, -0.9, -0.3, 0.0, 0.2, 0.45, 0.8, 1.3] {
            let allowed = 1.0;
            let w = decisive_width(relation, d, allowed);
            assert!(w >= 0.0, "{relation:?} {d}: {w}");
            let inside = interval_verdict(relation, d, w * (1.0 - 1e-9), allowed).0;
            let outside = interval_verdict(relation, d, w * (1.0 + 1e-9) + 1e-12, allowed).0;
            assert_ne!(inside, Verdict::Inconclusive, "{relation:?} d = {d}");
            assert_eq!(outside, Verdict::Inconclusive, "{relation:?} d = {d}");
        }
    }
    // By hand: `=` with d = 0.3 of 1 holds below 0.7; `~=` with d = 1.3
    // fails below 0.3; `<=` with d = -0.5 holds below 1.5.
    assert_eq!(decisive_width(Relation::Eq, 0.3, 1.0), 0.7);
    assert!((decisive_width(Relation::Approx, 1.3, 1.0) - 0.3).abs() < 1e-15);
    assert_eq!(decisive_width(Relation::Le, -0.5, 1.0), 1.5);
}

#[test]
fn a_claim_far_inside_its_band_is_decided_at_the_plug_in_look() {
    // The claim is the truth itself, with a band of 1.8%: the pilot's
    // 131072 draws give a relative standard error of about 0.4%, a
    // critical half-width of about 2.2% (t = 5.45), so the pilot cannot
    // decide; the worst case plans at half the band and asks for about 40
    // times the pilot, while the plug-in size, with the truth at the
    // band's centre, is about 5 times.
    let settings = Settings::default();
    let (pilot, ev) = pilot_and_powered(truth(), 0.018, 0, &settings);
    assert_eq!(pilot.verdict, Verdict::Inconclusive, "{pilot:?}");
    let worst = pilot.need.expect("the pilot asks for more") * BATCHES as u64;
    let first = pilot.draws;
    assert_eq!(ev.verdict, Verdict::Holds, "{ev:?}");
    assert!(!ev.capped);
    let taken = looks(&ev);
    assert_eq!(
        taken,
        vec![
            (first, "the pilot".to_string()),
            (ev.draws, "plug-in".to_string())
        ],
        "{:?}",
        ev.notes
    );
    // At least 1.5 times the pilot, and far short of the worst case.
    assert!(2 * ev.draws >= 3 * first, "{} against {first}", ev.draws);
    assert!(4 * ev.draws <= worst, "{} against {worst}", ev.draws);
    // The verdict is the truth's: the sampled side is within a few
    // standard errors of sqrt(3 / (2 pi)).
    let lhs = ev.lhs.expect("the left side");
    assert!((lhs.value - truth()).abs() <= 6.0 * lhs.err, "{lhs:?}");
}

#[test]
fn a_claim_the_plug_in_look_cannot_decide_is_decided_at_the_worst_case() {
    // Each claim half its 15% band from the truth, where the worst case
    // still decides "holds" except with the per-test level (it is planned
    // for exactly that deviation), with small pilots (a budget whose share
    // is 24 draws per batch) so that a pilot's difference and standard
    // error are rough. The plug-in look falls short where the pilot
    // happened to see the truth further from the band's edge than it is:
    // rarely (100 of 2663 plug-in looks over seeds 0 to 2999 with the
    // scalar generator, 3.8%), so the test takes the first 300 claims
    // whose pilot was undecided, a fixed set whatever the generator: about
    // 11 of them are expected to need the worst case. Every claim, on
    // every seed, ends "holds", at the last look it took; wherever the
    // plug-in look was undecided, that last look is the worst case.
    let band = 0.15;
    let target = truth() / (1.0 - 0.5 * band);
    let settings = Settings {
        budget: 1e-4,
        ..Settings::default()
    };
    let (mut plug_in_looks, mut three_looks) = (0, 0);
    for seed in 0.. {
        let (pilot, ev) = pilot_and_powered(target, band, seed, &settings);
        assert_eq!(pilot.draws, 24 * BATCHES as u64);
        assert_eq!(ev.verdict, Verdict::Holds, "seed {seed}: {ev:?}");
        assert!(ev.defects.is_empty(), "seed {seed}: {:?}", ev.defects);
        let Some(need) = pilot.need else { continue };
        let worst = need * BATCHES as u64;
        let taken = looks(&ev);
        let names: Vec<&str> = taken.iter().map(|(_, w)| w.as_str()).collect();
        match names.as_slice() {
            ["the pilot", "plug-in"] => plug_in_looks += 1,
            ["the pilot", "plug-in", "worst case"] => {
                plug_in_looks += 1;
                three_looks += 1;
                assert!(taken[1].0 < worst, "seed {seed}: {taken:?}");
            }
            // A plug-in size at the worst case is the worst case.
            ["the pilot", "worst case"] => {}
            other => panic!("seed {seed}: looks {other:?}"),
        }
        assert_eq!(taken.last().map(|l| l.0), Some(ev.draws), "seed {seed}");
        if names.last() == Some(&"worst case") {
            assert_eq!(ev.draws, worst, "seed {seed}");
        }
        if plug_in_looks == 300 {
            break;
        }
    }
    // The worst case was reached (about 11 expected: fewer than 2 has
    // probability 1.4e-4 under a Poisson law), and the plug-in look is the
    // one that usually decides (30 or more of 300 has probability below
    // 1e-5 at a rate of 3.8%).
    assert!(
        three_looks >= 2,
        "the worst case was reached {three_looks} times in {plug_in_looks} plug-in looks"
    );
    assert!(
        10 * three_looks < plug_in_looks,
        "the plug-in look fell short {three_looks} times in {plug_in_looks}"
    );
}

#[test]
fn every_look_is_counted_in_the_run_s_tests() {
    // One sampled claim with one moment: the moment's self-check and the
    // three looks.
    assert_eq!(LOOKS, 3);
    assert_eq!(Budget::tests_for(1, true), 4);
    // Two networks, a claim over layers 2..4: 3 layers, 2 rows, 3 looks
    // each (the table's draws, the plug-in size, the worst case), whether
    // or not a network is extended (he fails and glorot holds at the
    // table's 200 draws).
    let (code, out, err) = initaudit_with(
        "looks-count",
        &[("series.toml", TWO_NETWORKS_AND_A_SERIES)],
        &["audit", "series.toml", "--format", "json", "--quiet"],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["tests"], 18, "{out}");
}

#[test]
fn a_network_its_table_leaves_undecided_is_extended_to_the_plug_in_size() {
    // Glorot's halving of Var[y] within 5% at 200 networks is undecided;
    // the plug-in size decides it, short of the worst case.
    let file = TWO_NETWORKS_AND_A_SERIES.replace("within = \"15%\"", "within = \"5%\"");
    let run = |threads: &str| {
        initaudit_with(
            &format!("looks-series-{threads}"),
            &[("series.toml", &file)],
            &[
                "audit",
                "series.toml",
                "--format",
                "json",
                "--quiet",
                "--threads",
                threads,
            ],
        )
    };
    let (code, out, err) = run("1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(run("2"), (code, out.clone(), err), "thread-count identity");
    let v: Value = serde_json::from_str(&out).expect("json");
    let rows = v["results"].as_array().expect("results");
    let row = |net: &str| {
        rows.iter()
            .find(|r| r["network"] == net)
            .unwrap_or_else(|| panic!("{net}: {out}"))
    };
    let he = row("he");
    assert_eq!(he["verdict"], "fails");
    assert_eq!(he["draws"], 200, "decided at the table's draws");
    let glorot = row("glorot");
    assert_eq!(glorot["verdict"], "holds");
    let draws = glorot["draws"].as_u64().expect("draws");
    assert!(draws >= 300, "{draws}");
    let notes = glorot["notes"].to_string();
    assert!(
        notes.contains(&format!(
            "drawn in looks of 200 (the table's) and {draws} (plug-in) networks"
        )),
        "{notes}"
    );
}

#[test]
fn networks_whose_worst_case_is_over_the_budget_are_refused_before_they_are_extended() {
    // Within 2%, glorot's 200 networks leave a layer undecided; whatever
    // its plug-in look would do, the run is bounded by the worst case, which
    // is over a budget of 3 CPU-seconds: refused up front (exit 2), at the
    // network's table, with the worst case's draws (about 900 times the
    // table's).
    let file = TWO_NETWORKS_AND_A_SERIES.replace("within = \"15%\"", "within = \"2%\"");
    let (code, out, err) = initaudit_with(
        "looks-budget",
        &[("series.toml", &file)],
        &["audit", "series.toml", "--quiet", "--budget", "3"],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("series.toml:11:1"), "{err}");
    let need: u64 = err
        .split("its series claims need ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(err.contains("over the budget of 3.00 s"), "{err}");
    assert!(need > 200 * 100, "{need}");
}

#[test]
fn a_row_one_layer_refutes_is_not_extended_for_its_undecided_layers() {
    // On glorot's net Var[y(l)] / Var[y(l-1)] is 1/2 at every layer; the
    // claim multiplies it by 1 + 0.3 (l - 2): true at l = 2, 23% off at
    // l = 3 (within reach of the 15% band at 200 networks: undecided) and
    // 37.5% off at l = 4 (refuted). One refuted layer refutes a claim for
    // every layer, so no draw is spent on l = 3.
    let file = TWO_NETWORKS_AND_A_SERIES
        .replace(
            "Var[y(l-1)] / 2\"",
            "Var[y(l-1)] / 2 * (1 + 0.3 * (l - 2))\"",
        )
        .replace(
            "expect = { he = \"fails\" }",
            "expect = { he = \"fails\", glorot = \"fails\" }",
        );
    let (code, out, err) = initaudit_with(
        "looks-refuted-row",
        &[("series.toml", &file)],
        &["audit", "series.toml", "--format", "json", "--quiet"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let glorot = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["network"] == "glorot")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(glorot["verdict"], "fails");
    assert_eq!(glorot["draws"], 200, "decided at the table's draws");
    let notes = glorot["notes"].to_string();
    assert!(
        notes.contains("for every l in 2..4: holds at 1, fails at 1 of 3 layers; shown: l = 4"),
        "{notes}"
    );
}
