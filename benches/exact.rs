//! Latency of the exact engine on a one-dimensional expectation.
//!
//! E[tanh(z)^2] for z ~ N(0, 1) has no closed form, so the engine answers
//! it by quadrature against the normal density, to its default tolerance
//! (1e-12 relative, two digits inside the project's 1e-10 target), and
//! returns the value with an error bound. This measures the whole path a
//! claim takes the first time (the engine's rules, the kink search, then
//! the Gaussian lattice rule, with the memo of quadratures left out:
//! `Engine::unremembered`), the same question answered from the memo, as
//! every later claim that asks it is, and beside them, in the same rounds,
//! the two quadrature rules alone on the same integrand: the lattice
//! (`quad::expect_normal`) and the adaptive Gauss-Kronrod rule it spares
//! (`quad::expect_1d`). Every
//! answer is checked against a 40-digit reference before anything is
//! timed, so a fast wrong answer cannot pass for a result.
//!
//! `python3 bench/exact_vs_scipy.py` times SciPy's `quad` on the same
//! integral, for the side-by-side row in BENCHMARKS.md.

use std::cell::Cell;
use std::hint::black_box;
use std::time::Instant;

use initaudit::exact::Engine;
use initaudit::exact::quad::{self, Quad, Tol};
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

/// The one-minute load average, for the record (`?` where unknown): on a
/// shared machine a run of calls is often preempted, and its wall time
/// then measures the neighbours as well.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

/// The answer is within 1e-10 of the reference and within its own bound.
fn checked(what: &str, q: Quad) -> Quad {
    let rel_error = (q.value - REFERENCE).abs() / REFERENCE;
    assert!(
        rel_error <= 1e-10 && (q.value - REFERENCE).abs() <= q.err + 1e-16,
        "{what}: E[tanh(z)^2] = {} ± {}, reference {REFERENCE}",
        q.value,
        q.err
    );
    q
}

/// Median and fastest seconds per call of `call`, over interleaved rounds.
struct Timing {
    runs: Vec<f64>,
}

impl Timing {
    fn round(&mut self, call: &mut dyn FnMut()) {
        let start = Instant::now();
        for _ in 0..CALLS {
            call();
        }
        self.runs.push(start.elapsed().as_secs_f64() / CALLS as f64);
    }

    fn line(mut self, what: &str) {
        self.runs.sort_by(f64::total_cmp);
        println!(
            "  {what:<28}: median {:8.2} us, fastest {:8.2} us",
            self.runs[self.runs.len() / 2] * 1e6,
            self.runs[0] * 1e6
        );
    }
}

fn main() {
    let scenario = scenario();
    let moment = tanh_squared();
    let once = Engine::new(&scenario)
        .unremembered()
        .moment(&moment)
        .expect("an exact value");
    let engine = checked(
        "engine",
        Quad {
            value: once.val.value,
            err: once.val.err,
        },
    );
    let evals = Cell::new(0u64);
    let f = |x: f64| {
        evals.set(evals.get() + 1);
        x.tanh().powi(2)
    };
    let law = Law::Normal { mean: 0.0, sd: 1.0 };
    let tol = Tol::default();
    let lattice = checked(
        "lattice",
        quad::expect_normal(0.0, 1.0, &f, tol).expect("the lattice converges"),
    );
    let lattice_evals = evals.replace(0);
    let kronrod = checked(
        "Gauss-Kronrod",
        quad::expect_1d(&law, &f, &[], tol).expect("Gauss-Kronrod converges"),
    );
    let kronrod_evals = evals.replace(0);
    let remembered = Engine::new(&scenario)
        .moment(&moment)
        .expect("an exact value");
    assert_eq!(
        remembered, once,
        "the memo answers what the engine computes"
    );
    let (mut t_engine, mut t_remembered, mut t_lattice, mut t_kronrod) = (
        Timing { runs: Vec::new() },
        Timing { runs: Vec::new() },
        Timing { runs: Vec::new() },
        Timing { runs: Vec::new() },
    );
    for _ in 0..RUNS {
        t_engine.round(&mut || {
            black_box(
                Engine::new(black_box(&scenario))
                    .unremembered()
                    .moment(black_box(&moment))
                    .map(|e| e.val.value),
            )
            .ok();
        });
        t_remembered.round(&mut || {
            black_box(
                Engine::new(black_box(&scenario))
                    .moment(black_box(&moment))
                    .map(|e| e.val.value),
            )
            .ok();
        });
        t_lattice.round(&mut || {
            black_box(quad::expect_normal(0.0, 1.0, &f, black_box(tol)));
        });
        t_kronrod.round(&mut || {
            black_box(quad::expect_1d(&law, &f, &[], black_box(tol))).ok();
        });
    }
    println!(
        "E[tanh(z)^2], z ~ N(0,1), to 1e-12 relative ({RUNS} interleaved runs of {CALLS} calls)"
    );
    for (what, q) in [
        (format!("engine ({:?})", once.method), engine),
        (format!("lattice, {lattice_evals} evaluations"), lattice),
        (
            format!("Gauss-Kronrod, {kronrod_evals} evaluations"),
            kronrod,
        ),
    ] {
        println!(
            "  {what:<34}: {:.16} ± {:.1e}, off the 40-digit reference by {:.1e} relative",
            q.value,
            q.err,
            (q.value - REFERENCE).abs() / REFERENCE
        );
    }
    t_engine.line("engine, whole path");
    t_remembered.line("engine, from the memo");
    t_lattice.line("lattice rule alone");
    t_kronrod.line("Gauss-Kronrod rule alone");
    println!("  target: engine median <= 10 us (load average {})", load());
}
