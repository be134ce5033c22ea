//! The arithmetic core: the one binary operator type, the one place a
//! binary operator is evaluated, and the one tree of arithmetic over
//! leaves.
//!
//! Every stage that meets `a + b` — the parser and printer, the symbolic
//! derivative's constant folding, name resolution's folding, the sampler's
//! lanes, pointwise evaluation under quadrature, a claim's sides and a
//! series claim's terms — names the operator as a [`BinOp`] and evaluates it
//! with [`BinOp::apply`]. Two stages that computed `x^3` differently would
//! make the exact and the sampled engines disagree in the last bits about
//! what a claim means, and the exact engine's error bounds are stated
//! against this one definition (its rounding contract, below).
//!
//! # Rounding contract
//!
//! With `u = 2^-53` (half of `f64::EPSILON`), a finite, normal result of
//! `apply` is the exact result of the operator on its (exact) inputs times
//! `1 + d`, where
//!
//! - `Add`, `Sub`, `Mul`, `Div`: `|d| <= u` (IEEE 754, round to nearest);
//! - `Pow` with an integer exponent `n`, `|n| <= 64`: a chain of
//!   multiplications by repeated squaring (`f64::powi`), so `|d| <=
//!   gamma(|n| - 1)` for `n > 0` and `gamma(|n|)` for `n < 0` (the
//!   reciprocal rounds once more), with `gamma(k) = k u / (1 - k u)`: every
//!   product of `k + 1` factors carries at most `k` roundings (Higham,
//!   *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Lemma 3.1);
//!   `n = 0` gives exactly 1, even for NaN and infinities;
//! - `Pow` otherwise: the platform's `pow` (`f64::powf`), within one ulp,
//!   `|d| <= 2u`; NaN for a negative base.
//!
//! Results in the subnormal range add an absolute error below `2^-1074` on
//! top. The exact engine's `Val::binary` (in `exact`) charges each step
//! against this contract.
//!
//! # One tree over leaves
//!
//! A claim's side is arithmetic over moments; a series claim's side is the
//! same arithmetic over a network's recorded statistics. They are one
//! [`Tree`] with different leaves (`Tree<usize>`, a moment's index, and
//! `Tree<Atom>`), so evaluation, the size of a side before its terms cancel,
//! and the walk over children are written once.
//!
//! Two trees stay separate, because they are not this shape:
//! - the syntax tree ([`super::ast::ExprKind`]) carries spans, names,
//!   primes and moment brackets that resolution removes;
//! - the random expression `Rv` (in `model`) has `sum(n, T)`, which is
//!   not a leaf but a binder: its body is a subtree whose variables are fresh
//!   copies, so every walk must decide whether to enter it (the variables an
//!   expression shares with others stop there; its size does not), and the
//!   sampler compiles it to a loop. It shares [`BinOp`] and offers the same
//!   `children()`.

use super::builtin::Builtin;

/// A binary arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    /// `a op b`: the only evaluation of a binary operator (see the module's
    /// rounding contract).
    #[inline(always)]
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Pow => pow(a, b),
        }
    }

    /// The operator in absolute arithmetic over sizes: a sum or difference
    /// of terms is as large as its terms together, before they cancel.
    pub fn on_magnitudes(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add | BinOp::Sub => a + b,
            BinOp::Mul | BinOp::Div | BinOp::Pow => self.apply(a, b),
        }
    }

    /// The largest relative error `apply(a, b)` adds to its exact result,
    /// for a right operand `b` (the exponent of `Pow`): the rounding
    /// contract above, as a number.
    pub fn rounding(self, b: f64) -> f64 {
        let u = f64::EPSILON / 2.0;
        let gamma = |k: f64| k * u / (1.0 - k * u);
        match self {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => u,
            BinOp::Pow if is_small_integer(b) && b > 0.0 => gamma(b - 1.0),
            BinOp::Pow if is_small_integer(b) => gamma(-b),
            BinOp::Pow => 2.0 * u,
        }
    }

    /// The operator as the language writes it, with the spaces the printer
    /// puts around it.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => " + ",
            BinOp::Sub => " - ",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
        }
    }
}

/// Whether `pow` takes `b` as an integer exponent.
#[inline(always)]
pub fn is_small_integer(b: f64) -> bool {
    b == b.trunc() && b.abs() <= 64.0
}

/// `a^b`. Integer exponents up to 64 go through `powi` (repeated squaring):
/// it is several times faster than `powf`, and it is what the sampler's
/// squares and cubes (`x*x`, `x*x*x`) compute, so a power folded at compile
/// time, evaluated under quadrature and computed lane by lane are the same
/// bits. It is not more exact than `powf` (it rounds at every
/// multiplication: see the rounding contract), and `powf` too gives 4 for
/// `(-2)^2`: IEEE `pow` is defined for a negative base with an integer
/// exponent.
#[inline]
pub fn pow(a: f64, b: f64) -> f64 {
    if is_small_integer(b) {
        a.powi(b as i32)
    } else {
        a.powf(b)
    }
}

/// Arithmetic over leaves of type `L`: numbers, negation, binary operators
/// and built-in calls (with every argument, defaults filled in).
#[derive(Clone, Debug, PartialEq)]
pub enum Tree<L> {
    Const(f64),
    Leaf(L),
    Neg(Box<Tree<L>>),
    Bin(BinOp, Box<Tree<L>>, Box<Tree<L>>),
    Call(Builtin, Vec<Tree<L>>),
}

impl<L> Tree<L> {
    /// `a op b`.
    pub fn bin(op: BinOp, a: Tree<L>, b: Tree<L>) -> Tree<L> {
        Tree::Bin(op, Box::new(a), Box::new(b))
    }

    /// The direct subtrees, left to right.
    pub fn children(&self) -> impl Iterator<Item = &Tree<L>> {
        let (pair, rest): ([Option<&Tree<L>>; 2], &[Tree<L>]) = match self {
            Tree::Const(_) | Tree::Leaf(_) => ([None, None], &[]),
            Tree::Neg(a) => ([Some(a), None], &[]),
            Tree::Bin(_, a, b) => ([Some(a), Some(b)], &[]),
            Tree::Call(_, args) => ([None, None], args),
        };
        pair.into_iter().flatten().chain(rest)
    }

    /// Calls `f` on every leaf, left to right.
    pub fn for_each_leaf<'a>(&'a self, f: &mut impl FnMut(&'a L)) {
        match self {
            Tree::Leaf(l) => f(l),
            _ => self.children().for_each(|c| c.for_each_leaf(f)),
        }
    }

    /// The value, with `leaf` giving each leaf's.
    pub fn eval_with(&self, leaf: &dyn Fn(&L) -> f64) -> f64 {
        match self {
            Tree::Const(c) => *c,
            Tree::Leaf(l) => leaf(l),
            Tree::Neg(a) => -a.eval_with(leaf),
            Tree::Bin(op, a, b) => op.apply(a.eval_with(leaf), b.eval_with(leaf)),
            Tree::Call(f, args) => {
                let v: Vec<f64> = args.iter().map(|a| a.eval_with(leaf)).collect();
                f.eval(&v)
            }
        }
    }

    /// The size the tree has before its terms cancel, with `leaf` giving
    /// each leaf's size: every operator in absolute arithmetic
    /// ([`BinOp::on_magnitudes`]) and a call as the size of its value.
    pub fn magnitude(&self, leaf: &dyn Fn(&L) -> f64) -> f64 {
        match self {
            Tree::Const(c) => c.abs(),
            Tree::Leaf(l) => leaf(l),
            Tree::Neg(a) => a.magnitude(leaf),
            Tree::Bin(op, a, b) => op.on_magnitudes(a.magnitude(leaf), b.magnitude(leaf)),
            Tree::Call(f, args) => {
                let v: Vec<f64> = args.iter().map(|a| a.magnitude(leaf)).collect();
                f.eval(&v).abs()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integer powers against their exact values: `k^n` is an integer below
    /// 2^128 for these bases and exponents, so `u128` holds it exactly, and
    /// so does a computed power converted back (an `f64` that large is an
    /// integer).
    #[test]
    fn integer_powers_stay_within_the_contract() {
        let mut rounded = 0;
        for (base, top) in [(3u128, 64u32), (5, 55), (7, 45)] {
            for n in 1..=top {
                let exact = base.pow(n);
                let got = pow(base as f64, f64::from(n));
                let rel = (got as u128).abs_diff(exact) as f64 / exact as f64;
                assert!(
                    rel <= BinOp::Pow.rounding(f64::from(n)),
                    "{base}^{n}: relative error {rel:e} over the contract"
                );
                if rel > 0.0 {
                    rounded += 1;
                }
            }
        }
        // powi is not exact once the result leaves the 53-bit integers
        assert!(rounded > 50, "{rounded} powers rounded");
        // and powf needs no help with a negative base and an integer power
        assert_eq!((-2f64).powf(2.0), 4.0);
        assert_eq!(pow(-2.0, 2.0), 4.0);
        assert!(pow(-2.0, 0.5).is_nan());
        assert_eq!(pow(f64::NAN, 0.0), 1.0);
    }

    #[test]
    fn one_tree_walks_evaluates_and_sizes() {
        // (m0 - 2*m1)^2 + sqrt(m0), with m0 = 9 and m1 = 4
        let t: Tree<usize> = Tree::bin(
            BinOp::Add,
            Tree::bin(
                BinOp::Pow,
                Tree::bin(
                    BinOp::Sub,
                    Tree::Leaf(0),
                    Tree::bin(BinOp::Mul, Tree::Const(2.0), Tree::Leaf(1)),
                ),
                Tree::Const(2.0),
            ),
            Tree::Call(Builtin::Sqrt, vec![Tree::Leaf(0)]),
        );
        let m = [9.0, 4.0];
        assert_eq!(t.eval_with(&|i| m[*i]), 1.0 + 3.0);
        // sizes add where values cancel: (9 + 8)^2 + 3
        assert_eq!(t.magnitude(&|i| m[*i]), 289.0 + 3.0);
        let mut leaves = Vec::new();
        t.for_each_leaf(&mut |l| leaves.push(*l));
        assert_eq!(leaves, [0, 1, 0]);
        assert_eq!(t.children().count(), 2);
        assert_eq!(Tree::<usize>::Const(1.0).children().count(), 0);
    }
}
