//! Latency of the exact engine on a one-dimensional expectation.
//!
//! E[tanh(z)^2] for z ~ N(0, 1) has no closed form, so the engine answers
//! it by adaptive Gauss-Kronrod quadrature against the normal density, to
//! its default tolerance (1e-12 relative, two digits inside the project's
//! 1e-10 target), and returns the value with an error bound. This measures
//! the whole path a claim takes (the engine's rules, then quadrature), and
//! checks the answer against a 40-digit reference before timing anything,
//! so a fast wrong answer cannot pass for a result.
//!
//! `python3 bench/exact_vs_scipy.py` times SciPy's `quad` on the same
//! integral, for the side-by-side row in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

use initaudit::exact::Engine;
use initaudit::lang::arith::BinOp;
use initaudit::lang::builtin::Builtin;
use initaudit::model::law::Law;
use initaudit::model::rv::{Moment, Rv, VarId};
use initaudit::model::{BaseVar, Scenario, Source};

/// E[tanh(Z)^2], Z ~ N(0, 1), from mpmath 1.3 at 40 significant digits:
/// `mp.quad(lambda x: mp.tanh(x)**2 * mp.npdf(x), [-mp.inf, -5, 0, 5, mp.inf])`
/// gives 0.3942944903978411744164597724441195605738.
const REFERENCE: f64 = 0.394_294_490_397_841_2;

/// Evaluations per timed run, and timed runs (the median is reported).
const CALLS: usize = 200;
const RUNS: usize = 51;

fn scenario() -> Scenario {
    Scenario {
        name: "bench".into(),
        bases: vec![BaseVar {
            name: "z".into(),
            source: 0,
            component: 0,
        }],
        sources: vec![Source::Single(Law::Normal { mean: 0.0, sd: 1.0 })],
    }
}

fn tanh_squared() -> Moment {
    Moment::E(Rv::bin(
        BinOp::Pow,
        Rv::Call(Builtin::Tanh, vec![Rv::Base(VarId(0))]),
        Rv::Const(2.0),
    ))
}

fn main() {
    if std::env::var_os("COUNT").is_some() { count(); }
    let scenario = scenario();
    let moment = tanh_squared();
    let engine = Engine::new(&scenario);
    let once = engine.moment(&moment).expect("an exact value");
    let (value, err) = (once.val.value, once.val.err);
    let rel_error = (value - REFERENCE).abs() / REFERENCE;
    assert!(
        rel_error <= 1e-10 && (value - REFERENCE).abs() <= err + 1e-16,
        "E[tanh(z)^2] = {value} ± {err}, reference {REFERENCE}"
    );
    let mut per_call = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        for _ in 0..CALLS {
            black_box(
                Engine::new(black_box(&scenario))
                    .moment(black_box(&moment))
                    .map(|e| e.val.value),
            )
            .ok();
        }
        per_call.push(start.elapsed().as_secs_f64() / CALLS as f64);
    }
    per_call.sort_by(f64::total_cmp);
    let median = per_call[RUNS / 2];
    println!("E[tanh(z)^2], z ~ N(0,1), exact engine ({:?})", once.method);
    println!("  value             : {value:.16} ± {err:.1e} (bound the engine claims)");
    println!(
        "  relative error    : {rel_error:.1e} against the 40-digit reference (target <= 1e-10)"
    );
    println!(
        "  median per call   : {:8.2} us   (median of {RUNS} runs of {CALLS} calls; target <= 10 us)",
        median * 1e6
    );
    println!(
        "  fastest, slowest  : {:8.2} us, {:.2} us",
        per_call[0] * 1e6,
        per_call[RUNS - 1] * 1e6
    );
}
#[allow(dead_code)]
fn count() {
    use std::cell::Cell;
    let n = Cell::new(0u64);
    let law = Law::Normal { mean: 0.0, sd: 1.0 };
    let f = |x: f64| { n.set(n.get() + 1); x.tanh().powi(2) };
    let q = initaudit::exact::quad::expect_1d(&law, &f, &[], initaudit::exact::quad::Tol::default());
    eprintln!("evals {} {:?}", n.get(), q);
    let t = Instant::now();
    for _ in 0..1000 { black_box(initaudit::exact::quad::expect_1d(&law, &f, &[], initaudit::exact::quad::Tol::default())).ok(); }
    eprintln!("quad alone {:?}/call", t.elapsed() / 1000);
    n.set(0);
    let q = initaudit::exact::quad::expect_normal(0.0, 1.0, &f, initaudit::exact::quad::Tol::default());
    eprintln!("lattice evals {} {:?} true err {:e}", n.get(), q, q.unwrap().value - REFERENCE);
    let t = Instant::now();
    for _ in 0..1000 { black_box(initaudit::exact::quad::expect_normal(0.0, 1.0, &f, initaudit::exact::quad::Tol::default())); }
    eprintln!("lattice alone {:?}/call", t.elapsed() / 1000);
    let sc = scenario();
    let m = tanh_squared();
    let t = Instant::now();
    for _ in 0..1000 { black_box(Engine::new(&sc).moment(&m)).ok(); }
    eprintln!("engine {:?}/call", t.elapsed() / 1000);
    let x = Rv::Base(VarId(0));
    let t = Instant::now();
    for _ in 0..1000 { black_box(initaudit::exact::kinks::kinks(&x, VarId(0), &[0.0], f64::NEG_INFINITY, f64::INFINITY, (0.0,1.0))); }
    eprintln!("kinks {:?}/call", t.elapsed() / 1000);
    std::process::exit(0);
}
