//! Name resolution: from model statements to a [`Scenario`], and from claim
//! expressions to [`Rv`]s and [`Side`]s over it.
//!
//! A model block is read top to bottom, once. Each statement defines one
//! name (two for a pair): a *parameter* when its value is a number, a *base
//! variable* when it is drawn from a law, a *derived variable* otherwise.
//! Derived variables are inlined where they are used, so the engines only
//! ever see base variables; this is what makes `x = relu(y)` and
//! `relu(y)` mean the same thing everywhere.
//!
//! A name must be defined before it is used and only once, because a model
//! block is read as a sequence of definitions, like the derivations it
//! encodes; a forward reference is reported as such, not as unknown.

use super::law::{Bivariate, Law};
use super::rv::{Moment, Rv, Side, pow};
use super::{BaseVar, Scenario, Source};
use crate::diag::Diag;
use crate::lang::ast::{BinOp, Expr, ExprKind, MomentOp, Span, Stmt};
use crate::lang::builtin::Builtin;
use crate::lang::{Functions, expand_primes};

/// How deep file-defined functions may call one another.
const MAX_CALL_DEPTH: usize = 64;

/// The largest `n` in `sum(n, T)`: beyond it sampling a single draw would
/// take seconds.
const MAX_SUM_COUNT: f64 = 1e7;

/// Names the language keeps for itself.
const RESERVED: &[&str] = &["pi", "e", "E", "Var", "Cov", "sum"];

#[derive(Clone, Debug)]
enum Binding {
    Param(f64),
    Random(Rv),
}

/// A scenario together with the names its model defines.
#[derive(Clone, Debug)]
pub struct Model {
    pub scenario: Scenario,
    names: Vec<(String, Binding)>,
}

/// Builds a scenario from its statements.
pub fn build(name: &str, stmts: &[Stmt], funcs: &dyn Functions) -> Result<Model, Diag> {
    let mut model = Model {
        scenario: Scenario {
            name: name.to_string(),
            bases: Vec::new(),
            sources: Vec::new(),
        },
        names: Vec::new(),
    };
    let later: Vec<(String, Span)> = stmts
        .iter()
        .flat_map(|s| match s {
            Stmt::Define {
                name, name_span, ..
            } => vec![(name.clone(), name_span.clone())],
            Stmt::Draw { names, .. } => names.clone(),
        })
        .collect();
    let mut defined: Vec<(String, Span)> = Vec::new();
    for stmt in stmts {
        let lower = Lower {
            model: &model,
            funcs,
            later: &later,
        };
        match stmt {
            Stmt::Define {
                name,
                name_span,
                value,
            } => {
                check_new_name(name, name_span, &defined, funcs)?;
                let rv = lower.rv(value)?;
                let binding = match rv {
                    Rv::Const(c) => Binding::Param(c),
                    rv => Binding::Random(rv),
                };
                model.names.push((name.clone(), binding));
                defined.push((name.clone(), name_span.clone()));
            }
            Stmt::Draw {
                names,
                law,
                law_span,
                args,
                span,
            } => {
                for (n, s) in names {
                    check_new_name(n, s, &defined, funcs)?;
                }
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    match lower.rv(a)? {
                        Rv::Const(c) => values.push(c),
                        _ => {
                            return Err(Diag::new(
                                a.span.clone(),
                                "a law's parameters must be numbers, but this one is random",
                                "write a number or an expression of parameters",
                            ));
                        }
                    }
                }
                let param_span = |i: usize| {
                    args.get(i)
                        .map_or_else(|| span.clone(), |a: &Expr| a.span.clone())
                };
                let source = if law == "BivariateNormal" {
                    if names.len() != 2 {
                        return Err(Diag::new(
                            names[0].1.start..law_span.start,
                            "BivariateNormal draws a pair: name two variables",
                            "u, v ~ BivariateNormal(sd_u, sd_v, rho)",
                        ));
                    }
                    Source::Bivariate(
                        Bivariate::new(&values)
                            .map_err(|e| Diag::new(param_span(e.index), e.message, valid_laws()))?,
                    )
                } else {
                    if names.len() != 1 {
                        return Err(Diag::new(
                            names[1].1.clone(),
                            format!("{law} draws one variable; only BivariateNormal draws a pair"),
                            "a ~ Law(...), or u, v ~ BivariateNormal(sd_u, sd_v, rho)",
                        ));
                    }
                    if !Law::SIGNATURES.iter().any(|(n, _)| n == law) {
                        return Err(Diag::new(
                            law_span.clone(),
                            format!("unknown law `{law}`"),
                            valid_laws(),
                        ));
                    }
                    Source::Single(
                        Law::new(law, &values).map_err(|e| {
                            Diag::new(param_span(e.index), e.message, signature(law))
                        })?,
                    )
                };
                let source_id = model.scenario.sources.len();
                model.scenario.sources.push(source);
                for (component, (n, s)) in names.iter().enumerate() {
                    let id = super::rv::VarId(model.scenario.bases.len());
                    model.scenario.bases.push(BaseVar {
                        name: n.clone(),
                        source: source_id,
                        component,
                    });
                    model.names.push((n.clone(), Binding::Random(Rv::Base(id))));
                    defined.push((n.clone(), s.clone()));
                }
            }
        }
    }
    Ok(model)
}

fn check_new_name(
    name: &str,
    span: &Span,
    defined: &[(String, Span)],
    funcs: &dyn Functions,
) -> Result<(), Diag> {
    if RESERVED.contains(&name) {
        return Err(Diag::new(
            span.clone(),
            format!("`{name}` is reserved by the language"),
            "choose another name",
        ));
    }
    if Builtin::from_name(name).is_some() || funcs.get(name).is_some() {
        return Err(Diag::new(
            span.clone(),
            format!("`{name}` is a function"),
            "choose another name for the variable",
        ));
    }
    if defined.iter().any(|(n, _)| n == name) {
        return Err(Diag::new(
            span.clone(),
            format!("`{name}` is defined twice"),
            "each name is defined once per model; rename one of them",
        ));
    }
    Ok(())
}

fn valid_laws() -> String {
    let all: Vec<String> = Law::SIGNATURES.iter().map(|(n, _)| signature(n)).collect();
    format!("valid laws: {}", all.join(", "))
}

fn signature(law: &str) -> String {
    Law::SIGNATURES.iter().find(|(n, _)| *n == law).map_or_else(
        || law.to_string(),
        |(n, ps)| format!("{n}({})", ps.join(", ")),
    )
}

impl Model {
    /// Whether the model defines `name`.
    pub fn defines(&self, name: &str) -> bool {
        self.names.iter().any(|(n, _)| n == name)
    }

    /// Every name the model defines, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|(n, _)| n.as_str())
    }

    /// A random expression over the scenario's base variables.
    pub fn rv(&self, e: &Expr, funcs: &dyn Functions) -> Result<Rv, Diag> {
        self.lower(funcs).rv(e)
    }

    /// A claim's side; moments are appended to `moments` (shared between the
    /// two sides of a claim, identical moments once).
    pub fn side(
        &self,
        e: &Expr,
        funcs: &dyn Functions,
        moments: &mut Vec<Moment>,
    ) -> Result<Side, Diag> {
        self.lower(funcs).side(e, moments)
    }

    fn lower<'a>(&'a self, funcs: &'a dyn Functions) -> Lower<'a> {
        Lower {
            model: self,
            funcs,
            later: &[],
        }
    }

    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.names
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b)
    }
}

/// One lowering pass: the model so far, the file's functions, and the names
/// defined further down (for the "used before defined" message).
struct Lower<'a> {
    model: &'a Model,
    funcs: &'a dyn Functions,
    later: &'a [(String, Span)],
}

impl Lower<'_> {
    fn rv(&self, e: &Expr) -> Result<Rv, Diag> {
        let e = expand_primes(e, self.funcs).map_err(|d| Diag::new(d.span, d.message, ""))?;
        self.rv_in(&e, &[], 0)
    }

    fn unknown_name(&self, name: &str, span: &Span, scope: &[(String, Rv)]) -> Diag {
        if self.later.iter().any(|(n, _)| n == name) {
            return Diag::new(
                span.clone(),
                format!("`{name}` is used before it is defined"),
                "define it on an earlier line of the model",
            );
        }
        let mut known: Vec<&str> = scope.iter().map(|(n, _)| n.as_str()).collect();
        known.extend(self.model.names());
        let help = if known.is_empty() {
            "nothing is defined yet; constants are pi and e".to_string()
        } else {
            format!("defined here: {}; constants: pi, e", known.join(", "))
        };
        Diag::new(span.clone(), format!("unknown name `{name}`"), help)
    }

    fn rv_in(&self, e: &Expr, scope: &[(String, Rv)], depth: usize) -> Result<Rv, Diag> {
        let b = |x: Rv| Box::new(x);
        let rv = match &e.kind {
            ExprKind::Num(x) => Rv::Const(*x),
            ExprKind::Name(n) => {
                if let Some((_, v)) = scope.iter().rev().find(|(s, _)| s == n) {
                    v.clone()
                } else {
                    match (n.as_str(), self.model.lookup(n)) {
                        (_, Some(Binding::Param(c))) => Rv::Const(*c),
                        (_, Some(Binding::Random(rv))) => rv.clone(),
                        ("pi", None) => Rv::Const(std::f64::consts::PI),
                        ("e", None) => Rv::Const(std::f64::consts::E),
                        _ => return Err(self.unknown_name(n, &e.span, scope)),
                    }
                }
            }
            ExprKind::Neg(a) => Rv::Neg(b(self.rv_in(a, scope, depth)?)),
            ExprKind::Binary(op, l, r) => {
                let (l, r) = (
                    b(self.rv_in(l, scope, depth)?),
                    b(self.rv_in(r, scope, depth)?),
                );
                match op {
                    BinOp::Add => Rv::Add(l, r),
                    BinOp::Sub => Rv::Sub(l, r),
                    BinOp::Mul => Rv::Mul(l, r),
                    BinOp::Div => Rv::Div(l, r),
                    BinOp::Pow => Rv::Pow(l, r),
                }
            }
            ExprKind::Call {
                func,
                func_span,
                args,
                ..
            } => {
                let lowered: Vec<Rv> = args
                    .iter()
                    .map(|a| self.rv_in(a, scope, depth))
                    .collect::<Result<_, _>>()?;
                self.call(func, func_span, &e.span, lowered, depth)?
            }
            ExprKind::Moment(op, _) => {
                let name = match op {
                    MomentOp::E => "E",
                    MomentOp::Var => "Var",
                    MomentOp::Cov => "Cov",
                };
                return Err(Diag::new(
                    e.span.clone(),
                    format!("{name}[...] is a number, not a random expression"),
                    "moments belong on a claim's sides, not inside random expressions or models",
                ));
            }
            ExprKind::Sum(n, t) => {
                let count = match self.rv_in(n, scope, depth)? {
                    Rv::Const(c) if c == c.trunc() && (1.0..=MAX_SUM_COUNT).contains(&c) => c,
                    Rv::Const(c) => {
                        return Err(Diag::new(
                            n.span.clone(),
                            format!("sum needs a whole number of copies, got {c}"),
                            format!("a whole number from 1 to {MAX_SUM_COUNT:e}"),
                        ));
                    }
                    _ => {
                        return Err(Diag::new(
                            n.span.clone(),
                            "the number of copies in sum(n, T) must be a number, not random",
                            "a parameter or a number",
                        ));
                    }
                };
                Rv::Sum(count as u64, b(self.rv_in(t, scope, depth)?))
            }
        };
        match fold(rv) {
            Rv::Const(c) if !c.is_finite() => Err(Diag::new(
                e.span.clone(),
                format!("this evaluates to {c}"),
                "keep arguments inside their functions' domains (sqrt and log of positives, no division by zero)",
            )),
            rv => Ok(rv),
        }
    }

    fn call(
        &self,
        func: &str,
        func_span: &Span,
        span: &Span,
        mut args: Vec<Rv>,
        depth: usize,
    ) -> Result<Rv, Diag> {
        if let Some(f) = Builtin::from_name(func) {
            let (lo, hi) = f.arity();
            if args.len() < lo || args.len() > hi {
                return Err(Diag::new(
                    span.clone(),
                    format!(
                        "{func} takes {} argument(s), got {}",
                        arity_text(lo, hi),
                        args.len()
                    ),
                    format!("write {}", f.signature()),
                ));
            }
            for d in &f.default_args()[args.len() - lo..] {
                args.push(Rv::Const(*d));
            }
            return Ok(Rv::Call(f, args));
        }
        if let Some(def) = self.funcs.get(func) {
            if args.len() != def.params.len() {
                return Err(Diag::new(
                    span.clone(),
                    format!(
                        "{func} takes {} argument(s) ({}), got {}",
                        def.params.len(),
                        def.params.join(", "),
                        args.len()
                    ),
                    format!("write {func}({})", def.params.join(", ")),
                ));
            }
            if depth >= MAX_CALL_DEPTH {
                return Err(Diag::new(
                    func_span.clone(),
                    format!("functions call each other more than {MAX_CALL_DEPTH} deep"),
                    "a function may not call itself, directly or through others",
                ));
            }
            let scope: Vec<(String, Rv)> = def.params.iter().cloned().zip(args).collect();
            let body = expand_primes(&def.body, self.funcs)
                .map_err(|d| Diag::new(func_span.clone(), d.message, ""))?;
            // The body's own spans point into the function's definition, not
            // here: report any error in it at the call.
            return self.rv_in(&body, &scope, depth + 1).map_err(|d| {
                Diag::new(
                    func_span.clone(),
                    format!("in {func}: {}", d.message),
                    d.help,
                )
            });
        }
        let mut names: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
        names.extend(self.funcs.names());
        Err(Diag::new(
            func_span.clone(),
            format!("unknown function `{func}`"),
            format!("functions: {}", names.join(", ")),
        ))
    }

    fn side(&self, e: &Expr, moments: &mut Vec<Moment>) -> Result<Side, Diag> {
        let e = expand_primes(e, self.funcs).map_err(|d| Diag::new(d.span, d.message, ""))?;
        self.side_in(&e, moments)
    }

    fn side_in(&self, e: &Expr, moments: &mut Vec<Moment>) -> Result<Side, Diag> {
        let b = |x: Side| Box::new(x);
        Ok(match &e.kind {
            ExprKind::Moment(op, args) => {
                let want = if *op == MomentOp::Cov { 2 } else { 1 };
                if args.len() != want {
                    return Err(Diag::new(
                        e.span.clone(),
                        format!("this moment takes {want} argument(s), got {}", args.len()),
                        "E[X], Var[X], Cov[X, Y]",
                    ));
                }
                let x = self.rv_in(&args[0], &[], 0)?;
                let m = match op {
                    MomentOp::E => Moment::E(x),
                    MomentOp::Var => Moment::Var(x),
                    MomentOp::Cov => Moment::Cov(x, self.rv_in(&args[1], &[], 0)?),
                };
                let i = moments.iter().position(|n| *n == m).unwrap_or_else(|| {
                    moments.push(m);
                    moments.len() - 1
                });
                Side::Moment(i)
            }
            ExprKind::Neg(a) => Side::Neg(b(self.side_in(a, moments)?)),
            ExprKind::Binary(op, l, r) => {
                let (l, r) = (b(self.side_in(l, moments)?), b(self.side_in(r, moments)?));
                match op {
                    BinOp::Add => Side::Add(l, r),
                    BinOp::Sub => Side::Sub(l, r),
                    BinOp::Mul => Side::Mul(l, r),
                    BinOp::Div => Side::Div(l, r),
                    BinOp::Pow => Side::Pow(l, r),
                }
            }
            ExprKind::Call { func, args, .. } if Builtin::from_name(func).is_some() => {
                let has_moment = args.iter().any(mentions_moment);
                if has_moment {
                    let f = Builtin::from_name(func).expect("checked above");
                    let mut lowered: Vec<Side> = args
                        .iter()
                        .map(|a| self.side_in(a, moments))
                        .collect::<Result<_, _>>()?;
                    let (lo, hi) = f.arity();
                    if lowered.len() < lo || lowered.len() > hi {
                        return Err(Diag::new(
                            e.span.clone(),
                            format!(
                                "{func} takes {} argument(s), got {}",
                                arity_text(lo, hi),
                                lowered.len()
                            ),
                            format!("write {}", f.signature()),
                        ));
                    }
                    for d in &f.default_args()[lowered.len() - lo..] {
                        lowered.push(Side::Const(*d));
                    }
                    Side::Call(f, lowered)
                } else {
                    self.number(e)?
                }
            }
            _ => self.number(e)?,
        })
    }

    /// A part of a side with no moment in it: it must be a number.
    fn number(&self, e: &Expr) -> Result<Side, Diag> {
        match self.rv_in(e, &[], 0)? {
            Rv::Const(c) => Ok(Side::Const(c)),
            _ => Err(Diag::new(
                e.span.clone(),
                "this is random, but a claim's sides must be numbers",
                "wrap it in E[...], Var[...] or Cov[..., ...]",
            )),
        }
    }
}

fn mentions_moment(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Moment(..) => true,
        ExprKind::Num(_) | ExprKind::Name(_) => false,
        ExprKind::Neg(a) => mentions_moment(a),
        ExprKind::Binary(_, a, b) | ExprKind::Sum(a, b) => mentions_moment(a) || mentions_moment(b),
        ExprKind::Call { args, .. } => args.iter().any(mentions_moment),
    }
}

fn arity_text(lo: usize, hi: usize) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo} or {hi}")
    }
}

/// Folds a node whose children are all numbers into a number.
fn fold(rv: Rv) -> Rv {
    let c = |x: &Rv| match x {
        Rv::Const(c) => Some(*c),
        _ => None,
    };
    let folded = match &rv {
        Rv::Neg(a) => c(a).map(|a| -a),
        Rv::Add(a, b) => c(a).zip(c(b)).map(|(a, b)| a + b),
        Rv::Sub(a, b) => c(a).zip(c(b)).map(|(a, b)| a - b),
        Rv::Mul(a, b) => c(a).zip(c(b)).map(|(a, b)| a * b),
        Rv::Div(a, b) => c(a).zip(c(b)).map(|(a, b)| a / b),
        Rv::Pow(a, b) => c(a).zip(c(b)).map(|(a, b)| pow(a, b)),
        Rv::Call(f, args) => args
            .iter()
            .map(c)
            .collect::<Option<Vec<f64>>>()
            .map(|v| f.eval(&v)),
        _ => None,
    };
    folded.map_or(rv, Rv::Const)
}
