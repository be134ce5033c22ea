//! Structural lemmas: what a model's construction proves about symmetry,
//! independence and Gaussianity, before anything is evaluated.
//!
//! A requirement is a statement about a law, and laws are what the exact
//! engine cannot always reach (three variables jointly, heavy tails, a law
//! with no closed form). The construction often settles it anyway: `u - v`
//! for iid `u, v` is symmetric whatever their law, `a*sign(b)` is
//! independent of `b` whenever `a` is symmetric and independent of `b`.
//! Each [`Lemma`] is one such argument, with its proof sketch on the
//! variant; the functions here only ever answer "proved" or "not proved",
//! never "false", so a lemma that does not apply costs a requirement its
//! proof, never its truth.
//!
//! Sources are the unit of independence: distinct sources are independent,
//! the two components of a BivariateNormal share one, and every `sum(n, T)`
//! is fresh copies, independent of everything outside it (the same sum
//! written twice is one variable). Symmetry by invariance works on the
//! resolved expression: a transformation of the base variables that keeps
//! their joint law (sign flips of symmetric sources, exchanges of iid ones)
//! and maps `x` to `-x` term by term proves `x ~ -x`. Expressions are
//! compared structurally, up to the order of terms and factors and the
//! placement of signs; anything subtler is not proved.

use crate::lang::arith::BinOp;
use crate::lang::builtin::{self, Builtin};
use crate::model::rv::{Rv, VarId};
use crate::model::{Scenario, Source};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lemma {
    /// A base variable whose law is symmetric about 0 (both components of a
    /// BivariateNormal have zero mean), or the constant 0.
    SymmetricLaw,
    /// `c*v + d` with `v` symmetric about `m` and `c*m + d = 0` exactly:
    /// `v - m ~ m - v`, so `c*(v - m) ~ -c*(v - m)`. Checked with exact
    /// floating-point products and sums (`2*s - 1` for a fair Bernoulli
    /// `s`), so rounding cannot make a centre look like 0.
    CentredAffine,
    /// `f(a)` with `f` odd (negation, odd integer powers, tanh, sin, atan,
    /// asin, erf, sign, hardtanh, identity) and `a` symmetric:
    /// `f(a) ~ f(-a) = -f(a)`.
    OddFunction,
    /// `a*b`, `a/b` or `b/a` with `a` symmetric and independent of `b`: the
    /// joint law of `(a, b)` is a product, so `(a, b) ~ (-a, b)` and the
    /// product or quotient changes sign.
    SymmetricFactor,
    /// `a + b` or `a - b` with `a`, `b` independent and both symmetric:
    /// `(a, b) ~ (-a, -b)` for the same reason.
    SymmetricSum,
    /// `sum(n, T)` with `T` symmetric: `n` independent symmetric copies,
    /// [`Lemma::SymmetricSum`] repeated.
    SymmetricCopies,
    /// Flipping the signs of some sources symmetric about 0 (both
    /// components of a BivariateNormal at once, or either alone when rho is
    /// 0; a `sum` of symmetric copies as a whole) keeps the joint law and
    /// maps `x` to `-x` term by term, so `x ~ -x`: odd functions of
    /// symmetric variables, however the oddness is spread over them.
    SignFlip,
    /// As [`Lemma::SignFlip`], with exchanges of iid variables (two sources
    /// of one law, or the components of a BivariateNormal with equal sds)
    /// among the transformations: the difference of iid copies.
    Exchange,
    /// Functions of disjoint sets of independent sources are independent.
    DisjointSources,
    /// `X = f(L1, R1)` and `Y = g(L2, R2)` where the `L`s are affine forms
    /// in jointly Gaussian base variables and the `R`s draw on disjoint
    /// non-Gaussian sources: `(L1, L2)` is jointly Gaussian, so zero cross
    /// covariances (computed from the coefficients, zero to within the
    /// rounding of their terms) make `L1` independent of `L2`, and the `R`s
    /// are independent of both and of each other.
    UncorrelatedGaussian,
    /// For `a` symmetric about 0 with no atom at 0, `|a|` and `sign(a)` are
    /// independent: `P(sign a = 1, |a| in B) = P(a in B) = P(a in -B) =
    /// P(|a| in B)/2`. A function even in `a` depends on it only through
    /// `|a|`; one that uses `a` only as `sign(a)` only through its sign; with
    /// the rest of their sources disjoint, the two are independent.
    SignMagnitude,
    /// `W = a*m` with `a` symmetric, `m` in {-1, +1} almost surely, and `a`
    /// independent of `m` and of `Y`: given every source outside `a`'s, `m`
    /// is a fixed sign and `a*m` has the law of `a` whatever those sources
    /// are, so `W` is independent of them and of `Y`, a function of them
    /// (`a*sign(b)` is independent of `b`).
    SymmetricMultiplier,
    /// Affine in jointly Gaussian base variables.
    LinearGaussian,
    /// `a*m` with `a` Gaussian and symmetric (`N(0, s^2)`) and `m` in
    /// {-1, +1} almost surely, independent of `a`: given `m`, `a*m ~ a`.
    GaussianTimesSign,
    /// Sums of independent Gaussians, `sum(n, T)` of a Gaussian `T`, and
    /// their affine images are Gaussian.
    GaussianSum,
    /// A base variable whose law is not normal is not Gaussian.
    NonGaussianLaw,
    /// `E[|x|^k]` is finite when `|x|` grows polynomially in each base
    /// variable more slowly than the variable's tail allows.
    TailGrowth,
    /// A symmetric variable with a finite mean has mean 0.
    SymmetricMean,
}

impl Lemma {
    /// Its name in tables and json.
    pub fn name(self) -> &'static str {
        match self {
            Lemma::SymmetricLaw => "symmetric-law",
            Lemma::CentredAffine => "centred-affine",
            Lemma::OddFunction => "odd-function",
            Lemma::SymmetricFactor => "symmetric-factor",
            Lemma::SymmetricSum => "symmetric-sum",
            Lemma::SymmetricCopies => "symmetric-copies",
            Lemma::SignFlip => "sign-flip",
            Lemma::Exchange => "iid-exchange",
            Lemma::DisjointSources => "disjoint-sources",
            Lemma::UncorrelatedGaussian => "uncorrelated-gaussian",
            Lemma::SignMagnitude => "sign-magnitude",
            Lemma::SymmetricMultiplier => "symmetric-multiplier",
            Lemma::LinearGaussian => "linear-gaussian",
            Lemma::GaussianTimesSign => "gaussian-times-sign",
            Lemma::GaussianSum => "gaussian-sum",
            Lemma::NonGaussianLaw => "non-gaussian-law",
            Lemma::TailGrowth => "tail-growth",
            Lemma::SymmetricMean => "symmetric-mean",
        }
    }

    /// What it says, in the words of the evidence.
    pub fn says(self) -> &'static str {
        match self {
            Lemma::SymmetricLaw => "its law is symmetric about 0",
            Lemma::CentredAffine => "an affine image of a symmetric law, centred at 0",
            Lemma::OddFunction => "an odd function of a symmetric variable",
            Lemma::SymmetricFactor => "a product with an independent symmetric factor",
            Lemma::SymmetricSum => "a sum of independent symmetric variables",
            Lemma::SymmetricCopies => "a sum of independent symmetric copies",
            Lemma::SignFlip => {
                "flipping the signs of symmetric sources keeps their law and negates it"
            }
            Lemma::Exchange => {
                "exchanging iid variables (and flipping symmetric ones) keeps their law and negates it"
            }
            Lemma::DisjointSources => "they share no source of randomness",
            Lemma::UncorrelatedGaussian => {
                "functions of uncorrelated jointly Gaussian forms and of disjoint other sources"
            }
            Lemma::SignMagnitude => {
                "one uses a symmetric variable only through its size, the other only through its sign"
            }
            Lemma::SymmetricMultiplier => {
                "an independent symmetric factor times a sign hides everything else"
            }
            Lemma::LinearGaussian => "affine in jointly Gaussian variables",
            Lemma::GaussianTimesSign => "a centred Gaussian times an independent sign",
            Lemma::GaussianSum => "a sum of independent Gaussians",
            Lemma::NonGaussianLaw => "its law is not normal",
            Lemma::TailGrowth => "its growth and poles are within its laws' tails and end orders",
            Lemma::SymmetricMean => "symmetric about 0 with a finite mean",
        }
    }
}

/// Largest expression (in nodes) searched for a sign-flip or exchange.
const MAX_SEARCH_NODES: usize = 64;
/// Most transformations tried per expression: 2^12.
const MAX_SEARCH_BITS: usize = 12;

/// A proof that `x` is symmetric about 0, if structure gives one.
pub fn symmetric(s: &Scenario, x: &Rv) -> Option<Lemma> {
    // No lemma here reasons about copies shared between sums; the exact
    // and sampled tests decide those.
    if x.contains_indexed() {
        return None;
    }
    match x {
        Rv::Const(c) => return (*c == 0.0).then_some(Lemma::SymmetricLaw),
        Rv::Base(v) if base_symmetric(s, *v) => return Some(Lemma::SymmetricLaw),
        _ if centred_affine(s, x) => return Some(Lemma::CentredAffine),
        _ => {}
    }
    let by_parts = match x {
        Rv::Const(_) | Rv::Base(_) => None,
        Rv::Neg(a) => symmetric(s, a).map(|_| Lemma::OddFunction),
        Rv::Call(f, args) if is_odd(*f) && args[1..].iter().all(|a| constant(a).is_some()) => {
            symmetric(s, &args[0]).map(|_| Lemma::OddFunction)
        }
        Rv::Bin(BinOp::Pow, a, k) => match **k {
            Rv::Const(k) if k == k.trunc() && k.abs() < 1e15 && (k as i64) % 2 != 0 => {
                symmetric(s, a).map(|_| Lemma::OddFunction)
            }
            _ => None,
        },
        Rv::Bin(BinOp::Mul | BinOp::Div, a, b) => (disjoint(s, a, b)
            && (symmetric(s, a).is_some() || symmetric(s, b).is_some()))
        .then_some(Lemma::SymmetricFactor),
        Rv::Bin(BinOp::Add | BinOp::Sub, a, b) => {
            (disjoint(s, a, b) && symmetric(s, a).is_some() && symmetric(s, b).is_some())
                .then_some(Lemma::SymmetricSum)
        }
        Rv::Sum(_, t) => symmetric(s, t).map(|_| Lemma::SymmetricCopies),
        Rv::Call(..) | Rv::IndexedSum(_) | Rv::Copy(_) => None,
    };
    by_parts.or_else(|| invariance(s, x))
}

fn base_symmetric(s: &Scenario, v: VarId) -> bool {
    match &s.sources[s.bases[v.0].source] {
        Source::Single(law) => law.is_symmetric_about() == Some(0.0),
        Source::Bivariate(_) => true,
    }
}

fn is_odd(f: Builtin) -> bool {
    f.parity() == builtin::Parity::Odd
}

fn is_even(f: Builtin) -> bool {
    f.parity() == builtin::Parity::Even
}

/// The value of an expression with no randomness in it.
fn constant(x: &Rv) -> Option<f64> {
    let mut vars = Vec::new();
    x.bases(&mut vars);
    let c = (vars.is_empty() && !x.contains_sum()).then(|| x.eval_at(&[]))?;
    c.is_finite().then_some(c)
}

/// `a*b`, if no rounding happened.
fn exact_mul(a: f64, b: f64) -> Option<f64> {
    let p = a * b;
    (p.is_finite() && a.mul_add(b, -p) == 0.0).then_some(p)
}

/// `a + b`, if no rounding happened (the error term of Knuth's two-sum).
fn exact_add(a: f64, b: f64) -> Option<f64> {
    let s = a + b;
    let bb = s - a;
    (s.is_finite() && (a - (s - bb)) + (b - bb) == 0.0).then_some(s)
}

/// `x = c*v + d` for a base variable `v`, computed without rounding.
fn exact_affine(x: &Rv) -> Option<(VarId, f64, f64)> {
    match x {
        Rv::Base(v) => Some((*v, 1.0, 0.0)),
        Rv::Neg(a) => exact_affine(a).map(|(v, c, d)| (v, -c, -d)),
        Rv::Bin(BinOp::Mul, a, b) => {
            let (k, e) = match (constant(a), constant(b)) {
                (Some(k), None) => (k, b),
                (None, Some(k)) => (k, a),
                _ => return None,
            };
            let (v, c, d) = exact_affine(e)?;
            Some((v, exact_mul(c, k)?, exact_mul(d, k)?))
        }
        Rv::Bin(op @ (BinOp::Add | BinOp::Sub), a, b) => {
            let sign = if *op == BinOp::Sub { -1.0 } else { 1.0 };
            match (constant(a), constant(b)) {
                (None, Some(k)) => {
                    let (v, c, d) = exact_affine(a)?;
                    Some((v, c, exact_add(d, sign * k)?))
                }
                (Some(k), None) => {
                    let (v, c, d) = exact_affine(b)?;
                    Some((v, sign * c, exact_add(k, sign * d)?))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// [`Lemma::CentredAffine`].
fn centred_affine(s: &Scenario, x: &Rv) -> bool {
    let Some((v, c, d)) = exact_affine(x) else {
        return false;
    };
    let Source::Single(law) = &s.sources[s.bases[v.0].source] else {
        return false;
    };
    law.is_symmetric_about()
        .and_then(|m| exact_mul(c, m))
        .is_some_and(|cm| cm == -d)
}

/// The sources an expression draws on outside any `sum`.
fn sources(s: &Scenario, x: &Rv) -> Vec<usize> {
    let mut vars = Vec::new();
    x.bases(&mut vars);
    vars.into_iter().map(|v| s.bases[v.0].source).collect()
}

/// Whether two expressions share no source of randomness.
pub fn disjoint(s: &Scenario, a: &Rv, b: &Rv) -> bool {
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    a.plates(&mut pa);
    b.plates(&mut pb);
    if pa.iter().any(|p| pb.contains(p)) {
        return false;
    }
    let sb = sources(s, b);
    !shared_sums(a, b) && !sources(s, a).iter().any(|x| sb.contains(x))
}

fn shared_sums(a: &Rv, b: &Rv) -> bool {
    let mut sa = Vec::new();
    collect_sums(a, &mut sa);
    let mut sb = Vec::new();
    collect_sums(b, &mut sb);
    sa.iter().any(|x| sb.contains(x))
}

fn collect_sums<'a>(x: &'a Rv, out: &mut Vec<&'a Rv>) {
    match x {
        Rv::Sum(..) => out.push(x),
        _ => x.children().for_each(|c| collect_sums(c, out)),
    }
}

fn size(x: &Rv) -> usize {
    1 + match x {
        Rv::Sum(..) => 0,
        _ => x.children().map(size).sum(),
    }
}

/// One generator of the law-preserving transformations: a set of atoms
/// whose signs flip together.
#[derive(Clone, Debug)]
enum Atom<'a> {
    Var(VarId),
    Sum(&'a Rv),
}

/// A transformation: each base variable `v` becomes `±perm(v)`.
struct Transform<'a> {
    swaps: Vec<(VarId, VarId)>,
    flipped: Vec<Atom<'a>>,
}

impl Transform<'_> {
    fn perm(&self, v: VarId) -> VarId {
        for &(a, b) in &self.swaps {
            if v == a {
                return b;
            }
            if v == b {
                return a;
            }
        }
        v
    }

    fn flips_var(&self, v: VarId) -> bool {
        self.flipped
            .iter()
            .any(|a| matches!(a, Atom::Var(w) if *w == v))
    }

    fn flips_sum(&self, x: &Rv) -> bool {
        self.flipped
            .iter()
            .any(|a| matches!(a, Atom::Sum(t) if *t == x))
    }

    /// `x` at the transformed variables.
    fn image(&self, x: &Rv) -> Rv {
        let bx = |a: &Rv| Box::new(self.image(a));
        let signed = |flip: bool, e: Rv| if flip { Rv::Neg(Box::new(e)) } else { e };
        match x {
            Rv::Const(c) => Rv::Const(*c),
            Rv::Base(v) => {
                let w = self.perm(*v);
                signed(self.flips_var(w), Rv::Base(w))
            }
            Rv::Sum(..) => signed(self.flips_sum(x), x.clone()),
            // `symmetric` leaves indexed sums to the tests before any search.
            Rv::IndexedSum(_) | Rv::Copy(_) => x.clone(),
            Rv::Neg(a) => Rv::Neg(bx(a)),
            Rv::Bin(op, a, b) => Rv::Bin(*op, bx(a), bx(b)),
            Rv::Call(f, args) => Rv::Call(*f, args.iter().map(|a| self.image(a)).collect()),
        }
    }
}

/// [`Lemma::SignFlip`] and [`Lemma::Exchange`]: searches the transformations
/// generated by sign flips and exchanges of the variables `x` uses for one
/// that maps `x` to `-x`.
fn invariance(s: &Scenario, x: &Rv) -> Option<Lemma> {
    if size(x) > MAX_SEARCH_NODES {
        return None;
    }
    let mut vars = Vec::new();
    x.bases(&mut vars);
    let mut flips: Vec<Vec<Atom>> = Vec::new();
    let mut swaps: Vec<(VarId, VarId)> = Vec::new();
    for (i, &v) in vars.iter().enumerate() {
        let src = s.bases[v.0].source;
        match &s.sources[src] {
            Source::Single(law) => {
                if law.is_symmetric_about() == Some(0.0) {
                    flips.push(vec![Atom::Var(v)]);
                }
                for &w in &vars[i + 1..] {
                    let other = s.bases[w.0].source;
                    if matches!(&s.sources[other], Source::Single(l) if l == law) {
                        swaps.push((v, w));
                    }
                }
            }
            Source::Bivariate(b) => {
                // Each component once: the pair is handled at its first.
                let partner = vars[i + 1..]
                    .iter()
                    .copied()
                    .find(|w| s.bases[w.0].source == src);
                let seen = vars[..i].iter().any(|w| s.bases[w.0].source == src);
                if seen {
                    continue;
                }
                match partner {
                    Some(w) if b.rho == 0.0 => {
                        flips.push(vec![Atom::Var(v)]);
                        flips.push(vec![Atom::Var(w)]);
                    }
                    Some(w) => flips.push(vec![Atom::Var(v), Atom::Var(w)]),
                    None => flips.push(vec![Atom::Var(v)]),
                }
                if let Some(w) = partner
                    && b.sd_u == b.sd_v
                {
                    swaps.push((v, w));
                }
            }
        }
    }
    let mut sums = Vec::new();
    collect_sums(x, &mut sums);
    let mut seen: Vec<&Rv> = Vec::new();
    for t in sums {
        if !seen.contains(&t) {
            seen.push(t);
            // The body, not the sum: asking about the sum itself would come
            // back here when `x` is that sum.
            if let Rv::Sum(_, body) = t
                && symmetric(s, body).is_some()
            {
                flips.push(vec![Atom::Sum(t)]);
            }
        }
    }
    if flips.len() + swaps.len() > MAX_SEARCH_BITS {
        return None;
    }
    for swap_mask in 0u32..(1 << swaps.len()) {
        let chosen: Vec<(VarId, VarId)> = (0..swaps.len())
            .filter(|i| swap_mask & (1 << i) != 0)
            .map(|i| swaps[i])
            .collect();
        // A variable in two exchanges at once is not a transposition set.
        let mut touched: Vec<VarId> = chosen.iter().flat_map(|&(a, b)| [a, b]).collect();
        let n = touched.len();
        touched.sort();
        touched.dedup();
        if touched.len() != n {
            continue;
        }
        for flip_mask in 0u32..(1 << flips.len()) {
            if swap_mask == 0 && flip_mask == 0 {
                continue;
            }
            let t = Transform {
                swaps: chosen.clone(),
                flipped: (0..flips.len())
                    .filter(|i| flip_mask & (1 << i) != 0)
                    .flat_map(|i| flips[i].iter().cloned())
                    .collect(),
            };
            if equiv(&t.image(x), x, true) {
                return Some(if swap_mask == 0 {
                    Lemma::SignFlip
                } else {
                    Lemma::Exchange
                });
            }
        }
    }
    None
}

fn terms<'a>(x: &'a Rv, neg: bool, out: &mut Vec<(bool, &'a Rv)>) {
    match x {
        Rv::Neg(a) => terms(a, !neg, out),
        Rv::Bin(BinOp::Add, a, b) => {
            terms(a, neg, out);
            terms(b, neg, out);
        }
        Rv::Bin(BinOp::Sub, a, b) => {
            terms(a, neg, out);
            terms(b, !neg, out);
        }
        _ => out.push((neg, x)),
    }
}

/// Factors, each marked as in the numerator or not.
fn factors<'a>(x: &'a Rv, num: bool, out: &mut Vec<(bool, &'a Rv)>) {
    match x {
        Rv::Bin(BinOp::Mul, a, b) => {
            factors(a, num, out);
            factors(b, num, out);
        }
        Rv::Bin(BinOp::Div, a, b) => {
            factors(a, num, out);
            factors(b, !num, out);
        }
        _ => out.push((num, x)),
    }
}

/// A one-to-one matching of `a` onto `b` under `pair`, found greedily
/// (a failed greedy match is only a missed proof).
fn matched<T: Copy>(a: &[T], b: &[T], mut pair: impl FnMut(T, T) -> bool) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|&x| {
        let found = (0..b.len()).find(|&j| !used[j] && pair(x, b[j]));
        found.map(|j| used[j] = true).is_some()
    })
}

/// Whether `a` is `b` (`odd` false) or `-b` (`odd` true) as functions,
/// proved structurally: up to the order of terms and factors and the
/// placement of signs, odd and even functions, and integer powers.
fn equiv(a: &Rv, b: &Rv, odd: bool) -> bool {
    let additive = |x: &Rv| matches!(x, Rv::Neg(_) | Rv::Bin(BinOp::Add | BinOp::Sub, ..));
    if additive(a) || additive(b) {
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        terms(a, false, &mut ta);
        terms(b, false, &mut tb);
        return matched(&ta, &tb, |(sa, x), (sb, y)| equiv(x, y, odd ^ sa ^ sb));
    }
    let multiplicative = |x: &Rv| matches!(x, Rv::Bin(BinOp::Mul | BinOp::Div, ..));
    if multiplicative(a) || multiplicative(b) {
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        factors(a, true, &mut fa);
        factors(b, true, &mut fb);
        // Each factor matches as itself or as its negative; the signs
        // multiply.
        let mut sign = false;
        let ok = matched(&fa, &fb, |(na, x), (nb, y)| {
            if na != nb {
                false
            } else if equiv(x, y, false) {
                true
            } else if equiv(x, y, true) {
                sign = !sign;
                true
            } else {
                false
            }
        });
        return ok && sign == odd;
    }
    match (a, b) {
        (Rv::Const(c), Rv::Const(d)) => {
            if odd {
                *c == -*d
            } else {
                c == d
            }
        }
        (Rv::Base(v), Rv::Base(w)) => !odd && v == w,
        (Rv::Bin(BinOp::Pow, x, k), Rv::Bin(BinOp::Pow, y, l)) => {
            if !equiv(k, l, false) {
                return false;
            }
            let int = constant(k).filter(|k| *k == k.trunc() && k.abs() < 1e15);
            let even_power = int.is_some_and(|k| (k as i64) % 2 == 0);
            let odd_power = int.is_some_and(|k| (k as i64) % 2 != 0);
            if odd {
                odd_power && equiv(x, y, true)
            } else {
                equiv(x, y, false) || (even_power && equiv(x, y, true))
            }
        }
        (Rv::Call(f, xs), Rv::Call(g, ys)) => {
            if f != g
                || xs.len() != ys.len()
                || !xs[1..]
                    .iter()
                    .zip(&ys[1..])
                    .all(|(p, q)| equiv(p, q, false))
            {
                return false;
            }
            if odd {
                is_odd(*f) && equiv(&xs[0], &ys[0], true)
            } else {
                equiv(&xs[0], &ys[0], false) || (is_even(*f) && equiv(&xs[0], &ys[0], true))
            }
        }
        (Rv::Sum(..), Rv::Sum(..)) => !odd && a == b,
        _ => false,
    }
}

/// An affine form in jointly Gaussian base variables: coefficients and a
/// constant.
#[derive(Clone, Debug, PartialEq)]
struct Form {
    coef: Vec<(VarId, f64)>,
    constant: f64,
}

impl Form {
    fn scaled(mut self, k: f64) -> Form {
        self.coef.iter_mut().for_each(|(_, c)| *c *= k);
        self.constant *= k;
        self
    }

    fn plus(mut self, other: Form, sign: f64) -> Form {
        for (v, c) in other.coef {
            match self.coef.iter_mut().find(|(w, _)| *w == v) {
                Some((_, d)) => *d += sign * c,
                None => self.coef.push((v, sign * c)),
            }
        }
        self.constant += sign * other.constant;
        self
    }
}

fn gaussian_base(s: &Scenario, v: VarId) -> bool {
    match &s.sources[s.bases[v.0].source] {
        Source::Single(law) => law.is_gaussian(),
        Source::Bivariate(_) => true,
    }
}

/// `x` as an affine form in Gaussian base variables, if it is one.
fn linear_form(s: &Scenario, x: &Rv) -> Option<Form> {
    let form = |a: &Rv| linear_form(s, a);
    match x {
        Rv::Const(c) => Some(Form {
            coef: Vec::new(),
            constant: *c,
        }),
        Rv::Base(v) => gaussian_base(s, *v).then(|| Form {
            coef: vec![(*v, 1.0)],
            constant: 0.0,
        }),
        Rv::Neg(a) => Some(form(a)?.scaled(-1.0)),
        Rv::Bin(BinOp::Add, a, b) => Some(form(a)?.plus(form(b)?, 1.0)),
        Rv::Bin(BinOp::Sub, a, b) => Some(form(a)?.plus(form(b)?, -1.0)),
        Rv::Bin(BinOp::Mul, a, b) => match (constant(a), constant(b)) {
            (Some(k), _) => Some(form(b)?.scaled(k)),
            (_, Some(k)) => Some(form(a)?.scaled(k)),
            _ => None,
        },
        Rv::Bin(BinOp::Div, a, b) => match constant(b) {
            Some(k) if k != 0.0 => Some(form(a)?.scaled(1.0 / k)),
            _ => None,
        },
        Rv::Call(Builtin::Identity, args) => form(&args[0]),
        _ => constant(x).map(|c| Form {
            coef: Vec::new(),
            constant: c,
        }),
    }
}

/// Cov[v, w] of two Gaussian base variables.
fn base_cov(s: &Scenario, v: VarId, w: VarId) -> f64 {
    let (bv, bw) = (&s.bases[v.0], &s.bases[w.0]);
    if bv.source != bw.source {
        return 0.0;
    }
    match &s.sources[bv.source] {
        Source::Single(law) => {
            let sd = match *law {
                crate::model::law::Law::Normal { sd, .. }
                | crate::model::law::Law::TruncatedNormal { sd, .. } => sd,
                _ => f64::NAN,
            };
            sd * sd
        }
        Source::Bivariate(b) => b.cov(bv.component, bw.component),
    }
}

/// Cov of two forms, and whether it is zero to within the rounding of its
/// terms.
fn cov_vanishes(s: &Scenario, f: &Form, g: &Form) -> bool {
    let (mut sum, mut size, mut n) = (0.0f64, 0.0f64, 0usize);
    for &(v, a) in &f.coef {
        for &(w, b) in &g.coef {
            let t = a * b * base_cov(s, v, w);
            sum += t;
            size += t.abs();
            n += 1;
        }
    }
    sum.is_finite() && sum.abs() <= 4.0 * (n as f64 + 2.0) * f64::EPSILON * size
}

fn form_var(s: &Scenario, f: &Form) -> f64 {
    f.coef
        .iter()
        .flat_map(|&(v, a)| f.coef.iter().map(move |&(w, b)| a * b * base_cov(s, v, w)))
        .sum()
}

/// The Gaussian forms, other sources and sums an expression is a function
/// of.
#[derive(Default)]
struct Split<'a> {
    forms: Vec<Form>,
    rest: Vec<usize>,
    sums: Vec<&'a Rv>,
}

fn split<'a>(s: &Scenario, x: &'a Rv, out: &mut Split<'a>) {
    if let Some(f) = linear_form(s, x) {
        if !f.coef.is_empty() {
            out.forms.push(f);
        }
        return;
    }
    match x {
        Rv::Const(_) => {}
        Rv::Base(v) => out.rest.push(s.bases[v.0].source),
        Rv::Sum(..) => out.sums.push(x),
        _ => x.children().for_each(|c| split(s, c, out)),
    }
}

/// [`Lemma::UncorrelatedGaussian`].
fn uncorrelated_gaussian(s: &Scenario, x: &Rv, y: &Rv) -> bool {
    let (mut sx, mut sy) = (Split::default(), Split::default());
    split(s, x, &mut sx);
    split(s, y, &mut sy);
    !sx.rest.iter().any(|r| sy.rest.contains(r))
        && !sx.sums.iter().any(|t| sy.sums.contains(t))
        && sx
            .forms
            .iter()
            .all(|f| sy.forms.iter().all(|g| cov_vanishes(s, f, g)))
}

/// Whether `x` has no atoms: `P(x = t) = 0` for every `t`.
fn continuous(s: &Scenario, x: &Rv) -> bool {
    if let Some(f) = linear_form(s, x) {
        return form_var(s, &f) > 0.0;
    }
    let cont = |a: &Rv| continuous(s, a);
    match x {
        Rv::Base(v) => match &s.sources[s.bases[v.0].source] {
            Source::Single(law) => law.atoms().is_none(),
            Source::Bivariate(_) => true,
        },
        Rv::Neg(a) => cont(a),
        // P(a + b = t) = E[P(a = t - b | b)] = 0 for a continuous a
        // independent of b.
        Rv::Bin(BinOp::Add | BinOp::Sub, a, b) => disjoint(s, a, b) && (cont(a) || cont(b)),
        Rv::Bin(BinOp::Mul | BinOp::Div, a, b) => match (constant(a), constant(b)) {
            (Some(k), _) => k != 0.0 && cont(b),
            (_, Some(k)) => k != 0.0 && cont(a),
            _ => disjoint(s, a, b) && cont(a) && cont(b),
        },
        // One-to-one: a point has at most one preimage.
        Rv::Call(f, args) if f.one_to_one() => cont(&args[0]),
        Rv::Sum(n, t) => *n >= 1 && cont(t),
        _ => false,
    }
}

/// Whether `x` is -1 or +1 almost surely.
fn sign_like(s: &Scenario, x: &Rv) -> bool {
    let sign = |a: &Rv| sign_like(s, a);
    let unit = |c: f64| c == 1.0 || c == -1.0;
    match x {
        Rv::Const(c) => unit(*c),
        Rv::Neg(a) => sign(a),
        Rv::Bin(BinOp::Mul | BinOp::Div, a, b) if sign(a) && sign(b) => true,
        Rv::Bin(BinOp::Pow, a, k) if matches!(**k, Rv::Const(k) if k == k.trunc()) && sign(a) => {
            true
        }
        Rv::Call(Builtin::Sign, args) => continuous(s, &args[0]),
        // 2*t - 1 for a Bernoulli t.
        _ => exact_affine(x).is_some_and(|(v, c, d)| {
            matches!(
                &s.sources[s.bases[v.0].source],
                Source::Single(crate::model::law::Law::Bernoulli { .. })
            ) && unit(d)
                && exact_add(c, d).is_some_and(unit)
        }),
    }
}

/// A proof that `x` and `y` are independent, if structure gives one.
pub fn independent(s: &Scenario, x: &Rv, y: &Rv) -> Option<Lemma> {
    if x.contains_indexed() || y.contains_indexed() {
        return None;
    }
    if disjoint(s, x, y) {
        Some(Lemma::DisjointSources)
    } else if uncorrelated_gaussian(s, x, y) {
        Some(Lemma::UncorrelatedGaussian)
    } else if sign_magnitude(s, x, y) {
        Some(Lemma::SignMagnitude)
    } else if symmetric_multiplier(s, x, y) || symmetric_multiplier(s, y, x) {
        Some(Lemma::SymmetricMultiplier)
    } else {
        None
    }
}

/// Whether `x` uses `v` only as `sign(v)`.
fn only_sign(x: &Rv, v: VarId) -> bool {
    match x {
        Rv::Call(Builtin::Sign, args) if args[0] == Rv::Base(v) => true,
        Rv::Base(w) => *w != v,
        Rv::Sum(..) => true,
        _ => x.children().all(|c| only_sign(c, v)),
    }
}

/// [`Lemma::SignMagnitude`], for every source `x` and `y` share.
fn sign_magnitude(s: &Scenario, x: &Rv, y: &Rv) -> bool {
    if shared_sums(x, y) {
        return false;
    }
    let (sx, sy) = (sources(s, x), sources(s, y));
    let (mut vx, mut vy) = (Vec::new(), Vec::new());
    x.bases(&mut vx);
    y.bases(&mut vy);
    let even_in = |e: &Rv, v: VarId| {
        let t = Transform {
            swaps: Vec::new(),
            flipped: vec![Atom::Var(v)],
        };
        size(e) <= MAX_SEARCH_NODES && equiv(&t.image(e), e, false)
    };
    let shared: Vec<usize> = sx.iter().copied().filter(|a| sy.contains(a)).collect();
    !shared.is_empty()
        && shared.iter().all(|&src| {
            let Source::Single(law) = &s.sources[src] else {
                return false;
            };
            let Some(v) = vx.iter().copied().find(|v| s.bases[v.0].source == src) else {
                return false;
            };
            law.is_symmetric_about() == Some(0.0)
                && law.atoms().is_none()
                && vy.contains(&v)
                && ((even_in(x, v) && only_sign(y, v)) || (even_in(y, v) && only_sign(x, v)))
        })
}

/// Factors of a product, through negations (a sign is sign-like).
fn product_factors<'a>(x: &'a Rv, out: &mut Vec<&'a Rv>) {
    match x {
        Rv::Bin(BinOp::Mul, a, b) => {
            product_factors(a, out);
            product_factors(b, out);
        }
        Rv::Neg(a) => product_factors(a, out),
        _ => out.push(x),
    }
}

/// One factor of `x` that is symmetric and independent of the others,
/// which are all signs or constants: `x = c*a*m` (and `c*a` is as
/// symmetric, and as Gaussian, as `a`).
fn symmetric_times_sign<'a>(s: &Scenario, x: &'a Rv) -> Option<&'a Rv> {
    let mut fs = Vec::new();
    product_factors(x, &mut fs);
    if fs.len() < 2 {
        return None;
    }
    (0..fs.len())
        .find(|&i| {
            symmetric(s, fs[i]).is_some()
                && fs
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .all(|(_, m)| {
                        constant(m).is_some() || (sign_like(s, m) && disjoint(s, fs[i], m))
                    })
        })
        .map(|i| fs[i])
}

/// [`Lemma::SymmetricMultiplier`]: `w = a*m`, `a` independent of `y`.
fn symmetric_multiplier(s: &Scenario, w: &Rv, y: &Rv) -> bool {
    symmetric_times_sign(s, w).is_some_and(|a| disjoint(s, a, y))
}

/// A proof that `x` is Gaussian, if structure gives one.
pub fn gaussian(s: &Scenario, x: &Rv) -> Option<Lemma> {
    if x.contains_indexed() {
        return None;
    }
    if linear_form(s, x).is_some() {
        return Some(Lemma::LinearGaussian);
    }
    let g = |a: &Rv| gaussian(s, a).is_some();
    let sum = match x {
        Rv::Neg(a) => g(a),
        Rv::Bin(BinOp::Add | BinOp::Sub, a, b) => disjoint(s, a, b) && g(a) && g(b),
        Rv::Bin(BinOp::Mul, a, b) => match (constant(a), constant(b)) {
            (Some(_), _) => g(b),
            (_, Some(_)) => g(a),
            _ => false,
        },
        Rv::Bin(BinOp::Div, a, b) => constant(b).is_some_and(|k| k != 0.0) && g(a),
        Rv::Sum(_, t) => g(t),
        _ => false,
    };
    if sum {
        return Some(Lemma::GaussianSum);
    }
    symmetric_times_sign(s, x)
        .is_some_and(|a| gaussian(s, a).is_some())
        .then_some(Lemma::GaussianTimesSign)
}

#[cfg(test)]
mod tests {
    // Soundness over random expressions: what the structural comparison
    // proves holds at every point, and what a lemma proves holds in
    // distribution, checked by seeded sampling with bounded test functions
    // (a mean of values in [-1, 1] over N draws is off by more than
    // 7/sqrt(N) with probability below 5e-11, by Hoeffding's inequality).

    use super::*;
    use crate::lang::{FunctionDef, parse_model};
    use crate::model::resolve::build;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::collections::HashMap;

    const MODEL: &str = "
        z ~ Normal(0, 1)
        l ~ Laplace(0, 1)
        p, r ~ BivariateNormal(1, 1, 0.6)
        s ~ Bernoulli(0.5)
        g ~ Exponential(1)
        h ~ Exponential(1)
        m ~ Normal(0.5, 1)
        t ~ Uniform(-1, 1)
    ";
    const VARS: usize = 9;

    fn scenario() -> Scenario {
        let funcs: HashMap<String, FunctionDef> = HashMap::new();
        let stmts = parse_model(MODEL).expect("the model parses");
        build("props", &stmts, &funcs)
            .expect("the model resolves")
            .scenario
    }

    /// `n` draws of every base variable, one row per draw.
    fn draws(s: &Scenario, seed: u64, n: usize) -> Vec<Vec<f64>> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut cols = vec![vec![0.0; n]; s.bases.len()];
        for (i, src) in s.sources.iter().enumerate() {
            let var = |c: usize| {
                (0..s.bases.len())
                    .find(|&v| s.bases[v].source == i && s.bases[v].component == c)
                    .expect("a component")
            };
            match src {
                Source::Single(law) => law.fill(&mut rng, &mut cols[var(0)]),
                Source::Bivariate(b) => {
                    let (mut u, mut v) = (vec![0.0; n], vec![0.0; n]);
                    b.fill(&mut rng, &mut u, &mut v);
                    cols[var(0)] = u;
                    cols[var(1)] = v;
                }
            }
        }
        (0..n)
            .map(|k| cols.iter().map(|c| c[k]).collect())
            .collect()
    }

    /// The mean of `f` over the draws.
    fn mean(points: &[Vec<f64>], f: impl Fn(&[f64]) -> f64) -> f64 {
        points.iter().map(|p| f(p)).sum::<f64>() / points.len() as f64
    }

    const UNARY: [Builtin; 8] = [
        Builtin::Tanh,
        Builtin::Relu,
        Builtin::Abs,
        Builtin::Sign,
        Builtin::Sin,
        Builtin::Cos,
        Builtin::Atan,
        Builtin::Erf,
    ];

    /// Random expressions over the first `vars` base variables. Leaves
    /// include the shapes the lemmas look for (signs, sizes, a variable
    /// times the sign of another), so that they are met often.
    fn arb_rv(vars: usize) -> impl Strategy<Value = Rv> {
        let base = move || (0..vars).prop_map(|v| Rv::Base(VarId(v)));
        let call = |f: Builtin, a: Rv| Rv::Call(f, vec![a]);
        let leaf = prop_oneof![
            4 => base(),
            1 => prop::sample::select(vec![-2.0, -1.0, 0.0, 0.5, 1.0, 2.0]).prop_map(Rv::Const),
            2 => base().prop_map(move |v| call(Builtin::Sign, v)),
            1 => base().prop_map(move |v| call(Builtin::Abs, v)),
            1 => base().prop_map(|v| Rv::bin(BinOp::Pow, v, Rv::Const(2.0))),
            2 => (base(), base())
                .prop_map(move |(v, w)| Rv::bin(BinOp::Mul, v, call(Builtin::Sign, w))),
        ];
        leaf.prop_recursive(3, 16, 2, |inner| {
            let pair = (inner.clone(), inner.clone());
            prop_oneof![
                inner.clone().prop_map(|a| Rv::Neg(Box::new(a))),
                pair.clone().prop_map(|(a, b)| Rv::bin(BinOp::Add, a, b)),
                pair.clone().prop_map(|(a, b)| Rv::bin(BinOp::Sub, a, b)),
                pair.prop_map(|(a, b)| Rv::bin(BinOp::Mul, a, b)),
                (inner.clone(), prop::sample::select(UNARY.to_vec()))
                    .prop_map(|(a, f)| Rv::Call(f, vec![a])),
                (inner, prop::sample::select(vec![2.0, 3.0])).prop_map(|(a, k)| Rv::bin(
                    BinOp::Pow,
                    a,
                    Rv::Const(k)
                )),
            ]
        })
    }

    /// `a` equals `b`, or `-b`, at the point (both NaN counts as equal).
    fn agrees(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * (1.0 + b.abs())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn structural_equivalence_holds_pointwise(
            x in arb_rv(VARS),
            y in arb_rv(VARS),
            flips in prop::collection::vec(any::<bool>(), VARS),
            swap in (0..VARS, 0..VARS),
        ) {
            let s = scenario();
            prop_assert!(equiv(&x, &x, false), "not reflexive: {x:?}");
            let t = Transform {
                swaps: if swap.0 == swap.1 { Vec::new() } else { vec![(VarId(swap.0), VarId(swap.1))] },
                flipped: (0..VARS).filter(|&v| flips[v]).map(|v| Atom::Var(VarId(v))).collect(),
            };
            let image = t.image(&x);
            let points = draws(&s, 11, 32);
            for (a, b) in [(&image, &x), (&x, &y)] {
                for odd in [false, true] {
                    if equiv(a, b, odd) {
                        for p in &points {
                            let (va, vb) = (a.eval_at(p), b.eval_at(p));
                            let want = if odd { -vb } else { vb };
                            prop_assert!(agrees(va, want), "{a:?} vs {b:?} (odd {odd}) at {p:?}: {va} against {want}");
                        }
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn what_is_proved_symmetric_is_symmetric(x in arb_rv(VARS), seed in any::<u64>()) {
            let s = scenario();
            if let Some(lemma) = symmetric(&s, &x) {
                let n = 20_000;
                let points = draws(&s, seed, n);
                let bound = 7.0 / (n as f64).sqrt();
                // P(x > c) - P(x < -c) is the mean of a value in [-1, 1]
                // and 0 for a symmetric x.
                for c in [0.0, 0.5, 1.5] {
                    let d = mean(&points, |p| {
                        let v = x.eval_at(p);
                        f64::from(u8::from(v > c)) - f64::from(u8::from(v < -c))
                    });
                    prop_assert!(d.abs() <= bound, "{x:?} by {lemma:?}: P(x > {c}) - P(x < -{c}) = {d}");
                }
            }
        }

        #[test]
        fn what_is_proved_gaussian_is_gaussian(x in arb_rv(VARS), seed in any::<u64>()) {
            let s = scenario();
            if let Some(lemma) = gaussian(&s, &x) {
                let n = 40_000;
                let points = draws(&s, seed, n);
                let values: Vec<f64> = points.iter().map(|p| x.eval_at(p)).collect();
                let mu = values.iter().sum::<f64>() / n as f64;
                let sd = (values.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n as f64).sqrt();
                if sd > 1e-9 * (1.0 + mu.abs()) {
                    // A normal law puts 0.6826895 within one sd of its mean
                    // and 0.9544997 within two (Phi(1) - Phi(-1),
                    // Phi(2) - Phi(-2)); the estimated mean and sd add a
                    // little to the sampling error.
                    for (k, want) in [(1.0, 0.682_689_492_137_085_9), (2.0, 0.954_499_736_103_641_6)] {
                        let within = values.iter().filter(|v| (*v - mu).abs() < k * sd).count() as f64 / n as f64;
                        prop_assert!((within - want).abs() < 0.02, "{x:?} by {lemma:?}: {within} within {k} sd");
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn what_is_proved_independent_is_independent(
            x in arb_rv(5),
            y in arb_rv(5),
            seed in any::<u64>(),
        ) {
            // Five variables (z, l, p, r, s) so that the two share some.
            let s = scenario();
            // Disjoint sources are independent by the definition of a
            // source; the other lemmas are the ones to check.
            if let Some(lemma) = independent(&s, &x, &y).filter(|l| *l != Lemma::DisjointSources) {
                let n = 40_000;
                let points = draws(&s, seed, n);
                let xs: Vec<f64> = points.iter().map(|p| x.eval_at(p)).collect();
                let ys: Vec<f64> = points.iter().map(|p| y.eval_at(p)).collect();
                // Each of the three means is of a value in [0, 1] (an
                // indicator), so each is off by at most 3.5/sqrt(n).
                let bound = 3.0 * 3.5 / (n as f64).sqrt();
                let frac = |f: &dyn Fn(usize) -> bool| (0..n).filter(|&i| f(i)).count() as f64 / n as f64;
                for (c, d) in [(0.0, 0.0), (0.5, -0.5), (-0.5, 1.0)] {
                    let both = frac(&|i| xs[i] > c && ys[i] > d);
                    let (px, py) = (frac(&|i| xs[i] > c), frac(&|i| ys[i] > d));
                    prop_assert!(
                        (both - px * py).abs() <= bound,
                        "{x:?} and {y:?} by {lemma:?}: P(x > {c}, y > {d}) - P(x > {c}) P(y > {d}) = {}",
                        both - px * py
                    );
                }
            }
        }
    }
}
