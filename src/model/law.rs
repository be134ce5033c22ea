//! The laws a base variable can follow, and everything the two evaluators
//! ask of them.
//!
//! A law is described by the parameters its users know (`Normal(mean, sd)`,
//! `Gamma(shape, rate)`, ...), validated once in [`Law::new`], so that every
//! other method may assume a well-formed law and stays total.
//!
//! The exact evaluator needs three things from a law: its raw moments in
//! closed form (linearity and independence reduce most claims to these, so
//! they must be exact to rounding, never integrated or sampled), its density
//! with its support and a sense of where the mass lies (for adaptive
//! quadrature of functions that have no closed form), and structural facts
//! (symmetry, Gaussianity, how many moments exist) that decide assumption
//! predicates without sampling. A moment that does not exist is reported as
//! [`NoMoment::Undefined`], never as a number.
//!
//! The Monte Carlo engine needs [`Law::fill`]: batches of independent draws.
//! It is the innermost loop of the tool, so it matches on the law once per
//! batch and builds any sampler object once, and every sampler is exact in
//! law (ziggurat, inverse cdf, or rejection), never an approximation.
//!
//! Densities are written out here rather than taken from statrs
//! distribution objects: constructing one re-validates its parameters at each
//! quadrature node, and the Student-t constant in particular loses digits to
//! a difference of log-gammas at large dof. statrs supplies the special
//! functions (erfc, its inverse, log-gamma) and, in the tests, an independent
//! implementation to check against.
//!
//! The truncated normal is the delicate one: He-style initializers truncate
//! at two standard deviations, but a user may truncate far in a tail, where
//! `1 - Phi(a)` is zero in floating point. Everything about it is therefore
//! computed from the standardized bounds with erfc-based tail masses.
//! statrs's erf/erfc carry relative errors near 1e-10 (erfc(0.5) is off in
//! the 11th digit), too coarse for closed forms meant to hold to 1e-14, so
//! erf/erfc come from `libm` (the musl/FreeBSD implementations, < 1 ulp);
//! statrs's erfc_inv only seeds a Newton step taken against libm's erfc.

use rand::distr::Open01;
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, StandardNormal, StudentT};
use statrs::function::erf::erfc_inv;
use statrs::function::gamma::ln_gamma;
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, PI, SQRT_2};

/// A univariate law of a base variable.
#[derive(Clone, Debug, PartialEq)]
pub enum Law {
    Normal {
        mean: f64,
        sd: f64,
    },
    Uniform {
        lo: f64,
        hi: f64,
    },
    Laplace {
        loc: f64,
        scale: f64,
    },
    StudentsT {
        loc: f64,
        scale: f64,
        dof: f64,
    },
    Cauchy {
        loc: f64,
        scale: f64,
    },
    Exponential {
        rate: f64,
    },
    Gamma {
        shape: f64,
        rate: f64,
    },
    Beta {
        a: f64,
        b: f64,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Triangular {
        lo: f64,
        hi: f64,
        mode: f64,
    },
    Bernoulli {
        p: f64,
    },
    TruncatedNormal {
        mean: f64,
        sd: f64,
        lo: f64,
        hi: f64,
    },
}

/// How a density decays in one tail.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tail {
    /// density ~ |t|^-(index + 1): moments of order below `index` only.
    Power { index: f64 },
    /// density ~ |t|^degree exp(-rate |t|^order); `pure` when the exponent
    /// has no lower-order term that grows (which decides the boundary case
    /// of an integrand growing at exactly the same rate).
    Exp {
        order: f64,
        rate: f64,
        degree: f64,
        pure: bool,
    },
    /// The LogNormal's exp(-(log t)^2 / 2sigma^2) / t: lighter than every
    /// power, heavier than every exponential.
    LogNormal,
}

/// A parameter that is out of range: which one (0-based) and what is valid.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamError {
    pub index: usize,
    pub message: String,
}

/// Why a raw moment has no number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoMoment {
    /// The integral diverges (Cauchy; StudentsT with dof <= k).
    Undefined,
}

/// 1 / sqrt(2 pi).
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Below this probability of [lo, hi] under the untruncated normal, the
/// ratios phi(bound) / mass that every truncated-normal formula uses would
/// be formed from subnormal numbers and lose their digits; such a law is
/// rejected rather than answered wrongly (it means truncating ~35 sd out).
const MIN_TRUNCATED_MASS: f64 = 1e-280;

/// Accept/reject from the untruncated normal when it lands in [lo, hi] at
/// least this often; below it an exact inverse-cdf or uniform-proposal
/// sampler is cheaper than the expected number of rejected draws.
const NORMAL_REJECTION_MIN_ACCEPT: f64 = 0.3;

/// A uniform proposal on [lo, hi] is used when its acceptance rate is at
/// least this (narrow intervals, where the inverse cdf would lose digits to
/// the difference of two nearly equal tail masses).
const UNIFORM_REJECTION_MIN_ACCEPT: f64 = 0.5;

impl Law {
    /// Law names, with their parameter names, for messages: `("Normal", &["mean", "sd"])`.
    pub const SIGNATURES: &'static [(&'static str, &'static [&'static str])] = &[
        ("Normal", &["mean", "sd"]),
        ("Uniform", &["lo", "hi"]),
        ("Laplace", &["loc", "scale"]),
        ("StudentsT", &["loc", "scale", "dof"]),
        ("Cauchy", &["loc", "scale"]),
        ("Exponential", &["rate"]),
        ("Gamma", &["shape", "rate"]),
        ("Beta", &["a", "b"]),
        ("LogNormal", &["mu", "sigma"]),
        ("Triangular", &["lo", "hi", "mode"]),
        ("Bernoulli", &["p"]),
        ("TruncatedNormal", &["mean", "sd", "lo", "hi"]),
        ("BivariateNormal", &["sd_u", "sd_v", "rho"]),
    ];

    /// Validates `params` for the law called `name` and builds it.
    ///
    /// Count errors carry the index of the first missing or first extra
    /// parameter. Only the bounds of a TruncatedNormal may be infinite
    /// (`lo = -inf`, `hi = inf`); NaN is rejected everywhere.
    pub fn new(name: &str, params: &[f64]) -> Result<Law, ParamError> {
        let names = signature(name)?;
        if name == "BivariateNormal" {
            return Err(ParamError {
                index: 0,
                message: "BivariateNormal draws a pair of variables: write \
                          `u, v ~ BivariateNormal(sd_u, sd_v, rho)`"
                    .to_string(),
            });
        }
        check_count(name, names, params)?;
        for (i, (&value, &pname)) in params.iter().zip(names).enumerate() {
            let infinite_ok = name == "TruncatedNormal"
                && ((i == 2 && value == f64::NEG_INFINITY) || (i == 3 && value == f64::INFINITY));
            if !value.is_finite() && !infinite_ok {
                let valid = match (name, i) {
                    ("TruncatedNormal", 2) => "finite or -inf",
                    ("TruncatedNormal", 3) => "finite or inf",
                    _ => "finite",
                };
                return Err(err(i, format!("{pname} must be {valid} (got {value})")));
            }
        }
        let p = params;
        let law = match name {
            "Normal" => {
                positive(p, 1, "sd")?;
                Law::Normal {
                    mean: p[0],
                    sd: p[1],
                }
            }
            "Uniform" => {
                ordered_span(name, p)?;
                Law::Uniform { lo: p[0], hi: p[1] }
            }
            "Laplace" => {
                positive(p, 1, "scale")?;
                Law::Laplace {
                    loc: p[0],
                    scale: p[1],
                }
            }
            "StudentsT" => {
                positive(p, 1, "scale")?;
                positive(p, 2, "dof")?;
                Law::StudentsT {
                    loc: p[0],
                    scale: p[1],
                    dof: p[2],
                }
            }
            "Cauchy" => {
                positive(p, 1, "scale")?;
                Law::Cauchy {
                    loc: p[0],
                    scale: p[1],
                }
            }
            "Exponential" => {
                positive(p, 0, "rate")?;
                Law::Exponential { rate: p[0] }
            }
            "Gamma" => {
                positive(p, 0, "shape")?;
                positive(p, 1, "rate")?;
                Law::Gamma {
                    shape: p[0],
                    rate: p[1],
                }
            }
            "Beta" => {
                positive(p, 0, "a")?;
                positive(p, 1, "b")?;
                Law::Beta { a: p[0], b: p[1] }
            }
            "LogNormal" => {
                positive(p, 1, "sigma")?;
                Law::LogNormal {
                    mu: p[0],
                    sigma: p[1],
                }
            }
            "Triangular" => {
                ordered_span(name, p)?;
                let (lo, hi, mode) = (p[0], p[1], p[2]);
                if !(lo <= mode && mode <= hi) {
                    return Err(err(
                        2,
                        format!(
                            "Triangular needs lo <= mode <= hi (got lo = {lo}, hi = {hi}, mode = {mode})"
                        ),
                    ));
                }
                Law::Triangular { lo, hi, mode }
            }
            "Bernoulli" => {
                if !(0.0..=1.0).contains(&p[0]) {
                    return Err(err(0, format!("p must be in [0, 1] (got {})", p[0])));
                }
                Law::Bernoulli { p: p[0] }
            }
            "TruncatedNormal" => {
                positive(p, 1, "sd")?;
                let (mean, sd, lo, hi) = (p[0], p[1], p[2], p[3]);
                if lo >= hi {
                    return Err(err(
                        3,
                        format!("TruncatedNormal needs lo < hi (got lo = {lo}, hi = {hi})"),
                    ));
                }
                let mass = StdTrunc::new(mean, sd, lo, hi).mass;
                if mass.is_nan() || mass < MIN_TRUNCATED_MASS {
                    return Err(err(
                        2,
                        format!(
                            "TruncatedNormal needs [lo, hi] to hold some of the normal's mass \
                             (got probability {mass:e} for lo = {lo}, hi = {hi})"
                        ),
                    ));
                }
                Law::TruncatedNormal { mean, sd, lo, hi }
            }
            _ => unreachable!("every name in SIGNATURES has a constructor"),
        };
        Ok(law)
    }

    /// E[X^k], from closed forms only.
    ///
    /// Exact to a few ulps per order for the laws whose terms share a sign
    /// (location-scale laws are summed as binomial expansions whose terms
    /// all have the sign of `loc^k`; uniform moments are refactored to avoid
    /// the `hi^(k+1) - lo^(k+1)` cancellation). The value may overflow to
    /// infinity for large orders; callers should treat a non-finite value as
    /// "too large for f64", distinct from [`NoMoment::Undefined`].
    pub fn raw_moment(&self, k: u32) -> Result<f64, NoMoment> {
        if k == 0 {
            return Ok(1.0);
        }
        let m = match *self {
            Law::Normal { mean, sd } => location_scale_moment(mean, sd, k, |j| f64::from(j - 1)),
            Law::Uniform { lo, hi } => uniform_moment(lo, hi, k),
            Law::Laplace { loc, scale } => {
                location_scale_moment(loc, scale, k, |j| f64::from(j) * f64::from(j - 1))
            }
            Law::StudentsT { loc, scale, dof } => {
                if f64::from(k) >= dof {
                    return Err(NoMoment::Undefined);
                }
                location_scale_moment(loc, scale, k, |j| {
                    f64::from(j - 1) * dof / (dof - f64::from(j))
                })
            }
            Law::Cauchy { .. } => return Err(NoMoment::Undefined),
            Law::Exponential { rate } => (1..=k).map(|i| f64::from(i) / rate).product(),
            Law::Gamma { shape, rate } => (0..k).map(|i| (shape + f64::from(i)) / rate).product(),
            Law::Beta { a, b } => (0..k)
                .map(|r| (a + f64::from(r)) / (a + b + f64::from(r)))
                .product(),
            Law::LogNormal { mu, sigma } => {
                let k = f64::from(k);
                (k * mu + 0.5 * k * k * sigma * sigma).exp()
            }
            Law::Triangular { lo, hi, mode } => {
                let k1 = f64::from(k) + 1.0;
                2.0 * complete_homogeneous3(lo, hi, mode, k) / (k1 * (k1 + 1.0))
            }
            Law::Bernoulli { p } => p,
            Law::TruncatedNormal { mean, sd, lo, hi } => {
                truncated_normal_moment(mean, sd, lo, hi, k)
            }
        };
        Ok(m)
    }

    /// The density at `x`; 0 outside the support, and 0 everywhere for the
    /// discrete Bernoulli (see [`Law::atoms`] and [`Law::pmf`]). At an
    /// endpoint where the density is unbounded (Gamma or Beta with a shape
    /// below 1) it is `inf`: quadrature must use open rules there.
    pub fn pdf(&self, x: f64) -> f64 {
        match *self {
            Law::Normal { mean, sd } => std_pdf((x - mean) / sd) / sd,
            Law::Uniform { lo, hi } => {
                if lo <= x && x <= hi {
                    1.0 / (hi - lo)
                } else {
                    0.0
                }
            }
            Law::Laplace { loc, scale } => (-(x - loc).abs() / scale).exp() / (2.0 * scale),
            Law::StudentsT { loc, scale, dof } => {
                let t = (x - loc) / scale;
                let ln_norm = ln_gamma_half_ratio(0.5 * dof) - 0.5 * (dof * PI).ln();
                (ln_norm - 0.5 * (dof + 1.0) * (t * t / dof).ln_1p()).exp() / scale
            }
            Law::Cauchy { loc, scale } => {
                let z = (x - loc) / scale;
                1.0 / (PI * scale * (1.0 + z * z))
            }
            Law::Exponential { rate } => {
                if x < 0.0 {
                    0.0
                } else {
                    rate * (-rate * x).exp()
                }
            }
            Law::Gamma { shape, rate } => {
                if x < 0.0 {
                    0.0
                } else if x == 0.0 {
                    power_law_origin(shape, rate)
                } else {
                    (shape * rate.ln() + (shape - 1.0) * x.ln() - rate * x - ln_gamma(shape)).exp()
                }
            }
            Law::Beta { a, b } => {
                if !(0.0..=1.0).contains(&x) {
                    0.0
                } else if x == 0.0 {
                    power_law_origin(a, b)
                } else if x == 1.0 {
                    power_law_origin(b, a)
                } else {
                    let ln_beta = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
                    ((a - 1.0) * x.ln() + (b - 1.0) * (-x).ln_1p() - ln_beta).exp()
                }
            }
            Law::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    std_pdf((x.ln() - mu) / sigma) / (sigma * x)
                }
            }
            Law::Triangular { lo, hi, mode } => {
                if x < lo || x > hi {
                    0.0
                } else if x < mode {
                    2.0 * (x - lo) / ((hi - lo) * (mode - lo))
                } else if x == mode {
                    2.0 / (hi - lo)
                } else {
                    2.0 * (hi - x) / ((hi - lo) * (hi - mode))
                }
            }
            Law::Bernoulli { .. } => 0.0,
            Law::TruncatedNormal { mean, sd, lo, hi } => {
                if lo <= x && x <= hi {
                    let t = StdTrunc::new(mean, sd, lo, hi);
                    std_pdf((x - mean) / sd) / (sd * t.mass)
                } else {
                    0.0
                }
            }
        }
    }

    /// The closed interval outside which the law has no mass; the ends may
    /// be infinite.
    pub fn support(&self) -> (f64, f64) {
        match *self {
            Law::Normal { .. }
            | Law::Laplace { .. }
            | Law::StudentsT { .. }
            | Law::Cauchy { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Law::Exponential { .. } | Law::Gamma { .. } | Law::LogNormal { .. } => {
                (0.0, f64::INFINITY)
            }
            Law::Beta { .. } | Law::Bernoulli { .. } => (0.0, 1.0),
            Law::Uniform { lo, hi }
            | Law::Triangular { lo, hi, .. }
            | Law::TruncatedNormal { lo, hi, .. } => (lo, hi),
        }
    }

    /// The points carrying mass, for the discrete law; `None` for laws with
    /// a density.
    pub fn atoms(&self) -> Option<&'static [f64]> {
        match self {
            Law::Bernoulli { .. } => Some(&[0.0, 1.0]),
            _ => None,
        }
    }

    /// P(X = x): nonzero only at the atoms of a discrete law.
    pub fn pmf(&self, x: f64) -> f64 {
        match *self {
            Law::Bernoulli { p } if x == 1.0 => p,
            Law::Bernoulli { p } if x == 0.0 => 1.0 - p,
            _ => 0.0,
        }
    }

    /// `(center, scale)`: where the mass lies and how wide it is, both
    /// finite and the scale > 0. Mean and sd where they exist; location and
    /// scale for the heavy-tailed laws; the median and the distance to the
    /// upper one-sigma quantile for the LogNormal, whose sd is dominated by
    /// a far tail. Quadrature uses it to split infinite ranges.
    pub fn scale_hint(&self) -> (f64, f64) {
        match *self {
            Law::Normal { mean, sd } => (mean, sd),
            Law::Uniform { lo, hi } => (0.5 * (lo + hi), 0.5 * (hi - lo)),
            Law::Laplace { loc, scale }
            | Law::StudentsT { loc, scale, .. }
            | Law::Cauchy { loc, scale } => (loc, scale),
            Law::Exponential { rate } => (1.0 / rate, 1.0 / rate),
            Law::Gamma { shape, rate } => (shape / rate, shape.sqrt() / rate),
            Law::Beta { a, b } => {
                let s = a + b;
                (a / s, (a * b / (s * s * (s + 1.0))).sqrt())
            }
            Law::LogNormal { mu, sigma } => (mu.exp(), mu.exp() * sigma.exp_m1()),
            Law::Triangular { lo, hi, mode } => {
                let var =
                    (lo * lo + hi * hi + mode * mode - lo * hi - lo * mode - hi * mode) / 18.0;
                ((lo + hi + mode) / 3.0, var.sqrt())
            }
            Law::Bernoulli { .. } => (0.5, 0.5),
            Law::TruncatedNormal { mean, sd, lo, hi } => {
                let t = StdTrunc::new(mean, sd, lo, hi);
                let var = t.variance();
                // Rounding can leave no variance in a very narrow interval,
                // where the law is nearly uniform.
                let sd_z = if var > 0.0 {
                    var.sqrt()
                } else {
                    ((t.b - t.a) / 12f64.sqrt()).min(1.0)
                };
                ((mean + sd * t.mean()).clamp(lo, hi), sd * sd_z)
            }
        }
    }

    /// The supremum of the orders k with E|X|^k finite: the smaller tail
    /// index of its two [`Law::tail`]s (`dof` for the Student t, 1 for the
    /// Cauchy), infinity for every other law.
    pub fn tail_index(&self) -> f64 {
        [-1.0, 1.0]
            .into_iter()
            .filter_map(|side| match self.tail(side) {
                Some(Tail::Power { index }) => Some(index),
                _ => None,
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// How the density behaves as its variable tends to `side` times
    /// infinity; `None` where the support is bounded on that side. This and
    /// [`Law::density_order`] are everything the existence rules know of a
    /// law.
    pub fn tail(&self, side: f64) -> Option<Tail> {
        let (lo, hi) = self.support();
        if (side > 0.0 && hi.is_finite()) || (side < 0.0 && lo.is_finite()) {
            return None;
        }
        let gaussian = |mean: f64, sd: f64| Tail::Exp {
            order: 2.0,
            rate: 1.0 / (2.0 * sd * sd),
            degree: 0.0,
            // exp(-(t - m)^2 / 2sd^2) has a linear term in t unless m = 0.
            pure: mean == 0.0,
        };
        Some(match *self {
            Law::Normal { mean, sd } | Law::TruncatedNormal { mean, sd, .. } => gaussian(mean, sd),
            // A shift only multiplies exp(-|t - loc| / scale) by a constant.
            Law::Laplace { scale, .. } => Tail::Exp {
                order: 1.0,
                rate: 1.0 / scale,
                degree: 0.0,
                pure: true,
            },
            Law::Exponential { rate } => Tail::Exp {
                order: 1.0,
                rate,
                degree: 0.0,
                pure: true,
            },
            Law::Gamma { shape, rate } => Tail::Exp {
                order: 1.0,
                rate,
                degree: shape - 1.0,
                pure: true,
            },
            Law::StudentsT { dof, .. } => Tail::Power { index: dof },
            Law::Cauchy { .. } => Tail::Power { index: 1.0 },
            Law::LogNormal { .. } => Tail::LogNormal,
            Law::Uniform { .. }
            | Law::Beta { .. }
            | Law::Triangular { .. }
            | Law::Bernoulli { .. } => return None,
        })
    }

    /// The exponent `a` with density ~ |t - t0|^a as t tends to `t0` from
    /// the side `side` (+1 from above): 0 inside the support, where every
    /// density here is positive and finite; the law's own order at a finite
    /// end (shape - 1 for the Gamma at 0, a - 1 and b - 1 for the Beta,
    /// infinity for the LogNormal at 0, whose density vanishes faster than
    /// any power). `None` where there is no mass on that side, and for the
    /// discrete law (see [`Law::atoms`]).
    pub fn density_order(&self, t0: f64, side: f64) -> Option<f64> {
        let (lo, hi) = self.support();
        if self.atoms().is_some()
            || t0 < lo
            || t0 > hi
            || (t0 == lo && side < 0.0)
            || (t0 == hi && side > 0.0)
        {
            return None;
        }
        if t0 > lo && t0 < hi {
            return Some(0.0);
        }
        let at_lo = t0 == lo;
        Some(match *self {
            Law::Uniform { .. } | Law::Exponential { .. } | Law::TruncatedNormal { .. } => 0.0,
            Law::Gamma { shape, .. } => shape - 1.0,
            Law::Beta { a, b } => {
                if at_lo {
                    a - 1.0
                } else {
                    b - 1.0
                }
            }
            Law::LogNormal { .. } => f64::INFINITY,
            Law::Triangular { lo, hi, mode } => {
                let peak = if at_lo { mode == lo } else { mode == hi };
                if peak { 0.0 } else { 1.0 }
            }
            // Unbounded supports have no finite end; atoms were answered above.
            Law::Normal { .. }
            | Law::Laplace { .. }
            | Law::StudentsT { .. }
            | Law::Cauchy { .. }
            | Law::Bernoulli { .. } => return None,
        })
    }

    /// The centre c when X - c and c - X have one law.
    ///
    /// Parameters typed as symmetric may not be exactly so after decimal
    /// rounding (`Triangular(0.1, 0.5, 0.3)`), so the two half-widths are
    /// compared to within a few ulps of the width.
    pub fn is_symmetric_about(&self) -> Option<f64> {
        let balanced =
            |left: f64, right: f64, width: f64| (left - right).abs() <= 4.0 * f64::EPSILON * width;
        match *self {
            Law::Normal { mean, .. } => Some(mean),
            Law::Uniform { lo, hi } => Some(0.5 * (lo + hi)),
            Law::Laplace { loc, .. } | Law::StudentsT { loc, .. } | Law::Cauchy { loc, .. } => {
                Some(loc)
            }
            Law::Triangular { lo, hi, mode } => {
                balanced(mode - lo, hi - mode, hi - lo).then_some(0.5 * (lo + hi))
            }
            Law::Beta { a, b } => (a == b).then_some(0.5),
            Law::Bernoulli { p } => (p == 0.5).then_some(0.5),
            Law::TruncatedNormal { mean, lo, hi, .. } => {
                if lo == f64::NEG_INFINITY && hi == f64::INFINITY {
                    Some(mean)
                } else if lo.is_finite()
                    && hi.is_finite()
                    && balanced(mean - lo, hi - mean, hi - lo)
                {
                    Some(0.5 * (lo + hi))
                } else {
                    None
                }
            }
            Law::Exponential { .. } | Law::Gamma { .. } | Law::LogNormal { .. } => None,
        }
    }

    /// Whether the law is a normal one: the Normal, and a TruncatedNormal
    /// whose bounds are both infinite (it truncates nothing).
    pub fn is_gaussian(&self) -> bool {
        match *self {
            Law::Normal { .. } => true,
            Law::TruncatedNormal { lo, hi, .. } => lo == f64::NEG_INFINITY && hi == f64::INFINITY,
            _ => false,
        }
    }

    /// Fills `out` with independent draws of the law.
    pub fn fill<R: Rng>(&self, rng: &mut R, out: &mut [f64]) {
        match *self {
            Law::Normal { mean, sd } => {
                for x in out {
                    let z: f64 = rng.sample(StandardNormal);
                    *x = mean + sd * z;
                }
            }
            Law::Uniform { lo, hi } => {
                let width = hi - lo;
                for x in out {
                    let u: f64 = rng.random();
                    *x = lo + width * u;
                }
            }
            Law::Laplace { loc, scale } => {
                // Inverse cdf on the open unit interval, so no log(0).
                for x in out {
                    let u: f64 = rng.sample(Open01);
                    *x = if u < 0.5 {
                        loc + scale * (2.0 * u).ln()
                    } else {
                        loc - scale * (2.0 * (1.0 - u)).ln()
                    };
                }
            }
            Law::StudentsT { loc, scale, dof } => {
                let t = StudentT::new(dof).expect("dof validated > 0");
                for x in out {
                    *x = loc + scale * t.sample(rng);
                }
            }
            Law::Cauchy { loc, scale } => {
                for x in out {
                    let u: f64 = rng.sample(Open01);
                    *x = loc + scale * (PI * (u - 0.5)).tan();
                }
            }
            Law::Exponential { rate } => {
                for x in out {
                    let e: f64 = rng.sample(Exp1);
                    *x = e / rate;
                }
            }
            Law::Gamma { shape, rate } => {
                // Unit scale, then divide: 1/rate may overflow where x/rate does not.
                let g = rand_distr::Gamma::new(shape, 1.0).expect("shape validated > 0");
                for x in out {
                    *x = g.sample(rng) / rate;
                }
            }
            Law::Beta { a, b } => {
                let beta = rand_distr::Beta::new(a, b).expect("a, b validated > 0");
                for x in out {
                    *x = beta.sample(rng);
                }
            }
            Law::LogNormal { mu, sigma } => {
                for x in out {
                    let z: f64 = rng.sample(StandardNormal);
                    *x = (mu + sigma * z).exp();
                }
            }
            Law::Triangular { lo, hi, mode } => {
                let width = hi - lo;
                let split = (mode - lo) / width;
                for x in out {
                    let u: f64 = rng.random();
                    *x = if u < split {
                        lo + (u * width * (mode - lo)).sqrt()
                    } else {
                        hi - ((1.0 - u) * width * (hi - mode)).sqrt()
                    };
                }
            }
            Law::Bernoulli { p } => {
                for x in out {
                    let u: f64 = rng.random();
                    *x = if u < p { 1.0 } else { 0.0 };
                }
            }
            Law::TruncatedNormal { mean, sd, lo, hi } => {
                fill_truncated_normal(rng, mean, sd, lo, hi, out)
            }
        }
    }
}

/// A bivariate normal pair with zero means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bivariate {
    pub sd_u: f64,
    pub sd_v: f64,
    pub rho: f64,
}

impl Bivariate {
    /// Validates `[sd_u, sd_v, rho]`: both sds finite and > 0, rho in [-1, 1].
    pub fn new(params: &[f64]) -> Result<Bivariate, ParamError> {
        let name = "BivariateNormal";
        let names = signature(name)?;
        check_count(name, names, params)?;
        for (i, (&value, &pname)) in params.iter().zip(names).enumerate() {
            if !value.is_finite() {
                return Err(err(i, format!("{pname} must be finite (got {value})")));
            }
        }
        positive(params, 0, "sd_u")?;
        positive(params, 1, "sd_v")?;
        let rho = params[2];
        if !(-1.0..=1.0).contains(&rho) {
            return Err(err(2, format!("rho must be in [-1, 1] (got {rho})")));
        }
        Ok(Bivariate {
            sd_u: params[0],
            sd_v: params[1],
            rho,
        })
    }

    /// Fills `u` and `v` with independent draws of the pair; the slices
    /// must have one length.
    pub fn fill<R: Rng>(&self, rng: &mut R, u: &mut [f64], v: &mut [f64]) {
        assert_eq!(
            u.len(),
            v.len(),
            "a pair is drawn into slices of one length"
        );
        let (sd_u, sd_v, rho) = (self.sd_u, self.sd_v, self.rho);
        let rest = (1.0 - rho * rho).sqrt();
        for (x, y) in u.iter_mut().zip(v.iter_mut()) {
            let z1: f64 = rng.sample(StandardNormal);
            let z2: f64 = rng.sample(StandardNormal);
            *x = sd_u * z1;
            *y = sd_v * (rho * z1 + rest * z2);
        }
    }

    /// The law of one component (0 for u, 1 for v): a centred normal.
    pub fn marginal(&self, component: usize) -> Law {
        assert!(component < 2, "a pair has components 0 and 1");
        let sd = if component == 0 { self.sd_u } else { self.sd_v };
        Law::Normal { mean: 0.0, sd }
    }

    /// The mean and sd of v given u = `u`. The sd is 0 when |rho| = 1: v is
    /// then a function of u and nested quadrature must not integrate over it.
    pub fn conditional(&self, u: f64) -> (f64, f64) {
        let mean = self.rho * self.sd_v / self.sd_u * u;
        let sd = self.sd_v * (1.0 - self.rho * self.rho).sqrt();
        (mean, sd)
    }

    /// E[u^i v^j], exactly: with v = sd_v (rho z1 + sqrt(1 - rho^2) z2),
    /// a binomial expansion over independent standard normal moments.
    pub fn joint_moment(&self, i: u32, j: u32) -> f64 {
        let rest = (1.0 - self.rho * self.rho).sqrt();
        let mut sum = 0.0;
        let mut binom = 1.0;
        for l in 0..=j {
            // z1 carries i + l factors, z2 carries j - l.
            let term = std_normal_moment(i + l) * std_normal_moment(j - l);
            if term != 0.0 {
                sum += binom * self.rho.powf(f64::from(l)) * rest.powf(f64::from(j - l)) * term;
            }
            binom = binom * f64::from(j - l) / f64::from(l + 1);
        }
        self.sd_u.powf(f64::from(i)) * self.sd_v.powf(f64::from(j)) * sum
    }
}

fn err(index: usize, message: String) -> ParamError {
    ParamError { index, message }
}

/// The parameter names of law `name`, or an error listing the valid laws
/// (with a case-correcting hint, the most common slip).
fn signature(name: &str) -> Result<&'static [&'static str], ParamError> {
    if let Some((_, names)) = Law::SIGNATURES.iter().find(|(n, _)| *n == name) {
        return Ok(names);
    }
    let all: Vec<&str> = Law::SIGNATURES.iter().map(|(n, _)| *n).collect();
    let hint = Law::SIGNATURES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, _)| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    Err(err(
        0,
        format!(
            "unknown law `{name}`{hint}; the laws are {}",
            all.join(", ")
        ),
    ))
}

/// The first missing or first extra parameter is the one to point at.
fn check_count(name: &str, names: &[&str], params: &[f64]) -> Result<(), ParamError> {
    if params.len() == names.len() {
        return Ok(());
    }
    let n = names.len();
    Err(err(
        params.len().min(n),
        format!(
            "{name} takes {n} parameter{} ({}), got {}",
            if n == 1 { "" } else { "s" },
            names.join(", "),
            params.len()
        ),
    ))
}

fn positive(params: &[f64], i: usize, pname: &str) -> Result<(), ParamError> {
    if params[i] > 0.0 {
        Ok(())
    } else {
        Err(err(i, format!("{pname} must be > 0 (got {})", params[i])))
    }
}

/// `lo < hi` with a width that is itself finite, so densities and
/// inverse cdfs stay finite.
fn ordered_span(name: &str, p: &[f64]) -> Result<(), ParamError> {
    let (lo, hi) = (p[0], p[1]);
    if lo >= hi {
        return Err(err(
            1,
            format!("{name} needs lo < hi (got lo = {lo}, hi = {hi})"),
        ));
    }
    if !(hi - lo).is_finite() {
        return Err(err(
            1,
            format!("{name} needs hi - lo to be finite (got lo = {lo}, hi = {hi})"),
        ));
    }
    Ok(())
}

/// The low part of 1/sqrt(2): 1/sqrt(2) - FRAC_1_SQRT_2.
const FRAC_1_SQRT_2_LO: f64 = -4.833_646_656_726_457e-17;

/// The standard normal density. exp(-z^2/2) loses 0.5 z^2 ulps to the
/// rounding of z^2 (4e-14 at z = 30, where tail truncations live), so z is
/// split into a 26-bit head, whose square is exact, and a tail.
fn std_pdf(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { z } else { 0.0 };
    }
    let head = f64::from_bits(z.to_bits() & 0xFFFF_FFFF_F800_0000);
    let tail = z - head;
    FRAC_1_SQRT_2PI * (-0.5 * head * head).exp() * (-0.5 * tail * (2.0 * head + tail)).exp()
}

/// P(Z > z) from erfc, which keeps its relative precision deep in the tail
/// where 1 - Phi(z) would round to zero. The argument z/sqrt(2) is rounded,
/// which alone would cost z^2 ulps; the rounding error is recovered with an
/// fma and corrected to first order.
fn std_upper(z: f64) -> f64 {
    let x = z * FRAC_1_SQRT_2;
    if !x.is_finite() {
        return libm::erfc(x) * 0.5;
    }
    let dx = z.mul_add(FRAC_1_SQRT_2, -x) + z * FRAC_1_SQRT_2_LO;
    0.5 * (libm::erfc(x) - dx * FRAC_2_SQRT_PI * (-x * x).exp())
}

/// The z with P(Z > z) = q, for 0 < q < 1: statrs's erfc_inv (about 1e-11
/// off) polished by one Newton step on the accurate upper tail.
fn std_upper_inv(q: f64) -> f64 {
    let z = SQRT_2 * erfc_inv(2.0 * q);
    let density = std_pdf(z);
    if density > 0.0 {
        z + (std_upper(z) - q) / density
    } else {
        z
    }
}

/// E[Z^m] for a standard normal: (m-1)!! for even m.
fn std_normal_moment(m: u32) -> f64 {
    if m % 2 == 1 {
        0.0
    } else {
        (1..m).step_by(2).map(f64::from).product()
    }
}

/// The density at 0 of a law behaving like `c x^(shape-1)` there (Gamma at
/// 0, Beta at either end): infinite, finite or zero by the shape.
fn power_law_origin(shape: f64, other: f64) -> f64 {
    if shape < 1.0 {
        f64::INFINITY
    } else if shape == 1.0 {
        // Gamma(1, rate) is Exponential(rate); Beta(1, b) has density b at 0.
        other
    } else {
        0.0
    }
}

/// ln Gamma(x + 1/2) - ln Gamma(x), the Student-t normalizing ratio at
/// x = dof/2. A difference of two log-gammas loses digits (1e-13 by x = 25),
/// so it is the asymptotic series (Bernoulli-polynomial expansion, first
/// omitted term below 4e-15 from x = 20 on), shifted up to x >= 20 by
/// Gamma(x + 1/2) / Gamma(x) = Gamma(x + n + 1/2) / Gamma(x + n)
/// * prod_i (x + i) / (x + i + 1/2).
fn ln_gamma_half_ratio(x: f64) -> f64 {
    let mut shifted = x;
    let mut product = 1.0;
    while shifted < 20.0 {
        product *= shifted / (shifted + 0.5);
        shifted += 1.0;
    }
    let r = 1.0 / shifted;
    let r2 = r * r;
    let series = 0.5 * shifted.ln()
        + r * (-1.0 / 8.0 + r2 * (1.0 / 192.0 + r2 * (-1.0 / 640.0 + r2 * 17.0 / 14336.0)));
    series + product.ln()
}

/// E[(loc + scale S)^k] for a standardized law S symmetric about zero whose
/// even moments satisfy E[S^j] = E[S^(j-2)] * step(j). Only even j
/// contribute, so every term has the sign of loc^k: no cancellation.
fn location_scale_moment(loc: f64, scale: f64, k: u32, step: impl Fn(u32) -> f64) -> f64 {
    let mut sum = 0.0;
    let mut binom = 1.0; // C(k, j)
    let mut std_moment = 1.0; // E[S^j]
    let mut j = 0;
    loop {
        let loc_pow = loc.powf(f64::from(k - j));
        let scale_pow = scale.powf(f64::from(j));
        // A zero factor makes the term zero even when another overflowed.
        if loc_pow != 0.0 && scale_pow != 0.0 {
            sum += binom * loc_pow * scale_pow * std_moment;
        }
        if k - j < 2 || sum.is_infinite() {
            return sum;
        }
        binom =
            binom * f64::from(k - j) / f64::from(j + 1) * f64::from(k - j - 1) / f64::from(j + 2);
        j += 2;
        std_moment *= step(j);
    }
}

/// h_k(x, y) for every order up to k at once is not needed; this is the
/// complete homogeneous symmetric polynomial sum_{p+q=k} x^p y^q, by
/// h_m = y h_(m-1) + x^m.
fn complete_homogeneous2(x: f64, y: f64, k: u32) -> f64 {
    let mut h = 1.0;
    let mut x_pow = 1.0;
    for _ in 0..k {
        x_pow *= x;
        h = y * h + x_pow;
    }
    h
}

/// sum_{p+q+r=k} x^p y^q z^r, by h3_m = z h3_(m-1) + h2_m(x, y).
fn complete_homogeneous3(x: f64, y: f64, z: f64, k: u32) -> f64 {
    let mut h2 = 1.0;
    let mut h3 = 1.0;
    let mut x_pow = 1.0;
    for _ in 0..k {
        x_pow *= x;
        h2 = y * h2 + x_pow;
        h3 = z * h3 + h2;
    }
    h3
}

/// E[X^k] for X uniform on [lo, hi], k >= 1: (hi^(k+1) - lo^(k+1)) /
/// ((k+1)(hi-lo)), arranged so that no two large terms are subtracted.
fn uniform_moment(lo: f64, hi: f64, k: u32) -> f64 {
    let k1 = f64::from(k) + 1.0;
    if lo >= 0.0 || hi <= 0.0 {
        // All terms of h_k(lo, hi) share a sign.
        complete_homogeneous2(lo, hi, k) / k1
    } else if k.is_multiple_of(2) {
        // hi^(k+1) + |lo|^(k+1): a sum of positives.
        (hi.powf(k1) + (-lo).powf(k1)) / (k1 * (hi - lo))
    } else if hi + lo == 0.0 {
        0.0
    } else {
        // hi^(k+1) - |lo|^(k+1) = (hi - |lo|) h_k(hi, |lo|).
        (hi + lo) * complete_homogeneous2(hi, -lo, k) / (k1 * (hi - lo))
    }
}

/// E[X^k] for the truncated normal by the Stein recursion
/// E[X^k] = mean E[X^(k-1)] + (k-1) sd^2 E[X^(k-2)]
///          - sd (hi^(k-1) phi(b) - lo^(k-1) phi(a)) / mass,
/// whose boundary terms vanish at an infinite bound.
fn truncated_normal_moment(mean: f64, sd: f64, lo: f64, hi: f64, k: u32) -> f64 {
    let t = StdTrunc::new(mean, sd, lo, hi);
    let (mut prev, mut cur) = (0.0, 1.0); // E[X^(m-2)], E[X^(m-1)]
    let (mut lo_pow, mut hi_pow) = (1.0, 1.0); // lo^(m-1), hi^(m-1)
    for m in 1..=k {
        let boundary_hi = if t.r_b != 0.0 { hi_pow * t.r_b } else { 0.0 };
        let boundary_lo = if t.r_a != 0.0 { lo_pow * t.r_a } else { 0.0 };
        let next =
            mean * cur + f64::from(m - 1) * sd * sd * prev - sd * (boundary_hi - boundary_lo);
        prev = cur;
        cur = next;
        lo_pow *= lo;
        hi_pow *= hi;
    }
    cur
}

/// A normal(mean, sd) truncated to [lo, hi], in standard units.
struct StdTrunc {
    a: f64,
    b: f64,
    /// P(a <= Z <= b), without cancellation except for intervals narrow
    /// relative to their distance from zero.
    mass: f64,
    /// phi(a) / mass and phi(b) / mass (0 at an infinite bound).
    r_a: f64,
    r_b: f64,
}

impl StdTrunc {
    fn new(mean: f64, sd: f64, lo: f64, hi: f64) -> StdTrunc {
        let a = (lo - mean) / sd;
        let b = (hi - mean) / sd;
        let mass = if a >= 0.0 {
            std_upper(a) - std_upper(b)
        } else if b <= 0.0 {
            std_upper(-b) - std_upper(-a)
        } else {
            0.5 * (libm::erf(b * FRAC_1_SQRT_2) - libm::erf(a * FRAC_1_SQRT_2))
        };
        StdTrunc {
            a,
            b,
            mass,
            r_a: std_pdf(a) / mass,
            r_b: std_pdf(b) / mass,
        }
    }

    fn mean(&self) -> f64 {
        self.r_a - self.r_b
    }

    fn variance(&self) -> f64 {
        let edge = |z: f64, r: f64| if z.is_finite() { z * r } else { 0.0 };
        let m = self.mean();
        1.0 + edge(self.a, self.r_a) - edge(self.b, self.r_b) - m * m
    }
}

/// Exact draws of a truncated normal, by whichever of three samplers is
/// cheapest for the interval: rejection from the normal when the interval
/// holds enough of its mass; rejection from a uniform proposal when the
/// interval is narrow (the density varies little across it); otherwise the
/// inverse cdf in the tail, written with upper-tail masses so that it keeps
/// its digits where Phi rounds to 1.
fn fill_truncated_normal<R: Rng>(
    rng: &mut R,
    mean: f64,
    sd: f64,
    lo: f64,
    hi: f64,
    out: &mut [f64],
) {
    let t = StdTrunc::new(mean, sd, lo, hi);
    let (a, b) = (t.a, t.b);
    let place = |z: f64| (mean + sd * z).clamp(lo, hi);
    if t.mass >= NORMAL_REJECTION_MIN_ACCEPT {
        for x in out {
            *x = loop {
                let z: f64 = rng.sample(StandardNormal);
                if a <= z && z <= b {
                    break place(z);
                }
            };
        }
        return;
    }
    // The point of [a, b] nearest zero, where the density peaks.
    let peak = if a > 0.0 {
        a
    } else if b < 0.0 {
        b
    } else {
        0.0
    };
    let straddles = peak == 0.0;
    let uniform_accept = t.mass / (std_pdf(peak) * (b - a));
    if straddles || uniform_accept >= UNIFORM_REJECTION_MIN_ACCEPT {
        // A straddling interval with little mass is narrow, so this branch
        // always accepts often; b - a is finite here.
        let width = b - a;
        for x in out {
            *x = loop {
                let u: f64 = rng.random();
                let z = a + width * u;
                let w: f64 = rng.random();
                if w < (-0.5 * (z - peak) * (z + peak)).exp() {
                    break place(z);
                }
            };
        }
        return;
    }
    // One-sided tail: mirror the lower tail onto the upper one.
    let (sign, near, far) = if a > 0.0 { (1.0, a, b) } else { (-1.0, -b, -a) };
    let (q_near, q_far) = (std_upper(near), std_upper(far));
    for x in out {
        let u: f64 = rng.sample(Open01);
        let q = q_far + u * (q_near - q_far);
        let z = std_upper_inv(q);
        *x = place(sign * z.clamp(near, far));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;
    use statrs::distribution::{Continuous, ContinuousCDF};
    use statrs::statistics::Distribution as _;

    fn law(name: &str, params: &[f64]) -> Law {
        Law::new(name, params).unwrap()
    }

    /// One law of every kind, with parameters away from the special cases.
    fn zoo() -> Vec<Law> {
        vec![
            law("Normal", &[0.7, 1.3]),
            law("Uniform", &[-0.5, 2.0]),
            law("Laplace", &[0.3, 0.8]),
            law("StudentsT", &[0.2, 1.1, 9.0]),
            law("Cauchy", &[-0.4, 0.6]),
            law("Exponential", &[1.7]),
            law("Gamma", &[2.5, 1.5]),
            law("Beta", &[2.0, 3.5]),
            law("LogNormal", &[0.1, 0.4]),
            law("Triangular", &[-1.0, 2.0, 0.5]),
            law("Bernoulli", &[0.3]),
            law("TruncatedNormal", &[0.5, 1.2, -1.0, 2.5]),
        ]
    }

    /// Composite Simpson rule with `n` (even) panels: an integrator
    /// independent of every closed form in this module.
    fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
        let h = (b - a) / n as f64;
        let mut s = f(a) + f(b);
        for i in 1..n {
            let w = if i % 2 == 1 { 4.0 } else { 2.0 };
            s += w * f(a + h * i as f64);
        }
        s * h / 3.0
    }

    /// Simpson over consecutive breakpoints (kinks and a widening grid).
    fn integrate(f: impl Fn(f64) -> f64, breaks: &[f64]) -> f64 {
        breaks
            .windows(2)
            .map(|w| simpson(&f, w[0], w[1], 20_000))
            .sum()
    }

    /// Breakpoints covering the support of `law`, split at its kinks, with
    /// panels widening geometrically into infinite tails.
    fn grid(law: &Law) -> Vec<f64> {
        let (lo, hi) = law.support();
        let (c, s) = law.scale_hint();
        let mut pts = vec![];
        let mut kinks = vec![];
        match *law {
            Law::Laplace { loc, .. } => kinks.push(loc),
            Law::Triangular { mode, .. } => kinks.push(mode),
            _ => {}
        }
        let reach = |dir: f64| {
            (0..12)
                .map(|i| c + dir * s * 4f64.powi(i))
                .collect::<Vec<_>>()
        };
        pts.push(if lo.is_finite() {
            lo
        } else {
            c - s * 4f64.powi(14)
        });
        pts.extend(reach(-1.0));
        pts.push(c);
        pts.extend(reach(1.0));
        pts.push(if hi.is_finite() {
            hi
        } else {
            c + s * 4f64.powi(14)
        });
        pts.extend(kinks);
        let mut pts: Vec<f64> = pts.into_iter().filter(|&x| lo <= x && x <= hi).collect();
        pts.sort_by(f64::total_cmp);
        pts.dedup();
        pts
    }

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(1e-300)
    }

    fn rng(seed: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    // ---- density, support, scale ----

    type Density = Box<dyn Fn(f64) -> f64>;

    #[test]
    fn pdf_matches_statrs() {
        use statrs::distribution as sd;
        let xs = [-3.1, -0.9, 0.0, 0.05, 0.4, 0.77, 1.5, 2.9, 7.0];
        let pairs: Vec<(Law, Density)> = vec![
            (law("Normal", &[0.7, 1.3]), {
                let d = sd::Normal::new(0.7, 1.3).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("Uniform", &[-0.5, 2.0]), {
                let d = sd::Uniform::new(-0.5, 2.0).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("Laplace", &[0.3, 0.8]), {
                let d = sd::Laplace::new(0.3, 0.8).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("StudentsT", &[0.2, 1.1, 9.0]), {
                let d = sd::StudentsT::new(0.2, 1.1, 9.0).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("StudentsT", &[0.0, 1.0, 70.0]), {
                let d = sd::StudentsT::new(0.0, 1.0, 70.0).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("Cauchy", &[-0.4, 0.6]), {
                let d = sd::Cauchy::new(-0.4, 0.6).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("Exponential", &[1.7]), {
                let d = sd::Exp::new(1.7).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("Gamma", &[2.5, 1.5]), {
                let d = sd::Gamma::new(2.5, 1.5).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("Beta", &[2.0, 3.5]), {
                let d = sd::Beta::new(2.0, 3.5).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("LogNormal", &[0.1, 0.4]), {
                let d = sd::LogNormal::new(0.1, 0.4).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
            (law("Triangular", &[-1.0, 2.0, 0.5]), {
                let d = sd::Triangular::new(-1.0, 2.0, 0.5).unwrap();
                Box::new(move |x| d.pdf(x))
            }),
        ];
        for (l, f) in &pairs {
            for &x in &xs {
                let (got, want) = (l.pdf(x), f(x));
                assert!(
                    close(got, want, 1e-12) || (got == 0.0 && want == 0.0),
                    "{l:?} at {x}: {got} vs statrs {want}"
                );
            }
        }
    }

    #[test]
    fn truncated_pdf_is_renormalized_normal() {
        let l = law("TruncatedNormal", &[0.5, 1.2, -1.0, 2.5]);
        let n = statrs::distribution::Normal::new(0.5, 1.2).unwrap();
        // statrs's cdf is only good to ~1e-10 (its erf); libm's erf is not.
        let (a, b) = ((-1.0 - 0.5) / 1.2, (2.5 - 0.5) / 1.2);
        let mass = 0.5 * (libm::erf(b / SQRT_2) - libm::erf(a / SQRT_2));
        for x in [-1.0, -0.3, 0.5, 1.9, 2.5] {
            assert!(close(l.pdf(x), n.pdf(x) / mass, 1e-13));
        }
        assert_eq!(l.pdf(-1.0001), 0.0);
        assert_eq!(l.pdf(2.5001), 0.0);
    }

    #[test]
    fn densities_integrate_to_one() {
        for l in zoo().iter().filter(|l| l.atoms().is_none()) {
            let total = integrate(|x| l.pdf(x), &grid(l));
            // Cauchy's tails beyond 4^14 scales hold 2/(pi 4^14) of the mass.
            let tol = if matches!(l, Law::Cauchy { .. }) {
                1e-8
            } else {
                1e-10
            };
            assert!(close(total, 1.0, tol), "{l:?}: {total}");
        }
    }

    #[test]
    fn student_t_constant_at_large_dof() {
        // Against 40-digit values of ln Gamma(x + 1/2) - ln Gamma(x) (mpmath).
        let truth = [
            (0.5, -0.5723649429247001),
            (1.0, -0.12078223763524522),
            (2.5, 0.40846431008702616),
            (10.0, 1.1387977393222941),
            (17.5, 1.4239585541895394),
            (19.9, 1.489079119236098),
            (20.0, 1.491616787331304),
            (25.0, 1.6044382456076276),
            (80.0, 2.18945082750899),
        ];
        for (x, want) in truth {
            let got = ln_gamma_half_ratio(x);
            assert!((got - want).abs() < 1e-14, "{x}: {got} vs {want}");
        }
        // Far out the density tends to the normal's, to O(1/dof).
        let t = law("StudentsT", &[0.0, 1.0, 1e12]);
        for x in [0.0, 1.0, 2.5] {
            assert!(close(t.pdf(x), std_pdf(x), 1e-11), "{x}");
        }
    }

    #[test]
    fn densities_at_endpoints() {
        assert_eq!(law("Gamma", &[0.5, 1.0]).pdf(0.0), f64::INFINITY);
        assert_eq!(law("Gamma", &[1.0, 2.5]).pdf(0.0), 2.5);
        assert_eq!(law("Gamma", &[3.0, 1.0]).pdf(0.0), 0.0);
        assert_eq!(law("Beta", &[1.0, 4.0]).pdf(0.0), 4.0);
        assert_eq!(law("Beta", &[4.0, 1.0]).pdf(1.0), 4.0);
        assert_eq!(law("Beta", &[2.0, 0.5]).pdf(1.0), f64::INFINITY);
        assert_eq!(law("Exponential", &[2.0]).pdf(-1e-9), 0.0);
        assert_eq!(law("LogNormal", &[0.0, 1.0]).pdf(0.0), 0.0);
        assert_eq!(law("Bernoulli", &[0.3]).pdf(1.0), 0.0);
        // Degenerate triangles: the mode at an end.
        let left = law("Triangular", &[0.0, 2.0, 0.0]);
        assert_eq!(left.pdf(0.0), 1.0);
        assert_eq!(left.pdf(1.0), 0.5);
    }

    #[test]
    fn atoms_and_pmf() {
        let b = law("Bernoulli", &[0.3]);
        assert_eq!(b.atoms(), Some(&[0.0, 1.0][..]));
        assert_eq!(b.pmf(1.0), 0.3);
        assert_eq!(b.pmf(0.0), 0.7);
        assert_eq!(b.pmf(0.5), 0.0);
        for l in zoo().iter().filter(|l| !matches!(l, Law::Bernoulli { .. })) {
            assert_eq!(l.atoms(), None);
            assert_eq!(l.pmf(0.0), 0.0);
        }
    }

    #[test]
    fn supports() {
        let inf = f64::INFINITY;
        assert_eq!(law("Normal", &[0.0, 1.0]).support(), (-inf, inf));
        assert_eq!(law("Cauchy", &[0.0, 1.0]).support(), (-inf, inf));
        assert_eq!(law("Gamma", &[2.0, 1.0]).support(), (0.0, inf));
        assert_eq!(law("LogNormal", &[0.0, 1.0]).support(), (0.0, inf));
        assert_eq!(law("Beta", &[2.0, 1.0]).support(), (0.0, 1.0));
        assert_eq!(law("Triangular", &[-1.0, 3.0, 0.0]).support(), (-1.0, 3.0));
        let t = law("TruncatedNormal", &[0.0, 1.0, -inf, 2.0]);
        assert_eq!(t.support(), (-inf, 2.0));
        // The density vanishes just outside every finite end.
        for l in zoo().iter().filter(|l| l.atoms().is_none()) {
            let (lo, hi) = l.support();
            if lo.is_finite() {
                assert_eq!(l.pdf(lo - 1e-9 * (1.0 + lo.abs())), 0.0, "{l:?}");
            }
            if hi.is_finite() {
                assert_eq!(l.pdf(hi + 1e-9 * (1.0 + hi.abs())), 0.0, "{l:?}");
            }
        }
    }

    #[test]
    fn scale_hints_locate_the_mass() {
        for l in zoo() {
            let (c, s) = l.scale_hint();
            assert!(c.is_finite() && s.is_finite() && s > 0.0, "{l:?}");
            let (lo, hi) = l.support();
            assert!(lo <= c && c <= hi, "{l:?}");
        }
        // Where a mean and sd exist they are the hint (checked against statrs).
        let g = statrs::distribution::Gamma::new(2.5, 1.5).unwrap();
        let (c, s) = law("Gamma", &[2.5, 1.5]).scale_hint();
        assert!(close(c, g.mean().unwrap(), 1e-15) && close(s, g.std_dev().unwrap(), 1e-15));
        let b = statrs::distribution::Beta::new(2.0, 3.5).unwrap();
        let (c, s) = law("Beta", &[2.0, 3.5]).scale_hint();
        assert!(close(c, b.mean().unwrap(), 1e-15) && close(s, b.std_dev().unwrap(), 1e-14));
        let t = statrs::distribution::Triangular::new(-1.0, 2.0, 0.5).unwrap();
        let (c, s) = law("Triangular", &[-1.0, 2.0, 0.5]).scale_hint();
        assert!(close(c, t.mean().unwrap(), 1e-15) && close(s, t.std_dev().unwrap(), 1e-14));
        // A far-tail truncation: the mass sits just above lo = 30, within
        // about 1/30 of it (the Mills ratio).
        let tail = law("TruncatedNormal", &[0.0, 1.0, 30.0, f64::INFINITY]);
        let (c, s) = tail.scale_hint();
        assert!(c > 30.0 && c < 30.05 && s > 0.02 && s < 0.04, "{c} {s}");
        // A very narrow truncation is nearly uniform: sd ~ width / sqrt(12).
        let narrow = law("TruncatedNormal", &[0.0, 1.0, 1.0, 1.0 + 1e-9]);
        let (c, s) = narrow.scale_hint();
        assert!((1.0..=1.0 + 1e-9).contains(&c));
        assert!(close(s, 1e-9 / 12f64.sqrt(), 1e-2), "{s}");
    }

    #[test]
    fn normal_tail_helpers_keep_their_digits() {
        // P(Z > z) and phi(z) to 30 digits (mpmath), where 1 - Phi rounds to 0.
        let truth = [
            (8.0, 6.220_960_574_271_784e-16, 5.052_271_083_536_892e-15),
            (20.0, 2.753_624_118_606_234e-89, 5.520_948_362_159_763e-88),
            (25.0, 3.056_696_706_382_561e-138, 7.653_929_736_419_393e-137),
            (
                30.0,
                4.906_713_927_148_187e-198,
                1.473_646_134_878_547_5e-196,
            ),
        ];
        for (z, q, density) in truth {
            assert!(close(std_upper(z), q, 4e-16), "Q({z}) = {}", std_upper(z));
            assert!(
                close(std_pdf(z), density, 4e-16),
                "phi({z}) = {}",
                std_pdf(z)
            );
            assert!(close(std_upper(-z), 1.0 - q, 1e-16));
            assert!(close(std_upper_inv(q), z, 1e-15), "{}", std_upper_inv(q));
        }
        for q in [0.5, 0.1, 1e-3, 0.97] {
            assert!(close(std_upper(std_upper_inv(q)), q, 1e-15), "{q}");
        }
    }

    // ---- raw moments ----

    #[test]
    fn moments_match_statrs_mean_and_variance() {
        use statrs::distribution as sd;
        let pairs: Vec<(Law, Option<f64>, Option<f64>)> = {
            let mv = |d: &dyn statrs::statistics::Distribution<f64>| (d.mean(), d.variance());
            vec![
                (
                    law("Normal", &[0.7, 1.3]),
                    mv(&sd::Normal::new(0.7, 1.3).unwrap()),
                ),
                (
                    law("Uniform", &[-0.5, 2.0]),
                    mv(&sd::Uniform::new(-0.5, 2.0).unwrap()),
                ),
                (
                    law("Laplace", &[0.3, 0.8]),
                    mv(&sd::Laplace::new(0.3, 0.8).unwrap()),
                ),
                (
                    law("StudentsT", &[0.2, 1.1, 9.0]),
                    mv(&sd::StudentsT::new(0.2, 1.1, 9.0).unwrap()),
                ),
                (law("Exponential", &[1.7]), mv(&sd::Exp::new(1.7).unwrap())),
                (
                    law("Gamma", &[2.5, 1.5]),
                    mv(&sd::Gamma::new(2.5, 1.5).unwrap()),
                ),
                (
                    law("Beta", &[2.0, 3.5]),
                    mv(&sd::Beta::new(2.0, 3.5).unwrap()),
                ),
                (
                    law("LogNormal", &[0.1, 0.4]),
                    mv(&sd::LogNormal::new(0.1, 0.4).unwrap()),
                ),
                (
                    law("Triangular", &[-1.0, 2.0, 0.5]),
                    mv(&sd::Triangular::new(-1.0, 2.0, 0.5).unwrap()),
                ),
                (
                    law("Bernoulli", &[0.3]),
                    mv(&sd::Bernoulli::new(0.3).unwrap()),
                ),
            ]
            .into_iter()
            .map(|(l, (m, v))| (l, m, v))
            .collect()
        };
        for (l, mean, var) in pairs {
            let (mean, var) = (mean.unwrap(), var.unwrap());
            let m1 = l.raw_moment(1).unwrap();
            let m2 = l.raw_moment(2).unwrap();
            assert!(close(m1, mean, 1e-14), "{l:?}: mean {m1} vs {mean}");
            assert!(
                close(m2 - m1 * m1, var, 1e-13),
                "{l:?}: var {} vs {var}",
                m2 - m1 * m1
            );
        }
    }

    #[test]
    fn moments_match_simpson_integration() {
        let mut laws = zoo();
        laws.retain(|l| l.atoms().is_none() && !matches!(l, Law::Cauchy { .. }));
        laws.extend([
            law("Normal", &[-2.0, 0.5]),
            law("Uniform", &[1.0, 3.0]),
            law("Uniform", &[-3.0, -1.0]),
            law("Laplace", &[-1.5, 2.0]),
            law("StudentsT", &[-0.3, 0.9, 14.5]),
            law("Beta", &[3.0, 3.0]),
            law("Triangular", &[0.0, 1.0, 1.0]),
            law("Triangular", &[-2.0, -1.0, -1.8]),
            law("TruncatedNormal", &[1.0, 2.0, f64::NEG_INFINITY, 1.5]),
            law("TruncatedNormal", &[-1.0, 0.5, -0.2, f64::INFINITY]),
        ]);
        for l in &laws {
            let breaks = grid(l);
            for k in 1..=6u32 {
                if f64::from(k) >= l.tail_index() {
                    continue;
                }
                let want = integrate(|x| l.pdf(x) * x.powi(k as i32), &breaks);
                // Odd moments may vanish: measure error against E|X|^k.
                let size = integrate(|x| l.pdf(x) * x.abs().powi(k as i32), &breaks);
                let got = l.raw_moment(k).unwrap();
                assert!(
                    (got - want).abs() <= 1e-10 * size,
                    "{l:?} k = {k}: {got} vs Simpson {want}"
                );
            }
        }
    }

    #[test]
    fn gamma_and_beta_moments_against_special_functions() {
        use statrs::function::beta::beta;
        use statrs::function::gamma::gamma;
        // Shapes below 1 too, where the density is unbounded at 0 and
        // Simpson cannot be used: Gamma(shape + k) / (Gamma(shape) rate^k)
        // and B(a + k, b) / B(a, b).
        for (shape, rate) in [(0.7, 3.0), (2.5, 1.5), (0.2, 0.5)] {
            let l = law("Gamma", &[shape, rate]);
            for k in 1..=6u32 {
                let want = gamma(shape + f64::from(k)) / (gamma(shape) * rate.powi(k as i32));
                let got = l.raw_moment(k).unwrap();
                assert!(close(got, want, 1e-12), "{l:?} k = {k}: {got} vs {want}");
            }
        }
        for (a, b) in [(0.5, 0.5), (2.0, 3.5), (0.3, 4.0)] {
            let l = law("Beta", &[a, b]);
            for k in 1..=6u32 {
                let want = beta(a + f64::from(k), b) / beta(a, b);
                let got = l.raw_moment(k).unwrap();
                assert!(close(got, want, 1e-12), "{l:?} k = {k}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn lognormal_moments_by_integration_in_log_space() {
        // E[X^k] = integral of e^(k y) over the normal law of y = ln X,
        // integrated through the LogNormal density (dx = e^y dy).
        let (mu, sigma) = (0.1, 0.4);
        let l = law("LogNormal", &[mu, sigma]);
        for k in 1..=6 {
            let peak = mu + f64::from(k) * sigma * sigma;
            let want = simpson(
                |y: f64| l.pdf(y.exp()) * y.exp() * (f64::from(k) * y).exp(),
                peak - 40.0 * sigma,
                peak + 40.0 * sigma,
                200_000,
            );
            let got = l.raw_moment(k).unwrap();
            assert!(close(got, want, 1e-12), "k = {k}: {got} vs {want}");
        }
    }

    #[test]
    fn moments_of_small_order_in_closed_form() {
        let m = |name: &str, p: &[f64], k| law(name, p).raw_moment(k).unwrap();
        // Standard normal: (k-1)!!; Laplace: k!; Exponential: k!/rate^k.
        assert_eq!(m("Normal", &[0.0, 1.0], 8), 105.0);
        assert_eq!(m("Normal", &[0.0, 1.0], 7), 0.0);
        assert_eq!(m("Laplace", &[0.0, 1.0], 6), 720.0);
        assert_eq!(m("Exponential", &[1.0], 5), 120.0);
        assert!(close(m("Exponential", &[2.0], 3), 6.0 / 8.0, 1e-15));
        // Student t: E[T^4] = 3 dof^2 / ((dof-2)(dof-4)).
        assert!(close(
            m("StudentsT", &[0.0, 1.0, 7.0], 4),
            3.0 * 49.0 / 15.0,
            1e-15
        ));
        // Gamma: shape (shape+1) / rate^2; Beta: a (a+1) / ((a+b)(a+b+1)).
        assert!(close(m("Gamma", &[2.5, 2.0], 2), 2.5 * 3.5 / 4.0, 1e-15));
        assert!(close(m("Beta", &[2.0, 3.0], 2), 6.0 / 30.0, 1e-15));
        // Bernoulli: every moment is p.
        assert_eq!(m("Bernoulli", &[0.3], 5), 0.3);
        // k = 0 is 1 for every law, including those without moments.
        for l in zoo().iter().chain([&law("Cauchy", &[0.0, 1.0])]) {
            assert_eq!(l.raw_moment(0), Ok(1.0));
        }
    }

    #[test]
    fn moments_that_do_not_exist_are_undefined() {
        let c = law("Cauchy", &[0.0, 1.0]);
        assert_eq!(c.raw_moment(1), Err(NoMoment::Undefined));
        assert_eq!(c.raw_moment(2), Err(NoMoment::Undefined));
        let t = law("StudentsT", &[0.0, 1.0, 3.0]);
        assert!(t.raw_moment(2).is_ok());
        assert_eq!(t.raw_moment(3), Err(NoMoment::Undefined));
        assert_eq!(t.raw_moment(4), Err(NoMoment::Undefined));
        let t = law("StudentsT", &[1.0, 1.0, 2.5]);
        assert!(t.raw_moment(2).is_ok());
        assert_eq!(t.raw_moment(3), Err(NoMoment::Undefined));
    }

    #[test]
    fn truncated_normal_moments_against_high_precision_values() {
        // 50-digit quadrature (mpmath, in the variable t = x - bound with the
        // factor phi(bound) taken out), rounded to f64.
        let inf = f64::INFINITY;
        let cases: [([f64; 4], [f64; 4], f64); 4] = [
            (
                [0.0, 1.0, 8.0, inf],
                [
                    8.121368112236112,
                    65.9709448978889,
                    536.0102954075834,
                    4356.053308158556,
                ],
                1e-15,
            ),
            (
                [0.0, 1.0, 30.0, inf],
                [
                    30.033259667433676,
                    901.9977900230103,
                    27090.000220025177,
                    813604.0043907783,
                ],
                1e-15,
            ),
            (
                [0.0, 1.0, -inf, -5.0],
                [
                    -5.186503967125842,
                    26.93251983562921,
                    -140.03560711239774,
                    729.1105553976179,
                ],
                1e-15,
            ),
            // An interval narrow against its distance from zero: its mass is a
            // difference of tail masses 700 times larger than itself, and
            // the recursion divides by it (formula-limited, ~1e-13).
            (
                [0.0, 1.0, 1.0, 1.001],
                [
                    1.0004999166250041,
                    1.0010001664999666,
                    1.0015007498748123,
                    1.0020016669996663,
                ],
                1e-12,
            ),
        ];
        for (p, want, tol) in cases {
            let l = law("TruncatedNormal", &p);
            for (k, w) in (1..=4).zip(want) {
                let got = l.raw_moment(k).unwrap();
                assert!(close(got, w, tol), "{p:?} k = {k}: {got} vs {w}");
            }
        }
        // docs/REFERENCES.md: the sd of N(0, 1) truncated to (-2, 2), by which
        // variance_scaling's truncated_normal divides.
        let sd = law("TruncatedNormal", &[0.0, 1.0, -2.0, 2.0])
            .raw_moment(2)
            .unwrap()
            .sqrt();
        assert!(close(sd, 0.879_625_661_034_239_8, 1e-15), "{sd}");
    }

    #[test]
    fn uniform_moments_avoid_cancellation() {
        // (hi^(k+1) - lo^(k+1)) / ((k+1)(hi-lo)) at hi = 1.000001, lo = -1,
        // to 50 digits (mpmath): the naive form loses ~6 digits.
        let u = law("Uniform", &[-1.0, 1.000001]);
        assert!(close(u.raw_moment(3).unwrap(), 5.000004999591166e-7, 1e-14));
        assert!(close(u.raw_moment(5).unwrap(), 5.000009999600332e-7, 1e-14));
        assert_eq!(law("Uniform", &[-0.3, 0.3]).raw_moment(5), Ok(0.0));
        assert_eq!(law("Triangular", &[-0.3, 0.3, 0.0]).raw_moment(3), Ok(0.0));
    }

    #[test]
    fn untruncated_normal_is_the_normal() {
        let inf = f64::INFINITY;
        let t = law("TruncatedNormal", &[0.4, 1.7, -inf, inf]);
        let n = law("Normal", &[0.4, 1.7]);
        for k in 0..=8 {
            assert!(close(
                t.raw_moment(k).unwrap(),
                n.raw_moment(k).unwrap(),
                1e-14
            ));
        }
        assert!(close(t.pdf(0.9), n.pdf(0.9), 1e-15));
        assert!(t.is_gaussian());
        assert_eq!(t.is_symmetric_about(), Some(0.4));
    }

    proptest::proptest! {
        /// Stein's identity E[X^k] = mean E[X^(k-1)] + (k-1) sd^2 E[X^(k-2)]
        /// holds for the binomial-expansion normal moments.
        #[test]
        fn normal_moments_satisfy_stein(mean in -3.0..3.0f64, sd in 0.1..3.0f64, k in 2..16u32) {
            let l = law("Normal", &[mean, sd]);
            let m = |j| l.raw_moment(j).unwrap();
            let rhs = mean * m(k - 1) + f64::from(k - 1) * sd * sd * m(k - 2);
            let size = (mean.abs() + sd).powi(k as i32) * 2f64.powi(k as i32);
            proptest::prop_assert!((m(k) - rhs).abs() <= 1e-13 * size);
        }

        /// Same-sign uniform bounds: the textbook form has no cancellation.
        #[test]
        fn uniform_moments_match_textbook(lo in 0.0..2.0f64, w in 0.01..3.0f64, k in 1..20u32, neg in proptest::bool::ANY) {
            let (lo, hi) = if neg { (-lo - w, -lo) } else { (lo, lo + w) };
            let k1 = f64::from(k) + 1.0;
            let want = (hi.powf(k1) - lo.powf(k1)) / (k1 * (hi - lo));
            let got = law("Uniform", &[lo, hi]).raw_moment(k).unwrap();
            proptest::prop_assert!(close(got, want, 1e-12 * k1 * (hi.abs() + lo.abs()) / w));
        }

        /// Shifting the law shifts its moments binomially:
        /// E[(X + c)^2] = E[X^2] + 2c E[X] + c^2, for every family with a location.
        #[test]
        fn moments_follow_a_shift(c in -2.0..2.0f64) {
            let pairs = [
                (law("Laplace", &[0.3, 0.8]), law("Laplace", &[0.3 + c, 0.8])),
                (law("StudentsT", &[0.2, 1.1, 9.0]), law("StudentsT", &[0.2 + c, 1.1, 9.0])),
                (law("Triangular", &[-1.0, 2.0, 0.5]), law("Triangular", &[-1.0 + c, 2.0 + c, 0.5 + c])),
                (law("TruncatedNormal", &[0.5, 1.2, -1.0, 2.5]), law("TruncatedNormal", &[0.5 + c, 1.2, -1.0 + c, 2.5 + c])),
            ];
            for (x, shifted) in pairs {
                let m = |j| x.raw_moment(j).unwrap();
                let want = m(2) + 2.0 * c * m(1) + c * c;
                let got = shifted.raw_moment(2).unwrap();
                proptest::prop_assert!((got - want).abs() <= 1e-13 * (m(2) + c * c + 1.0), "{:?}", x);
            }
        }
    }

    // ---- validation ----

    fn rejects(name: &str, p: &[f64]) -> (usize, String) {
        let e = Law::new(name, p).unwrap_err();
        (e.index, e.message)
    }

    #[test]
    fn parameter_errors_name_the_parameter() {
        let inf = f64::INFINITY;
        assert_eq!(
            rejects("Normal", &[0.0, -1.0]),
            (1, "sd must be > 0 (got -1)".into())
        );
        assert_eq!(
            rejects("Uniform", &[2.0, 1.0]),
            (1, "Uniform needs lo < hi (got lo = 2, hi = 1)".into())
        );
        assert_eq!(
            rejects("Normal", &[0.0, 1.0, 2.0]),
            (2, "Normal takes 2 parameters (mean, sd), got 3".into())
        );
        assert_eq!(
            rejects("Normal", &[0.0]),
            (1, "Normal takes 2 parameters (mean, sd), got 1".into())
        );
        assert_eq!(
            rejects("Exponential", &[]),
            (0, "Exponential takes 1 parameter (rate), got 0".into())
        );
        assert_eq!(
            rejects("Normal", &[f64::NAN, 1.0]),
            (0, "mean must be finite (got NaN)".into())
        );
        assert_eq!(
            rejects("Gamma", &[inf, 1.0]),
            (0, "shape must be finite (got inf)".into())
        );
        assert_eq!(
            rejects("Gamma", &[1.0, 0.0]),
            (1, "rate must be > 0 (got 0)".into())
        );
        assert_eq!(
            rejects("StudentsT", &[0.0, 1.0, 0.0]),
            (2, "dof must be > 0 (got 0)".into())
        );
        assert_eq!(
            rejects("Beta", &[-0.5, 1.0]),
            (0, "a must be > 0 (got -0.5)".into())
        );
        assert_eq!(
            rejects("Bernoulli", &[1.5]),
            (0, "p must be in [0, 1] (got 1.5)".into())
        );
        assert_eq!(
            rejects("Triangular", &[0.0, 1.0, 2.0]),
            (
                2,
                "Triangular needs lo <= mode <= hi (got lo = 0, hi = 1, mode = 2)".into()
            )
        );
        assert_eq!(rejects("Uniform", &[-1e308, 1e308]).0, 1);
        // The truncated normal's bounds alone may be infinite, outward only.
        assert!(Law::new("TruncatedNormal", &[0.0, 1.0, -inf, inf]).is_ok());
        assert_eq!(
            rejects("TruncatedNormal", &[0.0, 1.0, inf, inf]),
            (2, "lo must be finite or -inf (got inf)".into())
        );
        assert_eq!(
            rejects("TruncatedNormal", &[0.0, 1.0, 0.0, -inf]),
            (3, "hi must be finite or inf (got -inf)".into())
        );
        assert_eq!(
            rejects("TruncatedNormal", &[0.0, 1.0, 2.0, 1.0]),
            (
                3,
                "TruncatedNormal needs lo < hi (got lo = 2, hi = 1)".into()
            )
        );
        assert_eq!(rejects("TruncatedNormal", &[0.0, 1.0, f64::NAN, 1.0]).0, 2);
        // 40 sd out, the normal's mass is below what f64 ratios can carry.
        let (i, msg) = rejects("TruncatedNormal", &[0.0, 1.0, 40.0, inf]);
        assert_eq!(i, 2);
        assert!(msg.contains("mass"), "{msg}");
        assert!(Law::new("TruncatedNormal", &[0.0, 1.0, 35.0, inf]).is_ok());
    }

    #[test]
    fn unknown_laws_list_the_known_ones() {
        let (i, msg) = rejects("Gaussian", &[0.0, 1.0]);
        assert_eq!(i, 0);
        for (name, _) in Law::SIGNATURES {
            assert!(msg.contains(name), "{msg}");
        }
        let (_, msg) = rejects("normal", &[0.0, 1.0]);
        assert!(msg.contains("did you mean `Normal`?"), "{msg}");
    }

    #[test]
    fn every_signature_constructs_and_counts() {
        for (name, pnames) in Law::SIGNATURES {
            // A parameter list valid for every law: increasing, in (0, 1).
            let mut ok: Vec<f64> = (1..=pnames.len()).map(|i| i as f64 / 10.0).collect();
            if *name == "Triangular" {
                ok.swap(1, 2); // (lo, hi, mode) = (0.1, 0.3, 0.2)
            }
            if *name == "BivariateNormal" {
                assert!(Bivariate::new(&ok).is_ok());
                continue;
            }
            let l = Law::new(name, &ok).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            // The law's generic facts hold for it.
            let (c, s) = l.scale_hint();
            assert!(c.is_finite() && s > 0.0, "{name}");
            let mut extra = ok.clone();
            extra.push(0.5);
            let e = Law::new(name, &extra).unwrap_err();
            assert_eq!(e.index, pnames.len());
            assert!(
                e.message
                    .starts_with(&format!("{name} takes {}", pnames.len()))
            );
        }
    }

    // ---- structural facts ----

    #[test]
    fn symmetry_gaussianity_and_tails() {
        let inf = f64::INFINITY;
        let sym = |name: &str, p: &[f64]| law(name, p).is_symmetric_about();
        assert_eq!(sym("Normal", &[0.7, 1.3]), Some(0.7));
        assert_eq!(sym("Uniform", &[-0.5, 2.0]), Some(0.75));
        assert_eq!(sym("Laplace", &[0.3, 0.8]), Some(0.3));
        assert_eq!(sym("StudentsT", &[0.2, 1.1, 2.0]), Some(0.2));
        assert_eq!(sym("Cauchy", &[-0.4, 0.6]), Some(-0.4));
        assert_eq!(sym("Triangular", &[-1.0, 1.0, 0.0]), Some(0.0));
        assert_eq!(sym("Triangular", &[0.1, 0.5, 0.3]), Some(0.3));
        assert_eq!(sym("Triangular", &[-1.0, 2.0, 0.0]), None);
        assert_eq!(sym("Beta", &[2.0, 2.0]), Some(0.5));
        assert_eq!(sym("Beta", &[2.0, 3.5]), None);
        assert_eq!(sym("TruncatedNormal", &[0.0, 1.0, -2.0, 2.0]), Some(0.0));
        assert_eq!(sym("TruncatedNormal", &[1.0, 1.0, -1.0, 3.0]), Some(1.0));
        assert_eq!(sym("TruncatedNormal", &[0.0, 1.0, -2.0, 2.5]), None);
        assert_eq!(sym("TruncatedNormal", &[0.0, 1.0, -inf, 2.0]), None);
        assert_eq!(sym("Bernoulli", &[0.5]), Some(0.5));
        assert_eq!(sym("Bernoulli", &[0.3]), None);
        assert_eq!(sym("Exponential", &[1.0]), None);
        assert_eq!(sym("Gamma", &[2.0, 1.0]), None);
        assert_eq!(sym("LogNormal", &[0.0, 0.1]), None);
        // A claimed centre must make the odd central moments vanish.
        for l in zoo() {
            if let Some(c) = l.is_symmetric_about()
                && l.tail_index() > 3.0
            {
                let m = |k| l.raw_moment(k).unwrap();
                let third = m(3) - 3.0 * c * m(2) + 3.0 * c * c * m(1) - c.powi(3);
                let size = m(2) * (m(1).abs() + m(2).sqrt()) + c.abs().powi(3);
                assert!(third.abs() <= 1e-13 * size, "{l:?}: {third}");
                assert!(close(m(1), c, 1e-14) || (m(1) - c).abs() < 1e-15, "{l:?}");
            }
        }
        for l in zoo() {
            assert_eq!(l.is_gaussian(), matches!(l, Law::Normal { .. }), "{l:?}");
            let want = match l {
                Law::StudentsT { dof, .. } => dof,
                Law::Cauchy { .. } => 1.0,
                _ => inf,
            };
            assert_eq!(l.tail_index(), want);
            // Below the tail index every moment is defined, at it none is.
            if want.is_finite() {
                assert!(l.raw_moment(want.ceil() as u32 - 1).is_ok());
                assert!(l.raw_moment(want.ceil() as u32).is_err());
            } else {
                assert!(l.raw_moment(12).is_ok());
            }
        }
    }

    // ---- sampling ----

    /// Mean and variance of `n` draws within 6 standard errors of the
    /// exact ones, the errors derived from the exact central moments.
    fn check_sampling(l: &Law, seed: u64) {
        let n = 1_000_000;
        let mut xs = vec![0.0; n];
        l.fill(&mut rng(seed), &mut xs);
        let m = |k| l.raw_moment(k).unwrap();
        let mean = m(1);
        let var = m(2) - mean * mean;
        let mu4 = m(4) - 4.0 * mean * m(3) + 6.0 * mean * mean * m(2) - 3.0 * mean.powi(4);
        let nf = n as f64;
        let sample_mean = xs.iter().sum::<f64>() / nf;
        let sample_var = xs.iter().map(|x| (x - sample_mean).powi(2)).sum::<f64>() / (nf - 1.0);
        let se_mean = (var / nf).sqrt();
        let se_var = ((mu4 - var * var) / nf).sqrt();
        assert!(
            (sample_mean - mean).abs() < 6.0 * se_mean,
            "{l:?}: mean {sample_mean} vs {mean} (se {se_mean})"
        );
        assert!(
            (sample_var - var).abs() < 6.0 * se_var,
            "{l:?}: var {sample_var} vs {var} (se {se_var})"
        );
        let (lo, hi) = l.support();
        assert!(
            xs.iter().all(|&x| lo <= x && x <= hi),
            "{l:?} left its support"
        );
    }

    #[test]
    fn sampling_matches_moments() {
        let mut laws = zoo();
        laws.retain(|l| !matches!(l, Law::Cauchy { .. }));
        laws.push(law("Beta", &[0.5, 0.5]));
        laws.push(law("Gamma", &[0.3, 2.0]));
        laws.push(law("Triangular", &[0.0, 1.0, 1.0]));
        laws.push(law("Bernoulli", &[0.01]));
        for (seed, l) in laws.iter().enumerate() {
            check_sampling(l, 1000 + seed as u64);
        }
    }

    /// The Kolmogorov–Smirnov distance of draws from `cdf`, against the
    /// asymptotic critical value at level 1e-6.
    fn check_ks(l: &Law, cdf: impl Fn(f64) -> f64, seed: u64) {
        let n = 200_000;
        let mut xs = vec![0.0; n];
        l.fill(&mut rng(seed), &mut xs);
        xs.sort_by(f64::total_cmp);
        let nf = n as f64;
        let d = xs
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = cdf(x);
                (f - i as f64 / nf)
                    .abs()
                    .max((f - (i + 1) as f64 / nf).abs())
            })
            .fold(0.0, f64::max);
        let critical = ((2.0 / 1e-6f64).ln() / 2.0).sqrt() / nf.sqrt();
        assert!(d < critical, "{l:?}: KS distance {d} >= {critical}");
    }

    /// The truncated-normal cdf written from erfc tail masses, for each
    /// sampler regime (normal rejection, uniform rejection, tail inverse).
    #[test]
    fn truncated_normal_draws_follow_its_cdf() {
        let inf = f64::INFINITY;
        let cases = [
            [0.0, 1.0, -2.0, 2.0],
            [1.0, 2.0, -inf, 1.5],
            [0.0, 1.0, -0.1, 0.3],
            [0.0, 1.0, 5.0, 5.05],
            [0.0, 1.0, 3.0, inf],
            [2.0, 0.5, -inf, -1.0],
            [0.0, 1.0, 8.0, 9.0],
            [0.0, 1.0, 30.0, inf],
        ];
        for (seed, p) in cases.iter().enumerate() {
            let l = law("TruncatedNormal", p);
            let (mean, sd, lo, hi) = (p[0], p[1], p[2], p[3]);
            let (a, b) = ((lo - mean) / sd, (hi - mean) / sd);
            let cdf = |x: f64| {
                let z = ((x - mean) / sd).clamp(a, b);
                if a >= 0.0 {
                    let ea = libm::erfc(a / SQRT_2);
                    (ea - libm::erfc(z / SQRT_2)) / (ea - libm::erfc(b / SQRT_2))
                } else {
                    let eb = libm::erfc(-b / SQRT_2);
                    (libm::erfc(-z / SQRT_2) - libm::erfc(-a / SQRT_2))
                        / (eb - libm::erfc(-a / SQRT_2))
                }
            };
            check_ks(&l, cdf, 2000 + seed as u64);
            check_sampling(&l, 3000 + seed as u64);
        }
    }

    #[test]
    fn cauchy_and_heavy_t_draws_follow_their_cdfs() {
        let c = law("Cauchy", &[-0.4, 0.6]);
        check_ks(&c, |x| 0.5 + ((x + 0.4) / 0.6).atan() / PI, 11);
        let t = law("StudentsT", &[0.5, 2.0, 2.5]);
        let d = statrs::distribution::StudentsT::new(0.5, 2.0, 2.5).unwrap();
        check_ks(&t, |x| d.cdf(x), 12);
        let lap = law("Laplace", &[1.0, 0.5]);
        let d = statrs::distribution::Laplace::new(1.0, 0.5).unwrap();
        check_ks(&lap, |x| d.cdf(x), 13);
    }

    #[test]
    fn fill_is_reproducible_and_batch_independent() {
        // One seed, one stream: a batch of 10 equals the first 10 of 20.
        for l in zoo() {
            let mut a = vec![0.0; 10];
            let mut b = vec![0.0; 20];
            l.fill(&mut rng(5), &mut a);
            l.fill(&mut rng(5), &mut b);
            assert_eq!(a[..], b[..10], "{l:?}");
        }
    }

    // ---- the bivariate pair ----

    #[test]
    fn bivariate_validation() {
        let e = Bivariate::new(&[1.0, 2.0]).unwrap_err();
        assert_eq!(e.index, 2);
        assert_eq!(
            e.message,
            "BivariateNormal takes 3 parameters (sd_u, sd_v, rho), got 2"
        );
        let e = Bivariate::new(&[1.0, 0.0, 0.5]).unwrap_err();
        assert_eq!(
            (e.index, e.message.as_str()),
            (1, "sd_v must be > 0 (got 0)")
        );
        let e = Bivariate::new(&[1.0, 1.0, 1.5]).unwrap_err();
        assert_eq!(
            (e.index, e.message.as_str()),
            (2, "rho must be in [-1, 1] (got 1.5)")
        );
        let e = Bivariate::new(&[f64::NAN, 1.0, 0.0]).unwrap_err();
        assert_eq!(
            (e.index, e.message.as_str()),
            (0, "sd_u must be finite (got NaN)")
        );
        assert!(Bivariate::new(&[1.0, 1.0, -1.0]).is_ok());
        let e = Law::new("BivariateNormal", &[1.0, 1.0, 0.0]).unwrap_err();
        assert!(e.message.contains("pair"), "{}", e.message);
    }

    #[test]
    fn bivariate_draws_have_the_declared_covariance() {
        let pair = Bivariate::new(&[1.5, 0.7, -0.6]).unwrap();
        let n = 1_000_000;
        let (mut u, mut v) = (vec![0.0; n], vec![0.0; n]);
        pair.fill(&mut rng(77), &mut u, &mut v);
        let nf = n as f64;
        // Each statistic is a mean of iid products; its SE comes from the
        // exact second moment of that product.
        let check = |vals: &dyn Fn(usize) -> f64, mean: f64, second: f64, what: &str| {
            let est = (0..n).map(vals).sum::<f64>() / nf;
            let se = ((second - mean * mean) / nf).sqrt();
            assert!((est - mean).abs() < 6.0 * se, "{what}: {est} vs {mean}");
        };
        check(&|i| u[i], 0.0, pair.joint_moment(2, 0), "E[u]");
        check(&|i| v[i], 0.0, pair.joint_moment(0, 2), "E[v]");
        check(
            &|i| u[i] * u[i],
            pair.joint_moment(2, 0),
            pair.joint_moment(4, 0),
            "E[u^2]",
        );
        check(
            &|i| v[i] * v[i],
            pair.joint_moment(0, 2),
            pair.joint_moment(0, 4),
            "E[v^2]",
        );
        check(
            &|i| u[i] * v[i],
            pair.joint_moment(1, 1),
            pair.joint_moment(2, 2),
            "E[uv]",
        );
        // The residual given u has the conditional sd and no correlation with u.
        let (s_u, s_v, rho): (f64, f64, f64) = (1.5, 0.7, -0.6);
        let cond_sd = pair.conditional(0.0).1;
        assert!(close(cond_sd, s_v * (1.0 - rho * rho).sqrt(), 1e-15));
        let resid: Vec<f64> = (0..n).map(|i| v[i] - pair.conditional(u[i]).0).collect();
        check(
            &|i| resid[i] * resid[i],
            cond_sd.powi(2),
            3.0 * cond_sd.powi(4),
            "E[r^2]",
        );
        // r and u independent: E[(r u)^2] = E[r^2] E[u^2].
        check(
            &|i| resid[i] * u[i],
            0.0,
            cond_sd.powi(2) * s_u * s_u,
            "E[r u]",
        );
    }

    #[test]
    fn bivariate_joint_moments_in_closed_form() {
        let (s_u, s_v, rho): (f64, f64, f64) = (1.5, 0.7, -0.6);
        let pair = Bivariate::new(&[s_u, s_v, rho]).unwrap();
        assert!(close(pair.joint_moment(1, 1), rho * s_u * s_v, 1e-15));
        // Isserlis: E[u^2 v^2] = s_u^2 s_v^2 (1 + 2 rho^2).
        let want = s_u * s_u * s_v * s_v * (1.0 + 2.0 * rho * rho);
        assert!(close(pair.joint_moment(2, 2), want, 1e-15));
        // E[u^3 v] = 3 rho s_u^3 s_v; odd total order vanishes.
        assert!(close(
            pair.joint_moment(3, 1),
            3.0 * rho * s_u.powi(3) * s_v,
            1e-15
        ));
        assert_eq!(pair.joint_moment(2, 1), 0.0);
        // Marginals are the centred normals.
        assert!(close(pair.joint_moment(0, 4), 3.0 * s_v.powi(4), 1e-15));
        assert_eq!(pair.marginal(1), law("Normal", &[0.0, s_v]));
        assert!(close(
            pair.marginal(0).raw_moment(4).unwrap(),
            pair.joint_moment(4, 0),
            1e-15
        ));
        // Perfect correlation: v is u rescaled, with no conditional spread.
        let perfect = Bivariate::new(&[2.0, 3.0, 1.0]).unwrap();
        assert_eq!(perfect.conditional(1.0), (1.5, 0.0));
    }
}
