//! What the one-thread benches (`normals`, `products`) share: variants run
//! in alternating rounds, each timed by the wall clock and by this thread's
//! own CPU time.
//!
//! Alternating the variants within each round makes a neighbour on a
//! shared machine slow every variant alike, and the median over rounds is
//! the wall figure. The CPU figure is the thread's running time over all
//! rounds, from the scheduler's statistics (`/proc/thread-self/schedstat`,
//! nanoseconds of running; the kernel updates them at its tick, so only
//! totals over many milliseconds are read): under load, wall time measures
//! the neighbours as well as the code.

use std::time::Instant;

/// Nanoseconds this thread has run (0 where the kernel does not say).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Calls `run(v)` for every variant `v` in `0..variants`, in turn, for
/// `rounds` rounds; `units` is the work one call does (draws, multiply-adds).
/// Returns each variant's median wall nanoseconds per unit and its CPU
/// nanoseconds per unit over all rounds.
pub fn alternating(
    variants: usize,
    rounds: usize,
    units: f64,
    mut run: impl FnMut(usize),
) -> Vec<(f64, f64)> {
    let mut wall = vec![Vec::new(); variants];
    let mut cpu = vec![0u64; variants];
    for _ in 0..rounds {
        for (v, (wall, cpu)) in wall.iter_mut().zip(&mut cpu).enumerate() {
            let (before, start) = (cpu_ns(), Instant::now());
            run(v);
            wall.push(start.elapsed().as_nanos() as f64 / units);
            *cpu += cpu_ns() - before;
        }
    }
    wall.into_iter()
        .zip(cpu)
        .map(|(w, c)| (median(w), c as f64 / units / rounds as f64))
        .collect()
}
