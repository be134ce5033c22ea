//! The input-output Jacobian of a drawn network and the statistics of its
//! squared singular values.
//!
//! Xavier and He control the *mean* squared singular value of
//! J_l = dx_l/dx_0 (chi per layer); Pennington, Schoenholz & Ganguli (2017)
//! showed that what trains is the *spread* of the spectrum, which grows
//! with depth for Gaussian weights and stays at zero for orthogonal weights
//! in a linear network. So each input of each draw has its own Jacobian at
//! every layer, and we record, per layer:
//!
//! - `E[s2]`: the mean of the k = min(n_l, n_0) squared singular values,
//!   tr(G)/k with G the k x k Gram matrix (J J^T or J^T J, whichever is
//!   k x k; the other has n_0 - n_l further zeros that are not singular
//!   values of J);
//! - `E[s2^2]`: tr(G^2)/k, the mean of the fourth powers;
//! - `Var[s2]`: their variance *within* the Jacobian, ||G - E[s2] I||_F^2 / k
//!   (= tr(G^2)/k - (tr(G)/k)^2, written so that an isometry gives rounding
//!   squared rather than a difference of two ones);
//! - `max(s2)` and `min(s2)`: from the singular values of J itself (an SVD
//!   has absolute error about eps * max s rather than the Gram's
//!   eps * max s^2, so a small s2 keeps more digits; below about
//!   (eps * max s)^2 it is rounding, as any floating-point SVD's is).
//!
//! No SVD is needed for the first three. Each is averaged over the draw's
//! inputs, which share its weights; draws are the independent samples, as
//! for every other statistic. The Gram matrix, half of a draw's Jacobian
//! work, is summed by [`gram`] in nalgebra's own order of summation, so
//! that its bits are those of `tr_mul`, but once per pair of columns and
//! four columns at a time.
//!
//! J is built forward, in the product form the backward pass applies
//! (J_l = D_l W_l J_{l-1}, D_l = diag f'(y_l), J_0 = I), because the forward
//! order gives every layer's Jacobian for the cost of the last one. The
//! work is O(L n^2 n_0) per input, far above the O(L n^2) of the rest of a
//! draw, so it is done only for the networks and layers some claim, or
//! `initaudit net --jacobian`, asks for ([`Need`]), and counted in the
//! network's cost estimate ([`flops`], [`bytes`]).

use super::Network;
use super::products::combine;
use crate::memory::{self, OutOfMemory};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};

/// A statistic of the squared singular values s2 of J_l.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spectral {
    /// E[s2]: the mean squared singular value.
    Mean,
    /// E[s2^2]: the mean fourth power.
    Square,
    /// Var[s2]: the variance of the squared singular values within J.
    Spread,
    /// max(s2): the largest.
    Max,
    /// min(s2): the smallest of the k = min(n_l, n_0).
    Min,
}

impl Spectral {
    pub const ALL: [Spectral; 5] = [
        Spectral::Mean,
        Spectral::Square,
        Spectral::Spread,
        Spectral::Max,
        Spectral::Min,
    ];

    /// The column name in `initaudit net --jacobian`.
    pub fn name(self) -> &'static str {
        match self {
            Spectral::Mean => "E[s2]",
            Spectral::Square => "E[s2^2]",
            Spectral::Spread => "Var[s2]",
            Spectral::Max => "max(s2)",
            Spectral::Min => "min(s2)",
        }
    }

    /// Whether the statistic needs the Gram matrix (an extra product per
    /// layer), or the singular values (an SVD per layer).
    fn gram(self) -> bool {
        matches!(self, Spectral::Square | Spectral::Spread)
    }

    fn svd(self) -> bool {
        matches!(self, Spectral::Max | Spectral::Min)
    }
}

/// What Jacobian work a network's draws do. The default is none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Need {
    /// Any Jacobian statistic at all: J at every layer and E[s2].
    pub any: bool,
    /// E[s2^2] and Var[s2] at every layer (the Gram matrix).
    pub gram: bool,
    /// Layers (1..=L) whose singular values are computed, for max(s2) and
    /// min(s2).
    pub svd: Vec<usize>,
    /// Keep the last layer's squared singular values of every input (the
    /// histogram of `initaudit net --jacobian --plot`); implies its SVD.
    pub spectrum: bool,
}

impl Need {
    /// Adds what a statistic at layer `l` needs.
    pub fn add(&mut self, s: Spectral, l: usize) {
        self.any = true;
        self.gram |= s.gram();
        if s.svd() && !self.svd.contains(&l) {
            self.svd.push(l);
            self.svd.sort_unstable();
        }
    }

    /// Everything at every layer, and the last layer's spectrum.
    pub fn everything(depth: usize) -> Need {
        Need {
            any: true,
            gram: true,
            svd: (1..=depth).collect(),
            spectrum: true,
        }
    }

    fn svd_at(&self, l: usize, depth: usize) -> bool {
        self.svd.contains(&l) || (self.spectrum && l == depth)
    }
}

/// Multiply-adds of one draw's Jacobian work, in the units of the
/// network's estimate (a product's multiply-add), counting an SVD of an
/// m x k matrix (m >= k) as `SVD_FACTOR` m k^2: nalgebra's singular values
/// of a 128 x 128 Jacobian took about 2 such units per m k^2 on the
/// reference machine (BENCHMARKS.md), and an estimate that refuses must
/// not be low.
pub fn flops(widths: &[usize], inputs: usize, need: &Need) -> f64 {
    if !need.any {
        return 0.0;
    }
    let n0 = widths[0] as f64;
    let depth = widths.len() - 1;
    let mut per_input = 0.0;
    for l in 1..=depth {
        let (rows, cols) = (widths[l] as f64, widths[l - 1] as f64);
        let k = rows.min(n0);
        // J_l = W_l J_{l-1}, then E[s2] from its entries.
        per_input += rows * cols * n0 + rows * n0;
        if need.gram {
            per_input += k * k * rows.max(n0);
        }
        if need.svd_at(l, depth) {
            per_input += SVD_FACTOR * rows.max(n0) * k * k;
        }
    }
    inputs as f64 * per_input
}

/// See [`flops`].
const SVD_FACTOR: f64 = 4.0;

/// Bytes of one draw's Jacobian workspace: two Jacobians in turn, a
/// transposed copy, the Gram matrix, the SVD's own copy and work, and one
/// layer's slopes.
pub fn bytes(widths: &[usize], need: &Need) -> f64 {
    if !need.any {
        return 0.0;
    }
    let n0 = widths[0] as f64;
    let widest = widths[1..].iter().copied().max().unwrap_or(0) as f64;
    let k = widest.min(n0);
    let svd = if need.svd.is_empty() && !need.spectrum {
        0.0
    } else {
        2.0 * widest * n0
    };
    8.0 * (3.0 * widest * n0 + k * k + svd + widest)
}

/// Buffers for one draw's Jacobians, allocated once per rayon job.
pub struct Space {
    /// J_{l-1} and J_l, as the first n_l * n_0 entries (column-major).
    prev: Vec<f64>,
    next: Vec<f64>,
    /// J_l^T when n_l < n_0, so that the Gram matrix is J J^T.
    transposed: Vec<f64>,
    gram: Vec<f64>,
    /// f'(y_l) of the input at hand.
    slopes: Vec<f64>,
}

impl Space {
    pub fn new(net: &Network) -> Result<Space, OutOfMemory> {
        let n0 = net.widths[0];
        let widest = net.widths[1..].iter().copied().max().unwrap_or(0);
        let cells = widest
            .checked_mul(n0)
            .ok_or(OutOfMemory { bytes: u64::MAX })?;
        let k = widest.min(n0);
        Ok(Space {
            prev: memory::try_zeros(cells)?,
            next: memory::try_zeros(cells)?,
            transposed: if net.jacobian.gram {
                memory::try_zeros(cells)?
            } else {
                Vec::new()
            },
            gram: if net.jacobian.gram {
                memory::try_zeros(k * k)?
            } else {
                Vec::new()
            },
            slopes: memory::try_zeros(widest)?,
        })
    }
}

/// One draw's Jacobian statistics: `out(s, l)` receives the mean over
/// inputs of statistic `s` at layer l (only those `net.jacobian` asks for;
/// the others are left alone), and `spectrum` the last layer's squared
/// singular values of every input, when kept. `ws[l - 1]` is W_l and
/// `ys[l - 1]` is y_l (one column per input), as the forward pass left them.
pub fn record(
    net: &Network,
    ws: &[DMatrix<f64>],
    ys: &[DMatrix<f64>],
    space: &mut Space,
    out: &mut dyn FnMut(Spectral, usize, f64),
    spectrum: &mut Vec<f64>,
) {
    let need = &net.jacobian;
    let depth = net.depth();
    let n0 = net.widths[0];
    let inputs = net.inputs;
    let mut sums = vec![[0.0f64; 5]; depth + 1];
    for c in 0..inputs {
        for l in 1..=depth {
            let rows = net.widths[l];
            let d = ys[l - 1].column(c);
            {
                let (prev, next) = (&space.prev, &mut space.next);
                let mut j = DMatrixViewMut::from_slice(&mut next[..rows * n0], rows, n0);
                if l == 1 {
                    j.copy_from(&ws[0]);
                } else {
                    let before = DMatrixView::from_slice(
                        &prev[..net.widths[l - 1] * n0],
                        net.widths[l - 1],
                        n0,
                    );
                    ws[l - 1].mul_to(&before, &mut j);
                }
            }
            // Row i scaled by f'(y_i), a column at a time: the same
            // products as scaling each row, read and written in order.
            let slopes = &mut space.slopes[..rows];
            for (slope, y) in slopes.iter_mut().zip(d.iter()) {
                *slope = net.activation.derivative(*y);
            }
            for column in space.next[..rows * n0].chunks_exact_mut(rows) {
                for (v, slope) in column.iter_mut().zip(slopes.iter()) {
                    *v *= slope;
                }
            }
            std::mem::swap(&mut space.prev, &mut space.next);
            let j = DMatrixView::from_slice(&space.prev[..rows * n0], rows, n0);
            let k = rows.min(n0);
            let at = &mut sums[l];
            if need.gram {
                if rows >= n0 {
                    gram(&space.prev[..rows * n0], rows, &mut space.gram[..k * k]);
                } else {
                    let mut t =
                        DMatrixViewMut::from_slice(&mut space.transposed[..rows * n0], n0, rows);
                    j.transpose_to(&mut t);
                    gram(&space.transposed[..rows * n0], n0, &mut space.gram[..k * k]);
                }
                let g = DMatrixView::from_slice(&space.gram[..k * k], k, k);
                let mean = g.trace() / k as f64;
                let square = g.norm_squared() / k as f64;
                let mut off = 0.0;
                for (col, column) in g.column_iter().enumerate() {
                    for (row, v) in column.iter().enumerate() {
                        let centred = if row == col { v - mean } else { *v };
                        off += centred * centred;
                    }
                }
                at[Spectral::Mean as usize] += mean;
                at[Spectral::Square as usize] += square;
                at[Spectral::Spread as usize] += off / k as f64;
            } else {
                at[Spectral::Mean as usize] += j.norm_squared() / k as f64;
            }
            if need.svd_at(l, depth) {
                let s2 = squared_singular_values(j);
                let (lo, hi) = s2
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(*v), hi.max(*v))
                    });
                at[Spectral::Max as usize] += hi;
                at[Spectral::Min as usize] += lo;
                if need.spectrum && l == depth {
                    spectrum.extend(s2);
                }
            }
        }
    }
    let per = inputs as f64;
    for (l, at) in sums.iter().enumerate().skip(1) {
        out(Spectral::Mean, l, at[Spectral::Mean as usize] / per);
        if need.gram {
            for s in [Spectral::Square, Spectral::Spread] {
                out(s, l, at[s as usize] / per);
            }
        }
        if need.svd_at(l, depth) {
            for s in [Spectral::Max, Spectral::Min] {
                out(s, l, at[s as usize] / per);
            }
        }
    }
}

/// G = A^T A for the column-major `a` with `m` rows (G is k x k, k the
/// columns of `a`), each entry summed exactly as nalgebra's `dot` (and so
/// `tr_mul`) sums it: eight interleaved partial sums over the rows, added
/// in the pairs (0, 4), (1, 5), (2, 6), (3, 7) in turn, then the rows left
/// over. G is nalgebra's product to the bit, at a fraction of the cost:
/// only the upper triangle is summed (a.b and b.a are the same products in
/// the same order) and mirrored, and with AVX2 four columns are dotted
/// against one at a time, the eight partial sums of each in two vector
/// registers (multiplies and adds, no FMA, which would change the
/// roundings).
fn gram(a: &[f64], m: usize, g: &mut [f64]) {
    let k = a.len().checked_div(m).unwrap_or(0);
    assert!(a.len() == m * k && g.len() == k * k);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above, and the
        // shapes were checked against the slices' lengths.
        unsafe { gram_avx2(a, m, k, g) };
        return;
    }
    gram_portable(a, m, k, g);
}

/// [`gram`] one entry at a time.
fn gram_portable(a: &[f64], m: usize, k: usize, g: &mut [f64]) {
    let whole = m - m % 8;
    for j in 0..k {
        let right = &a[j * m..(j + 1) * m];
        for i in 0..=j {
            let left = &a[i * m..(i + 1) * m];
            let mut sums = [0.0f64; 8];
            for start in (0..whole).step_by(8) {
                for (lane, sum) in sums.iter_mut().enumerate() {
                    *sum += left[start + lane] * right[start + lane];
                }
            }
            let d = combine(&sums, &left[whole..], &right[whole..]);
            g[j * k + i] = d;
            g[i * k + j] = d;
        }
    }
}

/// Columns dotted against one column at a time in [`gram_avx2`]: eight
/// accumulating registers, two loads of the one column, and a load and a
/// product in flight stay within AVX2's sixteen registers.
#[cfg(target_arch = "x86_64")]
const GRAM_BLOCK: usize = 4;

/// [`gram`] with AVX2: lanes 0-3 and 4-7 of the eight partial sums are two
/// registers, whose sum is the four pairs nalgebra adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gram_avx2(a: &[f64], m: usize, k: usize, g: &mut [f64]) {
    for j in 0..k {
        let mut i = 0;
        while i + GRAM_BLOCK <= j + 1 {
            // SAFETY: AVX2 is enabled here; the columns are inside `a`.
            let dots = unsafe { dots_avx2::<GRAM_BLOCK>(a, m, i, j) };
            for (q, d) in dots.into_iter().enumerate() {
                g[j * k + i + q] = d;
                g[(i + q) * k + j] = d;
            }
            i += GRAM_BLOCK;
        }
        for i in i..=j {
            // SAFETY: as above.
            let [d] = unsafe { dots_avx2::<1>(a, m, i, j) };
            g[j * k + i] = d;
            g[i * k + j] = d;
        }
    }
}

/// The dots of columns `i .. i + B` of `a` with column `j`, in
/// nalgebra's order of summation.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn dots_avx2<const B: usize>(a: &[f64], m: usize, i: usize, j: usize) -> [f64; B] {
    use std::arch::x86_64::*;
    let whole = m - m % 8;
    let column = |c: usize| &a[c * m..(c + 1) * m];
    let right = column(j);
    let lefts: [&[f64]; B] = std::array::from_fn(|q| column(i + q));
    let mut lo = [_mm256_setzero_pd(); B];
    let mut hi = [_mm256_setzero_pd(); B];
    for start in (0..whole).step_by(8) {
        // SAFETY: start + 8 <= whole <= m, the length of every column.
        let (r0, r1) = unsafe {
            let p = right.as_ptr().add(start);
            (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)))
        };
        for q in 0..B {
            // SAFETY: as above.
            let (l0, l1) = unsafe {
                let p = lefts[q].as_ptr().add(start);
                (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)))
            };
            lo[q] = _mm256_add_pd(lo[q], _mm256_mul_pd(l0, r0));
            hi[q] = _mm256_add_pd(hi[q], _mm256_mul_pd(l1, r1));
        }
    }
    std::array::from_fn(|q| {
        let mut sums = [0.0f64; 8];
        // SAFETY: `sums` holds eight f64, two registers' worth.
        unsafe {
            _mm256_storeu_pd(sums.as_mut_ptr(), lo[q]);
            _mm256_storeu_pd(sums.as_mut_ptr().add(4), hi[q]);
        }
        combine(&sums, &lefts[q][whole..], &right[whole..])
    })
}

/// Sweeps of the SVD's implicit QR before it gives up: far more than it
/// takes (a few per singular value), so that a run is bounded. A Jacobian
/// whose SVD does not converge gives NaN, which a claim reports as a side
/// that is not finite, never as a number.
const SVD_SWEEPS: usize = 10_000;

/// The squared singular values of `j`, in no particular order.
fn squared_singular_values(j: DMatrixView<f64>) -> Vec<f64> {
    let k = j.nrows().min(j.ncols());
    match nalgebra::SVD::try_new_unordered(j.clone_owned(), false, false, f64::EPSILON, SVD_SWEEPS)
    {
        Some(svd) => svd.singular_values.iter().map(|s| s * s).collect(),
        None => vec![f64::NAN; k],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// The Gram matrix is nalgebra's `tr_mul` (what `record` called before)
    /// to the bit, at shapes with and without a whole number of blocks of
    /// eight rows and four columns, and with entries spread over many
    /// decades so that any change in the order of summation would show.
    #[test]
    fn gram_is_nalgebras_product_to_the_bit() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(14);
        for (m, k) in [(48, 48), (13, 7), (8, 5), (3, 9), (1, 1), (17, 33), (64, 4)] {
            let a = DMatrix::from_fn(m, k, |_, _| {
                let mantissa: f64 = rng.random_range(-1.0..1.0);
                mantissa * 10f64.powi(rng.random_range(-8..8))
            });
            let expected = a.tr_mul(&a);
            let mut g = vec![f64::NAN; k * k];
            gram(a.as_slice(), m, &mut g);
            let mut portable = vec![f64::NAN; k * k];
            gram_portable(a.as_slice(), m, k, &mut portable);
            for ((got, alone), want) in g.iter().zip(&portable).zip(expected.iter()) {
                assert_eq!(got.to_bits(), want.to_bits(), "m = {m}, k = {k}");
                assert_eq!(alone.to_bits(), want.to_bits(), "m = {m}, k = {k}");
            }
        }
    }
}
