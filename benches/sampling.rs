//! Throughput of the sampling kernel against a hand-written loop.
//!
//! The kernel compiles claims into a register program so that sampling a
//! moment costs little more than drawing its variables. This measures that
//! promise on the He et al. second moment, E[relu(z)^2] with z ~ N(0, 1):
//! the same generator (Xoshiro256++ with rand_distr's ziggurat normal) in a
//! loop written for this one expression is the bound to approach. Runs are
//! interleaved and the median is reported, so a noisy neighbour on a shared
//! machine shifts both sides alike. Plain `Instant`, no harness: the number
//! wanted is a throughput ratio, not a confidence interval.
//!
//! Thread scaling is quoted against a plain rayon loop over the same hand
//! loop in the same rounds: on a shared machine two threads get two cores
//! only part of the time, and the plain loop shows how much of the second
//! core there was to have.

use std::hint::black_box;
use std::time::Instant;

use initaudit::lang::arith::BinOp;
use initaudit::lang::builtin::Builtin;
use initaudit::model::law::Law;
use initaudit::model::rv::{Moment, Rv, VarId};
use initaudit::model::{BaseVar, Scenario, Source};
use initaudit::sample::{Sampler, StreamKey};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

const BATCHES: usize = 8;
const DRAWS_PER_BATCH: u64 = 1 << 20;
const ROUNDS: usize = 7;

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

fn relu_second_moment() -> Moment {
    Moment::E(Rv::Bin(
        BinOp::Pow,
        Box::new(Rv::Call(Builtin::Relu, vec![Rv::Base(VarId(0))])),
        Box::new(Rv::Const(2.0)),
    ))
}

/// Seconds for the sampler to make every draw in a pool of `threads`.
fn time_sampler(threads: usize, scenario: &Scenario, moments: &[Moment]) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let start = Instant::now();
        let mut s = Sampler::new(scenario, moments, StreamKey::new(1, &["bench"]), BATCHES);
        s.extend(DRAWS_PER_BATCH).expect("finite draws");
        black_box(s.pooled());
        start.elapsed().as_secs_f64()
    })
}

/// Seconds for the same number of draws in a loop written by hand.
fn time_hand_loop() -> f64 {
    let start = Instant::now();
    let mut total = 0.0;
    for b in 0..BATCHES as u64 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(b);
        let mut acc = 0.0;
        for _ in 0..DRAWS_PER_BATCH {
            let z: f64 = rng.sample(StandardNormal);
            let r = z.max(0.0);
            acc += r * r;
        }
        total += acc / DRAWS_PER_BATCH as f64;
    }
    black_box(total / BATCHES as f64);
    start.elapsed().as_secs_f64()
}

/// Seconds for the hand-written loop with its batches spread over a pool
/// of `threads`: what thread scaling the machine gives at this moment.
fn time_plain_rayon(threads: usize) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let start = Instant::now();
        let total: f64 = (0..BATCHES as u64)
            .into_par_iter()
            .map(|b| {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(b);
                let mut acc = 0.0;
                for _ in 0..DRAWS_PER_BATCH {
                    let z: f64 = rng.sample(StandardNormal);
                    let r = z.max(0.0);
                    acc += r * r;
                }
                acc / DRAWS_PER_BATCH as f64
            })
            .sum();
        black_box(total / BATCHES as f64);
        start.elapsed().as_secs_f64()
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let scenario = scenario();
    let moments = [relu_second_moment()];
    let draws = (BATCHES as u64 * DRAWS_PER_BATCH) as f64;
    let (mut kernel, mut hand, mut two) = (Vec::new(), Vec::new(), Vec::new());
    let (mut plain1, mut plain2) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        kernel.push(time_sampler(1, &scenario, &moments));
        hand.push(time_hand_loop());
        two.push(time_sampler(2, &scenario, &moments));
        plain1.push(time_plain_rayon(1));
        plain2.push(time_plain_rayon(2));
    }
    let (kernel, hand, two) = (median(kernel), median(hand), median(two));
    let (plain1, plain2) = (median(plain1), median(plain2));
    println!("E[relu(z)^2], z ~ N(0,1): {draws} draws, median of {ROUNDS} interleaved rounds");
    println!(
        "  sampler, 1 thread : {:8.1} Mdraws/s",
        draws / kernel / 1e6
    );
    println!("  hand-written loop : {:8.1} Mdraws/s", draws / hand / 1e6);
    println!(
        "  ratio sampler/hand: {:8.2}   (target >= 0.9)",
        hand / kernel
    );
    println!("  sampler, 2 threads: {:8.1} Mdraws/s", draws / two / 1e6);
    println!(
        "  2-thread speedup  : {:8.2}   (target >= 1.8)",
        kernel / two
    );
    println!(
        "  plain rayon loop  : {:8.1} Mdraws/s on 1 thread, {:.1} on 2, speedup {:.2} (what the machine gave)",
        draws / plain1 / 1e6,
        draws / plain2 / 1e6,
        plain1 / plain2
    );
}
