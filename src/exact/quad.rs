//! Adaptive Gauss–Kronrod quadrature with an error estimate that can be
//! trusted, and the expectations built on it.
//!
//! The exact engine turns `E[f(X)]` into `∫ f(x) p(x) dx` whenever no closed
//! form is registered, and a verdict compares two such numbers within their
//! combined error bound. A quadrature that returns a good value with an
//! optimistic error is therefore worse than one that gives up: it turns a
//! rounding artefact into a "fails". Everything here is arranged so that the
//! returned `err` bounds the true error in practice, or the call fails.
//!
//! The rule is QUADPACK's G10K21 pair with its error estimate
//! `resasc · min(1, (200 |K − G| / resasc)^1.5)`, which is deliberately
//! pessimistic, floored at fifty ulps of `∫|f|` so that rounding is never
//! reported as accuracy. The strategy is global: all pieces of the range
//! share one pool of intervals and the one with the largest error is
//! bisected next, so effort goes where the error is, wherever it is.
//!
//! An expectation is split where the law's mass is, not only where the
//! integrand has kinks: at the law's centre and at `centre ± spread·2^k`
//! out to the farthest kink. A kink thousands of spreads from the mass
//! would otherwise leave one wide piece with all of the mass against its
//! end, where no node of a 21-point rule lands: every node reads 0 and 0
//! comes back with a bound of 0. As a check that nothing was missed, the
//! density is integrated alongside the integrand on the same intervals, and
//! a mass that is not 1 within its own error is [`QuadError::LostMass`], a
//! failure rather than a number. (Where the mass strays from 1 by more than
//! its quadrature error, the density's own normalisation is off, as log-
//! gamma sums are at large shapes; that excess, relative, is added to the
//! error of the value.)
//!
//! Infinite tails are folded onto `[0, 1)` by `x = b ± s·expm1(t/(1−t))`
//! from the last break `b`, with `s` at least the law's spread and at least
//! the distance of `b` from the centre. In `v = t/(1−t)` an algebraic tail
//! `|x|^-a` decays like `e^(−a v)`: smooth, however close the moment is to
//! the edge of existence (E|T|^3 for a Student t with 3.5 degrees of
//! freedom), where a rational map leaves an unresolvable `(1−t)^(a−2)` at
//! `t = 1`. Far enough out the integrand stops being representable (the
//! density underflows, or `x` or the product overflows); what lies beyond
//! is estimated from the decay rate just before that point and added to the
//! error, which is infinite for an integrand still growing there: a
//! divergent tail is [`QuadError::NotConverged`], never a truncated sum.
//!
//! Nodes are interior, so a rule never touches an endpoint: `log` and
//! `sqrt` at 0 are never evaluated (a node that rounds onto an end is moved
//! inside), and an integrable endpoint singularity is resolved by repeated
//! bisection toward it. A divergent one exhausts the subdivision cap or the
//! resolution of `f64` and is reported as [`QuadError::NotConverged`].
//! Besides the rounding of values, each interval's floor counts the rounding
//! of the nodes' positions (a few ulps of `|x|` times the integrand's
//! variation between neighbours), which a narrow law far from 0 makes the
//! larger of the two.
//!
//! Expectations evaluate the density first and skip `f` where it is zero, so
//! `0 · ∞` in a far tail (`exp(x)` against an underflowed Gaussian) is the 0
//! it should be rather than a NaN. Discrete laws are summed over their atoms.
//!
//! A smooth expectation under a Gaussian law, the commonest question the
//! audit asks, has a faster route, [`expect_normal`]: the trapezoidal rule
//! on nested lattices in standard units, which for such integrands
//! converges geometrically and reuses every node as the step halves (a
//! third of the evaluations, each without the density's `exp`). Its error
//! is the difference from the coarser lattice, plus the same rounding
//! floors as here; where it cannot vouch for an answer (no convergence, a
//! tail that does not decay, a non-finite value) it declines and the
//! adaptive rule runs. The engine hands it only integrands without kinks
//! and without periodic functions, which a lattice could alias.
//!
//! Nested (two-variable) expectations integrate the inner expectation as the
//! outer integrand. The inner results carry errors of their own; those are
//! integrated against the outer density alongside the value (with the same
//! Kronrod weights) and added to the outer error, so the reported error
//! covers both levels.

use std::cell::Cell;
use std::collections::BinaryHeap;

use crate::model::law::{Bivariate, Law};

/// A value with an upper estimate of its absolute error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quad {
    pub value: f64,
    /// An upper estimate of `|value − truth|`.
    pub err: f64,
}

/// Why a quadrature produced no value within tolerance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QuadError {
    /// The subdivision cap, or the resolution of `f64`, was reached first:
    /// the best value and its (honest, too large) error.
    NotConverged { value: f64, err: f64 },
    /// The integrand was NaN or infinite at `at` (a point where the density,
    /// if any, is positive).
    NonFinite { at: f64 },
    /// The pieces of the range recovered a mass of `mass ± err` for the
    /// law, not 1: part of the law went unseen, so no value can be trusted.
    LostMass { mass: f64, err: f64 },
}

impl std::fmt::Display for QuadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuadError::NotConverged { value, err } => write!(
                f,
                "quadrature did not converge (best value {value:e} ± {err:e})"
            ),
            QuadError::NonFinite { at } => write!(f, "integrand is not finite at x = {at:e}"),
            QuadError::LostMass { mass, err } => write!(
                f,
                "quadrature recovered a mass of {mass:e} ± {err:.1e} for the law, not 1: \
                 part of the law went unseen"
            ),
        }
    }
}

impl std::error::Error for QuadError {}

/// Requested accuracy: converged when `err <= max(abs, rel · |value|)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tol {
    pub rel: f64,
    pub abs: f64,
}

impl Default for Tol {
    /// Two decimal digits tighter than the project's 1e-10 target, so that
    /// sums and products of a few quadratures still meet it; `abs` is tiny
    /// so that small values (far-tail moments) are still held to `rel`.
    fn default() -> Tol {
        Tol {
            rel: 1e-12,
            abs: 1e-300,
        }
    }
}

/// Most intervals one integral may use. Smooth integrands need a few tens;
/// an integrable endpoint singularity (log at 0) about fifty per digit-rich
/// end. Beyond this the integral is treated as not converging.
const MAX_INTERVALS: usize = 2000;

/// Rounding floor per interval, in units of `eps · ∫|f|` (QUADPACK's 50).
const ROUNDOFF_ULPS: f64 = 50.0;

/// Kronrod nodes of G10K21 on [-1, 1], descending; the odd-indexed ones
/// (1, 3, ..., 9) are the Gauss nodes. From QUADPACK's `qk21`, digits kept
/// verbatim so they can be checked against it.
#[allow(clippy::excessive_precision)]
const XGK: [f64; 11] = [
    0.995_657_163_025_808_080_735_527_280_689_003,
    0.973_906_528_517_171_720_077_964_012_084_452,
    0.930_157_491_355_708_226_001_207_180_059_508,
    0.865_063_366_688_984_510_732_096_688_423_493,
    0.780_817_726_586_416_897_063_717_578_345_042,
    0.679_409_568_299_024_406_234_327_365_114_874,
    0.562_757_134_668_604_683_339_000_099_272_694,
    0.433_395_394_129_247_190_799_265_943_165_784,
    0.294_392_862_701_460_198_131_126_603_103_866,
    0.148_874_338_981_631_210_884_826_001_129_720,
    0.0,
];

/// Kronrod weights, matching [`XGK`].
#[allow(clippy::excessive_precision)]
const WGK: [f64; 11] = [
    0.011_694_638_867_371_874_278_064_396_062_192,
    0.032_558_162_307_964_727_478_818_972_459_390,
    0.054_755_896_574_351_996_031_381_300_244_580,
    0.075_039_674_810_919_952_767_043_140_916_190,
    0.093_125_454_583_697_605_535_065_465_083_366,
    0.109_387_158_802_297_641_899_210_590_325_805,
    0.123_491_976_262_065_851_077_208_745_729_390,
    0.134_709_217_311_473_325_928_054_001_771_707,
    0.142_775_938_577_060_080_797_094_273_138_717,
    0.147_739_104_901_338_491_374_841_515_972_068,
    0.149_445_554_002_916_905_664_936_468_389_821,
];

/// Gauss weights for the nodes `XGK[1], XGK[3], ..., XGK[9]`.
#[allow(clippy::excessive_precision)]
const WG: [f64; 5] = [
    0.066_671_344_308_688_137_593_568_809_893_332,
    0.149_451_349_150_580_593_145_776_339_657_697,
    0.219_086_362_515_982_043_995_534_934_228_163,
    0.269_266_719_309_996_355_091_226_921_569_469,
    0.295_524_224_714_752_870_173_892_994_651_338,
];

/// How a piece of the range is parametrised: finite pieces directly; an
/// infinite tail from its finite end `b` by `x = b ± s·expm1(v)` with
/// `v = t/(1−t)`, `t ∈ [0, 1)`.
///
/// The tail map is logarithmic in the distance: an algebraic tail
/// `|x|^-a` becomes `exp(−a·v)` in `v`, smooth and exponentially decaying
/// however close `a` is to the edge of existence, where the older rational
/// map `x = b + s·t/(1−t)` left an integrable but unresolvable
/// `(1−t)^(a−2)` at `t = 1`. `expm1` keeps `x − b` exact to rounding near
/// `b`, which may be a pole. Far out `x` would overflow: nodes beyond
/// [`Map::v_max`] are not evaluated, and what lies there is estimated by
/// [`tail_remainder`] and added to the error.
#[derive(Clone, Copy, Debug)]
enum Map {
    Finite,
    /// `reach` is [`Map::v_max`], computed once with the piece rather
    /// than as a `ln` beside every node's `expm1` and `exp`.
    Tail {
        b: f64,
        s: f64,
        dir: f64,
        reach: f64,
    },
}

impl Map {
    /// The point `x` and the Jacobian `dx/dt` at parameter `t`, or `None`
    /// where `x` would leave the range of `f64`.
    #[inline]
    fn at(self, t: f64) -> Option<(f64, f64)> {
        match self {
            Map::Finite => Some((t, 1.0)),
            Map::Tail { .. } => {
                let q = 1.0 - t;
                let v = t / q;
                let (x, dxdv) = self.at_v(v)?;
                Some((x, dxdv / (q * q)))
            }
        }
    }

    /// For a tail, the point and `dx/dv` at `v`.
    #[inline]
    fn at_v(self, v: f64) -> Option<(f64, f64)> {
        match self {
            Map::Finite => Some((v, 1.0)),
            Map::Tail { b, s, dir, reach } => {
                if v > reach {
                    return None;
                }
                Some((b + dir * s * v.exp_m1(), s * v.exp()))
            }
        }
    }

    /// The tail from `b` with scale `s` in direction `dir`.
    fn tail(b: f64, s: f64, dir: f64) -> Map {
        Map::Tail {
            b,
            s,
            dir,
            reach: ((0.25 * f64::MAX - b.abs()) / s).ln(),
        }
    }

    /// The largest `v` at which a tail's point is still comfortably finite.
    fn v_max(self) -> f64 {
        match self {
            Map::Finite => f64::INFINITY,
            Map::Tail { reach, .. } => reach,
        }
    }
}

/// One piece of the range: its parametrisation and parameter interval.
#[derive(Clone, Copy, Debug)]
struct Piece {
    map: Map,
    lo: f64,
    hi: f64,
}

/// Splits `[a, b]` (a < b, either may be infinite) at the finite `breaks`
/// strictly inside it. A doubly infinite range with no break is split at
/// `centre` so that each tail is folded separately. A tail from `b` is
/// mapped with scale `max(scale, |b − centre|)`: an algebraic tail decays
/// on the scale of the distance from the centre of the mass, not of the
/// spread.
fn pieces(a: f64, b: f64, breaks: &[f64], centre: f64, scale: f64) -> Vec<Piece> {
    let mut pts: Vec<f64> = breaks
        .iter()
        .copied()
        .filter(|p| p.is_finite() && *p > a && *p < b)
        .collect();
    let centre = if centre.is_finite() { centre } else { 0.0 };
    if pts.is_empty() && a == f64::NEG_INFINITY && b == f64::INFINITY {
        pts.push(centre);
    }
    pts.sort_by(f64::total_cmp);
    pts.dedup();
    let mut nodes = Vec::with_capacity(pts.len() + 2);
    nodes.push(a);
    nodes.extend(pts);
    nodes.push(b);
    let tail = |from: f64, dir: f64| Piece {
        map: Map::tail(from, scale.max((from - centre).abs()), dir),
        lo: 0.0,
        hi: 1.0,
    };
    nodes
        .windows(2)
        .map(|w| {
            let (l, r) = (w[0], w[1]);
            if l == f64::NEG_INFINITY {
                tail(r, -1.0)
            } else if r == f64::INFINITY {
                tail(l, 1.0)
            } else {
                Piece {
                    map: Map::Finite,
                    lo: l,
                    hi: r,
                }
            }
        })
        .collect()
}

/// What an integrand gives at one point: its value, a non-negative error
/// density integrated alongside but never refined (the inner error of a
/// nested expectation), and the law's density there (0 without a law), so
/// that the pieces can be checked to hold the law's whole mass.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Node {
    value: f64,
    side: f64,
    mass: f64,
}

impl Node {
    fn plain(value: f64) -> Node {
        Node {
            value,
            side: 0.0,
            mass: 0.0,
        }
    }
}

type Integrand<'a> = dyn Fn(f64) -> Result<Node, QuadError> + 'a;

/// The G10K21 result on one parameter interval.
#[derive(Clone, Copy, Debug)]
struct Interval {
    piece: usize,
    lo: f64,
    hi: f64,
    value: f64,
    /// Estimated error of `value` (already floored at the rounding level).
    err: f64,
    /// The rounding floor alone: what bisection cannot remove.
    floor: f64,
    /// The integrated error density (inner errors): also not removable here.
    side: f64,
    /// The law's mass on the interval and its estimated error.
    mass: f64,
    mass_err: f64,
}

impl PartialEq for Interval {
    fn eq(&self, other: &Self) -> bool {
        self.err.total_cmp(&other.err).is_eq()
    }
}
impl Eq for Interval {}
impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Interval {
    /// The heap pops the interval with the largest error.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.err.total_cmp(&other.err)
    }
}

/// How far into a tail (in `v`, i.e. `e^v` times the tail's scale) a
/// non-finite integrand is taken for the overflow of a product whose true
/// value `f64` cannot hold, rather than for a fault of the integrand: past
/// 2^52 scales no domain boundary can hide, since those are breaks and
/// start their own pieces. Such points count as beyond reach, like those
/// past [`Map::v_max`].
const V_FAR: f64 = 36.0;

/// The integrand at parameter `t` of `piece`, Jacobian included; a point
/// beyond the range of `f64` contributes nothing here (its tail is
/// accounted for by [`tail_remainder`]), and neither does one where the
/// integrand is 0, whatever the Jacobian (no `0 · ∞`). A node that rounds
/// onto an end of a finite piece (a singular density may be infinite
/// there) is moved to the nearest point inside.
fn node_at(g: &Integrand, piece: &Piece, t: f64) -> Result<Sample, QuadError> {
    let none = Sample {
        node: Node::default(),
        x: 0.0,
        plain: 0.0,
    };
    let Some((mut x, jac)) = piece.map.at(t) else {
        return Ok(none);
    };
    if let Map::Finite = piece.map {
        if x <= piece.lo {
            x = piece.lo.next_up();
        } else if x >= piece.hi {
            x = piece.hi.next_down();
        }
    }
    let far = matches!(piece.map, Map::Tail { .. }) && t / (1.0 - t) > V_FAR;
    let n = match g(x) {
        Err(QuadError::NonFinite { .. }) if far => return Ok(none),
        other => other?,
    };
    if n == Node::default() {
        return Ok(Sample { x, ..none });
    }
    let node = Node {
        value: n.value * jac,
        side: n.side * jac,
        mass: n.mass * jac,
    };
    if !node.value.is_finite() {
        if far {
            return Ok(none);
        }
        return Err(QuadError::NonFinite { at: x });
    }
    Ok(Sample {
        node,
        x,
        plain: n.value,
    })
}

/// A node of a rule: what it contributes (Jacobian included), where it
/// was evaluated, and the integrand there before the Jacobian.
#[derive(Clone, Copy, Debug)]
struct Sample {
    node: Node,
    x: f64,
    plain: f64,
}

/// Positions of the 21 values in increasing order of the node: the left
/// members of the pairs outward-in, the centre, the right ones inward-out.
const ORDER: [usize; 21] = [
    1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 0, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2,
];

/// QUADPACK's error estimate of a K21 sum from the 21 values `f`, the
/// Kronrod and Gauss sums, on a half-width `half`.
fn kronrod_error(f: &[f64; 21], resk: f64, resg: f64, half: f64) -> f64 {
    let mean = 0.5 * resk;
    let mut resasc = WGK[10] * (f[0] - mean).abs();
    for j in 0..10 {
        resasc += WGK[j] * ((f[2 * j + 1] - mean).abs() + (f[2 * j + 2] - mean).abs());
    }
    let resasc = resasc * half.abs();
    let mut err = ((resk - resg) * half).abs();
    if resasc != 0.0 && err != 0.0 {
        err = resasc * (200.0 * err / resasc).powf(1.5).min(1.0);
    }
    err
}

/// The Kronrod and Gauss sums of 21 values (centre first, then pairs).
fn sums(f: &[f64; 21]) -> (f64, f64) {
    let mut resk = WGK[10] * f[0];
    let mut resg = 0.0;
    for j in 0..10 {
        let pair = f[2 * j + 1] + f[2 * j + 2];
        resk += WGK[j] * pair;
        if j % 2 == 1 {
            resg += WG[j / 2] * pair;
        }
    }
    (resk, resg)
}

/// Applies G10K21 to `g` on `[lo, hi]` of `piece`, with QUADPACK's error
/// estimate, to the value and to the law's mass alike.
fn rule(
    g: &Integrand,
    pieces: &[Piece],
    piece: usize,
    lo: f64,
    hi: f64,
) -> Result<Interval, QuadError> {
    let p = &pieces[piece];
    let centre = 0.5 * (lo + hi);
    let half = 0.5 * (hi - lo);
    let mut fv = [0.0; 21];
    let mut ev = [0.0; 21];
    let mut mv = [0.0; 21];
    let mut xs = [0.0f64; 21];
    let mut plain = [0.0; 21];
    let mut put = |i: usize, n: Sample| {
        (fv[i], ev[i], mv[i]) = (n.node.value, n.node.side, n.node.mass);
        (xs[i], plain[i]) = (n.x, n.plain);
    };
    // Index 0 is the centre; 2j+1, 2j+2 the pair at ∓XGK[j].
    put(0, node_at(g, p, centre)?);
    for (j, xk) in XGK.iter().take(10).enumerate() {
        let dx = half * xk;
        put(2 * j + 1, node_at(g, p, centre - dx)?);
        put(2 * j + 2, node_at(g, p, centre + dx)?);
    }
    let (resk, resg) = sums(&fv);
    let mut resabs = WGK[10] * fv[0].abs();
    let mut side = WGK[10] * ev[0];
    for j in 0..10 {
        resabs += WGK[j] * (fv[2 * j + 1].abs() + fv[2 * j + 2].abs());
        side += WGK[j] * (ev[2 * j + 1] + ev[2 * j + 2]);
    }
    let value = resk * half;
    // Rounding of the values, and of the nodes' positions: a node lands a
    // few ulps of |x| from where its weight assumes, which a steep
    // integrand (a narrow law far from 0) turns into an error of about
    // 4 ε |x| times the integrand's variation between neighbouring nodes
    // (the nearer |x| of the two: in a tail neighbours may be decades
    // apart, and the variation is where the integrand is large).
    let displaced: f64 = ORDER
        .windows(2)
        .map(|w| (plain[w[1]] - plain[w[0]]).abs() * xs[w[0]].abs().min(xs[w[1]].abs()))
        .sum();
    let floor = ROUNDOFF_ULPS * f64::EPSILON * resabs * half.abs() + 4.0 * f64::EPSILON * displaced;
    let err = kronrod_error(&fv, resk, resg, half).max(floor);
    if !err.is_finite() {
        // Every node was finite, but their spread overflowed: no estimate.
        return Err(QuadError::NotConverged {
            value,
            err: f64::INFINITY,
        });
    }
    let (mk, mg) = sums(&mv);
    let mass = mk * half;
    let mass_err = kronrod_error(&mv, mk, mg, half) + ROUNDOFF_ULPS * f64::EPSILON * mass.abs();
    Ok(Interval {
        piece,
        lo,
        hi,
        value,
        err,
        floor,
        side: (side * half).abs(),
        mass,
        mass_err,
    })
}

/// Whether `[lo, hi]` can still be halved into two intervals that are
/// distinguishable in `f64` (QUADPACK's "bad integrand behaviour" test).
/// Widths near the underflow threshold are refused too: bisecting toward a
/// non-integrable singularity at 0 would otherwise go on until `1/x`
/// overflows, reporting a divergence as a non-finite value.
fn splittable(lo: f64, hi: f64) -> bool {
    const NARROWEST: f64 = 1e-280;
    let mid = 0.5 * (lo + hi);
    mid > lo
        && mid < hi
        && (hi - lo) > NARROWEST
        && (hi - lo) > 256.0 * f64::EPSILON * lo.abs().max(hi.abs())
}

/// Neumaier-compensated sum of the values and plain sums of the rest.
struct Totals {
    value: f64,
    err: f64,
    floor: f64,
    side: f64,
    mass: f64,
    mass_err: f64,
}

fn totals<'a>(items: impl Iterator<Item = &'a Interval>) -> Totals {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    let mut t = Totals {
        value: 0.0,
        err: 0.0,
        floor: 0.0,
        side: 0.0,
        mass: 0.0,
        mass_err: 0.0,
    };
    for iv in items {
        let x = iv.value;
        let sum = s + x;
        c += if s.abs() >= x.abs() {
            (s - sum) + x
        } else {
            (x - sum) + s
        };
        s = sum;
        t.err += iv.err;
        t.floor += iv.floor;
        t.side += iv.side;
        t.mass += iv.mass;
        t.mass_err += iv.mass_err;
    }
    t.value = s + c;
    t
}

/// Whether a result meets `tol`, or is as good as the integrand allows:
/// once the remaining error is no more than twice what rounding and the
/// inner errors contribute anyway, bisection cannot improve it (this is how
/// a mean that cancels to 0 terminates, with an honest absolute error).
fn good_enough(t: &Totals, tol: Tol) -> bool {
    let target = tol.abs.max(tol.rel * t.value.abs());
    let total = t.err + t.side;
    total <= target || total <= 2.0 * (t.floor + t.side)
}

/// Below this a value is taken to have underflowed: 2^52 times the
/// smallest normal `f64`, where subnormals would start to drop digits.
const SIGNIFICANT: f64 = f64::MIN_POSITIVE * 4_503_599_627_370_496.0;

/// What the tail beyond [`Map::v_max`] holds, as `(|value|, mass)` bounds.
///
/// The tail map makes an algebraic tail decay like `exp(−a·v)`; a density
/// that underflows, or an `x` that overflows, ends the integrand at some
/// `v*` whether or not it has decayed by then. The last point where the
/// integrand is still nonzero is found (a doubling scan, then bisection to
/// a quarter unit of `v`), and the remainder beyond it is estimated as
/// `h / α` from the decay rate `α` over the unit of `v` before it: tiny for
/// a Gaussian tail that underflows long after it stopped mattering,
/// `e^(−a·v*)/a` for an algebraic one, and infinite when the integrand was
/// still growing where `f64` ran out (a moment that does not exist).
fn tail_remainder(g: &Integrand, map: Map) -> Result<(f64, f64), QuadError> {
    let h = |v: f64| -> Result<(f64, f64), QuadError> {
        let Some((x, jac)) = map.at_v(v) else {
            return Ok((0.0, 0.0));
        };
        let n = match g(x) {
            Err(QuadError::NonFinite { .. }) if v > V_FAR => return Ok((0.0, 0.0)),
            other => other?,
        };
        // Near underflow the density has lost its digits: a decay rate read
        // there is noise, so the integrand counts as gone from that point.
        if n.value.abs() + n.side < SIGNIFICANT || (n.mass != 0.0 && n.mass < SIGNIFICANT) {
            return Ok((0.0, 0.0));
        }
        let h = ((n.value.abs() + n.side) * jac, n.mass * jac);
        if !h.0.is_finite() && v > V_FAR {
            return Ok((0.0, 0.0));
        }
        Ok(h)
    };
    let nonzero = |p: (f64, f64)| p.0 != 0.0 || p.1 != 0.0;
    let v_max = map.v_max();
    if v_max.is_nan() || v_max <= 2.0 {
        return Ok((0.0, 0.0));
    }
    // The last nonzero point of the scan, and the first zero after it.
    let mut last = None;
    let mut v = 1.0f64;
    let mut zero_after = None;
    loop {
        let at = v.min(v_max);
        if nonzero(h(at)?) {
            last = Some(at);
            zero_after = None;
        } else if last.is_some() && zero_after.is_none() {
            zero_after = Some(at);
        }
        if at >= v_max {
            break;
        }
        v *= 2.0;
    }
    let Some(mut a) = last else {
        return Ok((0.0, 0.0));
    };
    if let Some(mut z) = zero_after {
        while z - a > 0.25 {
            let m = 0.5 * (a + z);
            if nonzero(h(m)?) {
                a = m;
            } else {
                z = m;
            }
        }
    }
    if a < 2.0 {
        // Gone within two units of the tail's start: the integrand was
        // zero or had underflowed, not a slow tail cut short.
        return Ok((0.0, 0.0));
    }
    let (near, far) = (h(a - 1.0)?, h(a)?);
    let rest = |n: f64, f: f64| -> f64 {
        if f == 0.0 {
            return 0.0;
        }
        let alpha = (n / f).ln();
        if alpha > 0.0 {
            f / alpha
        } else {
            f64::INFINITY
        }
    };
    Ok((rest(near.0, far.0), rest(near.1, far.1)))
}

/// How far the recovered mass may stray from 1 without the result being
/// refused: the density's own normalisation is only exact to rounding of
/// log-gamma sums (about 1e-13 relative for moderate parameters, more for
/// huge ones). Missing a piece of the mass costs far more than this.
const MASS_SLACK: f64 = 1e-9;

/// The global adaptive loop over all `pieces` at once. With `of_law`, the
/// integrand carries a density and the pieces must recover its total mass
/// of 1 within their estimated error.
fn adapt(g: &Integrand, pieces: &[Piece], tol: Tol, of_law: bool) -> Result<Quad, QuadError> {
    let mut heap = BinaryHeap::with_capacity(64);
    for (i, p) in pieces.iter().enumerate() {
        heap.push(rule(g, pieces, i, p.lo, p.hi)?);
    }
    let mut run = totals(heap.iter());
    let mut converged = loop {
        if good_enough(&run, tol) {
            break true;
        }
        let stuck =
            heap.len() >= MAX_INTERVALS || heap.peek().is_none_or(|w| !splittable(w.lo, w.hi));
        if stuck {
            break good_enough(&totals(heap.iter()), tol);
        }
        let Some(worst) = heap.pop() else { break true };
        let mid = 0.5 * (worst.lo + worst.hi);
        let left = rule(g, pieces, worst.piece, worst.lo, mid)?;
        let right = rule(g, pieces, worst.piece, mid, worst.hi)?;
        run.value += left.value + right.value - worst.value;
        run.err += left.err + right.err - worst.err;
        run.floor += left.floor + right.floor - worst.floor;
        run.side += left.side + right.side - worst.side;
        heap.push(left);
        heap.push(right);
    };
    // The running sums drift; the verdict rests on a fresh, compensated sum.
    let mut t = totals(heap.iter());
    // What lies beyond the reach of f64 in the tails.
    let (mut beyond, mut beyond_mass) = (0.0, 0.0);
    for p in pieces {
        if let Map::Tail { .. } = p.map {
            let (v, m) = tail_remainder(g, p.map)?;
            beyond += v;
            beyond_mass += m;
        }
    }
    t.err += beyond;
    converged = converged && good_enough(&t, tol);
    let err = t.err + t.side + rounding(&t);
    t.mass_err += beyond_mass;
    let mass_recovered = (t.mass - 1.0).abs() <= t.mass_err + MASS_SLACK;
    if of_law && !mass_recovered {
        return Err(QuadError::LostMass {
            mass: t.mass,
            err: t.mass_err,
        });
    }
    // The density's normalisation is itself rounded (log-gamma sums at
    // large shapes lose digits: Gamma(1e4, 1) is off by 1e-11), a constant
    // factor that shows as the recovered mass straying from 1 by more than
    // its quadrature error. Twice that excess, relative, is allowed for in
    // the value. (Dividing by the mass instead would import the error of
    // pieces never refined because the integrand is 0 there.)
    let value = t.value;
    let err = if of_law {
        let excess = ((t.mass - 1.0).abs() - t.mass_err).max(0.0);
        err + 2.0 * value.abs() * excess
    } else {
        err
    };
    if converged {
        Ok(Quad { value, err })
    } else {
        Err(QuadError::NotConverged { value, err })
    }
}

/// Rounding of the final compensated sum itself (each interval's own
/// rounding is already in its floor).
fn rounding(t: &Totals) -> f64 {
    2.0 * f64::EPSILON * t.value.abs()
}

/// `∫_a^b f`; `a` and/or `b` may be infinite; `breaks` (any order, may lie
/// outside) split the range. Tails are folded with unit scale (at least).
pub fn integrate(
    f: &dyn Fn(f64) -> f64,
    a: f64,
    b: f64,
    breaks: &[f64],
    tol: Tol,
) -> Result<Quad, QuadError> {
    if a.is_nan() || b.is_nan() {
        return Err(QuadError::NonFinite { at: f64::NAN });
    }
    if a == b {
        return Ok(Quad {
            value: 0.0,
            err: 0.0,
        });
    }
    if a > b {
        return integrate(f, b, a, breaks, tol).map(|q| Quad {
            value: -q.value,
            err: q.err,
        });
    }
    let g = |x: f64| -> Result<Node, QuadError> {
        let v = f(x);
        if v.is_finite() {
            Ok(Node::plain(v))
        } else {
            Err(QuadError::NonFinite { at: x })
        }
    };
    adapt(&g, &pieces(a, b, breaks, 0.0, 1.0), tol, false)
}

/// Most scale breaks on one side of the centre: 2^64 spreads is beyond any
/// mass a density in `f64` still shows, short of the heaviest tails, whose
/// far pieces the tail map and the mass check look after.
const MAX_SCALE_BREAKS: usize = 64;

/// Breaks at the law's own scale: its centre and `centre ± spread·2^k`,
/// on each side out to the farthest finite break or end there (beyond it a
/// tail map takes over), stopping where the density has underflowed.
///
/// A kink far from the mass otherwise makes one wide piece with all of the
/// mass squeezed against one end, where no node of a 21-point rule lands:
/// every node reads 0, and 0 is returned with an error bound of 0. With
/// pieces that double in width away from the centre, every piece that
/// holds mass is at most as wide as its distance from the centre, which
/// the rule resolves.
fn scale_breaks(law: &Law, lo: f64, hi: f64, breaks: &[f64], centre: f64, spread: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if !(centre.is_finite() && spread.is_finite() && spread > 0.0) {
        return out;
    }
    let inside = |x: f64| x > lo && x < hi;
    if inside(centre) {
        out.push(centre);
    }
    for dir in [-1.0, 1.0] {
        let reach = breaks
            .iter()
            .chain(&[lo, hi])
            .filter(|x| x.is_finite())
            .map(|x| (x - centre) * dir)
            .fold(0.0, f64::max);
        let mut d = spread;
        for _ in 0..MAX_SCALE_BREAKS {
            let x = centre + dir * d;
            if !inside(x) {
                break;
            }
            out.push(x);
            if d >= reach || law.pdf(x) == 0.0 {
                break;
            }
            d *= 2.0;
        }
    }
    out
}

/// `E[g(X)]` where `g` returns a value and an error of that value: the
/// shared body of [`expect_1d`] and the outer level of nested expectations.
fn expect_with(law: &Law, g: &Integrand, breaks: &[f64], tol: Tol) -> Result<Quad, QuadError> {
    if let Some(atoms) = law.atoms() {
        let (mut value, mut err, mut mag) = (0.0, 0.0, 0.0);
        for &x in atoms {
            let w = law.pmf(x);
            if w == 0.0 {
                continue;
            }
            let n = g(x)?;
            if !n.value.is_finite() {
                return Err(QuadError::NonFinite { at: x });
            }
            value += w * n.value;
            err += w * n.side;
            mag += (w * n.value).abs();
        }
        let err = err + 2.0 * atoms.len() as f64 * f64::EPSILON * mag;
        return Ok(Quad { value, err });
    }
    let (lo, hi) = law.support();
    let (centre, spread) = law.scale_hint();
    let scale = if spread.is_finite() && spread > 0.0 {
        spread
    } else {
        1.0
    };
    let mut pts: Vec<f64> = breaks.to_vec();
    pts.extend(law.density_kinks());
    pts.extend(scale_breaks(law, lo, hi, &pts, centre, scale));
    let weighted = |x: f64| -> Result<Node, QuadError> {
        let w = law.pdf(x);
        if w == 0.0 {
            return Ok(Node::default());
        }
        let n = g(x)?;
        let wv = w * n.value;
        if !wv.is_finite() {
            return Err(QuadError::NonFinite { at: x });
        }
        Ok(Node {
            value: wv,
            side: w * n.side,
            mass: w,
        })
    };
    adapt(&weighted, &pieces(lo, hi, &pts, centre, scale), tol, true)
}

/// `E[f(X)]` for `X ~ law`: density-weighted over the support (atoms summed
/// exactly for discrete laws), split at `breaks` (kinks of `f`) and at the
/// law's own scale around `law.scale_hint()`.
pub fn expect_1d(
    law: &Law,
    f: &dyn Fn(f64) -> f64,
    breaks: &[f64],
    tol: Tol,
) -> Result<Quad, QuadError> {
    let g = |x: f64| -> Result<Node, QuadError> {
        let v = f(x);
        if v.is_finite() {
            Ok(Node::plain(v))
        } else {
            Err(QuadError::NonFinite { at: x })
        }
    };
    expect_with(law, &g, breaks, tol)
}

/// Levels of [`expect_normal`]'s lattice: steps 1, 1/2, ..., 1/16
/// standard deviations.
const LATTICE_LEVELS: u32 = 5;
/// Finest lattice step is `1 / LATTICE_FINEST`; a node's index on it is
/// `u · LATTICE_FINEST`.
const LATTICE_FINEST: usize = 1 << (LATTICE_LEVELS - 1);
/// Farthest node, in standard deviations: the normal density underflows
/// at about 38.6, so nothing beyond can hold mass.
const LATTICE_REACH: usize = 38;
/// A Gaussian law's mean may lie this many standard deviations from 0 for
/// the lattice: a node's position then rounds by at most a few ulps of
/// `(64 + 38)` spreads, which the floor below accounts for. Narrower laws
/// farther out are left to the adaptive rule.
const LATTICE_OFFSET: f64 = 64.0;

/// `φ(k / LATTICE_FINEST)` for `k = 0 ..= LATTICE_FINEST · LATTICE_REACH`:
/// the standard normal density at every node any level can ask for,
/// computed once, so a node costs one evaluation of the integrand.
fn lattice_density() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        (0..=LATTICE_FINEST * LATTICE_REACH)
            .map(|k| {
                let u = k as f64 / LATTICE_FINEST as f64;
                norm * (-0.5 * u * u).exp()
            })
            .collect()
    })
}

/// `E[f(X)]` for `X ~ N(mean, sd)` by the trapezoidal rule in standard
/// units on dyadic lattices `u = k·h`, `h = 1, 1/2, ..., 1/16`, each level
/// adding the odd multiples of its step to the nodes before it; or `None`
/// where the lattice cannot vouch for its answer and the adaptive rule
/// ([`expect_1d`]) should be used instead.
///
/// Why a lattice: against the Gaussian weight the trapezoidal rule on the
/// whole line converges geometrically in `1/h` for any integrand analytic
/// in a strip around the real axis (Trefethen and Weideman, "The
/// exponentially convergent trapezoidal rule", SIAM Review 2014, §5), and
/// its nodes nest, so halving the step reuses every value. `E[tanh(Z)^2]`
/// to 1e-12 takes about 130 evaluations here against about 450 for
/// adaptive G10K21, and the density at every node is a table lookup.
///
/// The error of level `j` is taken as `|T_j − T_{j−1}|`, the difference
/// from the coarser level: once convergence is geometric that difference
/// is the error of the *coarser* sum, which bounds the finer one's by a
/// wide margin (its error is about the square of the coarser's, relative).
/// Convergence is accepted only from the third level on, and only when the
/// differences shrink, so that a first agreement by chance is not taken
/// for it. To that are added the rounding of the values (fifty ulps of
/// `∫|f|`, as for [`rule`]), of the nodes' positions (`4ε|x|` times the
/// integrand's variation, as there), and the tails beyond the last node,
/// bounded from the geometric decay of the last terms.
///
/// The caller must only hand over integrands that are smooth on the whole
/// line (no kink, jump or pole: the kink search found none) and not
/// periodic: a lattice cannot see a frequency that is a multiple of
/// `2π/h`, where every node reads the same phase. A non-finite value, a
/// tail that does not decay, or no convergence by the finest level returns
/// `None` rather than a weaker answer.
pub fn expect_normal(mean: f64, sd: f64, f: &dyn Fn(f64) -> f64, tol: Tol) -> Option<Quad> {
    if !(sd > 0.0 && sd.is_finite() && mean.is_finite()) || mean.abs() > LATTICE_OFFSET * sd {
        return None;
    }
    let phi = lattice_density();
    let at = |m: isize| -> Option<f64> {
        let u = m as f64 / LATTICE_FINEST as f64;
        let w = phi[m.unsigned_abs()];
        let v = f(mean + sd * u);
        let g = w * v;
        g.is_finite().then_some(g)
    };
    // The first level fixes how far out each side goes: to the first node
    // where three nonzero terms in a row shrink at least twofold and ever
    // faster (as the Gaussian makes them, whatever polynomial or
    // exponential growth the integrand has), and what lies beyond, `t/α`
    // for a decay `e^(−α)` per unit, is far below the tolerance. A zero of
    // the integrand at a node says nothing about the tail: the scan goes on.
    let step = LATTICE_FINEST as isize;
    let mut g = vec![0.0; 2 * LATTICE_FINEST * LATTICE_REACH + 1];
    let centre = (LATTICE_FINEST * LATTICE_REACH) as isize;
    let idx = |m: isize| (centre + m) as usize;
    g[idx(0)] = at(0)?;
    let mut abs_sum = g[idx(0)].abs();
    let mut reach = [0isize; 2];
    let mut beyond = 0.0;
    for (side, dir) in [-1isize, 1].into_iter().enumerate() {
        let mut k = 1;
        loop {
            if k as usize > LATTICE_REACH {
                return None;
            }
            let t = at(dir * k * step)?;
            g[idx(dir * k * step)] = t;
            abs_sum += t.abs();
            if k >= 3 {
                let term = |j: isize| g[idx(dir * j * step)].abs();
                let (a, b, c) = (term(k - 2), term(k - 1), term(k));
                if a > 0.0 && b > 0.0 && c > 0.0 && b <= 0.5 * a && c / b <= b / a {
                    let rest = c / -(c / b).ln();
                    if rest <= 1e-2 * tol.rel * abs_sum {
                        reach[side] = k;
                        beyond += rest;
                        break;
                    }
                }
            }
            k += 1;
        }
    }
    // Both sides go as far as the farther: the window is then symmetric,
    // so mirror pairs (below) are whole, and the shorter side's tail only
    // gets smaller than the bound already counted for it.
    let widest = reach[0].max(reach[1]);
    for (side, dir) in [-1isize, 1].into_iter().enumerate() {
        for k in reach[side] + 1..=widest {
            g[idx(dir * k * step)] = at(dir * k * step)?;
        }
    }
    let far = widest * step;
    let (lo, hi) = (-far, far);
    // Nodes are added in mirror pairs, `u` and `−u` together: an odd
    // integrand about the mean then sums to exactly 0, as it should, and
    // not to a few ulps of whatever order the nodes came in.
    let pair = |g: &[f64], m: isize| g[idx(-m)] + g[idx(m)];
    let mut sum = Neumaier::default();
    sum.add(g[idx(0)]);
    for m in (step..=far).step_by(LATTICE_FINEST) {
        sum.add(pair(&g, m));
    }
    let (mut h, mut gap) = (1.0, LATTICE_FINEST as isize);
    let mut previous = sum.total() * h;
    let mut last_change = f64::INFINITY;
    for level in 1..LATTICE_LEVELS {
        gap /= 2;
        h *= 0.5;
        for m in (gap..far).step_by(2 * gap as usize) {
            g[idx(-m)] = at(-m)?;
            g[idx(m)] = at(m)?;
            sum.add(pair(&g, m));
        }
        let value = sum.total() * h;
        let change = (value - previous).abs();
        if level < 2 {
            // Too early to trust an agreement: no test, so no floor either.
            (previous, last_change) = (value, change);
            continue;
        }
        // Both sums in one pass, each in the order of its nodes.
        let x = |m: isize| (mean + sd * (m as f64 / LATTICE_FINEST as f64)).abs();
        let (mut displaced, mut abs_total) = (0.0f64, 0.0f64);
        let mut m = lo;
        while m < hi {
            let (here, next) = (g[idx(m)], g[idx(m + gap)]);
            displaced += (next - here).abs() * x(m).min(x(m + gap)) / sd;
            abs_total += here.abs();
            m += gap;
        }
        if m == hi {
            abs_total += g[idx(hi)].abs();
        }
        let floor = ROUNDOFF_ULPS * f64::EPSILON * abs_total * h + 4.0 * f64::EPSILON * displaced;
        let target = tol.abs.max(tol.rel * value.abs()).max(2.0 * floor);
        if change <= target && (change <= last_change || last_change <= target) {
            let err = change + floor + beyond + 2.0 * f64::EPSILON * value.abs();
            return Some(Quad { value, err });
        }
        previous = value;
        last_change = change;
    }
    None
}

/// Neumaier's compensated sum.
#[derive(Default)]
struct Neumaier {
    sum: f64,
    carry: f64,
}

impl Neumaier {
    fn add(&mut self, x: f64) {
        let s = self.sum + x;
        self.carry += if self.sum.abs() >= x.abs() {
            (self.sum - s) + x
        } else {
            (x - s) + self.sum
        };
        self.sum = s;
    }

    fn total(&self) -> f64 {
        self.sum + self.carry
    }
}

/// Tolerance for inner integrals: a decade tighter than the outer one, so
/// their errors, integrated, stay a small part of the outer budget; but not
/// below what rounding allows, which would only waste subdivisions.
fn inner_tol(tol: Tol) -> Tol {
    Tol {
        rel: (0.1 * tol.rel).max(1e-14),
        abs: 0.1 * tol.abs,
    }
}

/// Runs an outer expectation whose integrand is an inner quadrature. An
/// inner failure to converge does not stop the outer one (its best value
/// and error are used), but the final result is then `NotConverged`.
fn nested(
    outer: &dyn Fn(&Integrand) -> Result<Quad, QuadError>,
    inner: &dyn Fn(f64) -> Result<Quad, QuadError>,
) -> Result<Quad, QuadError> {
    let inner_failed = Cell::new(false);
    let g = |u: f64| -> Result<Node, QuadError> {
        let with_err = |value: f64, err: f64| Node {
            value,
            side: err,
            mass: 0.0,
        };
        match inner(u) {
            Ok(q) => Ok(with_err(q.value, q.err)),
            Err(QuadError::NotConverged { value, err }) => {
                inner_failed.set(true);
                Ok(with_err(value, err))
            }
            Err(e) => Err(e),
        }
    };
    let q = outer(&g)?;
    if inner_failed.get() {
        Err(QuadError::NotConverged {
            value: q.value,
            err: q.err,
        })
    } else {
        Ok(q)
    }
}

/// `E[f(U, V)]` for independent `U ~ lu`, `V ~ lv`: nested, with the inner
/// breaks allowed to depend on the outer value.
pub fn expect_2d(
    lu: &Law,
    lv: &Law,
    f: &dyn Fn(f64, f64) -> f64,
    breaks_u: &[f64],
    breaks_v: &dyn Fn(f64) -> Vec<f64>,
    tol: Tol,
) -> Result<Quad, QuadError> {
    let itol = inner_tol(tol);
    nested(&|g| expect_with(lu, g, breaks_u, tol), &|u| {
        expect_1d(lv, &|v| f(u, v), &breaks_v(u), itol)
    })
}

/// `E[f(U, V)]` for a `BivariateNormal` pair: outer over `U ~ N(0, sd_u)`,
/// inner over `V | U = u` (from [`Bivariate::conditional`]); when that
/// conditional spread is 0 (|rho| = 1) the inner law is the point mass at
/// its mean. The inner law is normal, so an inner integrand without kinks
/// (no `breaks_v`) takes [`expect_normal`]'s lattice when `smooth` says it
/// is not periodic (the caller's knowledge, as in one dimension), and the
/// adaptive rule where the lattice declines.
pub fn expect_bivariate(
    b: &Bivariate,
    f: &dyn Fn(f64, f64) -> f64,
    breaks_u: &[f64],
    breaks_v: &dyn Fn(f64) -> Vec<f64>,
    smooth: bool,
    tol: Tol,
) -> Result<Quad, QuadError> {
    let itol = inner_tol(tol);
    let inner = |u: f64| -> Result<Quad, QuadError> {
        let (mean, sd) = b.conditional(u);
        if sd == 0.0 {
            let v = f(u, mean);
            return if v.is_finite() {
                Ok(Quad { value: v, err: 0.0 })
            } else {
                Err(QuadError::NonFinite { at: mean })
            };
        }
        let breaks = breaks_v(u);
        let fv = |v: f64| f(u, v);
        let lattice = (smooth && breaks.is_empty())
            .then(|| expect_normal(mean, sd, &fv, itol))
            .flatten();
        lattice.map_or_else(
            || expect_1d(&Law::Normal { mean, sd }, &fv, &breaks, itol),
            Ok,
        )
    };
    let lu = b.marginal(0);
    nested(&|g| expect_with(&lu, g, breaks_u, tol), &inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// The result is within its own error estimate of `truth`, and that
    /// estimate meets the project target.
    fn honest(q: Quad, truth: f64, what: &str) {
        let actual = (q.value - truth).abs();
        assert!(
            actual <= q.err,
            "{what}: error {actual:e} exceeds estimate {:e}",
            q.err
        );
        assert!(
            q.err <= 1e-10 * truth.abs().max(1e-300),
            "{what}: estimate {:e} too large",
            q.err
        );
    }

    #[test]
    fn kronrod_weights_integrate_constants_and_gauss_weights_too() {
        let k: f64 = WGK[10] + 2.0 * WGK[..10].iter().sum::<f64>();
        let g: f64 = 2.0 * WG.iter().sum::<f64>();
        assert!((k - 2.0).abs() <= 4.0 * f64::EPSILON);
        assert!((g - 2.0).abs() <= 4.0 * f64::EPSILON);
    }

    #[test]
    fn polynomials_are_exact() {
        // K21 is exact to degree 31 on one interval: x^k on [0, 1] is 1/(k+1).
        for k in 0..=31 {
            let q = integrate(&|x: f64| x.powi(k), 0.0, 1.0, &[], Tol::default()).unwrap();
            honest(q, 1.0 / f64::from(k + 1), &format!("x^{k}"));
            assert!((q.value - 1.0 / f64::from(k + 1)).abs() <= 8.0 * f64::EPSILON);
        }
        // 3x^5 - x^2 + 7 on [-2, 3], against its antiderivative.
        let anti = |x: f64| 0.5 * x.powi(6) - x.powi(3) / 3.0 + 7.0 * x;
        let q = integrate(
            &|x: f64| 3.0 * x.powi(5) - x * x + 7.0,
            -2.0,
            3.0,
            &[],
            Tol::default(),
        )
        .unwrap();
        honest(q, anti(3.0) - anti(-2.0), "quintic");
    }

    #[test]
    fn infinite_ranges() {
        let q = integrate(
            &|x: f64| (-x * x).exp(),
            f64::NEG_INFINITY,
            f64::INFINITY,
            &[],
            Tol::default(),
        )
        .unwrap();
        honest(q, PI.sqrt(), "gaussian");
        let q = integrate(
            &|x: f64| 1.0 / (1.0 + x * x),
            f64::NEG_INFINITY,
            f64::INFINITY,
            &[],
            Tol::default(),
        )
        .unwrap();
        honest(q, PI, "lorentzian");
        // One-sided, with a break off-centre: ∫_1^∞ e^{-x} = 1/e.
        let q = integrate(
            &|x: f64| (-x).exp(),
            1.0,
            f64::INFINITY,
            &[3.0],
            Tol::default(),
        )
        .unwrap();
        honest(q, (-1.0f64).exp(), "exponential tail");
        // Reversed limits change the sign: ∫_0^{-∞} e^{x} = -1.
        let q = integrate(&f64::exp, 0.0, f64::NEG_INFINITY, &[], Tol::default()).unwrap();
        honest(q, -1.0, "reversed");
    }

    #[test]
    fn integrable_endpoint_singularities() {
        let q = integrate(&f64::sqrt, 0.0, 1.0, &[], Tol::default()).unwrap();
        honest(q, 2.0 / 3.0, "sqrt");
        let q = integrate(&f64::ln, 0.0, 1.0, &[], Tol::default()).unwrap();
        honest(q, -1.0, "log");
        // 1/sqrt(x): the integrand itself is unbounded at the end.
        let q = integrate(&|x: f64| 1.0 / x.sqrt(), 0.0, 1.0, &[], Tol::default()).unwrap();
        honest(q, 2.0, "1/sqrt");
    }

    #[test]
    fn jumps_with_and_without_the_break() {
        let step = |x: f64| if x > 0.3 { 1.0 } else { 0.0 };
        let given = integrate(&step, 0.0, 1.0, &[0.3], Tol::default()).unwrap();
        honest(given, 0.7, "step, break given");
        let found = integrate(&step, 0.0, 1.0, &[], Tol::default()).unwrap();
        honest(found, 0.7, "step, break found by bisection");
        // Breaks outside the range or repeated are harmless.
        let q = integrate(
            &|x: f64| x * x,
            0.0,
            1.0,
            &[-5.0, 0.5, 7.0, 0.5, f64::NAN],
            Tol::default(),
        )
        .unwrap();
        honest(q, 1.0 / 3.0, "outside breaks");
    }

    #[test]
    fn cancelling_integral_stops_at_rounding_with_honest_error() {
        // ∫ sin over [-π, π] is 0: no relative accuracy exists, so the
        // answer is an absolute error at the rounding level of ∫|sin| = 4.
        let q = integrate(&f64::sin, -PI, PI, &[], Tol::default()).unwrap();
        assert!(q.value.abs() <= q.err);
        assert!(q.err <= 1e-12);
    }

    #[test]
    fn divergent_integrals_do_not_converge() {
        for (a, b, f) in [
            (0.0, 1.0, (|x: f64| 1.0 / x) as fn(f64) -> f64),
            (1.0, f64::INFINITY, |x: f64| 1.0 / x),
            (0.0, 1.0, |x: f64| (1.0 / x).sin() / x),
        ] {
            match integrate(&f, a, b, &[], Tol::default()) {
                Err(QuadError::NotConverged { err, .. }) => assert!(err > 1e-10),
                other => panic!("divergent integral on [{a}, {b}] gave {other:?}"),
            }
        }
    }

    #[test]
    fn non_finite_integrand_is_reported_where_it_happens() {
        let f = |x: f64| if x > 0.5 { f64::NAN } else { 1.0 };
        match integrate(&f, 0.0, 1.0, &[], Tol::default()) {
            Err(QuadError::NonFinite { at }) => assert!(at > 0.5 && at < 1.0),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            integrate(&|x| x, f64::NAN, 1.0, &[], Tol::default()),
            Err(QuadError::NonFinite { .. })
        ));
        assert_eq!(
            integrate(&|x| x, 2.0, 2.0, &[], Tol::default()),
            Ok(Quad {
                value: 0.0,
                err: 0.0
            })
        );
    }

    // ---- expectations ----

    use crate::exact::closed::{leaky_relu_normal, leaky_relu_normal_abs, relu_normal};
    use crate::lang::builtin::Builtin;
    use proptest::prelude::*;
    use statrs::function::gamma::gamma;

    /// Within the estimate of a reference that is itself a rounded closed
    /// form: the law's raw moments are exact to a few ulps per order, so
    /// `slack` (relative) allows for the reference's rounding, not ours.
    fn honest_against(q: Quad, truth: f64, slack: f64, what: &str) {
        honest_scaled(q, truth, truth.abs(), slack, what);
    }

    /// As [`honest_against`], relative to `scale` (>= |truth|): where the
    /// truth is 0 by cancellation, relative to the size of what cancels.
    fn honest_scaled(q: Quad, truth: f64, scale: f64, slack: f64, what: &str) {
        let actual = (q.value - truth).abs();
        assert!(
            actual <= q.err + slack * scale,
            "{what}: value {} truth {truth} error {actual:e} exceeds estimate {:e}",
            q.value,
            q.err
        );
        assert!(
            q.err <= 1e-10 * scale,
            "{what}: estimate {:e} too large",
            q.err
        );
    }

    fn law(name: &str, params: &[f64]) -> Law {
        Law::new(name, params).unwrap()
    }

    #[test]
    fn moments_of_every_continuous_law() {
        let laws = [
            law("Normal", &[0.3, 1.7]),
            law("Uniform", &[-1.0, 2.0]),
            law("Laplace", &[0.5, 2.0]),
            law("StudentsT", &[0.2, 1.5, 9.0]),
            law("Exponential", &[1.5]),
            law("Gamma", &[2.5, 1.3]),
            law("Gamma", &[0.5, 2.0]),
            law("Beta", &[0.5, 1.7]),
            law("Beta", &[2.0, 3.0]),
            law("LogNormal", &[0.1, 0.5]),
            law("Triangular", &[-1.0, 3.0, 0.5]),
        ];
        for l in &laws {
            for k in 1..=4 {
                let truth = l.raw_moment(k).unwrap();
                // sqrt(E[X^2k]) >= E|X^k|, the size of what cancels in an
                // odd moment of a symmetric law.
                let scale = truth.abs().max(l.raw_moment(2 * k).unwrap().sqrt());
                let q = expect_1d(l, &|x| x.powi(k as i32), &[], Tol::default())
                    .unwrap_or_else(|e| panic!("{l:?} k={k}: {e}"));
                honest_scaled(
                    q,
                    truth,
                    scale,
                    32.0 * f64::EPSILON,
                    &format!("{l:?} k={k}"),
                );
            }
        }
    }

    #[test]
    fn truncated_normal_moments() {
        // Against mpmath at 30 digits. The ratio E[X^k] / E[1] is compared,
        // so that a constant factor in the density (its normalising mass,
        // from `special::upper`, a few ulps) cancels and only the
        // quadrature is measured.
        let cases: [([f64; 4], [f64; 4]); 2] = [
            (
                [0.0, 1.0, -2.0, 2.0],
                [0.0, 0.773_741_303_549_923_2, 0.0, 1.416_189_124_849_462_7],
            ),
            (
                [1.0, 2.0, 0.0, f64::INFINITY],
                [
                    2.018_320_867_674_067,
                    6.018_320_867_674_067,
                    22.164_887_809_066_603,
                    94.384_738_221_155_41,
                ],
            ),
        ];
        for (params, moments) in cases {
            let l = law("TruncatedNormal", &params);
            let mass = expect_1d(&l, &|_| 1.0, &[], Tol::default()).unwrap();
            for (k, truth) in (1..).zip(moments) {
                let q = expect_1d(&l, &|x| x.powi(k), &[], Tol::default()).unwrap();
                let ratio = Quad {
                    value: q.value / mass.value,
                    err: q.err / mass.value + q.value.abs() * mass.err / (mass.value * mass.value),
                };
                // Odd moments of the symmetric case cancel to 0: measure them
                // against sqrt(m_(k-1) m_(k+1)) >= E|X|^k (Cauchy-Schwarz).
                let m = |j: usize| if j == 0 { 1.0 } else { moments[j - 1] };
                let ku = k as usize;
                let scale = if ku % 2 == 1 && ku < 4 {
                    truth.abs().max((m(ku - 1) * m(ku + 1)).sqrt())
                } else {
                    truth.abs()
                };
                honest_scaled(
                    ratio,
                    truth,
                    scale,
                    4.0 * f64::EPSILON,
                    &format!("{params:?} k={k}"),
                );
            }
        }
    }

    #[test]
    fn singular_density_at_one_fails_honestly() {
        // Beta(0.5, 0.7) has density ~ (1-x)^-0.3 at 1, where f64 cannot
        // resolve x below 1 - ε: the mass within ε of 1 (~1e-11 of the
        // whole) is out of reach of any rule fed points x. The 1e-12 target
        // is then unreachable and the call must say so, with an error that
        // still covers the truth.
        let l = law("Beta", &[0.5, 0.7]);
        let truth = l.raw_moment(1).unwrap();
        match expect_1d(&l, &|x| x, &[], Tol::default()) {
            Err(QuadError::NotConverged { value, err }) => {
                assert!(
                    (value - truth).abs() <= err && err <= 1e-9,
                    "{value} ± {err:e}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reference_constants_without_closed_form() {
        // docs/REFERENCES.md, recomputed here with mpmath at 30 digits:
        // E[tanh(Z)^2] = 0.394294490397841174..., E[tanh'(Z)^2] = 0.464402902448268242...
        let z = law("Normal", &[0.0, 1.0]);
        let q = expect_1d(&z, &|x| x.tanh().powi(2), &[], Tol::default()).unwrap();
        honest_against(q, 0.394_294_490_397_841_17, 0.0, "tanh^2");
        let q = expect_1d(
            &z,
            &|x| (1.0 - x.tanh().powi(2)).powi(2),
            &[],
            Tol::default(),
        )
        .unwrap();
        honest_against(q, 0.464_402_902_448_268_24, 0.0, "tanh'^2");
        // sigmoid is 1/2 + an odd function: E = 1/2 exactly.
        let q = expect_1d(&z, &|x| Builtin::Sigmoid.eval(&[x]), &[], Tol::default()).unwrap();
        honest_against(q, 0.5, 0.0, "sigmoid");
    }

    #[test]
    fn density_is_checked_before_the_integrand() {
        // exp(x) overflows far out where the normal density has underflowed;
        // the product is 0, not NaN. E[e^Z] = e^{1/2}.
        let z = law("Normal", &[0.0, 1.0]);
        let q = expect_1d(&z, &f64::exp, &[], Tol::default()).unwrap();
        honest_against(q, 0.5f64.exp(), 0.0, "lognormal mean");
    }

    #[test]
    fn bernoulli_atoms_are_summed() {
        let b = law("Bernoulli", &[0.3]);
        let q = expect_1d(&b, &|x| (2.0 * x + 1.0).exp(), &[], Tol::default()).unwrap();
        honest_against(q, 0.3 * 3f64.exp() + 0.7 * 1f64.exp(), 0.0, "bernoulli");
        // A point without mass is never evaluated: log(0) is not reached.
        let certain = law("Bernoulli", &[1.0]);
        let q = expect_1d(&certain, &f64::ln, &[], Tol::default()).unwrap();
        assert_eq!(q.value, 0.0);
    }

    #[test]
    fn moments_that_do_not_exist_are_not_numbers() {
        let cauchy = law("Cauchy", &[0.0, 1.0]);
        let t3 = law("StudentsT", &[0.0, 1.0, 3.0]);
        for (l, k) in [(&cauchy, 2), (&cauchy, 1), (&t3, 4), (&t3, 3)] {
            let r = expect_1d(l, &|x| x.abs().powi(k), &[], Tol::default());
            assert!(
                matches!(r, Err(QuadError::NotConverged { .. })),
                "{l:?} k={k}: {r:?}"
            );
        }
        // ... while those that exist are found: E[X^2] = dof/(dof - 2) = 3.
        let q = expect_1d(&t3, &|x| x * x, &[], Tol::default()).unwrap();
        honest_against(q, 3.0, 0.0, "t3 second moment");
    }

    #[test]
    fn independent_pairs() {
        // U, V iid N(0,1): E[max(U, V)] = 1/sqrt(pi), E|U - V| = 2/sqrt(pi);
        // the kink sits at v = u, so the inner breaks follow the outer value.
        let z = law("Normal", &[0.0, 1.0]);
        let diag = |u: f64| vec![u];
        let q = expect_2d(&z, &z, &|u, v| u.max(v), &[], &diag, Tol::default()).unwrap();
        honest_against(q, 1.0 / std::f64::consts::PI.sqrt(), 0.0, "E max");
        let q = expect_2d(&z, &z, &|u, v| (u - v).abs(), &[], &diag, Tol::default()).unwrap();
        honest_against(q, 2.0 / std::f64::consts::PI.sqrt(), 0.0, "E |U-V|");
        // Mixed laws: E[(U + V)^2] = E U^2 + 2 E U E V + E V^2.
        let (lu, lv) = (law("Gamma", &[2.5, 1.3]), law("Uniform", &[-1.0, 2.0]));
        let truth = lu.raw_moment(2).unwrap()
            + 2.0 * lu.raw_moment(1).unwrap() * lv.raw_moment(1).unwrap()
            + lv.raw_moment(2).unwrap();
        let q = expect_2d(
            &lu,
            &lv,
            &|u, v| (u + v).powi(2),
            &[],
            &|_| Vec::new(),
            Tol::default(),
        )
        .unwrap();
        honest_against(q, truth, 32.0 * f64::EPSILON, "E (U+V)^2");
        // A discrete outer law: E[B * V] with B ~ Bernoulli(0.3), V ~ Exp(2).
        let q = expect_2d(
            &law("Bernoulli", &[0.3]),
            &law("Exponential", &[2.0]),
            &|u, v| u * v,
            &[],
            &|_| Vec::new(),
            Tol::default(),
        )
        .unwrap();
        honest_against(q, 0.3 * 0.5, 0.0, "E B V");
    }

    #[test]
    fn inner_failure_makes_the_whole_fail() {
        let z = law("Normal", &[0.0, 1.0]);
        let cauchy = law("Cauchy", &[0.0, 1.0]);
        let r = expect_2d(
            &z,
            &cauchy,
            &|u, v| u * v * v,
            &[],
            &|_| Vec::new(),
            Tol::default(),
        );
        assert!(matches!(r, Err(QuadError::NotConverged { .. })), "{r:?}");
    }

    fn relu(x: f64) -> f64 {
        x.max(0.0)
    }
    fn step(x: f64) -> f64 {
        if x > 0.0 { 1.0 } else { 0.0 }
    }
    fn zero(_: f64) -> Vec<f64> {
        vec![0.0]
    }

    #[test]
    fn bivariate_normal_kernels() {
        use std::f64::consts::PI;
        for rho in [-1.0, -0.9, -0.3, 0.0, 0.5, 0.99, 1.0] {
            let unit = Bivariate::new(&[1.0, 1.0, rho]).unwrap();
            let what = format!("rho = {rho}");
            // Arc-cosine kernels (Cho & Saul 2009) for unit sds.
            let q = expect_bivariate(
                &unit,
                &|u, v| relu(u) * relu(v),
                &[0.0],
                &zero,
                true,
                Tol::default(),
            )
            .unwrap();
            let truth = ((1.0 - rho * rho).sqrt() + (PI - rho.acos()) * rho) / (2.0 * PI);
            // Where the truth is 0 only an absolute error at the rounding
            // level of what cancels (E|f| <= 1) is possible.
            if truth == 0.0 {
                assert!(
                    q.value.abs() <= q.err && q.err <= 1e-13,
                    "relu {what}: {q:?}"
                );
            } else {
                honest_against(q, truth, 4.0 * f64::EPSILON, &format!("relu {what}"));
            }
            let q = expect_bivariate(
                &unit,
                &|u, v| step(u) * step(v),
                &[0.0],
                &zero,
                true,
                Tol::default(),
            )
            .unwrap();
            let truth = (PI - rho.acos()) / (2.0 * PI);
            if truth == 0.0 {
                assert!(
                    q.value.abs() <= q.err && q.err <= 1e-13,
                    "step {what}: {q:?}"
                );
            } else {
                honest_against(q, truth, 4.0 * f64::EPSILON, &format!("step {what}"));
            }
            // E[u v] = rho sd_u sd_v, with unequal sds.
            let pair = Bivariate::new(&[0.7, 2.5, rho]).unwrap();
            for smooth in [false, true] {
                let q = expect_bivariate(
                    &pair,
                    &|u, v| u * v,
                    &[],
                    &|_| Vec::new(),
                    smooth,
                    Tol::default(),
                )
                .unwrap();
                let truth = rho * 0.7 * 2.5;
                if rho == 0.0 {
                    let abs_uv = 0.7 * 2.5 * 2.0 / PI;
                    assert!(
                        q.value.abs() <= q.err && q.err <= 1e-13 * abs_uv,
                        "uv {what}: {q:?}"
                    );
                } else {
                    honest_against(q, truth, 4.0 * f64::EPSILON, &format!("uv {what}"));
                }
            }
            // A smooth kernel, which the inner lattice takes: Williams'
            // (1997) arcsine kernel, E[erf(a u) erf(a v)] =
            // (2/pi) asin(2 a^2 rho / (1 + 2 a^2)) for unit sds.
            let a: f64 = 1.3;
            let truth = 2.0 / PI * (2.0 * a * a * rho / (1.0 + 2.0 * a * a)).asin();
            let erf = |x: f64| libm::erf(a * x);
            for smooth in [false, true] {
                let q = expect_bivariate(
                    &unit,
                    &|u, v| erf(u) * erf(v),
                    &[],
                    &|_| Vec::new(),
                    smooth,
                    Tol::default(),
                )
                .unwrap();
                if truth == 0.0 {
                    assert!(
                        q.value.abs() <= q.err && q.err <= 1e-13,
                        "erf {what}: {q:?}"
                    );
                } else {
                    honest_against(
                        q,
                        truth,
                        4.0 * f64::EPSILON,
                        &format!("erf {what} {smooth}"),
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn relu_and_leaky_of_normal_match_closed_forms(
            mu in -3.0f64..3.0, s in 0.1f64..3.0, a in 0.0f64..1.0, k in 1u32..3,
        ) {
            let z = Law::Normal { mean: mu, sd: s };
            let q = expect_1d(&z, &|x| relu(x).powi(k as i32), &[0.0], Tol::default()).unwrap();
            let closed = relu_normal(mu, s, k);
            prop_assert!(((q.value - closed) / closed).abs() <= 1e-10, "relu k={} {:?} {}", k, q, closed);
            let leaky = |x: f64| if x > 0.0 { x } else { a * x };
            let q = expect_1d(&z, &|x| leaky(x).powi(k as i32), &[0.0], Tol::default()).unwrap();
            // For k = 1 the mean crosses 0 as mu does; relative accuracy is
            // then measured against E|f(Z)|, the size of what cancels.
            let scale = leaky_relu_normal_abs(mu, s, a, k);
            prop_assert!((q.value - leaky_relu_normal(mu, s, a, k)).abs() <= 1e-10 * scale);
        }

        #[test]
        fn far_tail_closed_forms_match_expectations(t in -30.0f64..-5.0, s in 0.1f64..3.0, k in 1u32..3) {
            let mu = t * s;
            let z = Law::Normal { mean: mu, sd: s };
            let q = expect_1d(&z, &|x| relu(x).powi(k as i32), &[0.0], Tol::default()).unwrap();
            let closed = relu_normal(mu, s, k);
            prop_assert!(((q.value - closed) / closed).abs() <= 1e-10, "k={} {:?} {}", k, q, closed);
        }
    }

    // ---- narrow laws far from kinks, heavy tails, the mass check ----

    /// Either a failure, or a value within its own error of `truth` (plus
    /// `slack` for the rounding of the truth itself): never a wrong number
    /// with a small bound. A `NotConverged` value is held to its error too,
    /// since the engine still uses one whose error is small enough.
    fn never_confidently_wrong(r: Result<Quad, QuadError>, truth: f64, slack: f64) -> bool {
        match r {
            Ok(Quad { value, err }) | Err(QuadError::NotConverged { value, err }) => {
                (value - truth).abs() <= err + slack
            }
            Err(QuadError::LostMass { .. }) => true,
            Err(QuadError::NonFinite { .. }) => false,
        }
    }

    /// A narrow law, a function with a kink `d` spreads from its centre on
    /// either side, and the truth. Where a neglected far tail enters the
    /// truth its bound is given; each is below 1e-20 of the value for
    /// `d >= 10`.
    fn far_kink_case(
        which: usize,
        mu: f64,
        s: f64,
        d: f64,
    ) -> (Law, Box<dyn Fn(f64) -> f64>, f64, f64) {
        match which {
            // E|X - k| = E relu(X - k) + E relu(k - X), both closed forms.
            0 => {
                let k = mu + d * s;
                let truth = relu_normal(mu - k, s, 1) + relu_normal(k - mu, s, 1);
                (
                    Law::Normal { mean: mu, sd: s },
                    Box::new(move |x: f64| (x - k).abs()),
                    k,
                    truth,
                )
            }
            // E relu(X - k)^2: (d^2 + 1) s^2 below the mass, next to 0 above.
            1 => {
                let k = mu + d * s;
                let truth = relu_normal(mu - k, s, 2);
                (
                    Law::Normal { mean: mu, sd: s },
                    Box::new(move |x: f64| relu(x - k).powi(2)),
                    k,
                    truth,
                )
            }
            // Laplace: E|X - k| = |d| s + s e^-|d|.
            2 => {
                let k = mu + d * s;
                let truth = d.abs() * s + s * (-d.abs()).exp();
                (
                    Law::Laplace { loc: mu, scale: s },
                    Box::new(move |x: f64| (x - k).abs()),
                    k,
                    truth,
                )
            }
            // Student t, nu = 4.5: E[T 1{T > kappa}] = (nu + kappa^2)/(nu - 1) p(kappa)
            // for T standard (integrate t p(t) from kappa), with p written
            // here from statrs's gamma, not the law's own log-gamma ratio.
            3 => {
                let nu: f64 = 4.5;
                let norm = gamma(0.5 * (nu + 1.0)) / ((nu * PI).sqrt() * gamma(0.5 * nu));
                let p = |t: f64| norm * (1.0 + t * t / nu).powf(-0.5 * (nu + 1.0));
                let truth = (nu + d * d) / (nu - 1.0) * p(d);
                let k = mu + d * s;
                let f = move |x: f64| if x > k { (x - mu) / s } else { 0.0 };
                (
                    Law::StudentsT {
                        loc: mu,
                        scale: s,
                        dof: nu,
                    },
                    Box::new(f),
                    k,
                    truth,
                )
            }
            // Gamma(shape, 1) with shape = (mu-independent) 1e4: E|X - k| =
            // |mean - k| + 2 E[(X - k)+ or (k - X)+ beyond]. Gamma is
            // sub-gamma (Boucheron, Lugosi & Massart, 2.4): the lower tail
            // P(X < mean - t) <= exp(-t^2 / (2 shape)), the upper one
            // exp(-t^2 / (2 (shape + t))); at t = 10 sd both are below e^-45.
            4 => {
                let shape: f64 = 1e4;
                let (mean, sd) = (shape, shape.sqrt());
                let k = mean + d * sd;
                (
                    Law::Gamma { shape, rate: 1.0 },
                    Box::new(move |x: f64| (x - k).abs()),
                    k,
                    (mean - k).abs(),
                )
            }
            // Beta(a, a), sub-Gaussian with variance proxy 1/(4(2a + 1)), its
            // variance (Marchal & Arbel 2017): tails beyond d sd below e^-d^2/2.
            5 => {
                let a: f64 = 5e3;
                let sd = (1.0 / (4.0 * (2.0 * a + 1.0))).sqrt();
                let k = 0.5 + d * sd;
                (
                    Law::Beta { a, b: a },
                    Box::new(move |x: f64| (x - k).abs()),
                    k,
                    (0.5 - k).abs(),
                )
            }
            // TruncatedNormal(mu, s, mu - 1e3 s, mu + 1e3 s): symmetric, mean
            // mu; beyond d sd it holds less than the normal's Phi(-d).
            6 => {
                let k = mu + d * s;
                let l = Law::new("TruncatedNormal", &[mu, s, mu - 1e3 * s, mu + 1e3 * s]).unwrap();
                (l, Box::new(move |x: f64| (x - k).abs()), k, (mu - k).abs())
            }
            // LogNormal(m, 1e-3) below its median: P(X < k) <= Phi(-d), so
            // E|X - k| = E X - k.
            _ => {
                let sigma: f64 = 1e-3;
                let m = mu.clamp(-3.0, 3.0);
                let spread = m.exp() * sigma.exp_m1();
                let k = m.exp() - d.abs() * spread;
                let mean = (m + 0.5 * sigma * sigma).exp();
                (
                    Law::LogNormal { mu: m, sigma },
                    Box::new(move |x: f64| (x - k).abs()),
                    k,
                    mean - k,
                )
            }
        }
    }

    #[test]
    fn issue_8_narrow_normal_far_above_a_kink() {
        // E[max(y + 3, 0)] for y ~ N(0, 0.0003) was 1.500120 with an error
        // bound of 2.6e-13: the mass sat at the end of the piece [-3, 0]
        // where no node landed. Truth: 3 + E relu(-3 - y), and the latter
        // (10^4 sds out) underflows to 0.
        let l = law("Normal", &[0.0, 0.0003]);
        assert_eq!(relu_normal(-3.0, 0.0003, 1), 0.0);
        let q = expect_1d(&l, &|x| (x + 3.0).max(0.0), &[-3.0], Tol::default()).unwrap();
        honest_against(q, 3.0, 0.0, "issue 8");
    }

    #[test]
    fn narrow_laws_far_from_kinks_are_exact() {
        // Every law, kinks 10 to 10^6 spreads away on both sides: exact,
        // within its bound of the truth, and the bound small.
        for which in 0..8 {
            for e in 1..=6 {
                for side in [-1.0, 1.0] {
                    let d = side * 10f64.powi(e);
                    let (l, f, k, truth) = far_kink_case(which, 0.7, 3e-4, d);
                    let what = format!("{l:?}, kink at {k} ({d} spreads)");
                    let q = expect_1d(&l, &*f, &[k], Tol::default())
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    // The Student-t value below the mass is a cancellation
                    // to a tiny number: measured against E|T| <= 1.
                    let scale = if which == 3 {
                        truth.abs().max(1.0)
                    } else {
                        truth.abs()
                    };
                    honest_scaled(q, truth, scale, 1e-13, &what);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn far_kinks_never_give_a_wrong_number_with_a_small_bound(
            which in 0usize..8, log_d in 1.0f64..6.0, above in any::<bool>(),
            log_s in -6.0f64..3.0, mu in -5.0f64..5.0,
        ) {
            let d = if above { 1.0 } else { -1.0 } * 10f64.powf(log_d);
            let (l, f, k, truth) = far_kink_case(which, mu, 10f64.powf(log_s), d);
            let r = expect_1d(&l, &*f, &[k], Tol::default());
            // The truth's own rounding: a few ulps of the closed forms, and
            // for the t case of the cancelling sum it is compared with.
            let slack = 1e-13 * truth.abs().max(if which == 3 { 1.0 } else { 0.0 });
            prop_assert!(never_confidently_wrong(r, truth, slack), "{:?} k={} truth {}: {:?}", l, k, truth, r);
        }
    }

    /// E|T|^p for a standard Student t with `nu` > p degrees of freedom:
    /// nu^(p/2) Γ((p+1)/2) Γ((nu-p)/2) / (sqrt(pi) Γ(nu/2)), from statrs's
    /// gamma (not the law module's log-gamma ratio).
    fn student_abs_moment(nu: f64, p: f64) -> f64 {
        nu.powf(0.5 * p) * gamma(0.5 * (p + 1.0)) * gamma(0.5 * (nu - p))
            / (PI.sqrt() * gamma(0.5 * nu))
    }

    #[test]
    fn heavy_tails_at_the_edge_of_existence_are_exact() {
        // Issue 8: E|T|^3 for nu = 3.5 = 14.5734758742981370500770666725
        // (mpmath, mp.dps = 30: nu**1.5*gamma(2)*gamma((nu-3)/2)/(sqrt(pi)*
        // gamma(nu/2)); mpmath.quad of the density agrees to 17 digits).
        let t = law("StudentsT", &[0.0, 1.0, 3.5]);
        let q = expect_1d(&t, &|x| x.abs().powi(3), &[0.0], Tol::default()).unwrap();
        honest_against(q, 14.573_475_874_298_137, 1e-15, "E|T|^3, nu = 3.5");
        assert!((student_abs_moment(3.5, 3.0) / 14.573_475_874_298_137 - 1.0).abs() < 1e-13);
        // E[relu(T)^2] = nu/(nu - 2)/2 = 2.5 for nu = 2.5.
        let t = law("StudentsT", &[0.0, 1.0, 2.5]);
        let q = expect_1d(&t, &|x| relu(x).powi(2), &[0.0], Tol::default()).unwrap();
        honest_against(q, 2.5, 0.0, "E relu(T)^2, nu = 2.5");
        // Toward the edge, with scale and location: exact down to a margin
        // nu - p of 0.2 (the tail then decays like e^(-0.2 v) in the tail
        // variable and the density underflows at |x| ~ 1e96, after e^-44).
        for (nu, p) in [
            (5.0, 4.0),
            (4.0, 3.5),
            (3.3, 2.8),
            (2.7, 2.2),
            (2.2, 2.0),
            (1.5, 1.0),
            (1.3, 1.1),
        ] {
            let (loc, scale) = (0.0, 2.5);
            let t = Law::StudentsT {
                loc,
                scale,
                dof: nu,
            };
            let truth = scale.powf(p) * student_abs_moment(nu, p);
            let q = expect_1d(&t, &|x| x.abs().powf(p), &[0.0], Tol::default())
                .unwrap_or_else(|e| panic!("nu = {nu}, p = {p}: {e}"));
            honest_against(q, truth, 1e-13, &format!("E|X|^{p}, nu = {nu}"));
        }
    }

    #[test]
    fn closer_to_the_edge_fails_rather_than_truncates() {
        // nu - p = 0.1: the part of E[T^2] for nu = 2.1 (= 21) beyond where
        // the density underflows (|x| ~ 1e99) is about e^-23 / 0.1, far
        // above the target: a failure whose error still covers the truth.
        let t = law("StudentsT", &[0.0, 1.0, 2.1]);
        match expect_1d(&t, &|x| x * x, &[], Tol::default()) {
            Err(QuadError::NotConverged { value, err }) => {
                assert!(
                    (value - 21.0).abs() <= err && err > 1e-10 * 21.0,
                    "{value} ± {err:e}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn integrable_singularities_against_a_law() {
        // E[U^-1/2] = 2, U ~ Uniform(0, 1); E[1/G] = rate/(shape - 1) = 2,
        // G ~ Gamma(1.5, 1); E[1/B] = (a + b - 1)/(a - 1) = 2, B ~ Beta(3, 2).
        type Moment = (Law, fn(f64) -> f64);
        let cases: [Moment; 3] = [
            (law("Uniform", &[0.0, 1.0]), |x| 1.0 / x.sqrt()),
            (law("Gamma", &[1.5, 1.0]), |x| 1.0 / x),
            (law("Beta", &[3.0, 2.0]), |x| 1.0 / x),
        ];
        for (l, f) in cases {
            let q = expect_1d(&l, &f, &[], Tol::default()).unwrap_or_else(|e| panic!("{l:?}: {e}"));
            honest_against(q, 2.0, 0.0, &format!("{l:?}"));
        }
        // E|Z|^-1/2 = 2^(-1/4) Γ(1/4)/sqrt(pi) = 1.72007997464903907075...
        // (mpmath, mp.dps = 30: 2**mpf(-0.25)*gamma(mpf(1)/4)/sqrt(pi);
        // 2*quad(x**-0.5*exp(-x*x/2)/sqrt(2*pi), [0, 1, inf]) agrees to 17
        // digits). The pole at 0 is a break, as the kink finder makes it.
        let z = law("Normal", &[0.0, 1.0]);
        let q = expect_1d(&z, &|x| 1.0 / x.abs().sqrt(), &[0.0], Tol::default()).unwrap();
        honest_against(q, 1.720_079_974_649_039_1, 1e-15, "E|Z|^-1/2");
        // A stronger singularity, E[U^-0.8] = 5: exact, or an honest failure.
        let u = law("Uniform", &[0.0, 1.0]);
        let r = expect_1d(&u, &|x| x.powf(-0.8), &[], Tol::default());
        assert!(never_confidently_wrong(r, 5.0, 0.0), "{r:?}");
    }

    #[test]
    fn mass_the_pieces_miss_is_a_failure_not_a_number() {
        // Issue 8's example laid out as it was before scale breaks: the
        // finite piece [-3, 0] with all of N(0, 3e-4)'s lower half against
        // its end, where no node lands. Without the mass check the result
        // is the wrong 1.5 with a tiny bound; with it, a failure.
        let l = Law::Normal {
            mean: 0.0,
            sd: 3e-4,
        };
        let g = |x: f64| -> Result<Node, QuadError> {
            let w = l.pdf(x);
            Ok(Node {
                value: w * (x + 3.0),
                side: 0.0,
                mass: w,
            })
        };
        let ps = pieces(-3.0, f64::INFINITY, &[0.0], 0.0, 3e-4);
        let q = adapt(&g, &ps, Tol::default(), false).unwrap();
        assert!((q.value - 1.5).abs() < 1e-3 && q.err < 1e-10, "{q:?}");
        match adapt(&g, &ps, Tol::default(), true) {
            Err(QuadError::LostMass { mass, err }) => {
                assert!((mass - 0.5).abs() < 1e-3 && err < 1e-10, "{mass} ± {err:e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scale_breaks_double_out_to_the_farthest_kink() {
        let z = law("Normal", &[1.0, 2.0]);
        let inf = f64::INFINITY;
        // No kink: the centre and one spread either side, nothing more.
        assert_eq!(
            scale_breaks(&z, -inf, inf, &[], 1.0, 2.0),
            vec![1.0, -1.0, 3.0]
        );
        // A kink 100 spreads up: doubling to 64 spreads... where the normal
        // density underflows (pdf(1 + 2*64) = 0), and nothing below beyond
        // one spread.
        let b = scale_breaks(&z, -inf, inf, &[201.0], 1.0, 2.0);
        assert_eq!(b, vec![1.0, -1.0, 3.0, 5.0, 9.0, 17.0, 33.0, 65.0, 129.0]);
        // A heavy tail keeps doubling up to the kink.
        let t = law("StudentsT", &[0.0, 1.0, 3.0]);
        let b = scale_breaks(&t, -inf, inf, &[1e3], 0.0, 1.0);
        assert_eq!(b.len(), 2 + 11, "{b:?}");
        assert_eq!(b.last(), Some(&1024.0));
    }

    // ---- the Gaussian lattice ----

    fn lattice(mean: f64, sd: f64, f: &dyn Fn(f64) -> f64) -> Option<Quad> {
        expect_normal(mean, sd, f, Tol::default())
    }

    #[test]
    fn lattice_moments_and_exponentials_match_closed_forms() {
        let (mean, sd) = (0.3, 1.7);
        let z = law("Normal", &[mean, sd]);
        for k in 0..=8 {
            let truth = z.raw_moment(k).unwrap();
            let scale = truth.abs().max(z.raw_moment(2 * k).unwrap().sqrt());
            let q = lattice(mean, sd, &|x| x.powi(k as i32)).expect("a polynomial converges");
            honest_scaled(q, truth, scale, 32.0 * f64::EPSILON, &format!("x^{k}"));
        }
        // E[exp(aX)] = exp(a mean + a^2 sd^2 / 2), the lognormal mean.
        for a in [-2.0, -0.5, 0.7, 1.5] {
            let truth = (a * mean + 0.5 * a * a * sd * sd).exp();
            let q = lattice(mean, sd, &|x| (a * x).exp()).expect("an exponential converges");
            honest_against(q, truth, 8.0 * f64::EPSILON, &format!("exp({a} x)"));
        }
        // E[exp(c Z^2)] = 1 / sqrt(1 - 2c): a tail that decays slowly.
        let q = lattice(0.0, 1.0, &|x| (0.45 * x * x).exp()).expect("converges");
        honest_against(q, 1.0 / 0.1f64.sqrt(), 8.0 * f64::EPSILON, "exp(0.45 z^2)");
    }

    #[test]
    fn lattice_matches_the_reference_constants() {
        // The values of `reference_constants_without_closed_form`.
        let q = lattice(0.0, 1.0, &|x| x.tanh().powi(2)).unwrap();
        honest_against(q, 0.394_294_490_397_841_17, 0.0, "tanh^2");
        let q = lattice(0.0, 1.0, &|x| (1.0 - x.tanh().powi(2)).powi(2)).unwrap();
        honest_against(q, 0.464_402_902_448_268_24, 0.0, "tanh'^2");
        // E[erf(aZ + b)] = erf(b / sqrt(1 + 2a^2)) (the normal cdf's
        // convolution with the normal density).
        for (a, b) in [(1.0f64, 0.5), (3.0, -1.0), (0.2, 2.0)] {
            let truth = libm::erf(b / (1.0 + 2.0 * a * a).sqrt());
            let q = lattice(0.0, 1.0, &|x| libm::erf(a * x + b)).unwrap();
            honest_against(q, truth, 4.0 * f64::EPSILON, &format!("erf({a} z + {b})"));
        }
    }

    #[test]
    fn odd_integrands_cancel_exactly() {
        // Mirror nodes are summed in pairs, so an odd function about the
        // mean gives 0, not a few ulps of the order of summation.
        for f in [
            |x: f64| x,
            |x: f64| x.tanh(),
            |x: f64| x.powi(3) - 2.0 * x,
            |x: f64| x * (-x * x).exp(),
        ] {
            let q = lattice(0.0, 1.3, &f).expect("converges");
            assert_eq!(q.value, 0.0, "{q:?}");
            assert!(q.err < 1e-12, "{q:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        // Against closed forms over laws and integrands: whatever the
        // lattice returns is within its bound of the truth.
        #[test]
        fn lattice_is_never_confidently_wrong(
            mean in -3.0f64..3.0,
            sd in 0.1f64..5.0,
            a in -2.0f64..2.0,
            b in -2.0f64..2.0,
        ) {
            // E[exp(aX)] = exp(a mean + a^2 sd^2 / 2).
            // Within two spreads of slope the lattice must also answer: the
            // property is not to be met by declining everything.
            let gentle = a.abs() * sd <= 2.0;
            let truth = (a * mean + 0.5 * a * a * sd * sd).exp();
            let q = lattice(mean, sd, &|x| (a * x).exp());
            prop_assert!(q.is_some() || !gentle);
            if let Some(q) = q {
                prop_assert!((q.value - truth).abs() <= q.err + 8.0 * f64::EPSILON * truth, "{q:?} {truth}");
            }
            // E[erf(aX + b)] = erf((a mean + b) / sqrt(1 + 2 a^2 sd^2)).
            let truth = libm::erf((a * mean + b) / (1.0 + 2.0 * a * a * sd * sd).sqrt());
            let q = lattice(mean, sd, &|x| libm::erf(a * x + b));
            prop_assert!(q.is_some() || !gentle);
            if let Some(q) = q {
                prop_assert!((q.value - truth).abs() <= q.err + 4.0 * f64::EPSILON, "{q:?} {truth}");
            }
        }
    }

    #[test]
    fn lattice_declines_what_it_cannot_vouch_for() {
        // Too steep to converge by the finest step: left to the adaptive rule.
        assert_eq!(lattice(0.0, 1.0, &|x| (200.0 * x).tanh().powi(2)), None);
        // Non-finite somewhere on the lattice.
        assert_eq!(lattice(0.0, 1.0, &|x| 1.0 / x), None);
        // A tail that still grows where the density underflows.
        assert_eq!(lattice(0.0, 1.0, &|x| (0.6 * x * x).exp()), None);
        // A narrow law far from 0, whose nodes' rounding the rule does not
        // model: the adaptive rule's floor does.
        assert_eq!(lattice(1e6, 1e-3, &|x| x), None);
        // Zero at every node of the first level: a zero says nothing about
        // the tail, so no decay is read and the scan runs out.
        assert_eq!(
            lattice(0.0, 1.0, &|x| if x == x.round() { 0.0 } else { 1.0 }),
            None
        );
    }

    #[test]
    fn a_lattice_aliases_a_frequency_of_its_step() {
        // Why the engine keeps periodic integrands from the lattice: with
        // cos(2π·16·x) every node of every level reads 1, so the levels
        // agree on 1, where the truth is exp(-(32π)^2 / 2) = 0. The adaptive
        // rule, whose nodes are not on a lattice, gets it right.
        let f = |x: f64| (32.0 * std::f64::consts::PI * x).cos();
        let wrong = lattice(0.0, 1.0, &f).expect("every level agrees");
        assert!((wrong.value - 1.0).abs() < 1e-12, "{wrong:?}");
        let q = expect_1d(&law("Normal", &[0.0, 1.0]), &f, &[], Tol::default()).unwrap();
        assert!(q.value.abs() <= q.err && q.err < 1e-10, "{q:?}");
    }
}
