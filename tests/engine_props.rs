//! Property tests of the two engines against each other.
//!
//! Random expressions over base variables with random laws (Normal,
//! Uniform, Laplace, Exponential, a BivariateNormal pair) go through the
//! whole pipeline a file takes: parsed as a model and a claim, resolved into
//! a scenario, evaluated exactly and by sampling. Two properties must hold
//! for every one of them:
//!
//! * **no self-check failure**: wherever the exact engine gives a value, the
//!   sampled estimate agrees with it within the run's critical value (a
//!   disagreement is a defect of the tool);
//! * **exact resolution**: the claim `M = v`, with `v` the exact value
//!   printed to 17 significant digits, holds; `M = v (1 + 1e-3)` fails.
//!
//! The expressions are kept where the self-check is meaningful: powers of
//! at most 3 (2 inside a variance), products with a bounded factor, so that
//! the estimators' own variance is finite and modest; scales of at least
//! 0.5 and shifts of 0.5, so that no moment is dominated by events too rare
//! to be seen in the first look's draws. Outside that, a batch-means
//! standard error cannot be trusted at the 1e-6 level: the rare-event case
//! that showed it is `rare_events_fool_the_self_check`, which runs and
//! passes since the self-check floors the batch-means standard error with
//! the estimator's exact variance.
//!
//! The runner's seed is fixed (override with PROPTEST_RNG_SEED) so that the
//! suite is reproducible.

use initaudit::exact::{Engine, NoExact, Outcome};
use initaudit::lang::{FunctionDef, parse_claim, parse_model};
use initaudit::model::resolve::{Model, build};
use initaudit::model::rv::Moment;
use initaudit::sample::StreamKey;
use initaudit::verdict::{Budget, Evaluation, Settings, Trial, Verdict};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use std::collections::HashMap;

fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::with_cases(cases);
    if c.rng_seed == RngSeed::Random {
        c.rng_seed = RngSeed::Fixed(2015);
    }
    // With a fixed seed the cases are the same every run; a failure prints
    // its shrunk input, which belongs in a named test, not in a seed file.
    c.failure_persistence = None;
    c
}

/// A law for a single base variable, as the model text writes it.
fn law() -> impl Strategy<Value = String> {
    prop_oneof![
        (-0.5..0.5f64, 0.5..2.0f64).prop_map(|(m, s)| format!("Normal({m:?}, {s:?})")),
        (-2.0..1.0f64, 0.5..3.0f64).prop_map(|(lo, w)| format!("Uniform({lo:?}, {:?})", lo + w)),
        (-0.5..0.5f64, 0.5..1.5f64).prop_map(|(m, s)| format!("Laplace({m:?}, {s:?})")),
        (0.5..2.0f64).prop_map(|r| format!("Exponential({r:?})")),
    ]
}

/// a, b, c with random laws and a correlated pair u, v.
fn model_text() -> impl Strategy<Value = String> {
    (
        law(),
        law(),
        law(),
        0.5..2.0f64,
        0.5..2.0f64,
        -0.95..0.95f64,
    )
        .prop_map(|(a, b, c, su, sv, rho)| {
            format!("a ~ {a}\nb ~ {b}\nc ~ {c}\nu, v ~ BivariateNormal({su:?}, {sv:?}, {rho:?})")
        })
}

fn var() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "c", "u", "v"])
}

fn coef() -> impl Strategy<Value = f64> {
    prop::sample::select(vec![-1.5, -0.5, 0.5, 2.0])
}

/// A shift small against every scale above: a kink it moves stays within
/// about two scales of the centre, where sampling sees it often.
fn offset() -> impl Strategy<Value = f64> {
    prop::sample::select(vec![-0.5, 0.5])
}

/// An affine image of one variable, or a sum of two (independent or a
/// correlated pair: nested quadrature).
fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        var().prop_map(str::to_string),
        (var(), offset()).prop_map(|(v, k)| format!("({v} + {k:?})")),
        (coef(), var()).prop_map(|(k, v)| format!("{k:?} * {v}")),
        pair().prop_map(|(x, y)| format!("({x} + {y})")),
    ]
}

/// Two variables integrated jointly: independent ones, or the correlated
/// pair. A pair component with an independent variable is left out; the
/// exact engine once panicked on it, and `exact::tests::pair_component_
/// with_an_independent_variable` checks that case against its closed form.
fn pair() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop::sample::select(vec![
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
        ("c", "c"),
        ("u", "v"),
        ("v", "u"),
        ("u", "u"),
    ])
}

/// A bounded function of an atom.
fn bounded() -> impl Strategy<Value = String> {
    (atom(), prop::sample::select(vec!["tanh", "sigmoid"])).prop_map(|(x, f)| format!("{f}({x})"))
}

/// An activation or a power of an atom.
fn unary(max_pow: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        (
            atom(),
            prop::sample::select(vec!["relu", "tanh", "sigmoid", "gelu"])
        )
            .prop_map(|(x, f)| format!("{f}({x})")),
        (atom(), prop::sample::select(vec![0.01, 0.2]))
            .prop_map(|(x, s)| format!("leaky_relu({x}, {s:?})")),
        (atom(), 1..=max_pow).prop_map(|(x, p)| format!("{x}^{p}")),
    ]
}

fn term(max_pow: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => unary(max_pow),
        2 => (bounded(), unary(max_pow)).prop_map(|(f, g)| format!("{f} * {g}")),
        1 => (coef(), unary(max_pow)).prop_map(|(k, g)| format!("{k:?} * {g}")),
    ]
}

/// A random expression: terms, sums of terms, sums of independent copies,
/// and (rarely) three variables jointly, which only sampling can evaluate.
fn expr(max_pow: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => term(max_pow),
        2 => (term(max_pow), term(max_pow)).prop_map(|(x, y)| format!("{x} + {y}")),
        2 => (1..=4u32, term(max_pow)).prop_map(|(n, t)| format!("sum({n}, {t})")),
        1 => (term(max_pow), 1..=3u32, unary(max_pow))
            .prop_map(|(x, n, t)| format!("{x} - sum({n}, {t})")),
        1 => Just("relu(a + b + c)".to_string()),
        1 => (bounded(), var()).prop_map(|(f, v)| format!("tanh({f} + a * b + {v})")),
    ]
}

/// The exact engine's outcomes of the moments one case has met. The three
/// claims of a case (`M = M`, `M = v`, `M = v (1 + 1e-3)`) share the
/// moment M, and its quadrature, the same computation each time, is most
/// of a case's cost; the sampling (the self-check) is done afresh for
/// each claim, on its own streams.
type Known = Vec<(Moment, Outcome)>;

/// Resolves a claim in the model and evaluates it, with the test budget a
/// run would give it.
fn evaluate(model: &Model, claim: &str, seed: u64, known: &mut Known) -> Evaluation {
    let funcs: HashMap<String, FunctionDef> = HashMap::new();
    let c = parse_claim(claim).unwrap_or_else(|e| panic!("{claim}: {e}"));
    let mut moments = Vec::new();
    let lhs = model
        .side(&c.lhs, &funcs, &mut moments)
        .unwrap_or_else(|d| panic!("{claim}: {d:?}"));
    let rhs = model
        .side(&c.rhs, &funcs, &mut moments)
        .unwrap_or_else(|d| panic!("{claim}: {d:?}"));
    let trial = Trial {
        scenario: &model.scenario,
        moments: &moments,
        lhs: &lhs,
        rhs: &rhs,
        relation: c.relation,
        within: None,
        key: StreamKey::new(seed, &["engine_props", claim]),
    };
    let engine = Engine::new(&model.scenario);
    let exact: Vec<Outcome> = moments
        .iter()
        .map(|m| match known.iter().find(|(k, _)| k == m) {
            Some((_, o)) => o.clone(),
            None => {
                let o = engine.moment(m);
                known.push((m.clone(), o.clone()));
                o
            }
        })
        .collect();
    let budget = Budget::new(Budget::tests_for(
        moments.len(),
        Trial::needs_sampling(&exact),
    ));
    trial.decide(&exact, &Settings::default(), &budget)
}

/// Checks both properties for one moment (as text) in one model.
fn check_moment(model_text: &str, moment: &str, seed: u64) -> Result<(), TestCaseError> {
    let funcs: HashMap<String, FunctionDef> = HashMap::new();
    let stmts = parse_model(model_text).expect("the model parses");
    let model = build("random", &stmts, &funcs).expect("the model resolves");
    // The claim M = M: its verdict is beside the point; evaluating it runs
    // the self-check of every exact moment against its sampled estimate.
    let mut known = Known::new();
    let same = evaluate(&model, &format!("{moment} = {moment}"), seed, &mut known);
    prop_assert!(
        same.defects.is_empty(),
        "{moment} in\n{model_text}\n{:?}",
        same.defects
    );
    // A quadrature that misses its tolerance falls back to sampling, which
    // is checked like any other sampled moment (the cases found here are
    // checked by `exact::tests::nested_quadrature_*`); a NaN met while
    // evaluating is not tolerated.
    prop_assert!(
        !same.notes.iter().any(|n| n.contains("not finite")),
        "the exact engine failed on {moment} in\n{model_text}\n{:?}",
        same.notes
    );
    prop_assert_ne!(same.verdict, Verdict::Undefined, "{:?}", same.notes);
    let lhs = same.lhs.expect("a defined moment has a value");
    if !lhs.exact() {
        prop_assert_eq!(same.verdict, Verdict::Holds);
        return Ok(());
    }
    let (v, err) = (lhs.value, lhs.err);
    let holds = evaluate(&model, &format!("{moment} = {v:.16e}"), seed, &mut known);
    prop_assert_eq!(
        holds.verdict,
        Verdict::Holds,
        "{} = {:e} ± {:e}",
        moment,
        v,
        err
    );
    prop_assert!(holds.defects.is_empty(), "{:?}", holds.defects);
    if v != 0.0 && err <= 1e-6 * v.abs() {
        let off = v * (1.0 + 1e-3);
        let fails = evaluate(&model, &format!("{moment} = {off:.16e}"), seed, &mut known);
        prop_assert_eq!(
            fails.verdict,
            Verdict::Fails,
            "{} = {:e} ± {:e}",
            moment,
            v,
            err
        );
    } else {
        // The only exact values without six digits are zeros reached by
        // cancellation; every parameter here is of order one, so such a
        // zero and its bound are small in absolute terms.
        prop_assert!(
            v.abs() <= 1e-6 && err <= 1e-8,
            "{} = {:e} ± {:e}",
            moment,
            v,
            err
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn means_agree(model in model_text(), x in expr(3), seed in any::<u64>()) {
        check_moment(&model, &format!("E[{x}]"), seed)?;
    }

    #[test]
    fn variances_agree(model in model_text(), x in expr(2), seed in any::<u64>()) {
        check_moment(&model, &format!("Var[{x}]"), seed)?;
    }

    #[test]
    fn covariances_agree(model in model_text(), x in expr(2), y in expr(2), seed in any::<u64>()) {
        check_moment(&model, &format!("Cov[{x}, {y}]"), seed)?;
    }
}

/// The exact engine's reach is part of what is tested: most generated
/// moments must be exact, or the properties above say little.
#[test]
fn most_generated_moments_are_exact() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::new(config(1));
    let funcs: HashMap<String, FunctionDef> = HashMap::new();
    let (mut exact, mut total) = (0, 0);
    for _ in 0..200 {
        let text = model_text()
            .new_tree(&mut runner)
            .expect("a model")
            .current();
        let x = expr(2)
            .new_tree(&mut runner)
            .expect("an expression")
            .current();
        let model =
            build("random", &parse_model(&text).expect("parses"), &funcs).expect("resolves");
        let engine = initaudit::exact::Engine::new(&model.scenario);
        let rv = model
            .rv(&initaudit::lang::parse_expr(&x).expect("parses"), &funcs)
            .expect("resolves");
        match engine.expect(&rv) {
            Ok(_) => exact += 1,
            // Sampling decides these; see `check_moment` on quadrature.
            Err(NoExact::NoForm(_) | NoExact::Failed(_)) => {}
            Err(e) => panic!("E[{x}] in\n{text}\n{e:?}"),
        }
        total += 1;
    }
    assert!(exact * 4 >= total * 3, "{exact} of {total} exact");
}

/// Found by `variances_agree` (seed 77 of the runner) before the laws were
/// kept away from rare events. u - 1.5 is 3.85 sd out, so the 7% of the
/// variance that comes from u > 1.5 rests on about eight draws of the first
/// look; with none of them drawn the batch means agree with one another
/// and the standard error (1.8e-8) is sixteen times smaller than the miss
/// (exact 4.0776e-6, checked by an independent integral; sampled
/// 3.7937e-6). A self-check "defect" is then a false alarm.
#[test]
fn rare_events_fool_the_self_check() {
    let funcs: HashMap<String, FunctionDef> = HashMap::new();
    let text = "u, v ~ BivariateNormal(0.389934585268179, 0.3, 0.0)";
    let model = build("rare", &parse_model(text).expect("parses"), &funcs).expect("resolves");
    let m = "Var[-0.5 * leaky_relu((u + -1.5), 0.01)]";
    let ev = evaluate(
        &model,
        &format!("{m} = {m}"),
        8_849_253_639_751_327_789,
        &mut Known::new(),
    );
    assert!(ev.defects.is_empty(), "{:?}", ev.defects);
}
