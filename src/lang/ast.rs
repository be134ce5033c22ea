//! The syntax tree of the claim language.
//!
//! Every node carries the byte span of the source text it came from, so that
//! any later stage (name resolution, law parameters, evaluation producing a
//! NaN) can point a caret at the exact place. Spans are byte offsets into the
//! string handed to the parser; callers that embed that string in a larger
//! file (a TOML value) shift them by the string's offset.

use std::ops::Range;

/// The syntax tree's operators are the arithmetic core's.
pub use super::arith::BinOp;

/// A byte range in the parsed source.
pub type Span = Range<usize>;

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// The random-expression operators written with square brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MomentOp {
    /// `E[X]`
    E,
    /// `Var[X]`
    Var,
    /// `Cov[X, Y]`
    Cov,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A numeric literal.
    Num(f64),
    /// A name: a parameter, a variable, or the constants `pi` and `e`.
    Name(String),
    /// Unary minus.
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `f(a, b)`, `f'(a)`, `f''(a)`: `primes` counts the derivative order in
    /// the first argument.
    Call {
        func: String,
        func_span: Span,
        primes: u32,
        args: Vec<Expr>,
    },
    /// `E[X]`, `Var[X]`, `Cov[X, Y]`.
    Moment(MomentOp, Vec<Expr>),
    /// `sum(n, T)`: the sum of `n` independent copies of `T`.
    Sum(Box<Expr>, Box<Expr>),
    /// `sum(i in n, T)`: the sum over `n` copies indexed by `i`, in which
    /// `x[i]` is copy `i` of `x` and a name without `[i]` is one value
    /// shared by every copy. Sums over one index in one moment run over the
    /// same copies.
    IndexedSum {
        index: String,
        index_span: Span,
        count: Box<Expr>,
        body: Box<Expr>,
    },
    /// `x[i]`: copy `i` of the variable `x`, inside `sum(i in n, ...)`.
    Subscript {
        name: String,
        index: String,
        index_span: Span,
    },
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }
}

/// A relation between the two sides of a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Relation {
    /// `=`: an identity.
    Eq,
    /// `~=`: an approximation, judged against a `within` band.
    Approx,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

impl Relation {
    pub fn symbol(self) -> &'static str {
        match self {
            Relation::Eq => "=",
            Relation::Approx => "~=",
            Relation::Le => "<=",
            Relation::Ge => ">=",
        }
    }
}

/// `lhs REL rhs`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimExpr {
    pub lhs: Expr,
    pub relation: Relation,
    pub rhs: Expr,
    /// Span of the relation symbol.
    pub relation_span: Span,
}

/// One line of a model block.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `name = expr`: a parameter (if `expr` is deterministic) or a derived
    /// variable.
    Define {
        name: String,
        name_span: Span,
        value: Expr,
    },
    /// `a ~ Law(p, ...)` or `u, v ~ BivariateNormal(...)`.
    Draw {
        names: Vec<(String, Span)>,
        law: String,
        law_span: Span,
        args: Vec<Expr>,
        /// Span of the whole `Law(...)` call.
        span: Span,
    },
}
