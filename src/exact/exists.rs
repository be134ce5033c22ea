//! Does a moment exist? Decided from the mathematics, because no number can
//! say so.
//!
//! Quadrature of a divergent integral can stop at a finite-looking value,
//! and a sample mean of a variable without a mean is a number like any
//! other; both engines would then report a silent wrong answer. So before
//! either is trusted, E|X|^p is classified from the expression and the laws:
//!
//! * **bounded**: an interval image of the supports through the expression
//!   (signs included: `exp(-s)` with `s >= 0` lies in (0, 1]) that is
//!   bounded settles it at once;
//! * **singular points**: near a point t0 where |X| grows like
//!   |t - t0|^-q and the density behaves like |t - t0|^a, E|X|^p is finite
//!   iff p q < a + 1 (a = 0 where the density is positive, the law's own
//!   order at an end of its support, +inf for the LogNormal at 0; an atom
//!   makes any pole infinite). The order q comes from a local analysis
//!   ([`Local`]) that composes each built-in's own behaviour at the point
//!   (its [`Near`] in the built-in table), so `1/sqrt(u)`, `u^-0.5` and
//!   `sqrt(1/u)` are one singularity of order 1/2;
//! * **tails**: as the variable goes to infinity, |X| is bounded above and
//!   below by t^d exp(r t^q) ([`Size`]; `r` is signed, so `exp(-y^2)`
//!   decays), compared with the law's [`Tail`]: a power tail of index alpha
//!   allows polynomial growth below alpha, a tail exp(-lambda t^beta)
//!   allows exp(r t^q) below it (q < beta, or q = beta and p r < lambda).
//!
//! Every bound is one-sided and kept as such: an upper bound proves
//! finiteness, a lower bound proves divergence, and where neither settles
//! it the answer is "unknown", never a guess. Several variables are
//! handled by independence first (E|XY|^p = E|X|^p E|Y|^p); a factor that
//! still mixes variables is examined in each variable with the others at a
//! generic value. That proves divergence soundly (for a set of the others
//! of positive probability the inner integral diverges) but not
//! finiteness near a singular point, so there a mixed factor is finite
//! only when nothing in it can vanish or blow up.

use super::kinks;
use super::{Key, dependence_keys};
use crate::lang::arith::BinOp;
use crate::lang::builtin::{Asymptote, Builtin, LOG_ORDER, Near, Poles};
use crate::model::copies::Copier;
use crate::model::law::{Law, Tail};
use crate::model::rv::{Rv, VarId};
use crate::model::{Scenario, Source};
use std::cmp::Ordering;

const INF: f64 = f64::INFINITY;

/// Whether E|X|^p is finite.
#[derive(Clone, Debug, PartialEq)]
pub enum Integrable {
    Yes,
    /// Proved infinite, with the reason.
    No(String),
    /// Not shown finite, with the reason.
    Unknown(String),
}

impl Integrable {
    /// Proved infinite anywhere is infinite; otherwise unknown anywhere is
    /// unknown.
    fn and(self, other: Integrable) -> Integrable {
        match (self, other) {
            (Integrable::No(r), _) | (_, Integrable::No(r)) => Integrable::No(r),
            (Integrable::Unknown(r), _) | (_, Integrable::Unknown(r)) => Integrable::Unknown(r),
            _ => Integrable::Yes,
        }
    }
}

/// Most copies an expression's indexed sums may write out to: beyond it
/// the analysis of every copy as a variable of its own grows too large.
const MAX_UNFOLDED_COPIES: u64 = 1024;

/// Classifies E|x|^p in a scenario.
///
/// Indexed sums are written out copy by copy ([`Copier::unfold`]): the
/// result is the same random variable over more base variables, so every
/// rule below applies to it unchanged, soundly.
pub fn integrable(scenario: &Scenario, x: &Rv, p: f64) -> Integrable {
    if x.contains_indexed() {
        if bounded(range(scenario, x)) {
            return Integrable::Yes;
        }
        let mut copier = Copier::new(scenario);
        let Some(unfolded) = copier.unfold(x, MAX_UNFOLDED_COPIES) else {
            return Integrable::Unknown(format!(
                "the indexed sums in it have more than {MAX_UNFOLDED_COPIES} copies in all, too many to examine one by one"
            ));
        };
        let reason = |r: String| {
            format!(
                "{}, written out copy by copy: {}",
                x.shown(&scenario.bases),
                abridged(&r)
            )
        };
        return match (Analysis {
            scenario: &copier.scenario,
        })
        .moment(&unfolded, p)
        {
            Integrable::Yes => Integrable::Yes,
            Integrable::No(r) => Integrable::No(reason(r)),
            Integrable::Unknown(r) => Integrable::Unknown(reason(r)),
        };
    }
    Analysis { scenario }.moment(x, p)
}

/// A reason about a sum written out copy by copy names every copy; its
/// middle is cut so that it stays readable.
fn abridged(reason: &str) -> String {
    const KEEP: usize = 120;
    let chars: Vec<char> = reason.chars().collect();
    if chars.len() <= 3 * KEEP {
        return reason.to_string();
    }
    let head: String = chars[..KEEP].iter().collect();
    let tail: String = chars[chars.len() - 2 * KEEP..].iter().collect();
    format!("{head} ... {tail}")
}

/// An interval containing every value `x` takes (ends may be infinite).
pub fn range(scenario: &Scenario, x: &Rv) -> (f64, f64) {
    Analysis { scenario }.range(x)
}

/// How |e| behaves as t -> t0 from one side, with h = |t - t0|.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Local {
    /// Tends to the finite nonzero `c`; |e - c| lies between h^hi and h^lo
    /// (constants aside); `dsign` is the sign of e - c.
    Value {
        c: f64,
        lo: f64,
        hi: f64,
        dsign: Option<f64>,
    },
    /// |e| lies between h^hi and h^lo: it vanishes if lo > 0, blows up if
    /// hi < 0 (infinite exponents: faster than any power); `sign` of e.
    Size { lo: f64, hi: f64, sign: Option<f64> },
}

const UNKNOWN: Local = Local::Size {
    lo: -INF,
    hi: INF,
    sign: None,
};
/// Finite, possibly zero.
const BOUNDED: Local = Local::Size {
    lo: 0.0,
    hi: INF,
    sign: None,
};
/// A generic value of a continuous variable: finite and nonzero.
const GENERIC: Local = Local::Size {
    lo: 0.0,
    hi: 0.0,
    sign: None,
};

impl Local {
    fn value(c: f64, lo: f64, hi: f64, dsign: Option<f64>) -> Local {
        if c == 0.0 {
            Local::Size {
                lo,
                hi,
                sign: dsign,
            }
        } else {
            Local::Value { c, lo, hi, dsign }
        }
    }

    fn size(self) -> (f64, f64) {
        match self {
            Local::Value { .. } => (0.0, 0.0),
            Local::Size { lo, hi, .. } => (lo, hi),
        }
    }

    fn sign(self) -> Option<f64> {
        match self {
            Local::Value { c, .. } => Some(c.signum()),
            Local::Size { sign, .. } => sign,
        }
    }

    fn neg(self) -> Local {
        match self {
            Local::Value { c, lo, hi, dsign } => Local::Value {
                c: -c,
                lo,
                hi,
                dsign: dsign.map(|s| -s),
            },
            Local::Size { lo, hi, sign } => Local::Size {
                lo,
                hi,
                sign: sign.map(|s| -s),
            },
        }
    }

    fn add(self, o: Local) -> Local {
        match (self, o) {
            (
                Local::Value {
                    c: c1,
                    lo: lo1,
                    hi: hi1,
                    dsign: d1,
                },
                Local::Value {
                    c: c2,
                    lo: lo2,
                    hi: hi2,
                    dsign: d2,
                },
            ) => {
                let c = c1 + c2;
                let (hi, d) = sum_hi((lo1, hi1, d1), (lo2, hi2, d2));
                let lo = lo1.min(lo2);
                // The point is a computed root: a sum that cancels to
                // rounding is a zero of the function.
                if c.abs() <= 1e-12 * (c1.abs() + c2.abs()) {
                    Local::Size { lo, hi, sign: d }
                } else {
                    Local::Value {
                        c,
                        lo,
                        hi,
                        dsign: d,
                    }
                }
            }
            (
                Local::Value {
                    c,
                    lo: lo1,
                    hi: hi1,
                    dsign,
                },
                Local::Size {
                    lo: lo2,
                    hi: hi2,
                    sign,
                },
            )
            | (
                Local::Size {
                    lo: lo2,
                    hi: hi2,
                    sign,
                },
                Local::Value {
                    c,
                    lo: lo1,
                    hi: hi1,
                    dsign,
                },
            ) if lo2 > 0.0 => {
                let (hi, d) = sum_hi((lo1, hi1, dsign), (lo2, hi2, sign));
                Local::Value {
                    c,
                    lo: lo1.min(lo2),
                    hi,
                    dsign: d,
                }
            }
            _ => {
                let ((lo1, hi1), (lo2, hi2)) = (self.size(), o.size());
                let (hi, sign) = sum_hi((lo1, hi1, self.sign()), (lo2, hi2, o.sign()));
                Local::Size {
                    lo: lo1.min(lo2),
                    hi,
                    sign,
                }
            }
        }
    }

    fn mul(self, o: Local) -> Local {
        match (self, o) {
            (
                Local::Value {
                    c: c1,
                    lo: lo1,
                    hi: hi1,
                    dsign: d1,
                },
                Local::Value {
                    c: c2,
                    lo: lo2,
                    hi: hi2,
                    dsign: d2,
                },
            ) => {
                // (c1 + d1)(c2 + d2) - c1 c2 = c1 d2 + c2 d1 + d1 d2
                let s1 = d2.map(|s| s * c1.signum());
                let s2 = d1.map(|s| s * c2.signum());
                let (hi, dsign) = sum_hi((lo2, hi2, s1), (lo1, hi1, s2));
                Local::Value {
                    c: c1 * c2,
                    lo: lo1.min(lo2),
                    hi,
                    dsign,
                }
            }
            _ => {
                let ((lo1, hi1), (lo2, hi2)) = (self.size(), o.size());
                Local::Size {
                    lo: or_else(lo1 + lo2, -INF),
                    hi: or_else(hi1 + hi2, INF),
                    sign: self.sign().zip(o.sign()).map(|(a, b)| a * b),
                }
            }
        }
    }

    fn inv(self) -> Local {
        match self {
            Local::Value { c, lo, hi, dsign } => Local::Value {
                c: 1.0 / c,
                lo,
                hi,
                dsign: dsign.map(|s| -s),
            },
            Local::Size { lo, hi, sign } => Local::Size {
                lo: -hi,
                hi: -lo,
                sign,
            },
        }
    }

    fn pow(self, k: f64) -> Local {
        let integer = k == k.trunc();
        if k == 0.0 {
            return Local::Value {
                c: 1.0,
                lo: INF,
                hi: INF,
                dsign: None,
            };
        }
        match self {
            Local::Value { c, lo, hi, dsign } if c > 0.0 || integer => {
                let v = crate::lang::arith::pow(c, k);
                let dsign = if c > 0.0 {
                    dsign.map(|s| s * k.signum())
                } else {
                    None
                };
                if v.is_finite() && v != 0.0 {
                    Local::Value {
                        c: v,
                        lo,
                        hi,
                        dsign,
                    }
                } else {
                    UNKNOWN
                }
            }
            Local::Value { .. } => UNKNOWN,
            Local::Size { lo, hi, sign } => {
                let (a, b) = (or_else(k * lo, -INF), or_else(k * hi, INF));
                let sign = if !integer || (k as i64) % 2 == 0 {
                    Some(1.0)
                } else {
                    sign
                };
                if k > 0.0 {
                    Local::Size { lo: a, hi: b, sign }
                } else {
                    Local::Size {
                        lo: or_else(k * hi, -INF),
                        hi: or_else(k * lo, INF),
                        sign,
                    }
                }
            }
        }
    }

    /// Two results for the two sides of an unknown approach, merged into
    /// bounds that hold for both.
    fn either(self, o: Local) -> Local {
        match (self, o) {
            (a, b) if a == b => a,
            (
                Local::Value {
                    c: c1,
                    lo: lo1,
                    hi: hi1,
                    ..
                },
                Local::Value {
                    c: c2,
                    lo: lo2,
                    hi: hi2,
                    ..
                },
            ) if c1 == c2 => Local::Value {
                c: c1,
                lo: lo1.min(lo2),
                hi: hi1.max(hi2),
                dsign: None,
            },
            _ => {
                let ((lo1, hi1), (lo2, hi2)) = (self.size(), o.size());
                let sign = if self.sign() == o.sign() {
                    self.sign()
                } else {
                    None
                };
                Local::Size {
                    lo: lo1.min(lo2),
                    hi: hi1.max(hi2),
                    sign,
                }
            }
        }
    }
}

/// `x`, or `fallback` where an infinite exponent met its opposite.
fn or_else(x: f64, fallback: f64) -> f64 {
    if x.is_nan() { fallback } else { x }
}

/// The lower bound on the size of a sum (as the exponent `hi`) and its sign:
/// terms of one sign cannot cancel; otherwise a strictly larger term
/// dominates; otherwise the sum may vanish to any order.
fn sum_hi(a: (f64, f64, Option<f64>), b: (f64, f64, Option<f64>)) -> (f64, Option<f64>) {
    let ((lo1, hi1, s1), (lo2, hi2, s2)) = (a, b);
    if s1.is_some() && s1 == s2 {
        (hi1.min(hi2), s1)
    } else if hi1 < lo2 {
        (hi1, s1)
    } else if hi2 < lo1 {
        (hi2, s2)
    } else {
        (INF, None)
    }
}

/// t^d exp(r t^q) as t -> infinity; q = 0 (and r = 0) is a power, an
/// infinite q is faster than anything ([`TOP`]). An infinite `d` marks a
/// factor slower than the exponential but unbounded, which only matters
/// when two exponentials tie.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Size {
    q: f64,
    r: f64,
    d: f64,
}

const TOP: Size = Size {
    q: INF,
    r: 1.0,
    d: 0.0,
};

fn power(d: f64) -> Size {
    Size { q: 0.0, r: 0.0, d }
}

impl Size {
    fn exponential(q: f64, r: f64, d: f64) -> Size {
        if q == 0.0 || r == 0.0 {
            power(d)
        } else {
            Size { q, r, d }
        }
    }

    fn is_power(self) -> bool {
        self.q == 0.0
    }

    /// Which of two sizes grows faster.
    fn cmp(self, o: Size) -> Ordering {
        let sign = |s: Size| if s.q == 0.0 { 0.0 } else { s.r.signum() };
        let (sa, sb) = (sign(self), sign(o));
        let by_d = || self.d.partial_cmp(&o.d).unwrap_or(Ordering::Equal);
        if sa != sb {
            return sa.partial_cmp(&sb).unwrap_or(Ordering::Equal);
        }
        if sa == 0.0 {
            return by_d();
        }
        let by_q = self.q.partial_cmp(&o.q).unwrap_or(Ordering::Equal);
        let by_q = if sa > 0.0 { by_q } else { by_q.reverse() };
        by_q.then(self.r.partial_cmp(&o.r).unwrap_or(Ordering::Equal))
            .then_with(by_d)
    }

    fn max(self, o: Size) -> Size {
        if self.cmp(o) == Ordering::Less {
            o
        } else {
            self
        }
    }

    /// The product of two sizes, as an upper (`upper`) or lower bound.
    fn mul(self, o: Size, upper: bool) -> Size {
        let d = |x: f64| or_else(x, if upper { INF } else { -INF });
        if self.q == o.q {
            return Size::exponential(self.q, self.r + o.r, d(self.d + o.d));
        }
        let (big, small) = if self.q > o.q { (self, o) } else { (o, self) };
        if small.is_power() {
            return Size::exponential(big.q, big.r, d(big.d + small.d));
        }
        // A smaller exponential: below 1 if it decays, unbounded if not.
        let d = match (upper, small.r > 0.0) {
            (true, true) => INF,
            (true, false) | (false, true) => big.d,
            (false, false) => -INF,
        };
        Size::exponential(big.q, big.r, d)
    }

    fn recip(self) -> Size {
        if self.q == INF {
            return Size {
                q: INF,
                r: -1.0,
                d: 0.0,
            };
        }
        Size::exponential(self.q, -self.r, -self.d)
    }

    fn pow(self, k: f64) -> Size {
        Size::exponential(self.q, k * self.r, k * self.d)
    }
}

/// `e = c t^d + O(t^rem)`, c != 0, rem <= d (equal: a correction that is
/// o(t^d) without a known rate).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Lead {
    c: f64,
    d: f64,
    rem: f64,
}

/// How |e| behaves as t = |v| -> infinity on one side.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Far {
    /// |e| <= C hi(t) eventually.
    hi: Size,
    /// |e| >= c lo(t) eventually, where known.
    lo: Option<Size>,
    lead: Option<Lead>,
}

impl Far {
    fn bounded() -> Far {
        Far {
            hi: power(0.0),
            lo: None,
            lead: None,
        }
    }

    fn top() -> Far {
        Far {
            hi: TOP,
            lo: None,
            lead: None,
        }
    }

    fn led(lead: Lead) -> Far {
        Far {
            hi: power(lead.d),
            lo: Some(power(lead.d)),
            lead: Some(lead),
        }
    }

    fn neg(self) -> Far {
        Far {
            lead: self.lead.map(|l| Lead { c: -l.c, ..l }),
            ..self
        }
    }

    fn add(self, o: Far) -> Far {
        let lead = match (self.lead, o.lead) {
            (Some(a), Some(b)) if a.d == b.d => {
                let c = a.c + b.c;
                (c.abs() > 1e-12 * (a.c.abs() + b.c.abs())).then_some(Lead {
                    c,
                    d: a.d,
                    rem: a.rem.max(b.rem),
                })
            }
            (Some(a), Some(b)) => {
                let (big, small) = if a.d > b.d { (a, b) } else { (b, a) };
                Some(Lead {
                    rem: big.rem.max(small.d),
                    ..big
                })
            }
            (Some(a), None) => dominated(a, o.hi),
            (None, Some(b)) => dominated(b, self.hi),
            (None, None) => None,
        };
        if let Some(l) = lead {
            return Far::led(l);
        }
        let lo = match (self.lo, o.lo) {
            (Some(a), _) if a.cmp(o.hi) == Ordering::Greater => Some(a),
            (_, Some(b)) if b.cmp(self.hi) == Ordering::Greater => Some(b),
            _ => None,
        };
        Far {
            hi: self.hi.max(o.hi),
            lo,
            lead: None,
        }
    }

    fn mul(self, o: Far) -> Far {
        if let (Some(a), Some(b)) = (self.lead, o.lead) {
            return Far::led(Lead {
                c: a.c * b.c,
                d: a.d + b.d,
                rem: a.d + b.d + (a.rem - a.d).max(b.rem - b.d),
            });
        }
        Far {
            hi: self.hi.mul(o.hi, true),
            lo: self.lo.zip(o.lo).map(|(a, b)| a.mul(b, false)),
            lead: None,
        }
    }

    fn recip(self) -> Far {
        if let Some(l) = self.lead {
            return Far::led(Lead {
                c: 1.0 / l.c,
                d: -l.d,
                rem: -l.d + (l.rem - l.d),
            });
        }
        Far {
            hi: self.lo.map_or(TOP, Size::recip),
            lo: (self.hi.q != INF).then(|| self.hi.recip()),
            lead: None,
        }
    }

    fn pow(self, k: f64) -> Far {
        if k < 0.0 {
            return self.recip().pow(-k);
        }
        if let Some(l) = self.lead
            && (l.c > 0.0 || k == k.trunc())
        {
            return Far::led(Lead {
                c: crate::lang::arith::pow(l.c, k),
                d: k * l.d,
                rem: k * l.d + (l.rem - l.d),
            });
        }
        Far {
            hi: self.hi.pow(k),
            lo: self.lo.map(|s| s.pow(k)),
            lead: None,
        }
    }
}

/// A lead that survives adding something smaller than it.
fn dominated(lead: Lead, other: Size) -> Option<Lead> {
    if other.is_power() && other.d < lead.d {
        Some(Lead {
            rem: lead.rem.max(other.d),
            ..lead
        })
    } else if !other.is_power() && other.r < 0.0 {
        Some(lead)
    } else {
        None
    }
}

struct Analysis<'a> {
    scenario: &'a Scenario,
}

impl Analysis<'_> {
    fn name(&self, v: VarId) -> &str {
        &self.scenario.bases[v.0].name
    }

    fn shown(&self, x: &Rv) -> String {
        x.shown(&self.scenario.bases).to_string()
    }

    /// The law of one base variable on its own (a pair's component by its
    /// marginal).
    fn law(&self, v: VarId) -> Law {
        let b = &self.scenario.bases[v.0];
        match &self.scenario.sources[b.source] {
            Source::Single(law) => law.clone(),
            Source::Bivariate(pair) => pair.marginal(b.component),
        }
    }

    fn has_atoms(&self, v: VarId) -> bool {
        self.law(v).atoms().is_some()
    }

    fn moment(&self, x: &Rv, p: f64) -> Integrable {
        if bounded(self.range(x)) {
            return Integrable::Yes;
        }
        let groups = self.independent_factors(x);
        if groups.len() == 1 {
            return self.group(x, p);
        }
        // E|prod X_i|^p = prod E|X_i|^p for independent factors; one
        // infinite factor makes the product infinite unless another is
        // zero almost surely, which a factor whose range is not {0} is not.
        let mut out = Integrable::Yes;
        for g in &groups {
            let r = self.group(g, p);
            if let Integrable::No(_) = r
                && groups.iter().any(|h| h != g && self.range(h) == (0.0, 0.0))
            {
                continue;
            }
            out = out.and(r);
        }
        out
    }

    /// The factors of a product, grouped so that no two groups share a
    /// source of randomness, each group multiplied back together.
    fn independent_factors(&self, x: &Rv) -> Vec<Rv> {
        let mut factors = Vec::new();
        flatten_product(x, 1.0, &mut factors);
        let mut groups: Vec<(Vec<Key>, Rv)> = Vec::new();
        for (f, k) in factors {
            let term = if k == 1.0 {
                f.clone()
            } else {
                Rv::bin(BinOp::Pow, f.clone(), Rv::Const(k))
            };
            let mut keys = Vec::new();
            dependence_keys(self.scenario, f, &mut keys);
            let mut merged = (keys, term);
            let mut i = 0;
            while i < groups.len() {
                if groups[i].0.iter().any(|k| merged.0.contains(k)) {
                    let (ks, t) = groups.swap_remove(i);
                    merged.0.extend(ks);
                    merged.1 = Rv::bin(BinOp::Mul, t, merged.1);
                } else {
                    i += 1;
                }
            }
            groups.push(merged);
        }
        groups.into_iter().map(|(_, t)| t).collect()
    }

    /// E|g|^p for a factor whose variables are not split by independence.
    fn group(&self, g: &Rv, p: f64) -> Integrable {
        if bounded(self.range(g)) {
            return Integrable::Yes;
        }
        let mut vars = Vec::new();
        all_bases(g, &mut vars);
        vars.sort();
        match vars.as_slice() {
            [] => Integrable::Yes,
            [v] if !g.contains_sum() => self.single(g, *v, p),
            _ => self.mixed(g, &vars, p),
        }
    }

    /// One variable: atoms, singular points and tails, each decided.
    fn single(&self, g: &Rv, v: VarId, p: f64) -> Integrable {
        let law = self.law(v);
        if let Some(atoms) = law.atoms() {
            for &at in atoms.iter().filter(|&&at| law.pmf(at) > 0.0) {
                let value = g.eval_at(&self.point(v, at));
                if value.is_infinite() {
                    return Integrable::No(format!(
                        "{} is infinite at {} = {at}, which has probability {}",
                        self.shown(g),
                        self.name(v),
                        law.pmf(at)
                    ));
                }
            }
            return Integrable::Yes;
        }
        let mut out = Integrable::Yes;
        for t0 in self.singular_points(g, v, &law) {
            for side in [-1.0, 1.0] {
                if let Some(a) = law.density_order(t0, side) {
                    out = out.and(self.at_point(g, v, t0, side, a, p, true));
                }
            }
        }
        for side in [-1.0, 1.0] {
            if let Some(tail) = law.tail(side) {
                out = out.and(self.in_tail(g, v, side, tail, p, true));
            }
        }
        out
    }

    /// Several variables (a pair, sums of copies, or sources mixed inside a
    /// function): tails in each variable with the others generic; every
    /// place where something may vanish or blow up must be excluded by
    /// its range, or proved to make the moment infinite.
    fn mixed(&self, g: &Rv, vars: &[VarId], p: f64) -> Integrable {
        let mut out = Integrable::Yes;
        for &v in vars {
            let law = self.law(v);
            for side in [-1.0, 1.0] {
                if let Some(tail) = law.tail(side) {
                    out = out.and(self.in_tail(g, v, side, tail, p, false));
                }
            }
        }
        let mut sites = Vec::new();
        collect_sites(g, &mut sites);
        for site in sites {
            if self.excluded(&site) {
                continue;
            }
            out = out.and(self.mixed_site(g, &site, p));
        }
        out
    }

    /// Whether the range of a site keeps it away from its singular values.
    fn excluded(&self, site: &Site) -> bool {
        let (lo, hi) = self.range(&site.arg);
        match site.kind {
            SiteKind::Zero => lo > 0.0 || hi < 0.0,
            SiteKind::GammaPoles => lo > 0.0,
        }
    }

    /// A site of a mixed factor that may vanish: infinite if it is a
    /// function of one variable whose zeros carry a positive conditional
    /// density and make the whole factor blow up fast enough; unknown
    /// otherwise.
    fn mixed_site(&self, g: &Rv, site: &Site, p: f64) -> Integrable {
        let unknown = || {
            Integrable::Unknown(format!(
                "{} {}, which may {}",
                self.shown(g),
                match site.kind {
                    SiteKind::Zero => "divides by or takes the log of",
                    SiteKind::GammaPoles => "takes the gamma function of",
                },
                match site.kind {
                    SiteKind::Zero => format!("vanish ({})", self.shown(&site.arg)),
                    SiteKind::GammaPoles =>
                        format!("reach a pole ({} <= 0)", self.shown(&site.arg)),
                }
            ))
        };
        let mut vars = Vec::new();
        all_bases(&site.arg, &mut vars);
        let ([w], false) = (vars.as_slice(), site.arg.contains_sum()) else {
            return unknown();
        };
        let b = &self.scenario.bases[w.0];
        let conditional_positive = match &self.scenario.sources[b.source] {
            Source::Single(law) => law.atoms().is_none(),
            // Given the other component, v is normal with sd > 0 unless |rho| = 1.
            Source::Bivariate(pair) => pair.rho.abs() < 1.0,
        };
        if !conditional_positive {
            return unknown();
        }
        let law = self.law(*w);
        for t0 in self.site_roots(site, *w, &law) {
            for side in [-1.0, 1.0] {
                let a = match &self.scenario.sources[b.source] {
                    Source::Single(law) => law.density_order(t0, side),
                    Source::Bivariate(_) => Some(0.0),
                };
                if let Some(a) = a
                    && let r @ Integrable::No(_) = self.at_point(g, *w, t0, side, a, p, false)
                {
                    return r;
                }
            }
        }
        unknown()
    }

    /// The points where `g` may be singular in `v`: the finite ends of the
    /// support, the kinks, zeros of denominators and of power bases (from
    /// [`kinks::kinks`]) and the arguments' poles of the gamma family.
    fn singular_points(&self, g: &Rv, v: VarId, law: &Law) -> Vec<f64> {
        let (lo, hi) = law.support();
        let env = vec![0.0; self.scenario.bases.len()];
        let mut points = kinks::kinks(g, v, &env, lo, hi, law.scale_hint());
        let mut sites = Vec::new();
        collect_sites(g, &mut sites);
        for site in sites.iter().filter(|s| s.kind == SiteKind::GammaPoles) {
            points.extend(self.site_roots(site, v, law));
        }
        points.extend([lo, hi].into_iter().filter(|e| e.is_finite()));
        // Nearest the mass first: that is the point a reason should name.
        let centre = law.scale_hint().0;
        points.sort_by(|a, b| (a - centre).abs().total_cmp(&(b - centre).abs()));
        points.dedup();
        points
    }

    /// The points where a site's argument reaches a singular value.
    fn site_roots(&self, site: &Site, v: VarId, law: &Law) -> Vec<f64> {
        let (lo, hi) = law.support();
        let env = vec![0.0; self.scenario.bases.len()];
        let roots = |k: f64| {
            let shifted = Rv::Bin(
                BinOp::Add,
                Box::new(site.arg.clone()),
                Box::new(Rv::Const(k)),
            );
            let abs = Rv::Call(Builtin::Abs, vec![shifted]);
            kinks::kinks(&abs, v, &env, lo, hi, law.scale_hint())
        };
        match site.kind {
            SiteKind::Zero => roots(0.0),
            SiteKind::GammaPoles => {
                // Poles at 0, -1, -2, ...: as far down as the argument
                // reaches, and never more than MAX_POLES of them (one pole
                // inside the support already decides).
                const MAX_POLES: f64 = 64.0;
                let bottom = self.range(&site.arg).0;
                let last = if bottom.is_finite() {
                    (-bottom).floor().min(MAX_POLES)
                } else {
                    MAX_POLES
                };
                let mut out = Vec::new();
                let mut k = 0.0;
                while k <= last {
                    out.extend(roots(k));
                    k += 1.0;
                }
                out
            }
        }
    }

    /// The verdict of the rule p q < a + 1 at one side of one point.
    #[allow(clippy::too_many_arguments)]
    fn at_point(
        &self,
        g: &Rv,
        v: VarId,
        t0: f64,
        side: f64,
        a: f64,
        p: f64,
        may_prove_finite: bool,
    ) -> Integrable {
        let (lo, hi) = self.local(g, v, t0, side).size();
        if lo >= 0.0 {
            return Integrable::Yes;
        }
        let (q_up, q_down) = (-lo, -hi);
        let name = self.name(v);
        let from = if side > 0.0 { "above" } else { "below" };
        let distance = if t0 == 0.0 {
            format!("|{name}|")
        } else if t0 < 0.0 {
            format!("|{name} + {}|", -t0)
        } else {
            format!("|{name} - {t0}|")
        };
        let density = if a == 0.0 {
            "the density is positive there".to_string()
        } else if a.is_infinite() {
            "the density vanishes faster than any power there".to_string()
        } else {
            format!("the density behaves like {distance}^{a} there")
        };
        let order = |q: f64| {
            if q.is_infinite() {
                "faster than any power".to_string()
            } else if q <= LOG_ORDER {
                "logarithmically".to_string()
            } else {
                format!("like {distance}^-{q}")
            }
        };
        if p * q_down >= a + 1.0 {
            return Integrable::No(format!(
                "{} grows at least {} as {name} -> {t0} from {from}, and {density} (E|X|^{p} needs {p} x {q_down} < {} there)",
                self.shown(g),
                order(q_down),
                a + 1.0
            ));
        }
        if p * q_up < a + 1.0 && may_prove_finite {
            return Integrable::Yes;
        }
        Integrable::Unknown(format!(
            "{} may grow {} as {name} -> {t0} from {from}, where {density}",
            self.shown(g),
            order(q_up)
        ))
    }

    /// The verdict of comparing growth with a tail.
    fn in_tail(&self, g: &Rv, v: VarId, side: f64, tail: Tail, p: f64, single: bool) -> Integrable {
        let f = self.far(g, v, side);
        let hi = f.hi.pow(p);
        let lo = f.lo.map(|s| s.pow(p));
        let name = self.name(v);
        let towards = if side > 0.0 { "+inf" } else { "-inf" };
        let (finite, infinite, law) = match tail {
            Tail::Power { index } => (
                (hi.is_power() && hi.d < index) || (!hi.is_power() && hi.r < 0.0),
                lo.is_some_and(|l| (!l.is_power() && l.r > 0.0) || (l.is_power() && l.d >= index)),
                format!("the law has moments only below order {index}"),
            ),
            Tail::Exp {
                order,
                rate,
                degree,
                pure,
            } => {
                let below = |s: Size| {
                    s.is_power()
                        || s.r < 0.0
                        || s.q < order
                        || (single && s.q == order && s.r < rate)
                        || (single && s.q == order && s.r == rate && pure && s.d + degree < -1.0)
                };
                let above = |s: Size| {
                    !s.is_power()
                        && s.r > 0.0
                        && (s.q > order
                            || (s.q == order && s.r > rate)
                            || (s.q == order && s.r == rate && pure && s.d + degree >= -1.0))
                };
                (
                    below(hi),
                    lo.is_some_and(above),
                    format!("the density decays like exp(-{rate} |{name}|^{order})"),
                )
            }
            Tail::LogNormal => (
                hi.is_power() || hi.r < 0.0,
                lo.is_some_and(|l| !l.is_power() && l.r > 0.0),
                "the LogNormal has every power moment but no exponential one".to_string(),
            ),
        };
        let growth = |s: Size| {
            if s.q == INF {
                "faster than its law's tails are known to allow".to_string()
            } else if s.is_power() {
                format!("like |{name}|^{}", s.d)
            } else {
                format!("like exp({} |{name}|^{})", s.r, s.q)
            }
        };
        if infinite {
            Integrable::No(format!(
                "|{}|^{p} grows {} as {name} -> {towards}, and {law}",
                self.shown(g),
                growth(lo.unwrap_or(hi))
            ))
        } else if finite {
            Integrable::Yes
        } else {
            Integrable::Unknown(format!(
                "|{}|^{p} may grow {} as {name} -> {towards}, where {law}",
                self.shown(g),
                growth(hi)
            ))
        }
    }

    fn point(&self, v: VarId, at: f64) -> Vec<f64> {
        let mut env = vec![0.0; self.scenario.bases.len()];
        env[v.0] = at;
        env
    }

    /// [`Local`] behaviour of `e` as `v` -> `t0` from `dir`, other
    /// variables generic.
    fn local(&self, e: &Rv, v: VarId, t0: f64, dir: f64) -> Local {
        match e {
            Rv::Const(c) => Local::value(*c, INF, INF, None),
            Rv::Base(w) if *w == v => Local::value(t0, 1.0, 1.0, Some(dir)),
            Rv::Base(w) if self.has_atoms(*w) => BOUNDED,
            Rv::Base(_) => GENERIC,
            // Fresh copies, independent of v: some finite value, maybe 0.
            Rv::Sum(..) => BOUNDED,
            // Written out before the analysis starts (`integrable`).
            Rv::IndexedSum(_) | Rv::Copy(_) => UNKNOWN,
            Rv::Neg(a) => self.local(a, v, t0, dir).neg(),
            Rv::Bin(BinOp::Add, a, b) => self.local(a, v, t0, dir).add(self.local(b, v, t0, dir)),
            Rv::Bin(BinOp::Sub, a, b) => self
                .local(a, v, t0, dir)
                .add(self.local(b, v, t0, dir).neg()),
            Rv::Bin(BinOp::Mul, a, b) => self.local(a, v, t0, dir).mul(self.local(b, v, t0, dir)),
            Rv::Bin(BinOp::Div, a, b) => self
                .local(a, v, t0, dir)
                .mul(self.local(b, v, t0, dir).inv()),
            Rv::Bin(BinOp::Pow, a, b) => match (&**a, &**b) {
                (_, Rv::Const(k)) => self.local(a, v, t0, dir).pow(*k),
                (Rv::Const(base), x) if *base > 0.0 => self.local(&exp_of(*base, x), v, t0, dir),
                _ => UNKNOWN,
            },
            Rv::Call(f, args) => {
                if let Some(r) = rewritten(*f, args) {
                    return self.local(&r, v, t0, dir);
                }
                let Some(a) = second_arg(args) else {
                    return UNKNOWN;
                };
                compose_local(*f, self.local(&args[0], v, t0, dir), a)
            }
        }
    }

    /// [`Far`] behaviour of `e` as `v` -> `side` * infinity, other
    /// variables generic.
    fn far(&self, e: &Rv, v: VarId, side: f64) -> Far {
        let generic = |w: VarId| Far {
            hi: power(0.0),
            lo: (!self.has_atoms(w)).then_some(power(0.0)),
            lead: None,
        };
        match e {
            Rv::Const(c) if *c == 0.0 => Far::bounded(),
            Rv::Const(c) => Far::led(Lead {
                c: *c,
                d: 0.0,
                rem: -INF,
            }),
            Rv::Base(w) if *w == v => Far::led(Lead {
                c: side,
                d: 1.0,
                rem: -INF,
            }),
            Rv::Base(w) => generic(*w),
            // One copy's variable goes out, the other copies stay put.
            Rv::Sum(_, t) => self.far(t, v, side).add(Far::bounded()),
            // Written out before the analysis starts (`integrable`).
            Rv::IndexedSum(_) | Rv::Copy(_) => Far::top(),
            Rv::Neg(a) => self.far(a, v, side).neg(),
            Rv::Bin(BinOp::Add, a, b) => self.far(a, v, side).add(self.far(b, v, side)),
            Rv::Bin(BinOp::Sub, a, b) => self.far(a, v, side).add(self.far(b, v, side).neg()),
            Rv::Bin(BinOp::Mul, a, b) => self.far(a, v, side).mul(self.far(b, v, side)),
            Rv::Bin(BinOp::Div, a, b) => self.far(a, v, side).mul(self.far_recip(b, v, side, 1.0)),
            Rv::Bin(BinOp::Pow, a, b) => match (&**a, &**b) {
                (_, Rv::Const(k)) if *k < 0.0 => self.far_recip(a, v, side, -k),
                (_, Rv::Const(k)) => self.far(a, v, side).pow(*k),
                (Rv::Const(base), x) if *base > 0.0 => self.far(&exp_of(*base, x), v, side),
                _ => Far::top(),
            },
            Rv::Call(f @ (Builtin::Min | Builtin::Max), args) => {
                self.far_extreme(*f == Builtin::Max, &args[0], &args[1], v, side)
            }
            Rv::Call(f, args) => {
                if let Some(r) = rewritten(*f, args) {
                    return self.far(&r, v, side);
                }
                let Some(a) = second_arg(args) else {
                    return Far::top();
                };
                self.far_call(*f, &args[0], a, v, side)
            }
        }
    }

    /// max(a, b) (or min) at infinity: eventually one of the two, when
    /// their leading terms say which; otherwise through |a - b|.
    fn far_extreme(&self, is_max: bool, a: &Rv, b: &Rv, v: VarId, side: f64) -> Far {
        let (fa, fb) = (self.far(a, v, side), self.far(b, v, side));
        // The signed leading term, with an exact zero as (0, 0).
        let lead = |x: &Rv, f: &Far| match (x, f.lead) {
            (Rv::Const(c), _) if *c == 0.0 => Some((0.0, 0.0)),
            (_, Some(l)) => Some((l.c, l.d)),
            _ => None,
        };
        if let (Some((ca, da)), Some((cb, db))) = (lead(a, &fa), lead(b, &fb)) {
            // Which is eventually larger: c t^d against c' t^d'.
            let key = |c: f64, d: f64| (c.signum(), if c >= 0.0 { d } else { -d }, c);
            let (ka, kb) = (key(ca, da), key(cb, db));
            if ka != kb {
                let a_larger = ka > kb;
                return if a_larger == is_max { fa } else { fb };
            }
        }
        let r = rewritten(
            if is_max { Builtin::Max } else { Builtin::Min },
            &[a.clone(), b.clone()],
        )
        .expect("min and max are rewritten");
        self.far(&r, v, side)
    }

    /// |b|^-k at infinity. A denominator of `v` alone is bounded below by
    /// its own lower bound; one that involves other variables only where
    /// its range keeps it away from zero, since its lower bound would
    /// otherwise depend on where they are.
    fn far_recip(&self, b: &Rv, v: VarId, side: f64, k: f64) -> Far {
        let mut vars = Vec::new();
        all_bases(b, &mut vars);
        let alone = vars.iter().all(|w| *w == v) && !b.contains_sum();
        let fb = self.far(b, v, side);
        if alone {
            return fb.pow(-k);
        }
        let (lo, hi) = self.range(b);
        if lo > 0.0 || hi < 0.0 {
            Far {
                hi: power(0.0),
                lo: (fb.hi.q != INF).then(|| fb.hi.recip().pow(k)),
                lead: None,
            }
        } else {
            Far::top()
        }
    }

    fn far_call(&self, f: Builtin, arg: &Rv, a: f64, v: VarId, side: f64) -> Far {
        let x = self.far(arg, v, side);
        if f == Builtin::Exp {
            return self.far_exp(arg, x);
        }
        match x.lead {
            Some(l) if l.d > 0.0 => match f.at_infinity(l.c.signum(), a) {
                Asymptote::Power { c, d, rem } => Far::led(Lead {
                    c: c * l.c.abs().powf(d),
                    d: l.d * d,
                    rem: (l.d * d + l.rem - l.d).max(l.d * rem),
                }),
                Asymptote::Limit(value) if value != 0.0 => Far::led(Lead {
                    c: value,
                    d: 0.0,
                    rem: 0.0,
                }),
                Asymptote::Limit(_) | Asymptote::Bounded | Asymptote::Outside => Far::bounded(),
                // |arg|^q = |c|^q t^(q d) (1 + O(t^(rem - d))): the exponent
                // is exact up to O(1) when q d + rem - d <= 0.
                Asymptote::Decays { q, r, d } => {
                    let exact = q * l.d + l.rem - l.d <= 0.0;
                    let rate = -r * l.c.abs().powf(q);
                    Far {
                        hi: Size::exponential(q * l.d, rate, if exact { d * l.d } else { INF }),
                        lo: Some(Size::exponential(
                            q * l.d,
                            rate,
                            if exact { d * l.d } else { -INF },
                        )),
                        lead: None,
                    }
                }
                // Only the upper bound: no lower one to offer.
                Asymptote::DecaysFaster { q, r, d } => {
                    let exact = q * l.d + l.rem - l.d <= 0.0;
                    Far {
                        hi: Size::exponential(
                            q * l.d,
                            -r * l.c.abs().powf(q),
                            if exact { d * l.d } else { INF },
                        ),
                        lo: None,
                        lead: None,
                    }
                }
                Asymptote::Between { lo, hi } => Far {
                    hi: power(hi * l.d),
                    lo: Some(power(lo * l.d)),
                    lead: None,
                },
                Asymptote::Exp | Asymptote::Unknown => Far::top(),
            },
            // The argument settles at a value: f there, if f has no pole.
            Some(l) if l.d == 0.0 && l.rem < 0.0 => {
                let value = f.eval(&[l.c, a]);
                if value.is_finite() && value != 0.0 {
                    Far::led(Lead {
                        c: value,
                        d: 0.0,
                        rem: 0.0,
                    })
                } else if value.is_finite() {
                    Far::bounded()
                } else {
                    Far::top()
                }
            }
            Some(l) if l.d < 0.0 => match f.near(0.0, l.c.signum(), a) {
                Near::Finite { value, .. } if value != 0.0 => Far::led(Lead {
                    c: value,
                    d: 0.0,
                    rem: 0.0,
                }),
                Near::Finite { .. } | Near::Outside => Far::bounded(),
                Near::Pole { lo, hi, .. } => Far {
                    hi: power(-l.d * hi),
                    lo: Some(power(-l.d * lo)),
                    lead: None,
                },
                Near::Unknown => Far::top(),
            },
            _ if x.hi.is_power() && x.hi.d <= 0.0 || x.hi.r < 0.0 => {
                if f.poles() != Poles::None {
                    Far::top()
                } else {
                    Far::bounded()
                }
            }
            // Growing without a known leading term: f's polynomial bound
            // on both sides, if it has one.
            _ => {
                let bound = |side: f64| match f.at_infinity(side, a) {
                    Asymptote::Power { d, .. } => Some(d.max(0.0)),
                    Asymptote::Limit(_)
                    | Asymptote::Decays { .. }
                    | Asymptote::DecaysFaster { .. }
                    | Asymptote::Bounded
                    | Asymptote::Outside => Some(0.0),
                    Asymptote::Between { .. } | Asymptote::Exp | Asymptote::Unknown => None,
                };
                match (bound(-1.0), bound(1.0), f.poles() != Poles::None) {
                    (Some(l), Some(r), false) => Far {
                        hi: x.hi.pow(l.max(r)),
                        lo: None,
                        lead: None,
                    },
                    _ => Far::top(),
                }
            }
        }
    }

    /// exp(arg) at infinity: the sign of the argument's leading term is the
    /// sign of the exponential's rate; without one, its range decides.
    fn far_exp(&self, arg: &Rv, x: Far) -> Far {
        match x.lead {
            Some(l) if l.d > 0.0 => {
                // exp(c t^d + O(t^rem)): a remainder that is O(1) changes
                // only the constant.
                let (dh, dl) = if l.rem <= 0.0 {
                    (0.0, 0.0)
                } else {
                    (INF, -INF)
                };
                Far {
                    hi: Size::exponential(l.d, l.c, dh),
                    lo: Some(Size::exponential(l.d, l.c, dl)),
                    lead: None,
                }
            }
            _ if x.hi.is_power() && x.hi.d <= 0.0 => Far {
                hi: power(0.0),
                lo: Some(power(0.0)),
                lead: None,
            },
            _ => {
                let (lo, hi) = self.range(arg);
                if hi < INF {
                    Far {
                        hi: power(0.0),
                        lo: (lo > -INF).then_some(power(0.0)),
                        lead: None,
                    }
                } else {
                    Far::top()
                }
            }
        }
    }

    /// An interval containing every value of `e`, from the supports.
    fn range(&self, e: &Rv) -> (f64, f64) {
        const ALL: (f64, f64) = (-INF, INF);
        let widen = |(lo, hi): (f64, f64)| {
            (
                if lo.is_nan() { -INF } else { lo },
                if hi.is_nan() { INF } else { hi },
            )
        };
        widen(match e {
            Rv::Const(c) => (*c, *c),
            Rv::Base(v) => self.law(*v).support(),
            Rv::Sum(n, t) => {
                let (lo, hi) = self.range(t);
                let n = *n as f64;
                (n * lo, n * hi)
            }
            // A copy takes the values its variable takes.
            Rv::Copy(v) => self.law(*v).support(),
            Rv::IndexedSum(s) => {
                let (lo, hi) = self.range(&s.body);
                let n = s.plate.count as f64;
                (n * lo, n * hi)
            }
            Rv::Neg(a) => {
                let (lo, hi) = self.range(a);
                (-hi, -lo)
            }
            Rv::Bin(BinOp::Add, a, b) => {
                let ((l1, h1), (l2, h2)) = (self.range(a), self.range(b));
                (l1 + l2, h1 + h2)
            }
            Rv::Bin(BinOp::Sub, a, b) => {
                let ((l1, h1), (l2, h2)) = (self.range(a), self.range(b));
                (l1 - h2, h1 - l2)
            }
            Rv::Bin(BinOp::Mul, a, b) => interval_mul(self.range(a), self.range(b)),
            Rv::Bin(BinOp::Div, a, b) => {
                let (l2, h2) = self.range(b);
                if l2 <= 0.0 && h2 >= 0.0 {
                    ALL
                } else {
                    interval_mul(self.range(a), (1.0 / h2, 1.0 / l2))
                }
            }
            Rv::Bin(BinOp::Pow, a, b) => match **b {
                Rv::Const(k) => interval_pow(self.range(a), k),
                _ => ALL,
            },
            Rv::Call(f @ (Builtin::Min | Builtin::Max), args) => {
                let ((l1, h1), (l2, h2)) = (self.range(&args[0]), self.range(&args[1]));
                if *f == Builtin::Max {
                    (l1.max(l2), h1.max(h2))
                } else {
                    (l1.min(l2), h1.min(h2))
                }
            }
            Rv::Call(f, args) => {
                if let Some(r) = rewritten(*f, args) {
                    return self.range(&r);
                }
                match second_arg(args) {
                    Some(a) => {
                        let (lo, hi) = self.range(&args[0]);
                        f.range(lo, hi, a)
                    }
                    None => ALL,
                }
            }
        })
    }
}

/// A place where an expression can be singular.
#[derive(Clone, Debug, PartialEq)]
struct Site {
    arg: Rv,
    kind: SiteKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SiteKind {
    /// Singular where `arg` vanishes: a denominator, the base of a negative
    /// power, the argument of log.
    Zero,
    /// Singular where `arg` is 0, -1, -2, ...: the gamma family.
    GammaPoles,
}

fn collect_sites(x: &Rv, out: &mut Vec<Site>) {
    let mut push = |arg: &Rv, kind| {
        if !matches!(arg, Rv::Const(_)) {
            out.push(Site {
                arg: arg.clone(),
                kind,
            });
        }
    };
    match x {
        Rv::Bin(BinOp::Div, _, b) => push(b, SiteKind::Zero),
        Rv::Bin(BinOp::Pow, a, b) if matches!(**b, Rv::Const(k) if k < 0.0) => {
            push(a, SiteKind::Zero)
        }
        // Beta is seen through its gammas below.
        Rv::Call(f, args) if rewritten(*f, args).is_none() => match f.poles() {
            Poles::AtZero => push(&args[0], SiteKind::Zero),
            Poles::AtNonPositiveIntegers => push(&args[0], SiteKind::GammaPoles),
            Poles::None => {}
        },
        _ => {}
    }
    match x {
        Rv::Call(f, args) => match rewritten(*f, args) {
            Some(r) => collect_sites(&r, out),
            None => args.iter().for_each(|a| collect_sites(a, out)),
        },
        _ => x.children().for_each(|c| collect_sites(c, out)),
    }
}

/// Every base variable, inside sums of copies too (the copies follow the
/// same laws, so they have the same tails).
fn all_bases(x: &Rv, out: &mut Vec<VarId>) {
    match x {
        Rv::Base(v) => {
            if !out.contains(v) {
                out.push(*v);
            }
        }
        _ => x.children().for_each(|c| all_bases(c, out)),
    }
}

/// `x` as a product of factors to constant powers.
fn flatten_product<'a>(x: &'a Rv, k: f64, out: &mut Vec<(&'a Rv, f64)>) {
    match x {
        Rv::Bin(BinOp::Mul, a, b) => {
            flatten_product(a, k, out);
            flatten_product(b, k, out);
        }
        Rv::Bin(BinOp::Div, a, b) => {
            flatten_product(a, k, out);
            flatten_product(b, -k, out);
        }
        Rv::Neg(a) => flatten_product(a, k, out),
        Rv::Bin(BinOp::Pow, a, b) if matches!(**b, Rv::Const(_)) => {
            let Rv::Const(e) = **b else { unreachable!() };
            flatten_product(a, k * e, out);
        }
        _ => out.push((x, k)),
    }
}

/// `base^x` as `exp(ln(base) x)`.
fn exp_of(base: f64, x: &Rv) -> Rv {
    Rv::Call(
        Builtin::Exp,
        vec![Rv::Bin(
            BinOp::Mul,
            Box::new(Rv::Const(base.ln())),
            Box::new(x.clone()),
        )],
    )
}

/// Two-argument functions the analyses see through: min and max by
/// (a + b -+ |a - b|)/2, beta by its gammas.
fn rewritten(f: Builtin, args: &[Rv]) -> Option<Rv> {
    let bx = |x: Rv| Box::new(x);
    let (a, b) = match args {
        [a, b] => (a.clone(), b.clone()),
        _ => return None,
    };
    let gamma = |x: Rv| Rv::Call(Builtin::Gamma, vec![x]);
    match f {
        Builtin::Min | Builtin::Max => {
            let spread = Rv::Call(
                Builtin::Abs,
                vec![Rv::Bin(BinOp::Sub, bx(a.clone()), bx(b.clone()))],
            );
            let sum = Rv::Bin(BinOp::Add, bx(a), bx(b));
            let both = if f == Builtin::Max {
                Rv::Bin(BinOp::Add, bx(sum), bx(spread))
            } else {
                Rv::Bin(BinOp::Sub, bx(sum), bx(spread))
            };
            Some(Rv::Bin(BinOp::Mul, bx(Rv::Const(0.5)), bx(both)))
        }
        Builtin::Beta => Some(Rv::Bin(
            BinOp::Div,
            bx(Rv::Bin(
                BinOp::Mul,
                bx(gamma(a.clone())),
                bx(gamma(b.clone())),
            )),
            bx(gamma(Rv::Bin(BinOp::Add, bx(a), bx(b)))),
        )),
        _ => None,
    }
}

/// The second argument of a call, which the analyses need as a number
/// (a slope, an alpha); NaN for one-argument calls, `None` if random.
fn second_arg(args: &[Rv]) -> Option<f64> {
    match args {
        [_] => Some(f64::NAN),
        [_, Rv::Const(a)] => Some(*a),
        _ => None,
    }
}

/// f(arg) near a point, from the argument's local behaviour and the
/// function's own at the argument's limit.
fn compose_local(f: Builtin, arg: Local, a: f64) -> Local {
    let through_near = |near: Near, lo: f64, hi: f64| match near {
        Near::Finite {
            value,
            lo: flo,
            hi: fhi,
            dsign,
        } => Local::value(value, or_else(flo * lo, 0.0), or_else(fhi * hi, INF), dsign),
        // |f| ~ |d|^-order and |d| between h^hi and h^lo.
        Near::Pole {
            lo: plo,
            hi: phi,
            sign,
        } => Local::Size {
            lo: if hi == INF { -INF } else { -phi * hi },
            hi: if plo == 0.0 { 0.0 } else { -plo * lo },
            sign,
        },
        Near::Outside => BOUNDED,
        Near::Unknown => UNKNOWN,
    };
    let sides = |s: Option<f64>| match s {
        Some(s) => vec![s],
        None => vec![1.0, -1.0],
    };
    let merge = |rs: Vec<Local>| rs.into_iter().reduce(Local::either).unwrap_or(UNKNOWN);
    match arg {
        Local::Value { c, lo, hi, dsign } => merge(
            sides(dsign)
                .into_iter()
                .map(|d| through_near(f.near(c, d, a), lo, hi))
                .collect(),
        ),
        Local::Size { lo, hi, sign } if lo > 0.0 => merge(
            sides(sign)
                .into_iter()
                .map(|d| through_near(f.near(0.0, d, a), lo, hi))
                .collect(),
        ),
        Local::Size { lo, hi, sign } if hi < 0.0 => merge(
            sides(sign)
                .into_iter()
                .map(|s| through_asymptote(f.at_infinity(s, a), s, lo, hi))
                .collect(),
        ),
        Local::Size { lo, hi, .. } if lo == 0.0 && hi == 0.0 => {
            if f.zero_on_interval(a) {
                BOUNDED
            } else {
                GENERIC
            }
        }
        Local::Size { lo, .. } if lo >= 0.0 && f.poles() == Poles::None => BOUNDED,
        Local::Size { .. } => UNKNOWN,
    }
}

/// f(arg) where the argument blows up like h^lo..h^hi (negative) towards
/// `side` times infinity.
fn through_asymptote(asym: Asymptote, side: f64, lo: f64, hi: f64) -> Local {
    match asym {
        Asymptote::Power { c, d, .. } if d > 0.0 => Local::Size {
            lo: d * lo,
            hi: d * hi,
            sign: Some(c.signum()),
        },
        Asymptote::Power { c, d, .. } => Local::Size {
            lo: d * hi,
            hi: d * lo,
            sign: Some(c.signum()),
        },
        Asymptote::Limit(value) => Local::value(value, 0.0, INF, None),
        Asymptote::Bounded | Asymptote::Outside => BOUNDED,
        Asymptote::Exp if side > 0.0 => Local::Size {
            lo: -INF,
            hi: -INF,
            sign: Some(1.0),
        },
        Asymptote::Exp => Local::Size {
            lo: INF,
            hi: INF,
            sign: Some(1.0),
        },
        Asymptote::Decays { .. } | Asymptote::DecaysFaster { .. } => Local::Size {
            lo: INF,
            hi: INF,
            sign: None,
        },
        Asymptote::Between { lo: blo, hi: bhi } => Local::Size {
            lo: or_else(bhi * lo, -INF),
            hi: or_else(blo * hi, 0.0),
            sign: None,
        },
        Asymptote::Unknown => UNKNOWN,
    }
}

fn bounded((lo, hi): (f64, f64)) -> bool {
    lo.is_finite() && hi.is_finite()
}

/// Interval product, with 0 times an infinite end taken as 0 (the end is a
/// bound, not a value).
fn interval_mul((a, b): (f64, f64), (c, d): (f64, f64)) -> (f64, f64) {
    let m = |x: f64, y: f64| {
        if x == 0.0 || y == 0.0 { 0.0 } else { x * y }
    };
    let ps = [m(a, c), m(a, d), m(b, c), m(b, d)];
    (
        ps.iter().copied().fold(INF, f64::min),
        ps.iter().copied().fold(-INF, f64::max),
    )
}

fn interval_pow((lo, hi): (f64, f64), k: f64) -> (f64, f64) {
    let integer = k == k.trunc();
    if k == 0.0 {
        return (1.0, 1.0);
    }
    if integer && (k as i64) % 2 == 0 {
        let (a, b) = if lo >= 0.0 {
            (lo, hi)
        } else if hi <= 0.0 {
            (-hi, -lo)
        } else {
            (0.0, hi.max(-lo))
        };
        return if k > 0.0 {
            (a.powf(k), b.powf(k))
        } else if a > 0.0 {
            (b.powf(k), a.powf(k))
        } else {
            (b.powf(k), INF)
        };
    }
    if integer {
        // Odd: monotone, with a pole at 0 for negative k.
        if k > 0.0 {
            return (lo.powf(k), hi.powf(k));
        }
        return if lo > 0.0 || hi < 0.0 {
            (hi.powf(k), lo.powf(k))
        } else {
            (-INF, INF)
        };
    }
    // A real power needs a non-negative base.
    let lo = lo.max(0.0);
    if hi < 0.0 {
        return (-INF, INF);
    }
    if k > 0.0 {
        (lo.powf(k), hi.powf(k))
    } else if lo > 0.0 {
        (hi.powf(k), lo.powf(k))
    } else {
        (hi.powf(k), INF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::parse_model;
    use crate::model::resolve::build;
    use proptest::prelude::*;

    fn classify(model: &str, expr: &str, p: f64) -> Integrable {
        let funcs: std::collections::HashMap<String, crate::lang::FunctionDef> = Default::default();
        let m = build("t", &parse_model(model).unwrap(), &funcs).unwrap();
        let rv = m
            .rv(&crate::lang::parse_expr(expr).unwrap(), &funcs)
            .unwrap();
        integrable(&m.scenario, &rv, p)
    }

    fn finite(model: &str, expr: &str, p: f64) -> bool {
        match classify(model, expr, p) {
            Integrable::Yes => true,
            Integrable::No(_) => false,
            Integrable::Unknown(r) => panic!("E|{expr}|^{p} under {model} undecided: {r}"),
        }
    }

    // Every example of issue 8, section 1, with the decision the rule
    // gives: finite (Yes) or proved infinite (No), never "unknown".
    #[test]
    fn the_examples_of_the_issue() {
        // E[g^-k] for g ~ Gamma(shape, rate) is finite iff k < shape.
        assert!(finite("g ~ Gamma(1.5, 1)", "1/g", 1.0));
        assert!(!finite("g ~ Gamma(1.5, 1)", "1/g", 2.0));
        assert!(!finite("g ~ Gamma(0.5, 1)", "1/g", 1.0));
        // Beta(a, b): E[1/b] finite iff a > 1.
        assert!(finite("b ~ Beta(3, 2)", "1/b", 1.0));
        assert!(!finite("b ~ Beta(1, 2)", "1/b", 1.0));
        // An integrable singularity against a positive density.
        assert!(finite("u ~ Uniform(0, 1)", "1/sqrt(u)", 1.0));
        assert!(finite("z ~ Normal(0, 1)", "1/sqrt(abs(z))", 1.0));
        assert!(!finite("z ~ Normal(0, 1)", "1/sqrt(abs(z))", 2.0));
        // LogNormal: every negative power.
        for k in [1.0, 3.0, 40.0] {
            assert!(finite("l ~ LogNormal(0, 1)", &format!("l^-{k}"), 2.0));
        }
        // Laplace(0, b): exp(c y) finite iff c < 1/b, undefined beyond.
        assert!(finite("y ~ Laplace(0, 0.5)", "exp(1.9*y)", 1.0));
        assert!(!finite("y ~ Laplace(0, 0.5)", "exp(2*y)", 1.0));
        assert!(!finite("y ~ Laplace(0, 0.5)", "exp(2.1*y)", 1.0));
        assert!(!finite("y ~ Laplace(0, 0.5)", "exp(-3*y)", 1.0));
        assert!(!finite("y ~ Normal(0, 1)", "exp(y^2)", 1.0));
        assert!(finite("y ~ Normal(0, 1)", "exp(0.4*y^2)", 1.0));
        assert!(!finite("y ~ Normal(0, 1)", "exp(0.5*y^2)", 1.0));
        // StudentsT(dof): moments of order below dof only.
        assert!(finite("t ~ StudentsT(0, 1, 3)", "t^2", 1.0));
        assert!(!finite("t ~ StudentsT(0, 1, 3)", "t^3", 1.0));
        assert!(!finite("t ~ StudentsT(0, 1, 3)", "abs(t)^1.5", 2.0));
        assert!(!finite("c ~ Cauchy(0, 1)", "relu(c)", 1.0));
        assert!(finite("c ~ Cauchy(0, 1)", "tanh(c)", 4.0));
        // Atoms at a pole: infinite, including log at 0.
        assert!(!finite("b ~ Bernoulli(0.3)", "1/b", 1.0));
        assert!(!finite("b ~ Bernoulli(0.3)", "log(b)", 1.0));
        assert!(finite("b ~ Bernoulli(0.3)", "1/(b + 1)", 1.0));
        // Sign-aware growth: exp(-s) for s >= 0 lies in (0, 1].
        assert!(finite("u ~ Exponential(2); s = sum(3, u)", "exp(-s)", 2.0));
        // A correlated Gaussian pair's ratio has no mean.
        assert!(!finite("u, v ~ BivariateNormal(1, 1, 0.5)", "u/v", 1.0));
        assert!(finite(
            "u, v ~ BivariateNormal(1, 1, 0.5)",
            "u/(1 + v^2)",
            2.0
        ));
    }

    #[test]
    fn spelling_does_not_change_the_decision() {
        let model = "u ~ Uniform(0, 1); z ~ Normal(0, 1)";
        for p in [0.5, 1.0, 1.5, 2.0, 3.0] {
            let want = p * 0.5 < 1.0;
            for x in [
                "1/sqrt(u)",
                "u^(-0.5)",
                "1/u^0.5",
                "sqrt(1/u)",
                "(u^-1)^0.5",
                "u^0.5/u",
            ] {
                assert_eq!(finite(model, x, p), want, "E|{x}|^{p}");
            }
            for x in [
                "1/sqrt(abs(z))",
                "abs(z)^(-0.5)",
                "sqrt(1/abs(z))",
                "1/sqrt(abs(-z))",
                "1/sqrt(abs(2*z))",
                "1/sqrt(sqrt(z^2))",
            ] {
                assert_eq!(finite(model, x, p), want, "E|{x}|^{p}");
            }
        }
    }

    #[test]
    fn poles_away_from_zero_and_of_composites() {
        let n = "y ~ Normal(0, 1); u ~ Uniform(0, 1)";
        assert!(!finite(n, "1/(y - 1)", 1.0));
        assert!(!finite(n, "1/(y^2 - 2)", 1.0));
        assert!(finite(n, "1/abs(y^2 - 2)^0.4", 2.0));
        assert!(!finite(n, "1/tanh(y)", 1.0));
        assert!(!finite(n, "1/relu(y)", 1.0));
        // relu is 0 on a whole interval: infinite on a set of positive mass.
        assert!(!finite(n, "1/relu(y - 1)", 0.1));
        assert!(finite(n, "y/(1 + y^2)", 4.0));
        assert!(finite(n, "1/exp(y)", 4.0));
        assert!(finite(n, "y/sigmoid(y)", 2.0));
        assert!(!finite(n, "1/log(u)", 1.0));
        // log's singularity is weaker than every power.
        assert!(finite(n, "log(u)", 8.0));
        assert!(finite(n, "log(abs(y))", 8.0));
        // exp(1/u) near 0 beats every power.
        assert!(!finite(n, "exp(1/u)", 1.0));
        assert!(finite(n, "exp(-1/u)/u^3", 1.0));
        // 1 - cos(y) vanishes to second order.
        assert!(!finite(n, "1/sqrt(1 - cos(y))", 1.0));
        // cos vanishes at pi/2, which is not a double.
        let w = "w ~ Uniform(0, 3)";
        assert!(!finite(w, "1/cos(w)", 1.0));
        assert!(finite(w, "1/abs(cos(w))^0.5", 1.0));
        assert!(!finite(w, "1/abs(cos(w))^0.5", 2.0));
        // A double root found by scanning: at least order 1, so infinite.
        assert!(!finite(n, "1/(y^2 - 2*y + 1)", 1.0));
    }

    #[test]
    fn the_gamma_family_has_poles() {
        let n = "y ~ Normal(0, 1); u ~ Uniform(0.5, 2); w ~ Uniform(-1.5, -0.5)";
        assert!(!finite(n, "gamma(y)", 1.0));
        assert!(finite(n, "gamma(u)", 4.0));
        // The pole at -1 is inside w's support.
        assert!(!finite(n, "gamma(w)", 1.0));
        assert!(!finite(n, "digamma(w)", 1.0));
        assert!(!finite(n, "trigamma(w)", 0.5));
        // log|Gamma| has only logarithmic poles.
        assert!(finite(n, "lgamma(w)", 4.0));
        assert!(finite(n, "beta(u, u)", 2.0));
        assert!(!finite(n, "beta(y, 1)", 1.0));
        // Growth: lgamma(x) ~ x log x, polynomial; gamma(x) faster.
        assert!(finite("g ~ Gamma(2, 1)", "lgamma(g + 1)", 3.0));
        assert!(finite("g ~ Gamma(2, 1)", "trigamma(g + 1)", 3.0));
    }

    #[test]
    fn what_cannot_be_shown_stays_unknown() {
        let n = "u ~ Normal(0, 1); w ~ Normal(0, 1); y ~ Normal(0, 1)";
        for x in ["1/(u - w)", "exp(u*w)", "gamma(exp(y))"] {
            assert!(
                matches!(classify(n, x, 1.0), Integrable::Unknown(_)),
                "{x}: {:?}",
                classify(n, x, 1.0)
            );
        }
        // exp(s^2/3) for s the sum of two unit normals is infinite (s has
        // variance 2), although each copy alone would allow it: a rate at
        // the law's order in a mixed factor is never called finite.
        assert!(!matches!(
            classify("y ~ Normal(0, 1); s = sum(2, y)", "exp(s^2/3)", 1.0),
            Integrable::Yes
        ));
    }

    #[test]
    fn law_end_orders_and_tails() {
        let law = |name: &str, p: &[f64]| Law::new(name, p).unwrap();
        assert_eq!(law("Gamma", &[1.5, 1.0]).density_order(0.0, 1.0), Some(0.5));
        assert_eq!(law("Gamma", &[1.5, 1.0]).density_order(0.0, -1.0), None);
        assert_eq!(law("Beta", &[3.0, 2.0]).density_order(1.0, -1.0), Some(1.0));
        assert_eq!(
            law("LogNormal", &[0.0, 1.0]).density_order(0.0, 1.0),
            Some(INF)
        );
        assert_eq!(
            law("Triangular", &[0.0, 1.0, 0.0]).density_order(0.0, 1.0),
            Some(0.0)
        );
        assert_eq!(
            law("Triangular", &[0.0, 1.0, 0.0]).density_order(1.0, -1.0),
            Some(1.0)
        );
        assert_eq!(
            law("Normal", &[0.0, 1.0]).density_order(3.0, -1.0),
            Some(0.0)
        );
        assert_eq!(law("Bernoulli", &[0.3]).density_order(0.0, 1.0), None);
        assert_eq!(law("Uniform", &[0.0, 1.0]).tail(1.0), None);
        assert_eq!(law("StudentsT", &[0.0, 1.0, 3.0]).tail_index(), 3.0);
        assert_eq!(law("Normal", &[0.0, 1.0]).tail_index(), INF);
    }

    /// A law, a point of its support, and the density's order there.
    fn point_law() -> impl Strategy<Value = (String, f64, f64)> {
        prop_oneof![
            (0.2f64..4.0).prop_map(|k| (format!("Gamma({k}, 1.3)"), 0.0, k - 1.0)),
            (0.2f64..4.0, 0.5f64..3.0).prop_map(|(a, b)| (format!("Beta({a}, {b})"), 0.0, a - 1.0)),
            (0.2f64..4.0, 0.5f64..3.0).prop_map(|(a, b)| (format!("Beta({b}, {a})"), 1.0, a - 1.0)),
            (-1.0f64..1.0).prop_map(|t| (format!("Normal({t}, 0.7)"), 0.3, 0.0)),
            Just(("Uniform(0, 2)".to_string(), 0.0, 0.0)),
            Just(("Uniform(0, 2)".to_string(), 1.2, 0.0)),
            Just(("Exponential(2)".to_string(), 0.0, 0.0)),
            Just(("Triangular(0, 1, 0.5)".to_string(), 0.0, 1.0)),
            Just(("LogNormal(0.3, 0.8)".to_string(), 0.0, INF)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        // E|v - t0|^-(q p) near t0 is finite iff q p < a + 1, whatever the
        // spelling of the singularity.
        #[test]
        fn singular_points_follow_the_rule(
            (law, t0, a) in point_law(),
            q in 0.05f64..3.0,
            p in prop_oneof![Just(1.0), Just(2.0), 0.3f64..3.0],
            spelling in 0usize..4,
        ) {
            let model = format!("v ~ {law}");
            let d = format!("abs(v - {t0})");
            let x = match spelling {
                0 => format!("{d}^(-{q})"),
                1 => format!("1/{d}^{q}"),
                2 => format!("(1/{d})^{q}"),
                _ => format!("1/sqrt({d})^({})", 2.0 * q),
            };
            let want = p * q < a + 1.0;
            prop_assert_eq!(finite(&model, &x, p), want, "E|{}|^{} under {}", x, p, law);
        }

        // Tails: exp(c v) under Laplace(0, b) iff p c < 1/b; exp(c v^2)
        // under Normal(0, s) iff p c < 1/(2 s^2); |t|^k under StudentsT(dof)
        // iff p k < dof. The boundary itself is infinite.
        #[test]
        fn tails_follow_the_rule(
            scale in 0.3f64..3.0,
            c in -4.0f64..4.0,
            k in 0.1f64..6.0,
            dof in 0.5f64..8.0,
            p in prop_oneof![Just(1.0), Just(2.0), 0.3f64..3.0],
        ) {
            let laplace = format!("v ~ Laplace(0.4, {scale})");
            let x = format!("exp({c}*v)");
            prop_assert_eq!(finite(&laplace, &x, p), p * c.abs() < 1.0 / scale, "{} under {}", x, laplace);
            let normal = format!("v ~ Normal(0, {scale})");
            let x = format!("exp({c}*v^2)");
            prop_assert_eq!(finite(&normal, &x, p), p * c < 1.0 / (2.0 * scale * scale), "{} under {}", x, normal);
            let t = format!("v ~ StudentsT(1, {scale}, {dof})");
            let x = format!("relu(v)^{k}");
            prop_assert_eq!(finite(&t, &x, p), p * k < dof, "{} under {}", x, t);
        }

        // The boundary: exp(v / b) under Laplace(0, b) grows exactly as
        // fast as the density decays.
        #[test]
        fn the_tail_boundary_is_infinite(scale in 0.3f64..3.0) {
            let laplace = format!("v ~ Laplace(0, {scale})");
            let x = format!("exp(v/{scale})");
            prop_assert!(!finite(&laplace, &x, 1.0));
        }
    }
}
