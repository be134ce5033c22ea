//! Nanoseconds per multiply-add of a draw's two products at he-30's shape
//! (256 x 256, four inputs), on every path this CPU can run
//! (`net::products::transpose_paths`, `accumulate_paths`):
//!
//! - W^T dy with W read from L3: thirty layers' matrices (15 MiB, as one
//!   draw of he-30 holds) taken in turn, as the backward pass reads them;
//! - W^T dy with W in L2: one matrix again and again;
//! - the forward block product (y += W[:, j..j+4] x[j..j+4]) over one
//!   matrix's blocks, each just drawn and so in L1 or L2 in a draw.
//!
//! Rounds alternate the variants and the median over rounds is reported,
//! with each variant's CPU time over all rounds from this thread's
//! scheduler statistics (benches/common: under load, wall time measures
//! the neighbours as well).

use std::hint::black_box;

use initaudit::model::law::Law;
use initaudit::net::products::{self, BLOCK};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

mod common;

const ROWS: usize = 256;
const COLS: usize = 256;
const INPUTS: usize = 4;
const LAYERS: usize = 30;
/// Products per timing: about 20 ms each.
const REPEATS: usize = 300;
const ROUNDS: usize = 11;

fn main() {
    let law = Law::Normal { mean: 0.0, sd: 0.1 };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut filled = |len: usize| {
        let mut v = vec![0.0; len];
        law.fill(&mut rng, &mut v);
        v
    };
    let ws: Vec<Vec<f64>> = (0..LAYERS).map(|_| filled(ROWS * COLS)).collect();
    let dy = filled(ROWS * INPUTS);
    let x = filled(COLS * INPUTS);
    type Variant<'a> = (String, Box<dyn FnMut(usize) + 'a>);
    let mut variants: Vec<Variant> = Vec::new();
    for (name, product) in products::transpose_paths() {
        let (ws, dy, mut back) = (&ws, &dy, vec![0.0; COLS * INPUTS]);
        variants.push((
            format!("W^T dy, W from L3, {name}"),
            Box::new(move |r| {
                product(ROWS, &ws[r % LAYERS], dy, &mut back);
                black_box(&back);
            }),
        ));
    }
    for (name, product) in products::transpose_paths() {
        let (w, dy, mut back) = (&ws[0], &dy, vec![0.0; COLS * INPUTS]);
        variants.push((
            format!("W^T dy, W in L2, {name}"),
            Box::new(move |_| {
                product(ROWS, w, dy, &mut back);
                black_box(&back);
            }),
        ));
    }
    for (name, product) in products::accumulate_paths() {
        let (w, x, mut y) = (&ws[0], &x, vec![0.0; ROWS * INPUTS]);
        variants.push((
            format!("forward W x, {name}"),
            Box::new(move |_| {
                for (block, ws) in w.chunks(ROWS * BLOCK).enumerate() {
                    product(ROWS, COLS, block * BLOCK, ws, x, &mut y);
                }
                black_box(&y);
            }),
        ));
    }
    let per = (ROWS * COLS * INPUTS * REPEATS) as f64;
    let results = common::alternating(variants.len(), ROUNDS, per, |v| {
        let run = &mut variants[v].1;
        for r in 0..REPEATS {
            run(r);
        }
    });
    println!(
        "ns per multiply-add at {ROWS} x {COLS}, {INPUTS} inputs: wall (median of {ROUNDS} rounds of {REPEATS} products) and CPU (all rounds)"
    );
    for ((name, _), (wall, cpu)) in variants.iter().zip(results) {
        println!("{name:<36} wall {wall:7.4}   cpu {cpu:7.4}");
    }
}
