//! Nanoseconds per normal and per uniform draw: the scalar xoshiro256++
//! with the ziggurat inlined (`Ziggurat::draw_held` on a local generator,
//! the loop the sampler and the networks drew with before the lanes),
//! against the eight-lane generator's fills on their baseline loops (the
//! scalar ziggurat and uniform over the buffered words; the refills still
//! take this CPU's widest path), on session 5's uniform path (every word
//! stored by a refill and loaded again: `fill_uniform_buffered`) and on
//! the path this CPU takes (AVX-512, whose uniform fill steps the lanes in
//! registers, or AVX2 where present). Session 5's normal fill is the
//! benchmark binary built from its commit, run alternately with this one
//! (BENCHMARKS.md).
//!
//! Each round fills the same buffer [`REPEATS`] times per variant, the
//! variants alternating, and the median wall time over rounds is reported,
//! so a neighbour on a shared machine slows every variant alike. Beside it,
//! each variant's CPU time over all rounds, from this thread's scheduler
//! statistics (`/proc/thread-self/schedstat`, nanoseconds of running; the
//! kernel updates them at its tick, so only totals over many milliseconds
//! are read): under load, wall time measures the neighbours as well.

use std::hint::black_box;

use initaudit::model::law::{self, Lanes, Law};
use rand::{Rng, SeedableRng};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus};

mod common;

/// Draws per fill: a buffer (32 KiB) that stays in L1 or L2, as a block
/// of a layer's weights and the sampler's registers do.
const DRAWS: usize = 1 << 12;
/// Fills per timing: about 30 ms each, many scheduler ticks.
const REPEATS: usize = 1 << 12;
const ROUNDS: usize = 15;

fn lanes(seed: u64) -> Lanes {
    let mut sm = SplitMix64::seed_from_u64(seed);
    Lanes::new(std::array::from_fn(|_| {
        std::array::from_fn(|_| sm.next_u64())
    }))
}

fn main() {
    let uniform = Law::Uniform { lo: -1.0, hi: 1.0 };
    let mut scalar = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut baseline = lanes(1);
    let mut detected = lanes(1);
    let mut out = vec![0.0; DRAWS];
    type Variant<'a> = (&'static str, Box<dyn FnMut(&mut [f64]) + 'a>);
    let variants: Vec<Variant> = vec![
        (
            "normal, scalar xoshiro (draw_held)",
            Box::new(|o| {
                let ziggurat = law::standard_normal();
                let mut held = scalar.clone();
                for x in o {
                    *x = ziggurat.draw_held(&mut held);
                }
                scalar = held;
            }),
        ),
        (
            "normal, lanes, baseline ziggurat",
            Box::new(|o| baseline.fill_normal_in(0.0, 1.0, o)),
        ),
        (
            "normal, lanes, this CPU's path",
            Box::new(|o| detected.fill_normal(0.0, 1.0, o)),
        ),
    ];
    let mut scalar_u = Xoshiro256PlusPlus::seed_from_u64(2);
    let mut baseline_u = lanes(2);
    let mut buffered_u = lanes(2);
    let mut detected_u = lanes(2);
    let mut all = variants;
    all.push((
        "uniform, scalar xoshiro (fill)",
        Box::new(|o| uniform.fill(&mut scalar_u, o)),
    ));
    all.push((
        "uniform, lanes, baseline loop",
        Box::new(|o| baseline_u.fill_uniform_in(-1.0, 2.0, o)),
    ));
    all.push((
        "uniform, lanes, buffered (session 5)",
        Box::new(|o| buffered_u.fill_uniform_buffered(-1.0, 2.0, o)),
    ));
    all.push((
        "uniform, lanes, this CPU's path",
        Box::new(|o| detected_u.fill_uniform(-1.0, 2.0, o)),
    ));
    let per = (DRAWS * REPEATS) as f64;
    let results = common::alternating(all.len(), ROUNDS, per, |v| {
        let fill = &mut all[v].1;
        for _ in 0..REPEATS {
            fill(&mut out);
            black_box(&out);
        }
    });
    let avx2 = cfg!(target_arch = "x86_64") && {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    };
    println!(
        "ns per draw: wall (median of {ROUNDS} rounds of {REPEATS} x {DRAWS}) and CPU (all rounds); AVX2: {avx2}"
    );
    let (medians, cpus): (Vec<f64>, Vec<f64>) = results.into_iter().unzip();
    // each ratio against the scalar loop of its law, and the uniform's
    // detected path's against session 5's buffered one just before it
    for (i, (name, _)) in all.iter().enumerate() {
        let law = |n: &str| n.split(',').next().map(str::to_owned);
        let first = all.iter().position(|(n, _)| law(n) == law(name)).unwrap();
        print!(
            "{name:<38} wall {:6.3} ({:.2}x)   cpu {:6.3} ({:.2}x)",
            medians[i],
            medians[first] / medians[i],
            cpus[i],
            cpus[first] / cpus[i]
        );
        if i > 0 && all[i - 1].0.contains("buffered") {
            print!(
                "   vs buffered: wall {:.2}x, cpu {:.2}x",
                medians[i - 1] / medians[i],
                cpus[i - 1] / cpus[i]
            );
        }
        println!();
    }
}
