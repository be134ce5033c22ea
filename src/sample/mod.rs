//! Sampled evaluation: Monte Carlo estimates of moments, with batch-means
//! standard errors, reproducible to the bit.
//!
//! A [`Sampler`] estimates every moment of one claim in one scenario from
//! one shared stream of draws. Sharing is deliberate (common random
//! numbers): when a claim says `E[relu(y)^2] = Var[y]/2`, both sides see the
//! same `y`, so the error of their difference is far smaller than the error
//! of either side, and a verdict needs far fewer draws.
//!
//! The draws are split into `B` independent batches. Each batch's estimate
//! of a statistic is one observation; their spread gives a standard error
//! for anything computed from the moments (a ratio, a product, a variance)
//! without a delta-method formula for each. The pooled estimate merges the
//! batches' running summaries exactly, so it is the estimate from all draws.
//!
//! Reproducibility: batch `b` draws from its own counter-based stream
//! ([`StreamKey`]), and batches never share state, so running them on any
//! number of threads in any order gives the same bits. A sampler grows by
//! [`Sampler::extend`], each batch continuing its own stream; the same
//! sequence of `extend` calls gives the same numbers. (Chunk boundaries
//! follow the calls, so `extend(a); extend(b)` and `extend(a + b)` are
//! equally valid samples but not the same bits.)

mod accum;
mod kernel;
mod stream;

use std::fmt;

use rayon::prelude::*;

use crate::model::Scenario;
use crate::model::law::Lanes;
use crate::model::rv::Moment;

use accum::Summary;
use kernel::{Kernel, LANES};

pub use stream::StreamKey;

/// Why sampling stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleError {
    /// A draw made moment `moment`'s expression NaN or infinite (say
    /// `log(y)` with `y < 0`), or its running sums overflowed. The estimate
    /// would be meaningless, so none is given.
    NonFinite { moment: usize, value: f64 },
}

impl fmt::Display for SampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SampleError::NonFinite { moment, value } => write!(
                f,
                "moment {moment} is not finite on the sampled draws (met {value})"
            ),
        }
    }
}

impl std::error::Error for SampleError {}

/// Monte Carlo estimator of a list of moments under one scenario.
#[derive(Clone, Debug)]
pub struct Sampler {
    kernel: Kernel,
    sums: LaneSums,
    batches: Vec<Batch>,
    draws_per_batch: u64,
}

/// Which registers' lanes the moments sum per chunk, each register once
/// (`E[f]` and `Var[f]` read one sum), and per moment where its sums of x
/// and y are in that list.
#[derive(Clone, Debug)]
struct LaneSums {
    registers: Vec<usize>,
    /// Per moment, the indices of its x's and y's sums in `registers`.
    of_moment: Vec<(usize, usize)>,
    /// Per chunk run at once, where each register lives in the shared
    /// register file (`Kernel::chunk_slots`): the summed registers, which
    /// are all the moments read, apart per chunk, the rest shared.
    slots: Vec<Vec<usize>>,
}

impl LaneSums {
    fn new(kernel: &Kernel) -> LaneSums {
        let mut registers: Vec<usize> = Vec::new();
        let mut index = |r: usize| match registers.iter().position(|&s| s == r) {
            Some(i) => i,
            None => {
                registers.push(r);
                registers.len() - 1
            }
        };
        let of_moment = kernel
            .roots()
            .iter()
            .map(|root| (index(root.x), index(root.y)))
            .collect();
        let slots = kernel.chunk_slots(&registers, CHUNKS_AT_ONCE);
        LaneSums {
            registers,
            of_moment,
            slots,
        }
    }

    /// Every listed register's sum over the `n` lanes of each of the
    /// first `chunks` chunks in `file` (run with the same `n`) into `out`,
    /// chunk by chunk: `out[c * registers + j]`. One sum's additions are a
    /// chain, each waiting for the last; eight chains side by side in one
    /// pass keep the adders busy, which is why several chunks are run
    /// before they are summed. Each sum is still taken in lane order, so
    /// its bits are those of a sum on its own.
    fn sum_lanes(&self, kernel: &Kernel, file: &[f64], chunks: usize, n: usize, out: &mut [f64]) {
        let per_chunk = self.registers.len();
        let lanes = |i: usize| {
            let (c, j) = (i / per_chunk, i % per_chunk);
            kernel.lanes(file, &self.slots[c], self.registers[j], n)
        };
        let all = chunks * per_chunk;
        for (start, out) in (0..all)
            .step_by(accum::CHAINS)
            .zip(out[..all].chunks_mut(accum::CHAINS))
        {
            // a last group short of chains repeats its first sum in the
            // rest, whose results are dropped
            let group: [&[f64]; accum::CHAINS] =
                std::array::from_fn(|k| lanes(if start + k < all { start + k } else { start }));
            let group_sums = accum::sums(group);
            out.copy_from_slice(&group_sums[..out.len()]);
        }
    }
}

#[derive(Clone, Debug)]
struct Batch {
    rng: Lanes,
    /// One per moment, in the order of the moments given to `new`.
    summaries: Vec<Summary>,
}

impl Sampler {
    /// Compiles every moment's expressions once into a batch kernel and
    /// seeds `batches` streams from `key`. No draws are made yet.
    pub fn new(scenario: &Scenario, moments: &[Moment], key: StreamKey, batches: usize) -> Sampler {
        let kernel = Kernel::compile(scenario, moments);
        let sums = LaneSums::new(&kernel);
        let batches = (0..batches as u64)
            .map(|b| Batch {
                rng: key.lanes(b),
                summaries: vec![Summary::EMPTY; moments.len()],
            })
            .collect();
        Sampler {
            kernel,
            sums,
            batches,
            draws_per_batch: 0,
        }
    }

    /// Adds `draws` more draws to every batch, continuing each batch's own
    /// stream; batches run in parallel. The result is bitwise identical for
    /// any number of threads. On error the sampler is left as it was, and
    /// the error is that of the lowest-numbered failing batch, so it too
    /// does not depend on scheduling.
    pub fn extend(&mut self, draws: u64) -> Result<(), SampleError> {
        let (kernel, sums) = (&self.kernel, &self.sums);
        // The register file and the chunk's sums are scratch, written
        // before they are read in every chunk, so a worker reuses them
        // from batch to batch instead of allocating per batch.
        let advanced: Vec<Result<Batch, SampleError>> = self
            .batches
            .par_iter()
            .map_init(
                || Scratch {
                    file: kernel.register_file(sums.registers.len(), CHUNKS_AT_ONCE),
                    sums: vec![0.0; CHUNKS_AT_ONCE * sums.registers.len()],
                },
                |scratch, b| b.advanced(kernel, sums, scratch, draws),
            )
            .collect();
        self.batches = advanced.into_iter().collect::<Result<_, _>>()?;
        self.draws_per_batch = self.draws_per_batch.saturating_add(draws);
        Ok(())
    }

    pub fn draws_per_batch(&self) -> u64 {
        self.draws_per_batch
    }

    pub fn batches(&self) -> usize {
        self.batches.len()
    }

    /// Per batch, the estimate of every moment: `[batch][moment]`. Means
    /// are plain means; variances and covariances use the unbiased `n - 1`
    /// divisor. NaN where a batch has too few draws.
    pub fn batch_estimates(&self) -> Vec<Vec<f64>> {
        self.batches
            .iter()
            .map(|b| {
                b.summaries
                    .iter()
                    .zip(self.kernel.roots())
                    .map(|(s, root)| s.estimate(root.kind))
                    .collect()
            })
            .collect()
    }

    /// Every moment estimated from all draws of all batches, by merging the
    /// batch summaries exactly (in batch order, so the bits are fixed).
    pub fn pooled(&self) -> Vec<f64> {
        self.kernel
            .roots()
            .iter()
            .enumerate()
            .map(|(m, root)| {
                self.batches
                    .iter()
                    .fold(Summary::EMPTY, |acc, b| acc.merge(&b.summaries[m]))
                    .estimate(root.kind)
            })
            .collect()
    }

    /// Work per draw in kernel-lane operations: each source fill, each
    /// instruction and each moment's accumulation counts one per component,
    /// and a `sum`'s body counts once per copy. Callers budget draws by it.
    pub fn cost_per_draw(&self) -> u64 {
        self.kernel.cost_per_draw()
    }
}

/// A worker's buffers for [`Batch::advanced`].
struct Scratch {
    /// The register file of the chunks run at once (`LaneSums::slots`).
    file: Vec<f64>,
    sums: Vec<f64>,
}

/// Full chunks run before their lanes are summed together (see
/// `LaneSums::sum_lanes`); a last partial chunk runs alone.
const CHUNKS_AT_ONCE: usize = 8;

impl Batch {
    /// This batch after `draws` more draws, or the first non-finite value
    /// met on the way.
    fn advanced(
        &self,
        kernel: &Kernel,
        sums: &LaneSums,
        scratch: &mut Scratch,
        draws: u64,
    ) -> Result<Batch, SampleError> {
        let mut next = self.clone();
        let per_chunk = sums.registers.len();
        let mut left = draws;
        while left > 0 {
            // the chunks are those of one chunk at a time: full ones, then
            // the remainder
            let full = (left / LANES as u64).min(CHUNKS_AT_ONCE as u64) as usize;
            let (chunks, n) = if full > 0 {
                (full, LANES)
            } else {
                (1, left as usize)
            };
            let file = &mut scratch.file;
            for slots in &sums.slots[..chunks] {
                kernel.run(file, slots, &mut next.rng, n);
            }
            sums.sum_lanes(kernel, file, chunks, n, &mut scratch.sums);
            for (slots, chunk_sums) in sums.slots[..chunks]
                .iter()
                .zip(scratch.sums.chunks(per_chunk.max(1)))
            {
                for (moment, ((root, summary), &(sx, sy))) in kernel
                    .roots()
                    .iter()
                    .zip(&mut next.summaries)
                    .zip(&sums.of_moment)
                    .enumerate()
                {
                    let x = kernel.lanes(file, slots, root.x, n);
                    let y = kernel.lanes(file, slots, root.y, n);
                    let chunk =
                        Summary::of_summed_chunk(root.kind, x, y, chunk_sums[sx], chunk_sums[sy]);
                    let merged = summary.merge(&chunk);
                    if !merged.is_finite() {
                        let value = x
                            .iter()
                            .chain(y)
                            .copied()
                            .chain([merged.mean_x, merged.mean_y, merged.comoment])
                            .find(|v| !v.is_finite())
                            .unwrap_or(f64::NAN);
                        return Err(SampleError::NonFinite { moment, value });
                    }
                    *summary = merged;
                }
            }
            left -= (chunks * n) as u64;
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests;
