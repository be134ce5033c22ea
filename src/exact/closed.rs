//! Registered closed forms: moments of piecewise-linear activations of a
//! normal variable.
//!
//! With `Z ~ N(mu, s²)` and `t = mu/s`,
//! `E[relu(Z)] = s (t Φ(t) + φ(t))` and
//! `E[relu(Z)²] = s² ((t² + 1) Φ(t) + t φ(t))`.
//! Written that way they are useless for `t ≪ 0`: both are tiny differences
//! of nearly equal terms (at t = −10, sixteen digits cancel in the second),
//! and a verdict on a far-shifted pre-activation would compare rounding
//! noise. So for `t < −1` they are rewritten through
//! `I_k(x) = ∫_0^∞ y^k exp(−x y − y²/2) dy`, `x = −t`, for which
//! `E[relu(Z)^k] = s^k φ(x) I_k(x)`. The ratios `r_k = I_k / I_(k−1)` satisfy
//! `r_k = k / (x + r_(k+1))` (integration by parts), a continued fraction of
//! positive terms that backward recurrence evaluates stably, and
//! `I_0 = 1/(x + r_1)` is the Mills ratio. Every quantity is then a product
//! of positive factors: no cancellation at all. The depth is chosen so the
//! truncation error is below 1e-17 for every `x ≥ 1` (checked against
//! 40-digit values: depth 500 at x = 1, 200 at x = 2, 100 at x = 3).
//!
//! In the far tail `φ(x)` itself is the delicate factor: `exp(−x²/2)` has an
//! argument of several hundred, so one rounding of `x²` (or of `t = mu/s`)
//! is amplified into a relative error of `x² ε`, 1e-13 at x = 30. The square
//! is therefore formed exactly (an FMA gives its low part) and the rounding
//! of `mu/s` is corrected to first order, leaving only the `exp` rounding.
//!
//! For `t ≥ −1` the direct forms are used; there the cancellation is at most
//! a factor 7.4 (k = 2 at t = −1), so they keep about 15 digits.

use crate::special::{self, FRAC_1_SQRT_2PI};

/// A bound on the relative rounding error of [`relu_normal`],
/// [`step_normal`] and (relative to [`leaky_relu_normal_abs`]) of
/// [`leaky_relu_normal`], for results in the normal range of `f64`.
///
/// How it was arrived at. Direct branch (`t ≥ −1`): `Φ` and `φ` come from
/// [`special`], each within 3 units of 2^-53 relative (measured there); the
/// combination `(t²+1)Φ + tφ` then loses at most the factor
/// 7.4 to cancellation, so ≈ 7.4 · 6 ε ≈ 1e-14 in the worst case.
/// Continued-fraction branch (`t < −1`): truncation < 1e-17, the backward
/// recurrence contracts rounding so that `r_1, r_2, I_0` carry a few ulps,
/// `φ` one ulp for `exp` plus the corrected argument; about 10 ε in all.
/// Measured against 50-digit values (mpmath) at 5000 random points with
/// `t ∈ [−37.5, 10]` and `s` from 0.1 to 1000 (with the series-and-fraction
/// `Φ` this module had before, within a unit of `special::cdf`), the worst
/// was 5.0e-15
/// (`E[relu²]` just above t = −1, the cancellation predicted). `2e-14`
/// covers the a priori estimate with margin; the tests check it against
/// 20-digit values and against quadrature.
pub const CLOSED_REL_ERR: f64 = 2e-14;

/// Below this `t = mu/s` the continued-fraction forms are used.
const TAIL_T: f64 = -1.0;

/// `E[relu(Z)^k]` for `Z ~ N(mu, s²)`, `k = 0, 1 or 2`: `mu Φ(t) + s φ(t)` and
/// `(mu² + s²) Φ(t) + mu s φ(t)`, `t = mu/s`, computed without cancellation
/// for `t ≪ 0`. `s = 0` is the point mass at `mu`. NaN for `s < 0`, other
/// `k` or non-finite parameters.
pub fn relu_normal(mu: f64, s: f64, k: u32) -> f64 {
    if !(mu.is_finite() && s.is_finite() && s >= 0.0) || k > 2 {
        return f64::NAN;
    }
    if k == 0 {
        return 1.0;
    }
    if s == 0.0 {
        return mu.max(0.0).powi(k as i32);
    }
    let t = mu / s;
    if t >= TAIL_T {
        let (cdf, pdf) = (special::cdf(t), special::pdf(t));
        return match k {
            1 => s * (t * cdf + pdf),
            _ => s * s * ((t * t + 1.0) * cdf + t * pdf),
        };
    }
    let tail = Tail::new(t, division_residual(t, mu, s));
    match k {
        1 => s * tail.pdf * tail.r1 * tail.i0,
        _ => s * s * tail.pdf * tail.r2 * tail.r1 * tail.i0,
    }
}

/// `E[leaky_relu(Z, a)^k]` for `Z ~ N(mu, s²)`, `k = 0, 1 or 2`, from
/// `leaky_relu(z, a) = relu(z) − a relu(−z)` (the two parts never overlap,
/// so the square has no cross term). For `k = 1` the two parts can cancel
/// (the mean crosses 0 as `mu` does); the error is then bounded relative to
/// [`leaky_relu_normal_abs`], not to the result.
pub fn leaky_relu_normal(mu: f64, s: f64, a: f64, k: u32) -> f64 {
    match k {
        1 => relu_normal(mu, s, 1) - a * relu_normal(-mu, s, 1),
        2 => relu_normal(mu, s, 2) + a * a * relu_normal(-mu, s, 2),
        _ => relu_normal(mu, s, k),
    }
}

/// `E[|leaky_relu(Z, a)|^k]`: the scale against which the rounding error of
/// [`leaky_relu_normal`] is bounded, `|err| <= CLOSED_REL_ERR · this`.
pub fn leaky_relu_normal_abs(mu: f64, s: f64, a: f64, k: u32) -> f64 {
    relu_normal(mu, s, k) + a.abs().powi(k as i32) * relu_normal(-mu, s, k)
}

/// `E[step(Z)] = Φ(mu/s)`; `s = 0` is the point mass, where `step(0) = 0`.
/// NaN for `s < 0` or non-finite parameters.
pub fn step_normal(mu: f64, s: f64) -> f64 {
    if !(mu.is_finite() && s.is_finite() && s >= 0.0) {
        return f64::NAN;
    }
    if s == 0.0 {
        return if mu > 0.0 { 1.0 } else { 0.0 };
    }
    let t = mu / s;
    if t >= TAIL_T {
        return special::cdf(t);
    }
    let tail = Tail::new(t, division_residual(t, mu, s));
    tail.pdf * tail.i0
}

/// `d` such that `t + d` is `mu/s` to about ε², `t` being the rounded
/// quotient: the division's rounding, undone to first order.
fn division_residual(t: f64, mu: f64, s: f64) -> f64 {
    f64::mul_add(-t, s, mu) / s
}

/// The far-tail factors at `x = −(t + d) > 1`.
struct Tail {
    /// φ(x), with the argument of `exp` formed exactly.
    pdf: f64,
    /// `I_0(x)`, the Mills ratio.
    i0: f64,
    r1: f64,
    r2: f64,
}

impl Tail {
    /// `t < −1` finite; `d` a first-order correction to `t` (or 0).
    fn new(t: f64, d: f64) -> Tail {
        let hi = t * t;
        let lo = f64::mul_add(t, t, -hi) + 2.0 * t * d;
        let pdf = FRAC_1_SQRT_2PI * (-0.5 * hi).exp() * (-0.5 * lo).exp();
        let x = -t;
        let depth: u32 = if x < 2.0 {
            500
        } else if x < 3.0 {
            200
        } else {
            100
        };
        let mut r = 0.0;
        for j in (2..=depth).rev() {
            r = f64::from(j) / (x + r);
        }
        let r2 = r;
        let r1 = 1.0 / (x + r2);
        let i0 = 1.0 / (x + r1);
        Tail { pdf, i0, r1, r2 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::quad::{Tol, integrate};
    use proptest::prelude::*;

    fn rel(got: f64, want: f64) -> f64 {
        ((got - want) / want).abs()
    }

    /// (mu, s, E[relu], E[relu²], Φ(mu/s)) to 20 digits, from mpmath at 40
    /// digits with the textbook forms (exact there: no rounding to cancel).
    /// Digits kept as printed, so they can be compared with mpmath.
    #[allow(clippy::excessive_precision)]
    const MPMATH: [(f64, f64, f64, f64, f64); 6] = [
        (
            -30.0,
            1.0,
            1.631_956_734_091_401_189_4e-199,
            1.084_372_487_398_349_148_2e-200,
            4.906_713_927_148_187_059_5e-198,
        ),
        (
            -0.99,
            1.0,
            0.084_914_161_991_276_960_228,
            0.077_022_039_139_466_723_498,
            0.161_087_059_510_830_913_37,
        ),
        (
            -12.5,
            0.5,
            6.093_985_231_495_184_321_4e-140,
            2.426_022_658_742_188_924_5e-141,
            3.056_696_706_382_560_916_4e-138,
        ),
        (
            0.7,
            2.0,
            1.196_262_149_656_809_078_3,
            3.384_706_109_462_242_553_3,
            0.636_830_651_175_619_062_89,
        ),
        (
            -1.7,
            1.0,
            0.018_287_790_687_363_758_013,
            0.013_476_218_590_024_655_854,
            0.044_565_462_758_543_043_664,
        ),
        (
            3.0,
            0.5,
            3.000_000_000_078_178_489_8,
            9.249_999_999_987_888_558_1,
            0.999_999_999_013_412_354_96,
        ),
    ];

    #[test]
    fn against_high_precision_values() {
        for (mu, s, e1, e2, cdf) in MPMATH {
            assert!(
                rel(relu_normal(mu, s, 1), e1) <= CLOSED_REL_ERR,
                "E1 at {mu}, {s}"
            );
            assert!(
                rel(relu_normal(mu, s, 2), e2) <= CLOSED_REL_ERR,
                "E2 at {mu}, {s}"
            );
            assert!(
                rel(step_normal(mu, s), cdf) <= CLOSED_REL_ERR,
                "Phi at {mu}, {s}"
            );
        }
    }

    #[test]
    fn standard_normal_constants() {
        // docs/REFERENCES.md: N(0,1) E[relu] = 1/sqrt(2 pi), E[relu^2] = 1/2;
        // leaky with slope a: (1 - a)/sqrt(2 pi) and (1 + a^2)/2.
        assert!(rel(relu_normal(0.0, 1.0, 1), FRAC_1_SQRT_2PI) <= CLOSED_REL_ERR);
        assert!(rel(relu_normal(0.0, 1.0, 2), 0.5) <= CLOSED_REL_ERR);
        assert_eq!(step_normal(0.0, 2.0), 0.5);
        for a in [0.0, 0.01, 0.2, 1.0, 3.0] {
            let e1 = leaky_relu_normal(0.0, 1.0, a, 1);
            let want = (1.0 - a) * FRAC_1_SQRT_2PI;
            let scale = leaky_relu_normal_abs(0.0, 1.0, a, 1);
            assert!((e1 - want).abs() <= CLOSED_REL_ERR * scale, "a = {a}");
            assert!(rel(leaky_relu_normal(0.0, 1.0, a, 2), (1.0 + a * a) / 2.0) <= CLOSED_REL_ERR);
        }
        // a = 1 is the identity: E[Z] = mu, E[Z^2] = mu^2 + s^2.
        let (mu, s) = (-0.4, 1.3);
        assert!(
            (leaky_relu_normal(mu, s, 1.0, 1) - mu).abs()
                <= CLOSED_REL_ERR * leaky_relu_normal_abs(mu, s, 1.0, 1)
        );
        assert!(rel(leaky_relu_normal(mu, s, 1.0, 2), mu * mu + s * s) <= CLOSED_REL_ERR);
    }

    #[test]
    fn degenerate_and_invalid_parameters() {
        assert_eq!(relu_normal(2.0, 0.0, 2), 4.0);
        assert_eq!(relu_normal(-2.0, 0.0, 1), 0.0);
        assert_eq!(step_normal(0.0, 0.0), 0.0);
        assert_eq!(relu_normal(5.0, 1.0, 0), 1.0);
        assert!(relu_normal(0.0, -1.0, 1).is_nan());
        assert!(relu_normal(0.0, 1.0, 3).is_nan());
        assert!(relu_normal(f64::NAN, 1.0, 1).is_nan());
        assert!(step_normal(1.0, f64::INFINITY).is_nan());
        // Past underflow the value is 0, not NaN.
        assert_eq!(relu_normal(-50.0, 1.0, 2), 0.0);
    }

    /// E[relu(Z)^k] by quadrature of the density written out here, not
    /// through the law module.
    fn relu_by_quadrature(mu: f64, s: f64, k: i32) -> f64 {
        let f = |x: f64| x.powi(k) * FRAC_1_SQRT_2PI / s * (-0.5 * ((x - mu) / s).powi(2)).exp();
        integrate(&f, 0.0, f64::INFINITY, &[], Tol::default())
            .unwrap()
            .value
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn far_tail_against_quadrature(t in -30.0f64..-5.0, s in 0.1f64..3.0) {
            let mu = t * s;
            for k in [1u32, 2] {
                let q = relu_by_quadrature(mu, s, k as i32);
                prop_assert!(rel(relu_normal(mu, s, k), q) <= 1e-10, "k={} mu={} s={}", k, mu, s);
            }
            let cdf = integrate(
                &|x: f64| FRAC_1_SQRT_2PI * (-0.5 * x * x).exp(),
                f64::NEG_INFINITY, mu / s, &[], Tol::default(),
            ).unwrap().value;
            prop_assert!(rel(step_normal(mu, s), cdf) <= 1e-10);
        }

        #[test]
        fn branches_agree_across_the_switch(s in 0.1f64..3.0, k in 1u32..3) {
            // Just either side of t = -1 the two forms must meet.
            let below = relu_normal(-s * (1.0 + 1e-12), s, k);
            let above = relu_normal(-s * (1.0 - 1e-12), s, k);
            prop_assert!(rel(below, above) <= 1e-11);
        }
    }
}
