//! Throughput of the sampling kernel against a hand-written loop.
//!
//! The kernel compiles claims into a register program so that sampling a
//! moment costs little more than drawing its variables. This measures that
//! promise on the He et al. second moment, E[relu(z)^2] with z ~ N(0, 1):
//! the same generator and normal (the eight xoshiro256++ lanes of
//! `StreamKey::lanes` and their vector ziggurat fill, a chunk at a time) in
//! a loop written for this one expression is the bound to approach. Runs are
//! interleaved and the median is reported, so a noisy neighbour on a shared
//! machine shifts both sides alike. Plain `Instant`, no harness: the number
//! wanted is a throughput ratio, not a confidence interval.
//!
//! Thread scaling is quoted against a plain rayon loop over the same hand
//! loop in the same rounds: on a shared machine two threads get two cores
//! only part of the time, and the plain loop shows how much of the second
//! core there was to have.
//!
//! Beside wall time, every variant's CPU time is read from the kernel's
//! per-thread accounting (`/proc/self/task/*/schedstat`, nanoseconds of
//! running): under load, wall time measures the neighbours as much as the
//! code, while CPU time per draw stays what the code costs. CPU time at two
//! threads over CPU time at one is the work parallelism adds (spinning,
//! stealing, cache traffic): at 1.00 two free cores give a 2x speedup. The
//! thread pools are built once, outside every timing, so their threads'
//! accounting persists and no run pays for starting threads.

use std::hint::black_box;
use std::time::Instant;

use initaudit::lang::arith::BinOp;
use initaudit::lang::builtin::Builtin;
use initaudit::model::law::Law;
use initaudit::model::rv::{Moment, Rv, VarId};
use initaudit::model::{BaseVar, Scenario, Source};
use initaudit::sample::{Sampler, StreamKey};
use rayon::prelude::*;

const BATCHES: usize = 8;
const DRAWS_PER_BATCH: u64 = 1 << 23;
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

/// Nanoseconds every thread of this process has spent running so far, from
/// the kernel's scheduler statistics (0 where they are not available).
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Wall and CPU seconds of `work`.
fn timed(work: impl FnOnce()) -> (f64, f64) {
    let cpu = cpu_ns();
    let start = Instant::now();
    work();
    let wall = start.elapsed().as_secs_f64();
    (wall, cpu_ns().saturating_sub(cpu) as f64 * 1e-9)
}

/// The sampler making every draw in `pool`.
fn time_sampler(pool: &rayon::ThreadPool, scenario: &Scenario, moments: &[Moment]) -> (f64, f64) {
    pool.install(|| {
        timed(|| {
            let mut s = Sampler::new(scenario, moments, StreamKey::new(1, &["bench"]), BATCHES);
            s.extend(DRAWS_PER_BATCH).expect("finite draws");
            black_box(s.pooled());
        })
    })
}

/// One batch of the loop written by hand for this expression.
/// The normals come from the generator the sampler's batches use, filled
/// a chunk at a time as its vector fill is meant to be used, and the sum
/// runs in four chains (as the sampler's does): with the draws at 1.6 ns,
/// one chain of dependent additions would be the loop's bound instead.
fn hand_batch(b: u64) -> f64 {
    let mut rng = StreamKey::new(1, &["hand"]).lanes(b);
    let mut chunk = [0.0; 256];
    let mut acc = [0.0; 4];
    for _ in 0..DRAWS_PER_BATCH / chunk.len() as u64 {
        rng.fill_normal(0.0, 1.0, &mut chunk);
        for four in chunk.chunks_exact(4) {
            for (a, z) in acc.iter_mut().zip(four) {
                let r = z.max(0.0);
                *a += r * r;
            }
        }
    }
    acc.iter().sum::<f64>() / DRAWS_PER_BATCH as f64
}

/// The same number of draws in the hand-written loop, on this thread.
fn time_hand_loop() -> (f64, f64) {
    timed(|| {
        let total: f64 = (0..BATCHES as u64).map(hand_batch).sum();
        black_box(total / BATCHES as f64);
    })
}

/// The hand-written loop with its batches spread over `pool`: what thread
/// scaling the machine gives at this moment.
fn time_plain_rayon(pool: &rayon::ThreadPool) -> (f64, f64) {
    pool.install(|| {
        timed(|| {
            let total: f64 = (0..BATCHES as u64).into_par_iter().map(hand_batch).sum();
            black_box(total / BATCHES as f64);
        })
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Medians of wall and CPU seconds over the rounds.
#[derive(Default)]
struct Runs {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Runs {
    fn push(&mut self, (wall, cpu): (f64, f64)) {
        self.wall.push(wall);
        self.cpu.push(cpu);
    }

    fn medians(self) -> (f64, f64) {
        (median(self.wall), median(self.cpu))
    }
}

fn main() {
    let scenario = scenario();
    let moments = [relu_second_moment()];
    let draws = (BATCHES as u64 * DRAWS_PER_BATCH) as f64;
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
    };
    let (one, two) = (pool(1), pool(2));
    let (mut kernel, mut hand, mut kernel2) = (Runs::default(), Runs::default(), Runs::default());
    let (mut plain1, mut plain2) = (Runs::default(), Runs::default());
    for _ in 0..ROUNDS {
        kernel.push(time_sampler(&one, &scenario, &moments));
        hand.push(time_hand_loop());
        kernel2.push(time_sampler(&two, &scenario, &moments));
        plain1.push(time_plain_rayon(&one));
        plain2.push(time_plain_rayon(&two));
    }
    let (kernel, hand, kernel2) = (kernel.medians(), hand.medians(), kernel2.medians());
    let (plain1, plain2) = (plain1.medians(), plain2.medians());
    let rate = |s: f64| draws / s / 1e6;
    let ns = |s: f64| s / draws * 1e9;
    println!("E[relu(z)^2], z ~ N(0,1): {draws} draws, median of {ROUNDS} interleaved rounds");
    println!("                       wall Mdraws/s   CPU ns/draw");
    for (what, (wall, cpu)) in [
        ("sampler, 1 thread  ", kernel),
        ("hand-written loop  ", hand),
        ("sampler, 2 threads ", kernel2),
        ("plain rayon, 1     ", plain1),
        ("plain rayon, 2     ", plain2),
    ] {
        println!("  {what}: {:10.1}   {:10.2}", rate(wall), ns(cpu));
    }
    println!(
        "  sampler / hand loop, 1 thread: {:.2} wall, {:.2} CPU   (target >= 0.9)",
        hand.0 / kernel.0,
        hand.1 / kernel.1
    );
    println!(
        "  sampler, 2 threads over 1: speedup {:.2} wall (target >= 1.8), CPU {:.2}x",
        kernel.0 / kernel2.0,
        kernel2.1 / kernel.1
    );
    println!(
        "  plain rayon loop, 2 threads over 1: speedup {:.2} wall, CPU {:.2}x (what the machine gave)",
        plain1.0 / plain2.0,
        plain2.1 / plain1.1
    );
}
