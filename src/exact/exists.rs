//! Does a moment exist? Structure first, because no number can say so.
//!
//! Quadrature of a divergent integral can stop at a finite-looking value,
//! and a sample mean of a variable without a mean is a number like any
//! other; both engines would then report a silent wrong answer. So before
//! either is trusted, E|X|^p is classified from the expression:
//!
//! * **tails**: |X| grows like |v|^d in a base variable v; a law with tail
//!   index alpha (Cauchy 1, Student-t its dof) has E|X|^p finite only if
//!   d p < alpha. Exponential growth is fine under a Normal while the
//!   exponent is at most linear (e^{c v} has every moment), unknown beyond,
//!   and under other unbounded laws unknown;
//! * **poles**: 1/b and b^-k blow up where b vanishes; E|X|^p near a simple
//!   zero behaves like the integral of |t|^{-kp}, finite only if kp < 1. A
//!   denominator that structure shows cannot vanish (exp, sigmoid, a
//!   nonzero constant, a positive plus a square...) is no pole.
//!
//! The answer is three-valued: a moment that is proved infinite is
//! undefined; one that cannot be shown finite is not trusted to sampling.

use super::growth;
use crate::lang::builtin::Builtin;
use crate::model::law::Law;
use crate::model::rv::{Rv, VarId};
use crate::model::{Scenario, Source};

/// Whether E|X|^p is finite.
#[derive(Clone, Debug, PartialEq)]
pub enum Integrable {
    Yes,
    /// Proved infinite, with the reason.
    No(String),
    /// Not shown finite, with the reason.
    Unknown(String),
}

/// Classifies E|x|^p in a scenario: its tails, then its poles.
pub fn integrable(scenario: &Scenario, x: &Rv, p: f64) -> Integrable {
    match tails(scenario, x, p) {
        Integrable::Yes => match poles(x, p).first() {
            Some(b) => Integrable::Unknown(format!(
                "it divides by {}, which may vanish",
                b.shown(&scenario.bases)
            )),
            None => Integrable::Yes,
        },
        other => other,
    }
}

/// The denominators of `x` that may vanish and whose pole is strong enough
/// to make E|x|^p infinite near a zero.
pub fn poles(x: &Rv, p: f64) -> Vec<Rv> {
    denominators(x)
        .into_iter()
        .filter(|(b, k)| k * p >= 1.0 && !nonvanishing(b))
        .map(|(b, _)| b)
        .collect()
}

/// Classifies E|x|^p by how `x` grows against the tails of its laws.
pub fn tails(scenario: &Scenario, x: &Rv, p: f64) -> Integrable {
    let mut unknown = None;
    for (i, b) in scenario.bases.iter().enumerate() {
        let v = VarId(i);
        let g = growth(x, v);
        if g == 0.0 {
            continue;
        }
        let (law, normal_tails) = match &scenario.sources[b.source] {
            Source::Single(law) => (
                Some(law),
                matches!(law, Law::Normal { .. } | Law::TruncatedNormal { .. }),
            ),
            Source::Bivariate(_) => (None, true),
        };
        if let Some(law) = law {
            let (lo, hi) = law.support();
            if lo.is_finite() && hi.is_finite() {
                continue;
            }
            let alpha = law.tail_index();
            if alpha.is_finite() {
                if g * p >= alpha {
                    return Integrable::No(format!(
                        "it grows like |{}|^{} and the law has moments only below order {alpha}",
                        b.name,
                        if g.is_infinite() {
                            "inf".to_string()
                        } else {
                            format!("{}", g * p)
                        }
                    ));
                }
                continue;
            }
        }
        if g.is_finite() {
            continue;
        }
        let order = exp_order(x, v);
        if normal_tails && order <= 1.0 {
            continue;
        }
        unknown.get_or_insert_with(|| {
            format!(
                "it grows exponentially in {} faster than its law's tails are known to allow",
                b.name
            )
        });
    }
    match unknown {
        Some(r) => Integrable::Unknown(r),
        None => Integrable::Yes,
    }
}

/// The degree of the exponent of the fastest exponential in `x`, as a
/// function of `v`: 1 for e^{c v}, 2 for e^{v^2}, infinite for e^{e^v}.
pub fn exp_order(x: &Rv, v: VarId) -> f64 {
    match x {
        Rv::Const(_) | Rv::Base(_) => 0.0,
        Rv::Call(Builtin::Exp, args) => growth(&args[0], v),
        Rv::Sum(_, t) => exp_order(t, v),
        Rv::Neg(a) => exp_order(a, v),
        Rv::Add(a, b) | Rv::Sub(a, b) | Rv::Mul(a, b) | Rv::Div(a, b) | Rv::Pow(a, b) => {
            exp_order(a, v).max(exp_order(b, v))
        }
        Rv::Call(_, args) => args.iter().map(|a| exp_order(a, v)).fold(0.0, f64::max),
    }
}

/// Every random denominator of `x` with the order of its pole: `a / b`
/// gives (b, 1), `b^-k` gives (b, k).
fn denominators(x: &Rv) -> Vec<(Rv, f64)> {
    let mut out = Vec::new();
    collect_denominators(x, &mut out);
    out
}

fn collect_denominators(x: &Rv, out: &mut Vec<(Rv, f64)>) {
    match x {
        Rv::Const(_) | Rv::Base(_) => {}
        Rv::Div(a, b) => {
            collect_denominators(a, out);
            collect_denominators(b, out);
            if !matches!(**b, Rv::Const(_)) {
                out.push(((**b).clone(), 1.0));
            }
        }
        Rv::Pow(a, b) => {
            collect_denominators(a, out);
            collect_denominators(b, out);
            if let Rv::Const(k) = **b
                && k < 0.0
                && !matches!(**a, Rv::Const(_))
            {
                out.push(((**a).clone(), -k));
            }
        }
        Rv::Sum(_, t) | Rv::Neg(t) => collect_denominators(t, out),
        Rv::Add(a, b) | Rv::Sub(a, b) | Rv::Mul(a, b) => {
            collect_denominators(a, out);
            collect_denominators(b, out);
        }
        Rv::Call(_, args) => args.iter().for_each(|a| collect_denominators(a, out)),
    }
}

/// `x` cannot be zero, by its structure.
pub fn nonvanishing(x: &Rv) -> bool {
    match x {
        Rv::Const(c) => *c != 0.0,
        Rv::Call(Builtin::Exp | Builtin::Sigmoid | Builtin::Softplus | Builtin::NormPdf, _) => true,
        Rv::Neg(a) => nonvanishing(a),
        Rv::Mul(a, b) => nonvanishing(a) && nonvanishing(b),
        Rv::Pow(a, _) => nonvanishing(a),
        Rv::Add(a, b) => (positive(a) && nonnegative(b)) || (nonnegative(a) && positive(b)),
        _ => false,
    }
}

fn positive(x: &Rv) -> bool {
    match x {
        Rv::Const(c) => *c > 0.0,
        Rv::Call(Builtin::Exp | Builtin::Sigmoid | Builtin::Softplus | Builtin::NormPdf, _) => true,
        Rv::Add(a, b) => (positive(a) && nonnegative(b)) || (nonnegative(a) && positive(b)),
        Rv::Mul(a, b) => positive(a) && positive(b),
        _ => false,
    }
}

fn nonnegative(x: &Rv) -> bool {
    match x {
        Rv::Const(c) => *c >= 0.0,
        Rv::Call(
            Builtin::Abs | Builtin::Relu | Builtin::Step | Builtin::NormCdf | Builtin::Sqrt,
            _,
        ) => true,
        Rv::Pow(_, b) => matches!(**b, Rv::Const(k) if k == k.trunc() && (k as i64) % 2 == 0),
        Rv::Add(a, b) | Rv::Mul(a, b) => nonnegative(a) && nonnegative(b),
        _ => positive(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::parse_model;
    use crate::model::resolve::build;

    fn classify(model: &str, expr: &str, p: f64) -> Integrable {
        let funcs: std::collections::HashMap<String, crate::lang::FunctionDef> = Default::default();
        let m = build("t", &parse_model(model).unwrap(), &funcs).unwrap();
        let rv = m
            .rv(&crate::lang::parse_expr(expr).unwrap(), &funcs)
            .unwrap();
        integrable(&m.scenario, &rv, p)
    }

    #[test]
    fn tails() {
        let n = "y ~ Normal(0, 1); c ~ Cauchy(0, 1); t ~ StudentsT(0, 1, 3); l ~ Laplace(0, 1); u ~ Uniform(0, 1)";
        assert_eq!(classify(n, "y^4", 2.0), Integrable::Yes);
        assert_eq!(classify(n, "exp(3*y)", 4.0), Integrable::Yes);
        assert!(matches!(
            classify(n, "exp(y^2)", 1.0),
            Integrable::Unknown(_)
        ));
        assert!(matches!(
            classify(n, "exp(exp(y))", 1.0),
            Integrable::Unknown(_)
        ));
        assert!(matches!(classify(n, "relu(c)", 1.0), Integrable::No(_)));
        assert_eq!(classify(n, "tanh(c)", 4.0), Integrable::Yes);
        assert_eq!(classify(n, "t", 2.0), Integrable::Yes);
        assert!(matches!(classify(n, "t", 4.0), Integrable::No(_)));
        assert!(matches!(classify(n, "exp(l)", 1.0), Integrable::Unknown(_)));
        assert_eq!(classify(n, "exp(exp(u))", 4.0), Integrable::Yes);
    }

    #[test]
    fn poles() {
        let n = "y ~ Normal(0, 1); u ~ Uniform(0, 1)";
        assert!(matches!(classify(n, "1/y", 1.0), Integrable::Unknown(_)));
        assert!(matches!(classify(n, "y^-2", 1.0), Integrable::Unknown(_)));
        assert_eq!(classify(n, "abs(y)^-0.25", 2.0), Integrable::Yes);
        assert!(matches!(
            classify(n, "abs(y)^-0.25", 4.0),
            Integrable::Unknown(_)
        ));
        assert_eq!(classify(n, "y/(1 + y^2)", 4.0), Integrable::Yes);
        assert_eq!(classify(n, "1/exp(y)", 4.0), Integrable::Yes);
        assert_eq!(classify(n, "y/sigmoid(y)", 2.0), Integrable::Yes);
        assert!(matches!(classify(n, "1/u", 1.0), Integrable::Unknown(_)));
    }
}
