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
use super::rv::{IndexedSum, Moment, Plate, Rv, Side};
use super::{BaseVar, Scenario, Source};
use crate::diag::Diag;
use crate::lang::ast::{Expr, ExprKind, MomentOp, Span, Stmt};
use crate::lang::builtin::Builtin;
use crate::lang::suggest;
use crate::lang::{FunctionDef, Functions, expand_primes};

/// How deep file-defined functions may call one another.
const MAX_CALL_DEPTH: usize = 64;

/// The largest `n` in `sum(n, T)`: beyond it sampling a single draw would
/// take seconds. Nested sums multiply their counts; what that costs is the
/// work budget's to refuse (or the self-check's to shrink), not a limit here.
const MAX_SUM_COUNT: f64 = 1e7;

/// Most nodes a variable or a call may lower to. Inlining copies an argument
/// once per use, so `f(x) = x * tanh(x)` nested fifty deep, or fifty
/// derived variables each the square of the last, would double the tree
/// fifty times; real models stay in the hundreds.
const MAX_RV_NODES: usize = 50_000;

/// The error for an expression that inlines to more than `MAX_RV_NODES`.
fn too_large(span: &Span, what: &str) -> Diag {
    Diag::new(
        span.clone(),
        format!(
            "{what} expands to more than {MAX_RV_NODES} nodes once functions and variables are written out"
        ),
        "each use of a parameter or variable copies its expression: nest fewer calls, or use a variable fewer times",
    )
}

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
            index: None,
        };
        match stmt {
            Stmt::Define {
                name,
                name_span,
                value,
            } => {
                check_new_name(name, name_span, &defined, funcs)?;
                let rv = lower.rv(value)?;
                check_plates(&[&rv], &value.span)?;
                if rv.larger_than(MAX_RV_NODES) {
                    return Err(too_large(&value.span, &format!("`{name}`")));
                }
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
                for (i, (n, s)) in names.iter().enumerate() {
                    check_new_name(n, s, &defined, funcs)?;
                    // A pair must name two variables: `y, y ~ ...` would
                    // keep one component and lose the correlation.
                    if names[..i].iter().any(|(m, _)| m == n) {
                        return Err(Diag::new(
                            s.clone(),
                            format!("`{n}` is named twice in one draw"),
                            "a pair needs two distinct names: u, v ~ BivariateNormal(sd_u, sd_v, rho)",
                        ));
                    }
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
                            suggest::help(law, law_names(), valid_laws()),
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

/// Whether `name` may be given to a defined function: not a built-in (the
/// built-in would win every call, and the definition would be ignored) and
/// not a word of the language. The error is (message, help).
pub fn check_function_name(name: &str) -> Result<(), (String, String)> {
    if Builtin::from_name(name).is_some() {
        return Err((
            format!("`{name}` is a built-in function; a definition cannot replace it"),
            format!("rename it, e.g. `my_{name}`, and call it by that name"),
        ));
    }
    if RESERVED.contains(&name) {
        return Err((
            format!("`{name}` is reserved by the language"),
            "choose another name for the function".to_string(),
        ));
    }
    Ok(())
}

/// Whether a defined function can be evaluated at all, whatever the model:
/// every function it calls exists and gets the right number of arguments,
/// it does not reach itself through the functions it calls, and its
/// derivatives can be expanded. Checked where it is defined, used or not,
/// so a broken definition is never accepted and ignored. Spans are in the
/// definition's text.
pub fn check_function_body(
    name: &str,
    def: &FunctionDef,
    funcs: &dyn Functions,
) -> Result<(), Diag> {
    let mut calls = Vec::new();
    collect_calls(&def.body, &mut calls);
    for (func, span, args) in &calls {
        if let Some(b) = Builtin::from_name(func) {
            let (lo, hi) = b.arity();
            if *args < lo || *args > hi {
                return Err(Diag::new(
                    span.clone(),
                    format!(
                        "{func} takes {} argument(s), got {args}",
                        arity_text(lo, hi)
                    ),
                    format!("write {}", b.signature()),
                ));
            }
        } else if let Some(callee) = funcs.get(func) {
            if *args != callee.params.len() {
                return Err(Diag::new(
                    span.clone(),
                    format!(
                        "{func} takes {} argument(s) ({}), got {args}",
                        callee.params.len(),
                        callee.params.join(", ")
                    ),
                    format!("write {func}({})", callee.params.join(", ")),
                ));
            }
            if let Some(path) = path_back(func, name, funcs) {
                return Err(Diag::new(
                    span.clone(),
                    format!(
                        "recursive function: `{name}` reaches itself ({name} -> {})",
                        path.join(" -> ")
                    ),
                    "a function may not call itself, directly or through others; write it out",
                ));
            }
        } else {
            return Err(unknown_function(func, span, funcs));
        }
    }
    expand_primes(&def.body, funcs).map_err(|d| Diag::new(d.span, d.message, ""))?;
    Ok(())
}

/// Every call in `e`: (function, span of its name, number of arguments).
fn collect_calls(e: &Expr, out: &mut Vec<(String, Span, usize)>) {
    match &e.kind {
        ExprKind::Num(_) | ExprKind::Name(_) | ExprKind::Subscript { .. } => {}
        ExprKind::Neg(a) => collect_calls(a, out),
        ExprKind::Binary(_, a, b)
        | ExprKind::Sum(a, b)
        | ExprKind::IndexedSum {
            count: a, body: b, ..
        } => {
            collect_calls(a, out);
            collect_calls(b, out);
        }
        ExprKind::Call {
            func,
            func_span,
            args,
            ..
        } => {
            out.push((func.clone(), func_span.clone(), args.len()));
            args.iter().for_each(|a| collect_calls(a, out));
        }
        ExprKind::Moment(_, args) => args.iter().for_each(|a| collect_calls(a, out)),
    }
}

/// A chain of defined functions from `from` that calls `target`, ending
/// with `target`: the cycle's rest when `target` calls `from`. Each
/// function is visited once, so the search is linear in the definitions.
fn path_back(from: &str, target: &str, funcs: &dyn Functions) -> Option<Vec<String>> {
    let mut seen: Vec<String> = Vec::new();
    let mut todo: Vec<Vec<String>> = vec![vec![from.to_string()]];
    while let Some(path) = todo.pop() {
        let last = path.last().expect("paths are never empty");
        if last == target {
            return Some(path);
        }
        if seen.contains(last) {
            continue;
        }
        seen.push(last.clone());
        let Some(def) = funcs.get(last) else { continue };
        let mut calls = Vec::new();
        collect_calls(&def.body, &mut calls);
        for (callee, _, _) in calls.into_iter().rev() {
            if Builtin::from_name(&callee).is_none() && funcs.get(&callee).is_some() {
                let mut next = path.clone();
                next.push(callee);
                todo.push(next);
            }
        }
    }
    None
}

/// A call of a name that is no function: a law written as a function
/// (`y = Normal(0, 1)` for `y ~ Normal(0, 1)`), a moment written with
/// parentheses (`E(y)` for `E[y]`), or a misspelling.
fn unknown_function(func: &str, span: &Span, funcs: &dyn Functions) -> Diag {
    if law_names().any(|n| n == func) {
        return Diag::new(
            span.clone(),
            format!("`{func}` is a law, not a function"),
            format!(
                "a model draws from a law with `~`: `{} ~ {}`",
                if func == "BivariateNormal" {
                    "u, v"
                } else {
                    "y"
                },
                signature(func)
            ),
        );
    }
    if matches!(func, "E" | "Var" | "Cov") {
        let args = if func == "Cov" { "X, Y" } else { "X" };
        return Diag::new(
            span.clone(),
            format!("`{func}` is a moment, not a function"),
            format!("a moment takes square brackets: `{func}[{args}]`"),
        );
    }
    let mut names: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
    names.extend(funcs.names());
    let list = format!("functions: {}", names.join(", "));
    Diag::new(
        span.clone(),
        format!("unknown function `{func}`"),
        suggest::help(func, names.iter().copied(), list),
    )
}

/// Every law's name, the pair law included.
fn law_names() -> impl Iterator<Item = &'static str> {
    Law::SIGNATURES.iter().map(|(n, _)| *n)
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
            index: None,
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
    /// The index of the `sum(i in n, T)` whose body is being lowered.
    index: Option<String>,
}

/// The error for sums that share an index but not a count: their copies
/// cannot be the same ones.
fn check_plates(rvs: &[&Rv], span: &Span) -> Result<(), Diag> {
    let mut plates = Vec::new();
    rvs.iter().for_each(|rv| rv.plates(&mut plates));
    for (k, p) in plates.iter().enumerate() {
        if let Some(q) = plates[..k].iter().find(|q| q.index == p.index) {
            return Err(Diag::new(
                span.clone(),
                format!(
                    "the index `{}` runs over {} copies in one sum and {} in another",
                    p.index, q.count, p.count
                ),
                format!(
                    "sums over one index share their copies, so they need one count; name the other index differently to draw separate copies (e.g. `sum(j in {}, ...)`)",
                    p.count
                ),
            ));
        }
    }
    Ok(())
}

/// `rv` with every base variable replaced by its copy in the indexed sum
/// around it (copies stay copies).
fn copied(rv: &Rv) -> Rv {
    match rv {
        Rv::Base(v) => Rv::Copy(*v),
        _ => {
            let mut out = rv.clone();
            out.children_mut().for_each(|c| *c = copied(c));
            out
        }
    }
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
                        (i, None) if self.index.as_deref() == Some(i) => {
                            return Err(Diag::new(
                                e.span.clone(),
                                format!("`{i}` is the index of the copies, not a value"),
                                format!("write `x[{i}]` for copy {i} of a variable x"),
                            ));
                        }
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
                Rv::Bin(*op, l, r)
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
                if let Some(i) = &self.index {
                    return Err(nested_sum(&e.span, i));
                }
                let count = self.count(n, scope, depth)?;
                let body = self.rv_in(t, scope, depth)?;
                if body.contains_indexed() {
                    return Err(Diag::new(
                        t.span.clone(),
                        "an indexed sum cannot be inside `sum(n, T)`",
                        "write the inner sum with an index too, or move it outside",
                    ));
                }
                Rv::Sum(count, b(body))
            }
            ExprKind::IndexedSum {
                index,
                index_span,
                count,
                body,
            } => {
                if let Some(i) = &self.index {
                    return Err(nested_sum(&e.span, i));
                }
                if self.model.lookup(index).is_some()
                    || scope.iter().any(|(s, _)| s == index)
                    || RESERVED.contains(&index.as_str())
                {
                    return Err(Diag::new(
                        index_span.clone(),
                        format!("`{index}` is already a name here, so it cannot be an index"),
                        "name the index something else, as in `sum(i in n, x[i])`",
                    ));
                }
                let count = self.count(count, scope, depth)?;
                let inner = Lower {
                    index: Some(index.clone()),
                    ..*self
                };
                let body = inner.rv_in(body, scope, depth)?;
                Rv::IndexedSum(Box::new(IndexedSum {
                    plate: Plate {
                        index: index.clone(),
                        count,
                    },
                    body,
                }))
            }
            ExprKind::Subscript {
                name,
                index,
                index_span,
            } => self.subscript(name, index, index_span, &e.span, scope)?,
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

    /// `x[i]`: copy `i` of the variable `x`.
    fn subscript(
        &self,
        name: &str,
        index: &str,
        index_span: &Span,
        span: &Span,
        scope: &[(String, Rv)],
    ) -> Result<Rv, Diag> {
        match &self.index {
            None => {
                return Err(Diag::new(
                    index_span.clone(),
                    format!(
                        "`{name}[{index}]` is a copy, but no `sum({index} in n, ...)` is around it"
                    ),
                    format!(
                        "write `{name}` for the one value of the draw, or put this inside `sum({index} in n, ...)`"
                    ),
                ));
            }
            Some(i) if i != index => {
                return Err(Diag::new(
                    index_span.clone(),
                    format!("unknown index `{index}`: the sum around this runs over `{i}`"),
                    format!("did you mean `{name}[{i}]`?"),
                ));
            }
            Some(_) => {}
        }
        let rv = if let Some((_, v)) = scope.iter().rev().find(|(s, _)| s == name) {
            v.clone()
        } else {
            match self.model.lookup(name) {
                Some(Binding::Random(rv)) => rv.clone(),
                Some(Binding::Param(_)) => {
                    return Err(Diag::new(
                        span.clone(),
                        format!("`{name}` is a parameter, the same in every copy"),
                        format!("write `{name}` without `[{index}]`"),
                    ));
                }
                None => {
                    return Err(self.unknown_name(
                        name,
                        &(span.start..span.start + name.len()),
                        scope,
                    ));
                }
            }
        };
        let holds_sum = |r: &Rv| matches!(r, Rv::Sum(..) | Rv::IndexedSum(_));
        if any_node(&rv, &holds_sum) {
            return Err(Diag::new(
                span.clone(),
                format!("`{name}` holds a sum of copies, which cannot be copied again"),
                format!(
                    "index the variables inside it instead, as in `sum({index} in n, x[{index}])`"
                ),
            ));
        }
        Ok(copied(&rv))
    }

    /// The count of a sum: a whole number from 1 to `MAX_SUM_COUNT`.
    fn count(&self, n: &Expr, scope: &[(String, Rv)], depth: usize) -> Result<u64, Diag> {
        match self.rv_in(n, scope, depth)? {
            Rv::Const(c) if c == c.trunc() && (1.0..=MAX_SUM_COUNT).contains(&c) => Ok(c as u64),
            Rv::Const(c) => Err(Diag::new(
                n.span.clone(),
                format!("sum needs a whole number of copies, got {c}"),
                format!("a whole number from 1 to {MAX_SUM_COUNT:e}"),
            )),
            _ => Err(Diag::new(
                n.span.clone(),
                "the number of copies in sum(n, T) must be a number, not random",
                "a parameter or a number",
            )),
        }
    }
}

/// Whether `rv` or a node below it satisfies `pred`.
fn any_node(rv: &Rv, pred: &dyn Fn(&Rv) -> bool) -> bool {
    pred(rv) || rv.children().any(|c| any_node(c, pred))
}

/// The error for a sum inside an indexed sum.
fn nested_sum(span: &Span, index: &str) -> Diag {
    Diag::new(
        span.clone(),
        format!("a sum inside `sum({index} in n, ...)` is not supported"),
        "write one level of copies: name the inner sum outside, or fold it into the body",
    )
}

impl Lower<'_> {
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
            // here: the error is carried at the call, with its place in the
            // body for whoever knows where the body was written.
            let rv = self
                .rv_in(&body, &scope, depth + 1)
                .map_err(|d| Diag::in_body(func_span.clone(), func, d))?;
            if rv.larger_than(MAX_RV_NODES) {
                return Err(too_large(span, &format!("this call of {func}")));
            }
            return Ok(rv);
        }
        Err(unknown_function(func, func_span, self.funcs))
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
                match &m {
                    Moment::E(x) | Moment::Var(x) => check_plates(&[x], &e.span)?,
                    Moment::Cov(x, y) => check_plates(&[x, y], &e.span)?,
                }
                let i = moments.iter().position(|n| *n == m).unwrap_or_else(|| {
                    moments.push(m);
                    moments.len() - 1
                });
                Side::Leaf(i)
            }
            ExprKind::Neg(a) => Side::Neg(b(self.side_in(a, moments)?)),
            ExprKind::Binary(op, l, r) => Side::Bin(
                *op,
                b(self.side_in(l, moments)?),
                b(self.side_in(r, moments)?),
            ),
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
        ExprKind::Subscript { .. } => false,
        ExprKind::Binary(_, a, b)
        | ExprKind::Sum(a, b)
        | ExprKind::IndexedSum {
            count: a, body: b, ..
        } => mentions_moment(a) || mentions_moment(b),
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
        Rv::Bin(op, a, b) => c(a).zip(c(b)).map(|(a, b)| op.apply(a, b)),
        Rv::Call(f, args) => args
            .iter()
            .map(c)
            .collect::<Option<Vec<f64>>>()
            .map(|v| f.eval(&v)),
        _ => None,
    };
    folded.map_or(rv, Rv::Const)
}

#[cfg(test)]
mod tests {
    // Every error a model block can make, each pinned to the text its span
    // covers (the caret the user sees), and the lowering that both engines
    // rely on: after it, only base variables and numbers are left.

    use super::*;
    use crate::lang::{BinOp, FunctionDef, parse_expr, parse_function, parse_model};
    use crate::model::rv::VarId;
    use std::collections::HashMap;

    fn no_functions() -> HashMap<String, FunctionDef> {
        HashMap::new()
    }

    fn with_functions(defs: &[(&str, &str)]) -> HashMap<String, FunctionDef> {
        defs.iter()
            .map(|(name, text)| {
                let def = parse_function(text).expect("the function parses");
                (name.to_string(), def)
            })
            .collect()
    }

    fn build_in(text: &str, funcs: &dyn Functions) -> Result<Model, Diag> {
        let stmts = parse_model(text).expect("the model parses");
        build("test", &stmts, funcs)
    }

    /// The error for `text`, with the text under its caret.
    fn error_in(text: &str, funcs: &dyn Functions) -> (Diag, String) {
        match build_in(text, funcs) {
            Ok(_) => panic!("`{text}` should not resolve"),
            Err(d) => {
                let under = text[d.span.clone()].to_string();
                (d, under)
            }
        }
    }

    fn error(text: &str) -> (Diag, String) {
        error_in(text, &no_functions())
    }

    /// The span starts at the `nth` (0-based) occurrence of `needle` as a
    /// whole word.
    fn at_occurrence(text: &str, d: &Diag, needle: &str, nth: usize) {
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let start = text
            .match_indices(needle)
            .map(|(i, _)| i)
            .filter(|&i| {
                !word(text[..i].chars().next_back())
                    && !word(text[i + needle.len()..].chars().next())
            })
            .nth(nth)
            .expect("the needle occurs");
        assert_eq!(d.span.start, start, "{d:?} in {text:?}");
    }

    #[test]
    fn use_before_definition() {
        let text = "x = relu(y)\ny ~ Normal(0, 1)";
        let (d, under) = error(text);
        assert_eq!(under, "y");
        at_occurrence(text, &d, "y", 0);
        assert!(
            d.message.contains("`y` is used before it is defined"),
            "{d:?}"
        );
        assert!(d.help.contains("earlier line"), "{d:?}");
    }

    #[test]
    fn defined_twice() {
        let text = "a ~ Normal(0, 1)\nb = 2\na = relu(b)";
        let (d, under) = error(text);
        assert_eq!(under, "a");
        at_occurrence(text, &d, "a", 1);
        assert!(d.message.contains("`a` is defined twice"), "{d:?}");
        // A pair's names count as definitions too.
        let text = "u ~ Normal(0, 1)\nu, v ~ BivariateNormal(1, 1, 0)";
        let (d, under) = error(text);
        assert_eq!(under, "u");
        at_occurrence(text, &d, "u", 1);
        assert!(d.message.contains("defined twice"), "{d:?}");
    }

    #[test]
    fn reserved_and_function_names() {
        for (text, name) in [("pi = 3", "pi"), ("e ~ Normal(0, 1)", "e")] {
            let (d, under) = error(text);
            assert_eq!(under, name);
            assert!(d.message.contains("reserved"), "{d:?}");
        }
        let (d, under) = error("relu = 2");
        assert_eq!(under, "relu");
        assert!(d.message.contains("`relu` is a function"), "{d:?}");
        let funcs = with_functions(&[("swish2", "x * sigmoid(2*x)")]);
        let (d, under) = error_in("swish2 ~ Normal(0, 1)", &funcs);
        assert_eq!(under, "swish2");
        assert!(d.message.contains("is a function"), "{d:?}");
    }

    #[test]
    fn unknown_name_lists_what_is_defined() {
        let text = "n = 4\na ~ Normal(0, 1)\nb = a + q";
        let (d, under) = error(text);
        assert_eq!(under, "q");
        assert_eq!(d.message, "unknown name `q`");
        assert!(d.help.contains("defined here: n, a"), "{d:?}");
        assert!(d.help.contains("pi, e"), "{d:?}");
        let (d, _) = error("b = q");
        assert!(d.help.contains("nothing is defined yet"), "{d:?}");
    }

    #[test]
    fn unknown_law_lists_the_laws() {
        let text = "a ~ Normol(0, 1)";
        let (d, under) = error(text);
        assert_eq!(under, "Normol");
        assert!(d.message.contains("unknown law `Normol`"), "{d:?}");
        for valid in [
            "Normal(mean, sd)",
            "Cauchy(loc, scale)",
            "TruncatedNormal(mean, sd, lo, hi)",
            "BivariateNormal(sd_u, sd_v, rho)",
        ] {
            assert!(d.help.contains(valid), "{valid} missing from {}", d.help);
        }
        assert!(d.help.starts_with("did you mean `Normal`? "), "{}", d.help);
    }

    #[test]
    fn law_parameters_out_of_range_point_at_the_parameter() {
        for (text, under, message) in [
            ("a ~ Normal(0, -1)", "-1", "sd must be > 0"),
            ("a ~ Normal(0, 1 - 1)", "1 - 1", "sd must be > 0"),
            ("a ~ Uniform(2, 1)", "1", "lo < hi"),
            ("a ~ Bernoulli(1.5)", "1.5", "p must be in [0, 1]"),
            ("a ~ StudentsT(0, 1, 0)", "0", "dof must be > 0"),
            ("u, v ~ BivariateNormal(1, 1, 2)", "2", "rho"),
        ] {
            let (d, got) = error(text);
            assert_eq!(got, under, "{text}: {d:?}");
            assert!(d.message.contains(message), "{text}: {d:?}");
        }
        // The help is the law's signature.
        let (d, _) = error("a ~ Laplace(0, 0)");
        assert_eq!(d.help, "Laplace(loc, scale)");
    }

    #[test]
    fn wrong_number_of_law_parameters() {
        let text = "a ~ Normal(0, 1, 2)";
        let (d, under) = error(text);
        assert_eq!(under, "2", "the first extra parameter");
        assert!(d.message.contains("Normal takes 2 parameters"), "{d:?}");
        let (d, under) = error("a ~ Normal(0)");
        assert!(
            under.starts_with("Normal(0)"),
            "the call, for a missing one: {under}"
        );
        assert!(d.message.contains("got 1"), "{d:?}");
        let (d, _) = error("a, b ~ Normal(0, 1)");
        assert!(
            d.message.contains("only BivariateNormal draws a pair"),
            "{d:?}"
        );
        let (d, _) = error("a ~ BivariateNormal(1, 1, 0)");
        assert!(d.message.contains("name two variables"), "{d:?}");
    }

    #[test]
    fn random_law_parameter() {
        let text = "a ~ Normal(0, 1)\nb ~ Normal(a, 1)";
        let (d, under) = error(text);
        assert_eq!(under, "a");
        at_occurrence(text, &d, "a", 1);
        assert!(d.message.contains("random"), "{d:?}");
    }

    #[test]
    fn wrong_arity() {
        let text = "a ~ Normal(0, 1)\nb = relu(a, 2)";
        let (d, under) = error(text);
        assert_eq!(under, "relu(a, 2)");
        assert_eq!(d.message, "relu takes 1 argument(s), got 2");
        assert_eq!(d.help, "write relu(x)");
        let (d, _) = error("a ~ Normal(0, 1)\nb = leaky_relu(a, 1, 2)");
        assert!(
            d.message.contains("takes 1 or 2 argument(s), got 3"),
            "{d:?}"
        );
        let funcs = with_functions(&[("f", "f(x, k) = x^k")]);
        let (d, under) = error_in("a ~ Normal(0, 1)\nb = f(a)", &funcs);
        assert_eq!(under, "f(a)");
        assert!(
            d.message.contains("f takes 2 argument(s) (x, k), got 1"),
            "{d:?}"
        );
    }

    #[test]
    fn unknown_function_lists_the_functions() {
        let funcs = with_functions(&[("swish2", "x * sigmoid(2*x)")]);
        let text = "a ~ Normal(0, 1)\nb = relo(a)";
        let (d, under) = error_in(text, &funcs);
        assert_eq!(under, "relo");
        assert_eq!(d.message, "unknown function `relo`");
        for f in ["relu", "leaky_relu", "gelu", "Phi", "swish2"] {
            assert!(d.help.contains(f), "{f} missing from {}", d.help);
        }
        assert!(d.help.starts_with("did you mean `relu`? "), "{}", d.help);
        let (d, _) = error_in("a ~ Normal(0, 1)\nb = swsh2(a)", &funcs);
        assert!(d.help.starts_with("did you mean `swish2`? "), "{}", d.help);
    }

    #[test]
    fn a_law_or_a_moment_called_as_a_function_is_named_as_such() {
        let (d, under) = error("a = Laplace(0, 1)");
        assert_eq!(under, "Laplace");
        assert_eq!(d.message, "`Laplace` is a law, not a function");
        assert_eq!(
            d.help,
            "a model draws from a law with `~`: `y ~ Laplace(loc, scale)`"
        );
        let (d, _) = error("a = BivariateNormal(1, 1, 0)");
        assert_eq!(
            d.help,
            "a model draws from a law with `~`: `u, v ~ BivariateNormal(sd_u, sd_v, rho)`"
        );
        let (d, under) = error("a ~ Normal(0, 1)\nb = Cov(a, a)");
        assert_eq!(under, "Cov");
        assert_eq!(d.message, "`Cov` is a moment, not a function");
        assert_eq!(d.help, "a moment takes square brackets: `Cov[X, Y]`");
    }

    #[test]
    fn sum_needs_a_whole_number_of_copies() {
        let text = "a ~ Normal(0, 1)\ns = sum(2.5, a)";
        let (d, under) = error(text);
        assert_eq!(under, "2.5");
        assert!(d.message.contains("whole number"), "{d:?}");
        let (_, under) = error("a ~ Normal(0, 1)\ns = sum(0, a)");
        assert_eq!(under, "0");
        let (d, under) = error("a ~ Normal(0, 1)\ns = sum(a, a)");
        assert_eq!(under, "a");
        assert!(d.message.contains("not random"), "{d:?}");
    }

    #[test]
    fn inlining_that_doubles_is_refused_before_it_explodes() {
        // Found by the fuzzer: f(x) = x * tanh(x) nested fifty deep copies
        // its argument twice a level, 2^50 nodes; it never finished.
        let mut funcs = std::collections::HashMap::new();
        funcs.insert(
            "f".to_string(),
            crate::lang::parse_function("f(x) = x * tanh(x)").unwrap(),
        );
        let text = format!(
            "y ~ Normal(0, 1)\ns = {}y{}",
            "f(".repeat(50),
            ")".repeat(50)
        );
        let (d, under) = error_in(&text, &funcs);
        assert!(d.message.contains("more than 50000 nodes"), "{d:?}");
        assert!(under.starts_with("f(f("), "{under}");
        // Variables that square the last one double the same way.
        let mut text = "x0 ~ Normal(0, 1)".to_string();
        for k in 1..40 {
            text.push_str(&format!("\nx{k} = x{} * x{}", k - 1, k - 1));
        }
        let (d, under) = error(&text);
        assert!(d.message.contains("`x15` expands to more than"), "{d:?}");
        assert_eq!(under, "x14 * x14");
        // Ten levels (about 3000 nodes) are fine.
        let ten = format!(
            "y ~ Normal(0, 1)\ns = {}y{}",
            "f(".repeat(10),
            ")".repeat(10)
        );
        build_in(&ten, &funcs).expect("ten levels resolve");
    }

    #[test]
    fn non_finite_parameters() {
        let text = "n = 4\nm = sqrt(-1)";
        let (d, under) = error(text);
        assert_eq!(under, "sqrt(-1)");
        assert!(d.message.contains("NaN"), "{d:?}");
        let (d, under) = error("n = 0\nw ~ Normal(0, 1/n)");
        assert_eq!(under, "1/n");
        assert!(d.message.contains("inf"), "{d:?}");
    }

    #[test]
    fn moments_inside_a_model_are_rejected() {
        let (d, under) = error("a ~ Normal(0, 1)\nb = E[a]");
        assert_eq!(under, "E[a]");
        assert!(
            d.message.contains("is a number, not a random expression"),
            "{d:?}"
        );
    }

    #[test]
    fn derived_variables_are_inlined_and_parameters_folded() {
        let m = build_in(
            "n = 4\nw ~ Normal(0, sqrt(2/n))\ny ~ Normal(0, 1)\nx = relu(y)\nz = n * x",
            &no_functions(),
        )
        .expect("resolves");
        assert_eq!(
            m.scenario.sources[0],
            Source::Single(Law::Normal {
                mean: 0.0,
                sd: 0.5f64.sqrt()
            })
        );
        assert_eq!(m.scenario.bases.len(), 2, "x and z are not base variables");
        let z = m
            .rv(&parse_expr("z").expect("parses"), &no_functions())
            .expect("resolves");
        let relu_y = Rv::Call(Builtin::Relu, vec![Rv::Base(VarId(1))]);
        assert_eq!(z, Rv::bin(BinOp::Mul, Rv::Const(4.0), relu_y));
        assert!(m.defines("x") && m.defines("n") && !m.defines("q"));
        assert_eq!(m.names().collect::<Vec<_>>(), ["n", "w", "y", "x", "z"]);
        // A default argument is filled in.
        let leaky = m
            .rv(
                &parse_expr("leaky_relu(y)").expect("parses"),
                &no_functions(),
            )
            .expect("resolves");
        assert_eq!(
            leaky,
            Rv::Call(
                Builtin::LeakyRelu,
                vec![Rv::Base(VarId(1)), Rv::Const(0.01)]
            )
        );
        // A sum keeps its count and body.
        let s = m
            .rv(&parse_expr("sum(n, w)").expect("parses"), &no_functions())
            .expect("resolves");
        assert_eq!(s, Rv::Sum(4, Box::new(Rv::Base(VarId(0)))));
    }

    #[test]
    fn file_functions_are_substituted() {
        let funcs = with_functions(&[("f", "f(x, a) = a * x"), ("g", "f(x, 2) + 1")]);
        let m = build_in("y ~ Normal(0, 1)\nt = g(y)", &funcs).expect("resolves");
        let t = m
            .rv(&parse_expr("t").expect("parses"), &funcs)
            .expect("resolves");
        let expected = Rv::Bin(
            BinOp::Add,
            Box::new(Rv::Bin(
                BinOp::Mul,
                Box::new(Rv::Const(2.0)),
                Box::new(Rv::Base(VarId(0))),
            )),
            Box::new(Rv::Const(1.0)),
        );
        assert_eq!(t, expected);
        // A function calling itself is stopped, at the call.
        let funcs = with_functions(&[("h", "h(x) + 1")]);
        let text = "y ~ Normal(0, 1)\nt = h(y)";
        let (d, under) = error_in(text, &funcs);
        assert_eq!(under, "h");
        assert!(d.message.contains("deep"), "{d:?}");
    }

    #[test]
    fn primes_are_expanded() {
        let funcs = with_functions(&[("sq", "x^2")]);
        let m = build_in("y ~ Normal(0, 1)", &funcs).expect("resolves");
        let lower = |s: &str| {
            m.rv(&parse_expr(s).expect("parses"), &funcs)
                .expect("resolves")
        };
        let at = |x: &Rv, y: f64| x.eval_at(&[y]);
        let relu_d = lower("relu'(y)");
        assert_eq!(
            [-1.0, 0.0, 2.0].map(|y| at(&relu_d, y)),
            [0.0, 0.0, 1.0],
            "relu'(0) = 0 by the convention"
        );
        let tanh_d = lower("tanh'(y)");
        for y in [-1.3, 0.0, 0.7] {
            let truth = 1.0 - f64::tanh(y).powi(2);
            assert!((at(&tanh_d, y) - truth).abs() <= 1e-15, "tanh'({y})");
        }
        // A file function's derivative comes from its body: (x^2)' = 2x.
        let sq_d = lower("sq'(y)");
        assert_eq!(at(&sq_d, 1.5), 3.0);
        assert!(!format!("{relu_d:?}").contains("Relu"), "{relu_d:?}");
    }

    #[test]
    fn claim_sides_share_moments_and_must_be_numbers() {
        let funcs = no_functions();
        let m = build_in("n = 3\ny ~ Normal(0, 1)\nx = relu(y)", &funcs).expect("resolves");
        let mut moments = Vec::new();
        let lhs = m
            .side(
                &parse_expr("E[x] + n * E[relu(y)]").expect("parses"),
                &funcs,
                &mut moments,
            )
            .expect("a side");
        let rhs = m
            .side(&parse_expr("Var[x]").expect("parses"), &funcs, &mut moments)
            .expect("a side");
        assert_eq!(
            moments.len(),
            2,
            "E[x] and E[relu(y)] are one moment: {moments:?}"
        );
        assert_eq!(
            lhs,
            Side::Bin(
                BinOp::Add,
                Box::new(Side::Leaf(0)),
                Box::new(Side::Bin(
                    BinOp::Mul,
                    Box::new(Side::Const(3.0)),
                    Box::new(Side::Leaf(0))
                ))
            )
        );
        assert_eq!(rhs, Side::Leaf(1));
        let text = "E[x] + y";
        let d = m
            .side(&parse_expr(text).expect("parses"), &funcs, &mut moments)
            .expect_err("y is random");
        assert_eq!(&text[d.span.clone()], "y");
        assert!(d.message.contains("random"), "{d:?}");
    }

    #[test]
    fn indexed_sum_errors_point_at_the_misuse() {
        let cases = [
            (
                "x ~ Normal(0, 1); s = x[i]",
                "i",
                "no `sum(i in n, ...)` is around it",
            ),
            (
                "x ~ Normal(0, 1); s = sum(i in 4, x[j])",
                "j",
                "did you mean `x[i]`?",
            ),
            ("x ~ Normal(0, 1); s = sum(i in 4, x*i)", "i", "not a value"),
            (
                "n = 3; x ~ Normal(0, 1); s = sum(i in 4, n[i]*x[i])",
                "n[i]",
                "a parameter",
            ),
            (
                "x ~ Normal(0, 1); s = sum(x in 4, 1)",
                "x",
                "already a name",
            ),
            (
                "x ~ Normal(0, 1); s = sum(i in 4, sum(2, x))",
                "sum(2, x)",
                "not supported",
            ),
            (
                "x ~ Normal(0, 1); s = sum(3, sum(i in 4, x[i]))",
                "sum(i in 4, x[i])",
                "inside `sum(n, T)`",
            ),
            (
                "x ~ Normal(0, 1); t = sum(3, x); s = sum(i in 4, t[i])",
                "t[i]",
                "holds a sum",
            ),
            (
                "x ~ Normal(0, 1); s = sum(i in 4, x[i]) + sum(i in 5, x[i])",
                "sum(i in 4, x[i]) + sum(i in 5, x[i])",
                "runs over 4 copies in one sum and 5",
            ),
            (
                "x ~ Normal(0, 1); s = sum(i in 2.5, x[i])",
                "2.5",
                "whole number",
            ),
        ];
        for (text, under_caret, message) in cases {
            let (d, under) = error(text);
            assert_eq!(under, under_caret, "{text}: {d:?}");
            assert!(
                d.message.contains(message) || d.help.contains(message),
                "{text}: {d:?}"
            );
        }
    }

    #[test]
    fn copies_and_shared_variables_lower_apart() {
        let m = build_in(
            "x ~ Normal(0, 1); c ~ Normal(0, 1); y = relu(x)",
            &no_functions(),
        )
        .expect("resolves");
        let s = m
            .rv(
                &parse_expr("sum(i in 4, y[i] + c)").expect("parses"),
                &no_functions(),
            )
            .expect("resolves");
        let Rv::IndexedSum(s) = s else {
            panic!("{s:?}")
        };
        assert_eq!(s.plate.count, 4);
        assert_eq!(
            s.body,
            Rv::bin(
                BinOp::Add,
                Rv::Call(Builtin::Relu, vec![Rv::Copy(VarId(0))]),
                Rv::Base(VarId(1))
            )
        );
    }
}
