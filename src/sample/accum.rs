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
    pub fn of_chunk(kind: Kind, x: &[f64], y: &[f64]) -> Summary {
        let n = x.len();
        if n == 0 {
            return Summary::EMPTY;
        }
        let nf = n as f64;
        let mean_x = x.iter().sum::<f64>() / nf;
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
                let mean_y = y.iter().sum::<f64>() / nf;
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
