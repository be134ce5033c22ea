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
//! law (ziggurat, inverse cdf, or rejection), never an approximation. The
//! normal's ziggurat is written out in `ziggurat.rs` so that it inlines
//! into these loops; it draws rand_distr's `StandardNormal`, bit for bit.
//! The generator most of them read is `lanes.rs`: eight xoshiro256++
//! streams advanced together, whose normal and uniform fills run the
//! same algorithms four or eight draws at a time ([`Law::fill_lanes`]).
//!
//! Densities are written out here rather than taken from statrs
//! distribution objects: constructing one re-validates its parameters at each
//! quadrature node, and the Student-t constant in particular loses digits to
//! a difference of log-gammas at large dof. statrs supplies log-gamma (and
//! seeds the normal tail's inverse in [`crate::special`]) and, in the tests,
//! an independent implementation to check against.
//!
//! The truncated normal is the delicate one: He-style initializers truncate
//! at two standard deviations, but a user may truncate far in a tail, where
//! `1 - Phi(a)` is zero in floating point. Everything about it is therefore
//! computed from the standardized bounds with the tail masses of
//! [`crate::special`] (libm's erfc, the musl/FreeBSD implementation, with
//! its argument's rounding corrected: a few ulps deep in the tail). statrs's
//! own erf/erfc carry relative errors near 1e-10, too coarse for closed
//! forms meant to hold to 1e-14, and are not used.

use crate::special;
use rand::distr::Open01;
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, StudentT};
use statrs::function::gamma::ln_gamma;
use std::f64::consts::{FRAC_1_SQRT_2, PI};
use std::fmt;

mod lanes;
mod ziggurat;

pub use lanes::{LANES, Lanes};
pub use ziggurat::Ziggurat;

/// The standard normal sampler behind [`Law::fill`] (its tables are built
/// at first use): for a loop that draws normals one at a time, such as the
/// hand-written bound the sampling benchmark measures against.
pub fn standard_normal() -> &'static Ziggurat {
    &ziggurat::TABLES
}

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

    /// The variance in closed form, where it has one: none for the
    /// truncated normal, whose variance the exact engine integrates.
    pub fn variance(&self) -> Option<Result<f64, NoMoment>> {
        Some(Ok(match *self {
            Law::Normal { sd, .. } => sd * sd,
            Law::Uniform { lo, hi } => (hi - lo) * (hi - lo) / 12.0,
            Law::Laplace { scale, .. } => 2.0 * scale * scale,
            Law::StudentsT { scale, dof, .. } => {
                if dof <= 2.0 {
                    return Some(Err(NoMoment::Undefined));
                }
                scale * scale * dof / (dof - 2.0)
            }
            Law::Cauchy { .. } => return Some(Err(NoMoment::Undefined)),
            Law::Exponential { rate } => 1.0 / (rate * rate),
            Law::Gamma { shape, rate } => shape / (rate * rate),
            Law::Beta { a, b } => a * b / ((a + b) * (a + b) * (a + b + 1.0)),
            Law::LogNormal { mu, sigma } => {
                (sigma * sigma).exp_m1() * (2.0 * mu + sigma * sigma).exp()
            }
            Law::Triangular { lo, hi, mode } => {
                (lo * lo + hi * hi + mode * mode - lo * hi - lo * mode - hi * mode) / 18.0
            }
            Law::Bernoulli { p } => p * (1.0 - p),
            Law::TruncatedNormal { .. } => return None,
        }))
    }

    /// Points inside the support where the density is not smooth (Laplace
    /// at its location, Triangular at its mode), so that quadrature splits
    /// there as it does at an integrand's kinks.
    pub fn density_kinks(&self) -> Vec<f64> {
        match *self {
            Law::Laplace { loc, .. } => vec![loc],
            Law::Triangular { mode, .. } => vec![mode],
            // Smooth inside the support; the ends are the support's.
            Law::Normal { .. }
            | Law::Uniform { .. }
            | Law::StudentsT { .. }
            | Law::Cauchy { .. }
            | Law::Exponential { .. }
            | Law::Gamma { .. }
            | Law::Beta { .. }
            | Law::LogNormal { .. }
            | Law::Bernoulli { .. }
            | Law::TruncatedNormal { .. } => Vec::new(),
        }
    }

    /// The density at `x`; 0 outside the support, and 0 everywhere for the
    /// discrete Bernoulli (see [`Law::atoms`] and [`Law::pmf`]). At an
    /// endpoint where the density is unbounded (Gamma or Beta with a shape
    /// below 1) it is `inf`: quadrature must use open rules there.
    pub fn pdf(&self, x: f64) -> f64 {
        match *self {
            Law::Normal { mean, sd } => special::pdf((x - mean) / sd) / sd,
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
                    special::pdf((x.ln() - mu) / sigma) / (sigma * x)
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
                    special::pdf((x - mean) / sd) / (sd * t.mass)
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

    /// [`Law::fill`] from a [`Lanes`] generator, the same values: the
    /// normal and the uniform take its vector fills (what `fill` would draw
    /// from its words, a vector at a time), and so do the laws made of one
    /// normal or uniform draw each (the log-normal, the truncated normal by
    /// rejection, the Bernoulli); every other law reads it word by word as
    /// a [`rand::Rng`].
    pub fn fill_lanes(&self, lanes: &mut Lanes, out: &mut [f64]) {
        match *self {
            Law::Normal { mean, sd } => lanes.fill_normal(mean, sd, out),
            Law::Uniform { lo, hi } => lanes.fill_uniform(lo, hi - lo, out),
            Law::Bernoulli { p } => {
                // 0 + 1 * u is u: `fill`'s uniform, then its comparison
                lanes.fill_uniform(0.0, 1.0, out);
                for x in out {
                    *x = if *x < p { 1.0 } else { 0.0 };
                }
            }
            Law::LogNormal { mu, sigma } => {
                // `fill`'s mu + sigma * z, then its exp
                lanes.fill_normal(mu, sigma, out);
                for x in out {
                    *x = x.exp();
                }
            }
            Law::TruncatedNormal { mean, sd, lo, hi } => {
                let t = StdTrunc::new(mean, sd, lo, hi);
                if t.mass >= NORMAL_REJECTION_MIN_ACCEPT {
                    let place = |z: f64| (mean + sd * z).clamp(lo, hi);
                    fill_truncated_by_rejection(lanes, t.a, t.b, place, out)
                } else {
                    self.fill(lanes, out)
                }
            }
            _ => self.fill(lanes, out),
        }
    }

    /// Fills `out` with independent draws of the law.
    pub fn fill<R: Rng>(&self, rng: &mut R, out: &mut [f64]) {
        match *self {
            Law::Normal { mean, sd } => {
                let normal = &*ziggurat::TABLES;
                for x in out {
                    *x = mean + sd * normal.draw(rng);
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
                // A fair sign times a standard exponential: rand_distr's
                // exponential ziggurat (one word, a multiply and a compare
                // nearly always) where the inverse cdf took a logarithm per
                // draw. The signs are the bits of one word per 64 draws,
                // independent of the exponentials' words.
                // A bit 0 flips the sign of the scale: loc + (-scale) e is
                // loc - scale e to the bit, without a branch that the
                // random signs would mispredict half the time.
                for group in out.chunks_mut(64) {
                    let signs = rng.next_u64();
                    for (k, x) in group.iter_mut().enumerate() {
                        let e: f64 = Exp1.sample(rng);
                        let flip = (!signs >> k & 1) << 63;
                        *x = loc + f64::from_bits(scale.to_bits() ^ flip) * e;
                    }
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
                    let e: f64 = Exp1.sample(rng);
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
                let normal = &*ziggurat::TABLES;
                for x in out {
                    *x = (mu + sigma * normal.draw(rng)).exp();
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

/// The law as the user wrote it, for messages.
impl fmt::Display for Law {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Law::Normal { mean, sd } => write!(f, "Normal({mean}, {sd})"),
            Law::Uniform { lo, hi } => write!(f, "Uniform({lo}, {hi})"),
            Law::Laplace { loc, scale } => write!(f, "Laplace({loc}, {scale})"),
            Law::StudentsT { loc, scale, dof } => write!(f, "StudentsT({loc}, {scale}, {dof})"),
            Law::Cauchy { loc, scale } => write!(f, "Cauchy({loc}, {scale})"),
            Law::Exponential { rate } => write!(f, "Exponential({rate})"),
            Law::Gamma { shape, rate } => write!(f, "Gamma({shape}, {rate})"),
            Law::Beta { a, b } => write!(f, "Beta({a}, {b})"),
            Law::LogNormal { mu, sigma } => write!(f, "LogNormal({mu}, {sigma})"),
            Law::Triangular { lo, hi, mode } => write!(f, "Triangular({lo}, {hi}, {mode})"),
            Law::Bernoulli { p } => write!(f, "Bernoulli({p})"),
            Law::TruncatedNormal { mean, sd, lo, hi } => {
                write!(f, "TruncatedNormal({mean}, {sd}, {lo}, {hi})")
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

    /// [`Bivariate::fill`] from a [`Lanes`] generator, the same values:
    /// the pair's normals, z1 then z2 per draw, are consecutive draws of
    /// one stream, so the vector fill makes them a block at a time.
    pub fn fill_lanes(&self, lanes: &mut Lanes, u: &mut [f64], v: &mut [f64]) {
        let pair = self.of_standard(u.len(), v.len());
        const PAIRS: usize = 256;
        let mut z = [0.0; 2 * PAIRS];
        for (u, v) in u.chunks_mut(PAIRS).zip(v.chunks_mut(PAIRS)) {
            let z = &mut z[..2 * u.len()];
            // 0 + 1 * z is z: a ziggurat draw is never -0.0
            lanes.fill_normal(0.0, 1.0, z);
            for ((x, y), z) in u.iter_mut().zip(v.iter_mut()).zip(z.chunks_exact(2)) {
                (*x, *y) = pair(z[0], z[1]);
            }
        }
    }

    /// Fills `u` and `v` with independent draws of the pair; the slices
    /// must have one length.
    pub fn fill<R: Rng>(&self, rng: &mut R, u: &mut [f64], v: &mut [f64]) {
        let pair = self.of_standard(u.len(), v.len());
        let normal = &*ziggurat::TABLES;
        for (x, y) in u.iter_mut().zip(v.iter_mut()) {
            let z1 = normal.draw(rng);
            let z2 = normal.draw(rng);
            (*x, *y) = pair(z1, z2);
        }
    }

    /// The pair from two independent standard normals z1, z2:
    /// (sd_u z1, sd_v (rho z1 + sqrt(1 - rho^2) z2)), one formula for both
    /// fills so that they give the same values. Checks that the slices
    /// the pair is drawn into have one length.
    fn of_standard(&self, u: usize, v: usize) -> impl Fn(f64, f64) -> (f64, f64) {
        assert_eq!(u, v, "a pair is drawn into slices of one length");
        let (sd_u, sd_v, rho) = (self.sd_u, self.sd_v, self.rho);
        let rest = (1.0 - rho * rho).sqrt();
        move |z1, z2| (sd_u * z1, sd_v * (rho * z1 + rest * z2))
    }

    /// The law of one component (0 for u, 1 for v): a centred normal.
    pub fn marginal(&self, component: usize) -> Law {
        Law::Normal {
            mean: 0.0,
            sd: self.sd(component),
        }
    }

    /// The sd of one component (0 for u, 1 for v).
    pub fn sd(&self, component: usize) -> f64 {
        assert!(component < 2, "a pair has components 0 and 1");
        if component == 0 { self.sd_u } else { self.sd_v }
    }

    /// The covariance of two components (0 for u, 1 for v).
    pub fn cov(&self, i: usize, j: usize) -> f64 {
        if i == j {
            self.sd(i) * self.sd(i)
        } else {
            self.rho * self.sd_u * self.sd_v
        }
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
/// (with the closest name, when one is close).
fn signature(name: &str) -> Result<&'static [&'static str], ParamError> {
    if let Some((_, names)) = Law::SIGNATURES.iter().find(|(n, _)| *n == name) {
        return Ok(names);
    }
    let all: Vec<&str> = Law::SIGNATURES.iter().map(|(n, _)| *n).collect();
    let hint = crate::lang::suggest::closest(name, all.iter().copied())
        .map(|n| format!(" (did you mean `{n}`?)"))
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
            special::upper(a) - special::upper(b)
        } else if b <= 0.0 {
            special::upper(-b) - special::upper(-a)
        } else {
            0.5 * (libm::erf(b * FRAC_1_SQRT_2) - libm::erf(a * FRAC_1_SQRT_2))
        };
        StdTrunc {
            a,
            b,
            mass,
            r_a: special::pdf(a) / mass,
            r_b: special::pdf(b) / mass,
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
        let normal = &*ziggurat::TABLES;
        for x in out {
            *x = loop {
                let z = normal.draw(rng);
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
    let uniform_accept = t.mass / (special::pdf(peak) * (b - a));
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
    let (q_near, q_far) = (special::upper(near), special::upper(far));
    for x in out {
        let u: f64 = rng.sample(Open01);
        let q = q_far + u * (q_near - q_far);
        let z = special::upper_inv(q);
        *x = place(sign * z.clamp(near, far));
    }
}

/// The normal-rejection branch of [`fill_truncated_normal`] on the
/// vector fill, the same values: the scalar loop draws normals one after
/// another and keeps those inside; here every block drawn is as many
/// normals as draws are still wanted, each of which the scalar loop would
/// have drawn too (every kept draw takes at least one), so the stream is
/// read exactly as far and the same normals are kept.
fn fill_truncated_by_rejection(
    lanes: &mut Lanes,
    a: f64,
    b: f64,
    place: impl Fn(f64) -> f64,
    out: &mut [f64],
) {
    let mut z = [0.0; 256];
    let mut filled = 0;
    while filled < out.len() {
        let block = &mut z[..(out.len() - filled).min(256)];
        // 0 + 1 * z is z: a ziggurat draw is never -0.0
        lanes.fill_normal(0.0, 1.0, block);
        for &z in block.iter() {
            if a <= z && z <= b {
                out[filled] = place(z);
                filled += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
