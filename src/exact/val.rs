//! The engine's numbers: a value with an upper bound on its absolute error
//! ([`Val`]), the means that produced it ([`Method`]), and the reason when
//! there is none ([`NoExact`]).
//!
//! Every arithmetic step adds its rounding to the bound under the contract
//! of [`BinOp`]'s module, so a bound covers quadrature estimates,
//! closed-form rounding and arithmetic alike; a side is evaluated from its
//! moments' outcomes here ([`side`]), the first moment without a value
//! deciding why the side has none.

use crate::lang::arith::BinOp;
use crate::model::rv::Side;

/// Unit roundoff; each arithmetic step may add this much relative error.
pub(super) const EPS: f64 = f64::EPSILON;

/// A number with an upper bound on its absolute error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Val {
    pub value: f64,
    pub err: f64,
}

impl Val {
    pub fn exact(value: f64) -> Val {
        Val { value, err: 0.0 }
    }

    pub(super) fn rounded(value: f64, err: f64) -> Val {
        Val {
            value,
            err: err + 2.0 * EPS * value.abs(),
        }
    }

    pub fn scale(self, c: f64) -> Val {
        Val::rounded(self.value * c, self.err * c.abs())
    }

    /// `f(self)` with the error bound taken from the spread of `f` over
    /// the interval `value ± err` (sampled at its ends and middle, which is
    /// exact for monotone `f` and for the small intervals met here).
    pub fn apply(self, f: impl Fn(f64) -> f64) -> Val {
        self.apply_rounding(f, 4.0 * EPS)
    }

    /// [`Val::apply`] for an `f` whose own relative rounding error is at
    /// most `rounding`.
    pub(super) fn apply_rounding(self, f: impl Fn(f64) -> f64, rounding: f64) -> Val {
        let v = f(self.value);
        let spread = if self.err == 0.0 {
            0.0
        } else {
            (f(self.value - self.err) - v)
                .abs()
                .max((f(self.value + self.err) - v).abs())
        };
        Val::rounded(v, spread + rounding * v.abs())
    }

    pub fn is_finite(self) -> bool {
        self.value.is_finite() && !self.err.is_nan()
    }
}

impl Val {
    /// `a op b`: the value is the arithmetic core's ([`BinOp::apply`]); the
    /// bound carries both inputs' errors through the operator and adds the
    /// step's rounding against the core's contract
    /// ([`crate::lang::arith`]): 2 EPS is four roundings of `+ - * /`; a
    /// power is charged its own contract where that exceeds the 4 EPS
    /// [`Val::apply`] allows a function (`x^30` may round by 29 units).
    pub fn binary(op: BinOp, a: Val, b: Val) -> Val {
        let value = op.apply(a.value, b.value);
        let err = match op {
            BinOp::Add | BinOp::Sub => a.err + b.err,
            BinOp::Mul => a.value.abs() * b.err + b.value.abs() * a.err + a.err * b.err,
            BinOp::Div => {
                let denom = (b.value.abs() - b.err).max(0.0);
                if denom == 0.0 {
                    f64::INFINITY
                } else {
                    (a.err + value.abs() * b.err) / denom
                }
            }
            BinOp::Pow => {
                let own = (4.0 * EPS).max(op.rounding(b.value));
                let v = a.apply_rounding(|x| op.apply(x, b.value), own);
                if b.err == 0.0 {
                    return v;
                }
                // d/db a^b = a^b ln a: propagate the exponent's error too.
                let extra = (v.value * a.value.abs().ln()).abs() * b.err;
                return Val::rounded(v.value, v.err + extra);
            }
        };
        Val::rounded(value, err)
    }
}

impl std::ops::Add for Val {
    type Output = Val;
    fn add(self, o: Val) -> Val {
        Val::binary(BinOp::Add, self, o)
    }
}

impl std::ops::Sub for Val {
    type Output = Val;
    fn sub(self, o: Val) -> Val {
        Val::binary(BinOp::Sub, self, o)
    }
}

impl std::ops::Mul for Val {
    type Output = Val;
    fn mul(self, o: Val) -> Val {
        Val::binary(BinOp::Mul, self, o)
    }
}

impl std::ops::Div for Val {
    type Output = Val;
    fn div(self, o: Val) -> Val {
        Val::binary(BinOp::Div, self, o)
    }
}

/// The most numerical means used to reach an exact value, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// Constants and independence rules only.
    Rules,
    /// A law's raw moments or a registered closed form.
    ClosedForm,
    /// One-dimensional adaptive quadrature.
    Quadrature,
    /// Nested quadrature over two variables.
    NestedQuadrature,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Rules => "rules",
            Method::ClosedForm => "closed form",
            Method::Quadrature => "quadrature",
            Method::NestedQuadrature => "nested quadrature",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exact {
    pub val: Val,
    pub method: Method,
}

impl Exact {
    pub(super) fn new(val: Val, method: Method) -> Exact {
        Exact { val, method }
    }

    pub(super) fn rules(value: f64) -> Exact {
        Exact::new(Val::exact(value), Method::Rules)
    }

    pub(super) fn combine(self, o: Exact, f: impl Fn(Val, Val) -> Val) -> Exact {
        Exact::new(f(self.val, o.val), self.method.max(o.method))
    }
}

/// Why there is no exact value.
#[derive(Clone, Debug, PartialEq)]
pub enum NoExact {
    /// The moment does not exist: the integral diverges.
    Undefined(String),
    /// The engine has no exact means for it; sampling decides.
    NoForm(String),
    /// An evaluation produced NaN or infinity, or quadrature failed.
    Failed(String),
}

impl NoExact {
    pub fn reason(&self) -> &str {
        match self {
            NoExact::Undefined(r) | NoExact::NoForm(r) | NoExact::Failed(r) => r,
        }
    }
}

pub type Outcome = Result<Exact, NoExact>;

/// Evaluates a side exactly: every moment exact, then the arithmetic with
/// error propagation. The first moment without an exact value decides.
pub fn side(side: &Side, moments: &[Outcome]) -> Outcome {
    Ok(match side {
        Side::Const(c) => Exact::rules(*c),
        Side::Leaf(i) => moments[*i].clone()?,
        Side::Neg(a) => {
            let a = self::side(a, moments)?;
            Exact::new(a.val.scale(-1.0), a.method)
        }
        Side::Bin(op, a, b) => {
            self::side(a, moments)?.combine(self::side(b, moments)?, |a, b| Val::binary(*op, a, b))
        }
        Side::Call(f, args) => {
            let vals: Vec<Exact> = args
                .iter()
                .map(|a| self::side(a, moments))
                .collect::<Result<_, _>>()?;
            let method = vals.iter().map(|v| v.method).max().unwrap_or(Method::Rules);
            // Only the first argument may carry error into a multi-argument
            // call's bound here; the others are folded as their values.
            let rest: Vec<f64> = vals.iter().skip(1).map(|v| v.val.value).collect();
            let mut err_rest = 0.0;
            for (i, v) in vals.iter().enumerate().skip(1) {
                if v.val.err > 0.0 {
                    let mut args: Vec<f64> = vals.iter().map(|v| v.val.value).collect();
                    let base = f.eval(&args);
                    args[i] += v.val.err;
                    err_rest += (f.eval(&args) - base).abs();
                }
            }
            let val = vals[0].val.apply(|x| {
                let mut a = vec![x];
                a.extend_from_slice(&rest);
                f.eval(&a)
            });
            Exact::new(Val::rounded(val.value, val.err + err_rest), method)
        }
    })
}
