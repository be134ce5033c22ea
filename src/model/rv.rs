//! The resolved form of random expressions, shared by the exact and the
//! sampled engines.
//!
//! Name resolution turns the syntax tree into this: parameters are folded to
//! numbers, derived variables are inlined, file-defined functions are
//! substituted and every derivative is expanded symbolically. What is left
//! refers only to base variables, by index, so both engines see the same
//! closed, self-contained expression and cannot disagree about what it means.

use crate::lang::arith::{BinOp, Tree};
use crate::lang::builtin::Builtin;

/// Index of a base variable in [`crate::model::Scenario::bases`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub usize);

/// A random expression over base variables. Its operators are the
/// arithmetic core's; it is not a [`Tree`] because `Sum` is a binder, not a
/// leaf (see [`crate::lang::arith`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Rv {
    Const(f64),
    Base(VarId),
    Neg(Box<Rv>),
    Bin(BinOp, Box<Rv>, Box<Rv>),
    /// A built-in with its full argument list (defaults filled in).
    Call(Builtin, Vec<Rv>),
    /// The sum of `n` independent copies of the body: every base variable
    /// the body mentions is drawn afresh for each copy, independently of
    /// every other occurrence outside the sum.
    Sum(u64, Box<Rv>),
    /// `sum(i in n, T)`: in its body, [`Rv::Copy`] is a base variable's
    /// copy for the current index and [`Rv::Base`] is the one value of the
    /// draw, shared by every copy and by everything outside the sum. Sums
    /// over one index in one moment run over the same copies: the copies
    /// are a *plate*, named by the index and its count.
    IndexedSum(Box<IndexedSum>),
    /// A base variable's copy in the indexed sum around it; found only in
    /// an [`Rv::IndexedSum`]'s body, which never holds another sum.
    Copy(VarId),
}

/// The parts of [`Rv::IndexedSum`].
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedSum {
    pub plate: Plate,
    pub body: Rv,
}

/// The copies an indexed sum runs over: every sum with the same plate in
/// one moment sees the same draws of each copied variable.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plate {
    pub index: String,
    pub count: u64,
}

/// A moment of random expressions: the leaves of a claim's sides.
#[derive(Clone, Debug, PartialEq)]
pub enum Moment {
    E(Rv),
    Var(Rv),
    Cov(Rv, Rv),
}

/// One side of a claim: a deterministic expression whose leaves are
/// moments, by their index in the claim's list of moments.
pub type Side = Tree<usize>;

impl Side {
    /// Evaluates the side with `moments[i]` standing for moment `i`.
    pub fn eval(&self, moments: &[f64]) -> f64 {
        self.eval_with(&|i| moments[*i])
    }
}

impl Rv {
    /// `a op b`.
    pub fn bin(op: BinOp, a: Rv, b: Rv) -> Rv {
        Rv::Bin(op, Box::new(a), Box::new(b))
    }

    /// The direct subexpressions, left to right, a sum's body included:
    /// a walk that must not cross into a sum's fresh copies stops at
    /// `Rv::Sum` itself.
    pub fn children(&self) -> impl Iterator<Item = &Rv> {
        let (pair, rest): ([Option<&Rv>; 2], &[Rv]) = match self {
            Rv::Const(_) | Rv::Base(_) | Rv::Copy(_) => ([None, None], &[]),
            Rv::Neg(a) | Rv::Sum(_, a) => ([Some(a), None], &[]),
            Rv::IndexedSum(s) => ([Some(&s.body), None], &[]),
            Rv::Bin(_, a, b) => ([Some(a), Some(b)], &[]),
            Rv::Call(_, args) => ([None, None], args),
        };
        pair.into_iter().flatten().chain(rest)
    }

    /// [`Rv::children`], to rewrite in place.
    pub fn children_mut(&mut self) -> impl Iterator<Item = &mut Rv> {
        let (pair, rest): ([Option<&mut Rv>; 2], &mut [Rv]) = match self {
            Rv::Const(_) | Rv::Base(_) | Rv::Copy(_) => ([None, None], &mut []),
            Rv::Neg(a) | Rv::Sum(_, a) => ([Some(&mut **a), None], &mut []),
            Rv::IndexedSum(s) => ([Some(&mut s.body), None], &mut []),
            Rv::Bin(_, a, b) => ([Some(&mut **a), Some(&mut **b)], &mut []),
            Rv::Call(_, args) => ([None, None], args),
        };
        pair.into_iter().flatten().chain(rest)
    }

    /// Evaluates at one point, `vars[i]` being the value of base variable
    /// `i`. A `Sum` cannot be evaluated pointwise: its copies are fresh
    /// variables, so callers handle it before reaching here.
    pub fn eval_at(&self, vars: &[f64]) -> f64 {
        match self {
            Rv::Const(c) => *c,
            Rv::Base(v) => vars[v.0],
            Rv::Neg(a) => -a.eval_at(vars),
            Rv::Bin(op, a, b) => op.apply(a.eval_at(vars), b.eval_at(vars)),
            Rv::Call(f, args) => {
                let mut buf = [0.0; 2];
                for (slot, a) in buf.iter_mut().zip(args) {
                    *slot = a.eval_at(vars);
                }
                f.eval(&buf[..args.len()])
            }
            Rv::Sum(..) | Rv::IndexedSum(_) | Rv::Copy(_) => f64::NAN,
        }
    }

    /// The base variables this expression mentions outside any `Sum`
    /// (a `Sum`'s copies are fresh, so they share nothing with the rest),
    /// an indexed sum's shared variables included and its copies not.
    pub fn bases(&self, out: &mut Vec<VarId>) {
        match self {
            Rv::Sum(..) | Rv::Copy(_) => {}
            Rv::Base(v) => {
                if !out.contains(v) {
                    out.push(*v);
                }
            }
            _ => self.children().for_each(|c| c.bases(out)),
        }
    }

    /// Whether the tree has more than `cap` nodes, found without recursion
    /// and stopping as soon as it knows.
    pub fn larger_than(&self, cap: usize) -> bool {
        self.nodes_up_to(cap.saturating_add(1)) > cap
    }

    /// Its number of nodes, counted without recursion, stopping at `limit`.
    pub fn nodes_up_to(&self, limit: usize) -> usize {
        let mut todo = vec![self];
        let mut count = 0;
        while let Some(rv) = todo.pop() {
            count += 1;
            if count >= limit {
                return count;
            }
            todo.extend(rv.children());
        }
        count
    }

    /// Whether a sum of copies (of either kind), or a copy, is inside.
    pub fn contains_sum(&self) -> bool {
        matches!(self, Rv::Sum(..) | Rv::IndexedSum(_) | Rv::Copy(_))
            || self.children().any(Rv::contains_sum)
    }

    /// Whether an indexed sum (or a copy of one) is inside.
    pub fn contains_indexed(&self) -> bool {
        matches!(self, Rv::IndexedSum(_) | Rv::Copy(_)) || self.children().any(Rv::contains_indexed)
    }

    /// The plates of the indexed sums inside, each once, in order of
    /// first appearance.
    pub fn plates(&self, out: &mut Vec<Plate>) {
        if let Rv::IndexedSum(s) = self {
            if !out.contains(&s.plate) {
                out.push(s.plate.clone());
            }
            return;
        }
        self.children().for_each(|c| c.plates(out));
    }
}

/// An `Rv` printed in the language, with base variables by name: for notes
/// and defects, so a message names what the user wrote.
pub struct Shown<'a> {
    rv: &'a Rv,
    names: &'a [crate::model::BaseVar],
    /// The index of the indexed sum around, for its copies.
    index: &'a str,
}

impl Rv {
    pub fn shown<'a>(&'a self, names: &'a [crate::model::BaseVar]) -> Shown<'a> {
        Shown {
            rv: self,
            names,
            index: "?",
        }
    }
}

impl<'a> Shown<'a> {
    fn sub(&self, rv: &'a Rv) -> Shown<'a> {
        Shown {
            rv,
            names: self.names,
            index: self.index,
        }
    }
}

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Fully parenthesised below the top: unambiguous without a
        // precedence table, and these strings are read, never parsed.
        match self.rv {
            Rv::Const(c) => write!(f, "{c}"),
            Rv::Base(v) => f.write_str(self.names.get(v.0).map_or("?", |b| b.name.as_str())),
            Rv::Neg(a) => write!(f, "-({})", self.sub(a)),
            Rv::Bin(op @ (BinOp::Add | BinOp::Sub), a, b) => {
                write!(f, "({}{}{})", self.sub(a), op.symbol(), self.sub(b))
            }
            Rv::Bin(op, a, b) => write!(f, "{}{}{}", self.sub(a), op.symbol(), self.sub(b)),
            Rv::Call(g, args) => {
                write!(f, "{}(", g.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", self.sub(a))?;
                }
                f.write_str(")")
            }
            Rv::Sum(n, t) => write!(f, "sum({n}, {})", self.sub(t)),
            Rv::IndexedSum(s) => {
                let body = Shown {
                    rv: &s.body,
                    names: self.names,
                    index: &s.plate.index,
                };
                write!(f, "sum({} in {}, {body})", s.plate.index, s.plate.count)
            }
            Rv::Copy(v) => write!(
                f,
                "{}[{}]",
                self.names.get(v.0).map_or("?", |b| b.name.as_str()),
                self.index
            ),
        }
    }
}
