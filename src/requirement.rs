//! Requirements: the assumptions a claim names, decided in each scenario.
//!
//! A scenario's assumptions are never taken on trust: `symmetric(y)` is
//! decided from what `y` is. Structure comes first, because it is a proof:
//! a base law symmetric about zero, an odd function of symmetric variables,
//! a product with an independent symmetric factor, a sum of independent
//! symmetric terms, variables that share no source. When structure is
//! silent the exact engine tests a consequence (a nonzero mean, third
//! moment, covariance or excess kurtosis refutes the predicate). Where the
//! exact engine has no value either, the same consequences are tested by
//! sampling ([`Pending`], run by the audit once the run's test budget is
//! known): a significant deviation refutes; only `zero_mean` can also be
//! confirmed, when the interval for the mean lies within the resolution of
//! its root mean square. What none of these settles is reported as
//! undecided and counted as not met, so an expectation is never built on an
//! unproved assumption.

use crate::diag::Diag;
use crate::exact::exists::Integrable;
use crate::exact::{Engine, NoExact};
use crate::lang::Functions;
use crate::lang::ast::{Expr, ExprKind};
use crate::lang::builtin::{self, Builtin};
use crate::model::resolve::Model;
use crate::model::rv::{Moment, Rv, VarId};
use crate::model::{Scenario, Source};
use crate::sample::{SampleError, Sampler, StreamKey};
use crate::verdict::{BATCHES, standard_error};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Predicate {
    ZeroMean,
    Symmetric,
    Independent,
    Gaussian,
    FiniteMoment,
}

impl Predicate {
    const ALL: [(Predicate, &'static str, usize); 5] = [
        (Predicate::ZeroMean, "zero_mean", 1),
        (Predicate::Symmetric, "symmetric", 1),
        (Predicate::Independent, "independent", 2),
        (Predicate::Gaussian, "gaussian", 1),
        (Predicate::FiniteMoment, "finite_moment", 2),
    ];
}

/// A parsed requirement such as `independent(w, x)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    /// As written, for reports.
    pub text: String,
    pub predicate: Predicate,
    pub args: Vec<Expr>,
}

impl Requirement {
    /// Reads a requirement from its parsed expression.
    pub fn from_expr(text: &str, e: &Expr) -> Result<Requirement, Diag> {
        let valid =
            "zero_mean(X), symmetric(X), independent(X, Y), gaussian(X), finite_moment(X, k)";
        let ExprKind::Call {
            func,
            func_span,
            primes: 0,
            args,
        } = &e.kind
        else {
            return Err(Diag::new(
                e.span.clone(),
                "a requirement is a predicate applied to expressions",
                valid,
            ));
        };
        let Some((predicate, _, arity)) = Predicate::ALL.iter().find(|(_, n, _)| n == func) else {
            return Err(Diag::new(
                func_span.clone(),
                format!("unknown predicate `{func}`"),
                valid,
            ));
        };
        if args.len() != *arity {
            return Err(Diag::new(
                e.span.clone(),
                format!("{func} takes {arity} argument(s), got {}", args.len()),
                valid,
            ));
        }
        Ok(Requirement {
            text: text.trim().to_string(),
            predicate: *predicate,
            args: args.clone(),
        })
    }
}

/// How a requirement was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// Proved or refuted from the model's structure.
    Structure,
    /// Refuted or confirmed by an exact value.
    Exact,
    /// Refuted (or, for a mean, confirmed) by a statistical test.
    Sampled,
    /// Nothing settled it; counted as not met.
    Undecided,
}

impl By {
    pub fn name(self) -> &'static str {
        match self {
            By::Structure => "structure",
            By::Exact => "exact",
            By::Sampled => "sampled",
            By::Undecided => "undecided",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub met: bool,
    pub by: By,
    /// The evidence, in words.
    pub why: String,
    /// For an undecided requirement: the sampled test that may settle it.
    pub pending: Option<Pending>,
}

/// Consequences of a predicate that sampling can test: expectations that
/// must vanish if it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    /// Each with how it reads: `E[x]`, `Cov[x, y]`.
    pub checks: Vec<(String, Moment)>,
    /// Whether a check consistent with 0 confirms the predicate (only for
    /// `zero_mean`: symmetry and independence are more than their moments).
    pub may_confirm: bool,
}

/// Draws per batch for a predicate's sampled test (one look).
const PENDING_DRAWS: u64 = 16384;

impl Pending {
    /// How many statistical tests it spends.
    pub fn tests(&self) -> u64 {
        self.checks.len() as u64
    }

    /// Runs the test and replaces `decision` with its outcome (or leaves it
    /// undecided, with the evidence).
    pub fn settle(
        &self,
        scenario: &Scenario,
        key: StreamKey,
        critical: f64,
        resolution: f64,
    ) -> Decision {
        // Each check's scale: its root mean square for a mean, the product
        // of standard deviations for a covariance.
        let mut plan: Vec<Moment> = self.checks.iter().map(|(_, m)| m.clone()).collect();
        let scales: Vec<(usize, usize)> = self
            .checks
            .iter()
            .map(|(_, m)| {
                let mut var = |x: &Rv| {
                    plan.push(Moment::Var(x.clone()));
                    plan.len() - 1
                };
                match m {
                    Moment::E(x) | Moment::Var(x) => {
                        let i = var(x);
                        (i, i)
                    }
                    Moment::Cov(x, y) => (var(x), var(y)),
                }
            })
            .collect();
        let mut sampler = Sampler::new(scenario, &plan, key, BATCHES);
        let undecided = |why: String| Decision {
            pending: None,
            ..Decision::undecided(why)
        };
        if let Err(SampleError::NonFinite { value, .. }) = sampler.extend(PENDING_DRAWS) {
            return undecided(format!("sampling met {value}"));
        }
        let pooled = sampler.pooled();
        let batches = sampler.batch_estimates();
        let mut confirmed = self.may_confirm;
        let mut evidence = Vec::new();
        for (i, ((what, m), (a, b))) in self.checks.iter().zip(&scales).enumerate() {
            let est = pooled[i];
            let se = standard_error(batches.iter().map(|row| row[i]));
            let scale = match m {
                Moment::E(_) => (pooled[*a].max(0.0) + est * est).sqrt(),
                _ => (pooled[*a].max(0.0) * pooled[*b].max(0.0)).sqrt(),
            };
            if est.abs() > critical * se {
                return Decision {
                    met: false,
                    by: By::Sampled,
                    why: format!("{what} = {est:.4} ± {se:.1e} is not 0"),
                    pending: None,
                };
            }
            confirmed &= est.abs() + critical * se <= resolution * scale;
            evidence.push(format!("{what} = {est:.2e} ± {se:.1e}"));
        }
        if confirmed {
            Decision {
                met: true,
                by: By::Sampled,
                why: format!(
                    "{}: 0 within {}% of its size",
                    evidence.join(", "),
                    resolution * 100.0
                ),
                pending: None,
            }
        } else {
            undecided(format!(
                "sampling finds nothing against it ({})",
                evidence.join(", ")
            ))
        }
    }
}

impl Decision {
    fn structure(met: bool, why: impl Into<String>) -> Decision {
        Decision {
            met,
            by: By::Structure,
            why: why.into(),
            pending: None,
        }
    }

    fn exact(met: bool, why: impl Into<String>) -> Decision {
        Decision {
            met,
            by: By::Exact,
            why: why.into(),
            pending: None,
        }
    }

    fn undecided(why: impl Into<String>) -> Decision {
        Decision {
            met: false,
            by: By::Undecided,
            why: why.into(),
            pending: None,
        }
    }

    /// Undecided for now; the sampled test may settle it.
    fn pending(
        why: impl Into<String>,
        checks: Vec<(String, Moment)>,
        may_confirm: bool,
    ) -> Decision {
        Decision {
            pending: (!checks.is_empty()).then_some(Pending {
                checks,
                may_confirm,
            }),
            ..Decision::undecided(why)
        }
    }
}

/// Decides a requirement in a scenario.
pub fn decide(req: &Requirement, model: &Model, funcs: &dyn Functions) -> Result<Decision, Diag> {
    let x = model.rv(&req.args[0], funcs)?;
    let s = &model.scenario;
    let engine = Engine::new(s);
    // Evidence is worded with the arguments as the user wrote them.
    let arg = |i: usize| req.args[i].to_string();
    Ok(match req.predicate {
        Predicate::Symmetric => symmetric(s, &engine, &x, &arg(0)),
        Predicate::ZeroMean => zero_mean(s, &engine, &x, &arg(0)),
        Predicate::Independent => {
            let y = model.rv(&req.args[1], funcs)?;
            independent(s, &engine, &x, &y, (&arg(0), &arg(1)))
        }
        Predicate::Gaussian => gaussian(s, &engine, &x),
        Predicate::FiniteMoment => {
            let k = match model.rv(&req.args[1], funcs)? {
                Rv::Const(k) if k > 0.0 => k,
                _ => {
                    return Err(Diag::new(
                        req.args[1].span.clone(),
                        "the order of finite_moment must be a positive number",
                        "finite_moment(X, 2)",
                    ));
                }
            };
            finite_moment(s, &x, k)
        }
    })
}

/// Whether `x` is symmetric about zero, if structure proves it.
fn proved_symmetric(s: &Scenario, x: &Rv) -> bool {
    let indep = |a: &Rv, b: &Rv| disjoint(s, a, b);
    match x {
        Rv::Const(c) => *c == 0.0,
        Rv::Base(v) => base_symmetric(s, *v),
        Rv::Neg(a) => proved_symmetric(s, a),
        Rv::Mul(a, b) | Rv::Div(a, b) => {
            (indep(a, b) && (proved_symmetric(s, a) || proved_symmetric(s, b))) || odd(s, x)
        }
        Rv::Add(a, b) | Rv::Sub(a, b) => {
            (indep(a, b) && proved_symmetric(s, a) && proved_symmetric(s, b)) || odd(s, x)
        }
        Rv::Sum(_, t) => proved_symmetric(s, t),
        Rv::Call(f, args) => (is_odd(*f) && proved_symmetric(s, &args[0])) || odd(s, x),
        Rv::Pow(..) => odd(s, x),
    }
}

fn base_symmetric(s: &Scenario, v: VarId) -> bool {
    match &s.sources[s.bases[v.0].source] {
        Source::Single(law) => law.is_symmetric_about() == Some(0.0),
        Source::Bivariate(_) => true,
    }
}

/// `x` is an odd function of base variables whose joint law is unchanged by
/// flipping all their signs at once.
fn odd(s: &Scenario, x: &Rv) -> bool {
    let mut vars = Vec::new();
    x.bases(&mut vars);
    vars.iter().all(|v| base_symmetric(s, *v)) && parity(x) == Some(Parity::Odd)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parity {
    Even,
    Odd,
}

fn parity(x: &Rv) -> Option<Parity> {
    use Parity::*;
    let mul = |a: Parity, b: Parity| if a == b { Even } else { Odd };
    match x {
        Rv::Const(c) if *c == 0.0 => Some(Odd),
        Rv::Const(_) => Some(Even),
        Rv::Base(_) => Some(Odd),
        Rv::Neg(a) => parity(a),
        Rv::Add(a, b) | Rv::Sub(a, b) => match (parity(a)?, parity(b)?) {
            (p, q) if p == q => Some(p),
            _ => {
                // zero is both: 0 + odd is odd.
                if matches!(**a, Rv::Const(c) if c == 0.0) {
                    parity(b)
                } else if matches!(**b, Rv::Const(c) if c == 0.0) {
                    parity(a)
                } else {
                    None
                }
            }
        },
        Rv::Mul(a, b) | Rv::Div(a, b) => Some(mul(parity(a)?, parity(b)?)),
        Rv::Pow(a, b) => match **b {
            Rv::Const(k) if k == k.trunc() => {
                let p = parity(a)?;
                if (k as i64) % 2 == 0 {
                    Some(Even)
                } else {
                    Some(p)
                }
            }
            _ => None,
        },
        Rv::Call(f, args) => {
            let p = parity(&args[0])?;
            let rest_const = args[1..].iter().all(|a| matches!(a, Rv::Const(_)));
            if !rest_const {
                None
            } else if p == Even {
                Some(Even)
            } else if is_odd(*f) {
                Some(Odd)
            } else if is_even(*f) {
                Some(Even)
            } else {
                None
            }
        }
        // A sum's copies are fresh variables; its parity as a function of
        // the outer variables is irrelevant, and flipping its own copies
        // is covered by `proved_symmetric`.
        Rv::Sum(..) => None,
    }
}

fn is_odd(f: Builtin) -> bool {
    f.parity() == builtin::Parity::Odd
}

fn is_even(f: Builtin) -> bool {
    f.parity() == builtin::Parity::Even
}

/// Whether two expressions share no source of randomness.
fn disjoint(s: &Scenario, a: &Rv, b: &Rv) -> bool {
    let sources = |x: &Rv| {
        let mut v = Vec::new();
        x.bases(&mut v);
        v.into_iter()
            .map(|v| s.bases[v.0].source)
            .collect::<Vec<_>>()
    };
    let (sa, sb) = (sources(a), sources(b));
    let shared_sum = shared_sums(a, b);
    !shared_sum && !sa.iter().any(|x| sb.contains(x))
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
        Rv::Const(_) | Rv::Base(_) => {}
        Rv::Neg(a) => collect_sums(a, out),
        Rv::Add(a, b) | Rv::Sub(a, b) | Rv::Mul(a, b) | Rv::Div(a, b) | Rv::Pow(a, b) => {
            collect_sums(a, out);
            collect_sums(b, out);
        }
        Rv::Call(_, args) => args.iter().for_each(|a| collect_sums(a, out)),
    }
}

/// `x` is exactly zero up to its error bound and rounding relative to its
/// root mean square.
fn vanishes(engine: &Engine, x: &Rv) -> Result<(bool, f64), NoExact> {
    let m = engine.expect(x)?;
    let rms = engine
        .expect(&Rv::Pow(Box::new(x.clone()), Box::new(Rv::Const(2.0))))
        .map(|e| e.val.value.abs().sqrt())
        .unwrap_or(0.0);
    Ok((m.val.value.abs() <= m.val.err + 1e-12 * rms, m.val.value))
}

fn symmetric(s: &Scenario, engine: &Engine, x: &Rv, name: &str) -> Decision {
    if proved_symmetric(s, x) {
        return Decision::structure(
            true,
            "built from laws symmetric about 0 by odd maps and independent products",
        );
    }
    // A variable symmetric about 0 has every odd moment zero; refute by
    // finding one that is not.
    for k in [1.0, 3.0] {
        let xk = Rv::Pow(Box::new(x.clone()), Box::new(Rv::Const(k)));
        match vanishes(engine, &xk) {
            Ok((false, v)) => {
                let what = if k == 1.0 {
                    format!("E[{name}]")
                } else {
                    format!("E[{}^{k}]", atom(name))
                };
                return Decision::exact(false, format!("{what} = {v:.6} is not 0"));
            }
            Ok((true, _)) => {}
            Err(NoExact::Undefined(_)) => {}
            Err(e) => {
                // Odd moments that sampling can estimate (their estimators
                // need twice the order finite), and a bounded odd function.
                let mut checks = Vec::new();
                if finite_moment(s, x, 2.0).met {
                    checks.push((format!("E[{name}]"), Moment::E(x.clone())));
                }
                if finite_moment(s, x, 6.0).met {
                    let cube = Rv::Pow(Box::new(x.clone()), Box::new(Rv::Const(3.0)));
                    checks.push((format!("E[{}^3]", atom(name)), Moment::E(cube)));
                }
                let t = Rv::Call(Builtin::Tanh, vec![x.clone()]);
                checks.push((format!("E[tanh({name})]"), Moment::E(t)));
                return Decision::pending(
                    format!("no exact odd moment: {}", e.reason()),
                    checks,
                    false,
                );
            }
        }
    }
    // Odd moments vanish; a bounded odd test function settles laws whose
    // odd moments are not enough (and those without moments).
    let t = Rv::Call(Builtin::Tanh, vec![x.clone()]);
    match vanishes(engine, &t) {
        Ok((false, v)) => Decision::exact(false, format!("E[tanh({name})] = {v:.6} is not 0")),
        Ok((true, _)) => Decision::undecided("odd moments vanish, but symmetry is not proved"),
        Err(e) => Decision::undecided(format!("no exact test: {}", e.reason())),
    }
}

fn zero_mean(s: &Scenario, engine: &Engine, x: &Rv, name: &str) -> Decision {
    match engine.expect(x) {
        Err(NoExact::Undefined(r)) => {
            Decision::exact(false, format!("E[{name}] does not exist: {r}"))
        }
        Err(e) => {
            if proved_symmetric(s, x) && finite_moment(s, x, 1.0).met {
                Decision::structure(true, "symmetric about 0 with a finite mean")
            } else if finite_moment(s, x, 2.0).met {
                let checks = vec![(format!("E[{name}]"), Moment::E(x.clone()))];
                Decision::pending(format!("no exact mean: {}", e.reason()), checks, true)
            } else {
                Decision::undecided(format!("no exact mean: {}", e.reason()))
            }
        }
        Ok(_) => match vanishes(engine, x) {
            Ok((true, _)) => Decision::exact(true, format!("E[{name}] = 0")),
            Ok((false, v)) => Decision::exact(false, format!("E[{name}] = {v:.6}")),
            Err(e) => Decision::undecided(e.reason().to_string()),
        },
    }
}

fn independent(s: &Scenario, engine: &Engine, x: &Rv, y: &Rv, names: (&str, &str)) -> Decision {
    if disjoint(s, x, y) {
        return Decision::structure(true, "they share no base variable");
    }
    if let Some(d) = uncorrelated_pair(s, x, y) {
        return d;
    }
    for (a, b, what) in [
        (
            x.clone(),
            y.clone(),
            format!("Cov[{}, {}]", names.0, names.1),
        ),
        (
            square(x),
            square(y),
            format!("Cov[{}^2, {}^2]", atom(names.0), atom(names.1)),
        ),
    ] {
        match engine.cov(&a, &b) {
            Ok(c) if c.val.value.abs() > c.val.err + 1e-12 => {
                return Decision::exact(false, format!("{what} = {:.6} is not 0", c.val.value));
            }
            Ok(_) => {}
            Err(e) => {
                let mut checks = Vec::new();
                if finite_moment(s, x, 4.0).met && finite_moment(s, y, 4.0).met {
                    checks.push((
                        format!("Cov[{}, {}]", names.0, names.1),
                        Moment::Cov(x.clone(), y.clone()),
                    ));
                }
                if finite_moment(s, x, 8.0).met && finite_moment(s, y, 8.0).met {
                    checks.push((
                        format!("Cov[{}^2, {}^2]", atom(names.0), atom(names.1)),
                        Moment::Cov(square(x), square(y)),
                    ));
                }
                return Decision::pending(
                    format!("they share base variables; {}", e.reason()),
                    checks,
                    false,
                );
            }
        }
    }
    Decision::undecided("they share base variables and independence is not proved")
}

/// The two components of a BivariateNormal with rho = 0, used one on each
/// side, are independent.
fn uncorrelated_pair(s: &Scenario, x: &Rv, y: &Rv) -> Option<Decision> {
    let vars = |r: &Rv| {
        let mut v = Vec::new();
        r.bases(&mut v);
        v
    };
    let (vx, vy) = (vars(x), vars(y));
    if shared_sums(x, y) || vx.iter().any(|v| vy.contains(v)) {
        return None;
    }
    let shared: Vec<usize> = vx
        .iter()
        .map(|v| s.bases[v.0].source)
        .filter(|src| vy.iter().any(|w| s.bases[w.0].source == *src))
        .collect();
    shared
        .iter()
        .all(|src| matches!(&s.sources[*src], Source::Bivariate(b) if b.rho == 0.0))
        .then(|| Decision::structure(true, "uncorrelated components of a bivariate normal"))
}

/// `name`, parenthesised unless it is a single name or number, so that a
/// power written after it binds to all of it.
fn atom(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
        name.to_string()
    } else {
        format!("({name})")
    }
}

fn square(x: &Rv) -> Rv {
    Rv::Pow(Box::new(x.clone()), Box::new(Rv::Const(2.0)))
}

/// Affine in jointly Gaussian base variables.
fn linear_gaussian(s: &Scenario, x: &Rv) -> bool {
    match x {
        Rv::Const(_) => true,
        Rv::Base(v) => match &s.sources[s.bases[v.0].source] {
            Source::Single(law) => law.is_gaussian(),
            Source::Bivariate(_) => true,
        },
        Rv::Neg(a) => linear_gaussian(s, a),
        Rv::Add(a, b) | Rv::Sub(a, b) => linear_gaussian(s, a) && linear_gaussian(s, b),
        Rv::Mul(a, b) => match (&**a, &**b) {
            (Rv::Const(_), e) | (e, Rv::Const(_)) => linear_gaussian(s, e),
            _ => false,
        },
        Rv::Div(a, b) => matches!(**b, Rv::Const(_)) && linear_gaussian(s, a),
        Rv::Sum(_, t) => linear_gaussian(s, t),
        Rv::Call(Builtin::Identity, args) => linear_gaussian(s, &args[0]),
        _ => false,
    }
}

fn gaussian(s: &Scenario, engine: &Engine, x: &Rv) -> Decision {
    if linear_gaussian(s, x) {
        return Decision::structure(true, "affine in jointly Gaussian variables");
    }
    if let Rv::Base(v) = x
        && let Source::Single(law) = &s.sources[s.bases[v.0].source]
    {
        return Decision::structure(
            false,
            format!("{} is not Gaussian", crate::exact::law_name(law)),
        );
    }
    // A Gaussian has zero skewness and zero excess kurtosis.
    let central = |k: f64| -> Result<f64, NoExact> {
        let m = engine.expect(x)?.val.value;
        let c = Rv::Pow(
            Box::new(Rv::Sub(Box::new(x.clone()), Box::new(Rv::Const(m)))),
            Box::new(Rv::Const(k)),
        );
        Ok(engine.expect(&c)?.val.value)
    };
    match (central(2.0), central(3.0), central(4.0)) {
        (Ok(v), Ok(m3), Ok(m4)) if v > 0.0 => {
            let skew = m3 / v.powf(1.5);
            let kurt = m4 / (v * v) - 3.0;
            if skew.abs() > 1e-9 {
                Decision::exact(false, format!("skewness {skew:.4} is not 0"))
            } else if kurt.abs() > 1e-9 {
                Decision::exact(false, format!("excess kurtosis {kurt:.4} is not 0"))
            } else {
                Decision::undecided("its first four moments match a Gaussian's")
            }
        }
        (Err(NoExact::Undefined(r)), ..) | (_, _, Err(NoExact::Undefined(r))) => {
            Decision::exact(false, format!("a Gaussian has all moments; {r}"))
        }
        _ => Decision::undecided("no exact moments to test"),
    }
}

fn finite_moment(s: &Scenario, x: &Rv, k: f64) -> Decision {
    match crate::exact::exists::integrable(s, x, k) {
        Integrable::Yes => Decision::structure(true, "its growth and poles are within its laws"),
        Integrable::No(r) => Decision::structure(false, r),
        Integrable::Unknown(r) => Decision::undecided(r),
    }
}

#[cfg(test)]
mod tests {
    // Each predicate decided where structure proves it, refuted where an
    // exact consequence fails, and left undecided where neither settles it,
    // always with the means (`By`) that the report shows.

    use super::*;
    use crate::lang::{FunctionDef, parse_expr, parse_model};
    use crate::model::resolve::build;
    use std::collections::HashMap;

    const MODEL: &str = "
        z ~ Normal(0, 1)
        y ~ Normal(0, 1)
        w ~ Normal(0, 0.3)
        a ~ Normal(0, 1)
        b ~ Normal(0, 1)
        l ~ Laplace(0, 1)
        shifted ~ Normal(0.5, 1)
        d ~ Exponential(1)
        skewed = d - 1
        c ~ Cauchy(0, 1)
        t ~ StudentsT(0, 1, 3)
        u, v ~ BivariateNormal(1, 2, 0)
        p, q ~ BivariateNormal(1, 1, 0.5)
        x = relu(y)
    ";

    fn decide_in(text: &str) -> Result<Decision, Diag> {
        let funcs: HashMap<String, FunctionDef> = HashMap::new();
        let stmts = parse_model(MODEL).expect("the model parses");
        let model = build("test", &stmts, &funcs).expect("the model resolves");
        let e = parse_expr(text).expect("the requirement parses");
        let req = Requirement::from_expr(text, &e)?;
        decide(&req, &model, &funcs)
    }

    /// Decides `text` and checks the outcome and the means.
    fn decided(text: &str, met: bool, by: By) -> Decision {
        let d = decide_in(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert_eq!((d.met, d.by), (met, by), "{text}: {}", d.why);
        d
    }

    #[test]
    fn symmetric_by_structure() {
        for text in [
            "symmetric(z)",
            "symmetric(-l)",
            "symmetric(w * x)",
            "symmetric(tanh(z) + l)",
            "symmetric(z^3)",
            "symmetric(z * y^2)",
            "symmetric(sum(4, w * x))",
            "symmetric(u - v)",
            "symmetric(c)",
        ] {
            decided(text, true, By::Structure);
        }
    }

    #[test]
    fn symmetric_refuted_exactly() {
        // Zero mean but skewed: the third moment of Exponential(1) - 1 is 2.
        let d = decided("symmetric(skewed)", false, By::Exact);
        assert!(d.why.contains("E[skewed^3] = 2.000000"), "{}", d.why);
        let d = decided("symmetric(shifted)", false, By::Exact);
        assert!(d.why.contains("] = 0.500000"), "{}", d.why);
        decided("symmetric(x)", false, By::Exact);
        // Odd moments of a Cauchy do not exist; tanh settles it: a shifted
        // Cauchy is not symmetric about zero.
        let text = "symmetric(c + 1)";
        let d = decided(text, false, By::Exact);
        assert!(d.why.contains("tanh"), "{}", d.why);
    }

    #[test]
    fn symmetric_undecided() {
        // relu(z) - relu(-z) is z, but nothing structural says so, and every
        // odd test vanishes: not proved, so not met.
        let d = decided("symmetric(relu(z) - relu(-z))", false, By::Undecided);
        assert!(d.why.contains("odd moments vanish"), "{}", d.why);
    }

    #[test]
    fn zero_mean() {
        let d = decided("zero_mean(x)", false, By::Exact);
        assert!(
            d.why.contains("0.398942"),
            "E[relu(y)] = 1/sqrt(2 pi): {}",
            d.why
        );
        decided("zero_mean(skewed)", true, By::Exact);
        decided("zero_mean(w * x)", true, By::Exact);
        let d = decided("zero_mean(c)", false, By::Exact);
        assert!(d.why.contains("does not exist"), "{}", d.why);
        // No exact mean (three variables jointly), but w is an independent
        // symmetric factor: symmetric with a finite mean, so zero-mean.
        decided("zero_mean(w * relu(a + b + z))", true, By::Structure);
        decided("zero_mean(relu(a + b + z))", false, By::Undecided);
    }

    #[test]
    fn independent() {
        decided("independent(w, x)", true, By::Structure);
        decided("independent(w, sum(3, w))", true, By::Structure);
        decided("independent(u, v)", true, By::Structure);
        decided("independent(relu(u), v^2 + z)", true, By::Structure);
        let d = decided("independent(w, w + y)", false, By::Exact);
        assert!(d.why.contains("Cov[w, w + y]"), "{}", d.why);
        decided("independent(y, x)", false, By::Exact);
        decided("independent(p, q)", false, By::Exact);
        // Uncorrelated, but not independent: the squares are correlated.
        let d = decided("independent(z, z^2)", false, By::Exact);
        assert!(d.why.contains("Cov[z^2, (z^2)^2] = 12.000000"), "{}", d.why);
        decided("independent(relu(a + b + z), a)", false, By::Undecided);
    }

    #[test]
    fn gaussian() {
        decided("gaussian(z)", true, By::Structure);
        decided("gaussian(2*z - 3*w + 1)", true, By::Structure);
        decided("gaussian(sum(4, z))", true, By::Structure);
        decided("gaussian(u + v)", true, By::Structure);
        let d = decided("gaussian(l)", false, By::Structure);
        assert!(d.why.contains("Laplace(0, 1) is not Gaussian"), "{}", d.why);
        let d = decided("gaussian(x)", false, By::Exact);
        assert!(d.why.contains("skewness"), "{}", d.why);
        // Symmetric, so only the kurtosis tells: excess 12/9 for z + l.
        let d = decided("gaussian(z + l)", false, By::Exact);
        assert!(d.why.contains("excess kurtosis 1.3333"), "{}", d.why);
        decided("gaussian(tanh(c))", false, By::Exact);
        decided("gaussian(relu(a + b + z))", false, By::Undecided);
    }

    #[test]
    fn finite_moment() {
        let d = decided("finite_moment(c, 1)", false, By::Structure);
        assert!(d.why.contains("below order 1"), "{}", d.why);
        decided("finite_moment(t, 2)", true, By::Structure);
        decided("finite_moment(t, 3)", false, By::Structure);
        decided("finite_moment(relu(t)^2, 2)", false, By::Structure);
        decided("finite_moment(tanh(c), 8)", true, By::Structure);
        decided("finite_moment(exp(z), 4)", true, By::Structure);
    }

    #[test]
    fn malformed_requirements() {
        let err = |text: &str| decide_in(text).expect_err(text);
        let text = "zero_man(z)";
        let d = err(text);
        assert_eq!(&text[d.span.clone()], "zero_man");
        assert!(d.message.contains("unknown predicate"), "{d:?}");
        assert!(d.help.contains("finite_moment(X, k)"), "{d:?}");
        let d = err("independent(z)");
        assert!(d.message.contains("takes 2 argument(s), got 1"), "{d:?}");
        let d = err("1 + z");
        assert!(
            d.message.contains("a predicate applied to expressions"),
            "{d:?}"
        );
        let text = "finite_moment(z, -1)";
        let d = err(text);
        assert_eq!(&text[d.span.clone()], "-1");
        let text = "zero_mean(nope)";
        let d = err(text);
        assert_eq!(&text[d.span.clone()], "nope");
    }
}
