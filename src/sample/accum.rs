//! Running moment summaries that merge exactly.
//!
//! Every batch keeps, for each moment, a count, the mean(s) and a centred
//! co-moment `C = Σ (x - x̄)(y - ȳ)` (for a variance, `y` is `x`). Chunks of
//! draws are summarised by a corrected two-pass (Chan, Golub and LeVeque
//! 1983): mean first, then sums of centred values, minus the small
//! correction that cancels the rounding error of the mean. Summaries then
//! merge by Chan et al.'s pairwise formula, which is exact in exact
//! arithmetic and stable in floating point. The naive `Σx² - n x̄²` would
//! lose every digit when the mean is large against the spread — the case of
//! `E[x^2]` with a shifted input — so it is never used.
//!
//! Pooling the batches uses the same merge, so the pooled estimate is the
//! estimate from all draws together, not an average of batch estimates.

/// The state of one moment's estimator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    pub count: u64,
    pub mean_x: f64,
    pub mean_y: f64,
    /// Σ (x - x̄)(y - ȳ); unused (zero) for a plain mean.
    pub comoment: f64,
}

/// What a summary estimates, which decides what a chunk summary computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Mean,
    Variance,
    Covariance,
}

impl Summary {
    pub const EMPTY: Summary = Summary {
        count: 0,
        mean_x: 0.0,
        mean_y: 0.0,
        comoment: 0.0,
    };

    /// Summary of one chunk. `y` is ignored unless `kind` is `Covariance`.
    #[cfg(test)]
    pub fn of_chunk(kind: Kind, x: &[f64], y: &[f64]) -> Summary {
        let sum_y = if kind == Kind::Covariance {
            y[..x.len()].iter().sum()
        } else {
            0.0
        };
        Summary::of_summed_chunk(kind, x, y, x.iter().sum(), sum_y)
    }

    /// [`Summary::of_chunk`] given the chunk's sums of `x` and (for a
    /// covariance) of `y`, in lane order: the sampler adds the lanes of
    /// several moments in one pass (see `lane_sums`), so their dependent
    /// chains of additions overlap.
    pub fn of_summed_chunk(kind: Kind, x: &[f64], y: &[f64], sum_x: f64, sum_y: f64) -> Summary {
        let n = x.len();
        if n == 0 {
            return Summary::EMPTY;
        }
        let nf = n as f64;
        let mean_x = sum_x / nf;
        match kind {
            Kind::Mean => Summary {
                count: n as u64,
                mean_x,
                mean_y: mean_x,
                comoment: 0.0,
            },
            Kind::Variance => {
                let (mut sd, mut sd2) = (0.0, 0.0);
                for &v in x {
                    let d = v - mean_x;
                    sd += d;
                    sd2 += d * d;
                }
                Summary {
                    count: n as u64,
                    mean_x,
                    mean_y: mean_x,
                    comoment: sd2 - sd * sd / nf,
                }
            }
            Kind::Covariance => {
                let y = &y[..n];
                let mean_y = sum_y / nf;
                let (mut sx, mut sy, mut sxy) = (0.0, 0.0, 0.0);
                for (&a, &b) in x.iter().zip(y) {
                    let (dx, dy) = (a - mean_x, b - mean_y);
                    sx += dx;
                    sy += dy;
                    sxy += dx * dy;
                }
                Summary {
                    count: n as u64,
                    mean_x,
                    mean_y,
                    comoment: sxy - sx * sy / nf,
                }
            }
        }
    }

    /// Chan et al.'s pairwise merge: the summary of both sets of draws.
    pub fn merge(&self, other: &Summary) -> Summary {
        if other.count == 0 {
            return *self;
        }
        if self.count == 0 {
            return *other;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let dx = other.mean_x - self.mean_x;
        let dy = other.mean_y - self.mean_y;
        Summary {
            count: self.count + other.count,
            mean_x: self.mean_x + dx * (nb / n),
            mean_y: self.mean_y + dy * (nb / n),
            comoment: self.comoment + other.comoment + dx * dy * (na * nb / n),
        }
    }

    /// The estimate: the mean, or the unbiased (n - 1) variance or
    /// covariance. NaN while there are too few draws to say anything.
    pub fn estimate(&self, kind: Kind) -> f64 {
        match kind {
            Kind::Mean if self.count > 0 => self.mean_x,
            Kind::Variance | Kind::Covariance if self.count > 1 => {
                self.comoment / (self.count - 1) as f64
            }
            _ => f64::NAN,
        }
    }

    pub fn is_finite(&self) -> bool {
        self.mean_x.is_finite() && self.mean_y.is_finite() && self.comoment.is_finite()
    }
}

/// How many sums [`sums`] takes side by side: an addition's latency is
/// four cycles and two can start per cycle, so eight chains keep the
/// adders busy where four left them idle half the time.
pub(crate) const CHAINS: usize = 8;

/// Each slice's sum in index order, the [`CHAINS`] dependent chains of
/// additions side by side in one pass. Each starts from -0.0 as
/// `Iterator::sum` does, so every sum has the bits of `x.iter().sum()`.
///
/// # Panics
/// If the slices differ in length.
pub(crate) fn sums(lanes: [&[f64]; CHAINS]) -> [f64; CHAINS] {
    let n = lanes[0].len();
    assert!(
        lanes.iter().all(|x| x.len() == n),
        "lanes summed side by side have one length"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, just checked.
        return unsafe { sums_avx2(lanes) };
    }
    sums_in(lanes, [-0.0; CHAINS], 0)
}

/// The chains from index `from` on, continuing from `s`: the definition,
/// one addition at a time.
fn sums_in(lanes: [&[f64]; CHAINS], mut s: [f64; CHAINS], from: usize) -> [f64; CHAINS] {
    for (sum, x) in s.iter_mut().zip(lanes) {
        for &v in &x[from..] {
            *sum += v;
        }
    }
    s
}

/// [`sums_in`] four indices at a time: four consecutive values of each of
/// four slices are transposed into four registers, register k holding
/// index l + k of four chains, which are then added in order into the
/// register of those chains. Each chain is still its own additions in
/// index order, so no bit changes; two registers of chains hide each
/// other's latency. The transpose loads halves of registers (an insert
/// from memory is not a shuffle), leaving four shuffles per sixteen values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sums_avx2(lanes: [&[f64]; CHAINS]) -> [f64; CHAINS] {
    use std::arch::x86_64::*;
    let n = lanes[0].len();
    let whole = n - n % 4;
    let mut acc = [_mm256_set1_pd(-0.0); CHAINS / 4];
    let mut l = 0;
    while l < whole {
        for (g, acc) in acc.iter_mut().enumerate() {
            let [a0, a1, a2, a3] = [0, 1, 2, 3].map(|k| lanes[4 * g + k].as_ptr());
            // SAFETY: l + 4 <= whole <= n, every slice's length (checked
            // by `sums`), so each load reads two of its values.
            let halves = |low: *const f64, high: *const f64, at: usize| unsafe {
                _mm256_insertf128_pd::<1>(
                    _mm256_castpd128_pd256(_mm_loadu_pd(low.add(at))),
                    _mm_loadu_pd(high.add(at)),
                )
            };
            // (a0[l], a0[l+1], a2[l], a2[l+1]) and so on
            let u0 = halves(a0, a2, l);
            let u1 = halves(a1, a3, l);
            let u2 = halves(a0, a2, l + 2);
            let u3 = halves(a1, a3, l + 2);
            *acc = _mm256_add_pd(*acc, _mm256_unpacklo_pd(u0, u1));
            *acc = _mm256_add_pd(*acc, _mm256_unpackhi_pd(u0, u1));
            *acc = _mm256_add_pd(*acc, _mm256_unpacklo_pd(u2, u3));
            *acc = _mm256_add_pd(*acc, _mm256_unpackhi_pd(u2, u3));
        }
        l += 4;
    }
    let mut s = [0.0; CHAINS];
    for (four, acc) in s.chunks_exact_mut(4).zip(acc) {
        // SAFETY: four is four f64s, which an unaligned store writes.
        unsafe { _mm256_storeu_pd(four.as_mut_ptr(), acc) };
    }
    sums_in(lanes, s, whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook two-pass over all values at once: the reference.
    fn two_pass(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
        let n = x.len() as f64;
        let mx = x.iter().sum::<f64>() / n;
        let my = y.iter().sum::<f64>() / n;
        let c: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        (mx, my, c / (n - 1.0))
    }

    fn merged(kind: Kind, x: &[f64], y: &[f64], cuts: &[usize]) -> Summary {
        let mut acc = Summary::EMPTY;
        let mut start = 0;
        for &end in cuts.iter().chain(std::iter::once(&x.len())) {
            let end = end.clamp(start, x.len());
            acc = acc.merge(&Summary::of_chunk(kind, &x[start..end], &y[start..end]));
            start = end;
        }
        acc
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
    }

    /// The interleaved sums are `iter().sum()`, bit for bit: the same
    /// order, the same start (an all -0.0 slice sums to -0.0), the same
    /// NaN and infinity; on the vector path this CPU takes and on the
    /// definition, for every length up to one past a chunk's (so every
    /// remainder after the vector path's groups of four).
    #[test]
    fn interleaved_sums_are_iterator_sums() {
        let a: Vec<f64> = (0..257)
            .map(|i| (f64::from(i) * 0.37).sin() * 1e3f64.powi(i % 5))
            .collect();
        let b: Vec<f64> = a.iter().rev().map(|x| x * 1.1 - 3.0).collect();
        let c: Vec<f64> = a.iter().map(|x| 1e16 + x).collect();
        let z = [-0.0; 257];
        let mut inf = a.clone();
        inf[3] = f64::INFINITY;
        let mut nan = b.clone();
        nan[200] = f64::NAN;
        let mut both = c.clone();
        both[1] = f64::INFINITY;
        both[2] = f64::NEG_INFINITY;
        let slices: [&[f64]; CHAINS] = [&a, &b, &c, &z, &inf, &nan, &both, &a];
        let want = |x: &[f64]| x.iter().sum::<f64>().to_bits();
        for n in 0..=257 {
            let cut = slices.map(|x| &x[..n]);
            let expected = cut.map(want);
            assert_eq!(sums(cut).map(f64::to_bits), expected, "n = {n}");
            assert_eq!(
                sums_in(cut, [-0.0; CHAINS], 0).map(f64::to_bits),
                expected,
                "n = {n}"
            );
        }
        assert_eq!(sums([&z[..]; CHAINS])[3].to_bits(), (-0.0f64).to_bits());
    }

    proptest! {
        #[test]
        fn merged_chunks_equal_two_pass_over_all(
            pairs in prop::collection::vec((-1e3f64..1e3, -1e3f64..1e3), 2..400),
            shift in -1e6f64..1e6,
            mut cuts in prop::collection::vec(0usize..400, 0..8),
        ) {
            cuts.sort_unstable();
            let x: Vec<f64> = pairs.iter().map(|p| p.0 + shift).collect();
            let y: Vec<f64> = pairs.iter().map(|p| p.1 - shift).collect();
            let (mx, my, cxy) = two_pass(&x, &y);
            let (_, _, vx) = two_pass(&x, &x);

            let var = merged(Kind::Variance, &x, &x, &cuts);
            prop_assert_eq!(var.count, x.len() as u64);
            prop_assert!(rel(var.estimate(Kind::Variance), vx) < 1e-12);
            prop_assert!((var.estimate(Kind::Mean) - mx).abs() <= 1e-12 * mx.abs().max(1.0));

            let cov = merged(Kind::Covariance, &x, &y, &cuts);
            // covariance can be near zero: compare on the scale of the spreads
            let (_, _, vy) = two_pass(&y, &y);
            let scale = (vx * vy).sqrt();
            prop_assert!((cov.estimate(Kind::Covariance) - cxy).abs() <= 1e-12 * scale);
            prop_assert!((cov.mean_y - my).abs() <= 1e-12 * my.abs().max(1.0));
        }
    }

    #[test]
    fn large_mean_small_spread_keeps_its_digits() {
        // x = 1e9 + i for i in 0..1000: variance = 1000 * 1001 / 12 exactly
        // (the variance of 0..n-1 with the n-1 divisor is n(n+1)/12).
        let x: Vec<f64> = (0..1000).map(|i| 1e9 + f64::from(i)).collect();
        let acc = merged(Kind::Variance, &x, &x, &[1, 17, 256, 700]);
        let truth = 1000.0 * 1001.0 / 12.0;
        assert!(rel(acc.estimate(Kind::Variance), truth) < 1e-12);
    }

    #[test]
    fn too_few_draws_estimate_nothing() {
        let one = Summary::of_chunk(Kind::Variance, &[3.0], &[]);
        assert!(one.estimate(Kind::Variance).is_nan());
        assert_eq!(one.estimate(Kind::Mean), 3.0);
        assert!(Summary::EMPTY.estimate(Kind::Mean).is_nan());
    }
}
