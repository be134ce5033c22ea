//! Symbolic differentiation, prime expansion and simplification.
//!
//! The audit's claims about backward passes (He et al.'s `E[f'(y)^2]`)
//! need derivatives of activations, and a derivative computed by finite
//! differences would carry an error of its own into an "exact" value. So a
//! prime is rewritten away symbolically before evaluation: `relu'(y)`
//! becomes `step(y)`, and both engines then see ordinary built-ins.
//!
//! Each built-in's derivative is a template written in the language itself
//! (in the parameters `x` and `a`), so the rules read like the formulas in
//! a paper and are checked in the tests against finite differences. At
//! kinks the templates give what PyTorch's backward gives (`relu'(0) = 0`,
//! `leaky_relu'(0, a) = a`, `hardtanh'(+-1) = 0`), because the audit is
//! about what training actually computes. A file-defined function's
//! derivative comes from its body the same way; a function that reaches
//! itself while being differentiated is reported, not followed forever, and
//! a budget on the work done turns an exponential expansion into an error.
//!
//! Simplification is deliberately modest: constant folding (only when the
//! result is finite, so no `inf` appears that the source did not contain),
//! the identities of 0 and 1, and moving negations and constants to the
//! left of products so that printed derivatives read as a person would
//! write them (`-2*x*exp(-x^2)`). It treats `0*x` as 0 even where `x` would
//! be NaN, as algebra does.

use std::collections::HashMap;
use std::fmt;

use super::ast::{BinOp, Expr, ExprKind, Span};
use super::builtin::Builtin;
use super::{FunctionDef, parse_expr};

/// The functions a file defines, looked up by name.
pub trait Functions {
    fn get(&self, name: &str) -> Option<&FunctionDef>;

    /// Every defined name, for "what would be valid" in messages.
    fn names(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl Functions for HashMap<String, FunctionDef> {
    fn get(&self, name: &str) -> Option<&FunctionDef> {
        HashMap::get(self, name)
    }

    fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

/// No file-defined functions: only built-ins.
impl Functions for () {
    fn get(&self, _: &str) -> Option<&FunctionDef> {
        None
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DerivError {
    pub span: Span,
    pub message: String,
}

impl fmt::Display for DerivError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DerivError {}

fn error(span: &Span, message: impl Into<String>) -> DerivError {
    DerivError {
        span: span.clone(),
        message: message.into(),
    }
}

/// The names the templates use for the first and second argument.
const TEMPLATE_PARAMS: [&str; 2] = ["x", "a"];

/// A template parsed, with every node pointing at `span`.
fn template_expr(b: Builtin, arg: usize, span: &Span) -> Option<Expr> {
    let text = b.derivative(arg)?;
    let parsed = parse_expr(&text).expect("derivative templates are valid expressions");
    Some(respan(&parsed, span))
}

/// Largest expression a call may differentiate or expand to, in nodes and
/// in levels. Derivatives of real activations have hundreds of nodes and
/// a few dozen levels; nesting defined functions can double the size per
/// level, and a tree much deeper than this would endanger every recursive
/// pass after this one (each level is a stack frame).
const MAX_NODES: usize = 10_000;
const MAX_LEVELS: usize = 400;

/// Whether `e` has more than `MAX_NODES` nodes or `MAX_LEVELS` levels,
/// found without recursion and stopping as soon as it knows.
fn too_large(e: &Expr) -> bool {
    let mut todo = vec![(e, 1)];
    let mut count = 0;
    while let Some((e, level)) = todo.pop() {
        count += 1;
        if count > MAX_NODES || level > MAX_LEVELS {
            return true;
        }
        match &e.kind {
            ExprKind::Num(_) | ExprKind::Name(_) | ExprKind::Subscript { .. } => {}
            ExprKind::Neg(a) => todo.push((a, level + 1)),
            ExprKind::Binary(_, a, b)
            | ExprKind::Sum(a, b)
            | ExprKind::IndexedSum {
                count: a, body: b, ..
            } => {
                todo.extend([(&**a, level + 1), (&**b, level + 1)]);
            }
            ExprKind::Call { args, .. } | ExprKind::Moment(_, args) => {
                todo.extend(args.iter().map(|a| (a, level + 1)));
            }
        }
    }
    false
}

fn checked_size(e: Expr, span: &Span) -> Result<Expr, DerivError> {
    if too_large(&e) {
        return Err(error(
            span,
            format!(
                "the derivative grows too large to expand (more than {MAX_NODES} nodes or {MAX_LEVELS} levels; do defined functions nest each other many times?)"
            ),
        ));
    }
    Ok(e)
}

/// Deepest chain of defined functions differentiated inside one another;
/// each level costs stack in the recursion, and no real file comes close.
const MAX_NESTING: usize = 32;

/// Work allowed per top-level call, in nodes visited or built. Real
/// derivatives need thousands; only an exponential expansion gets near.
const FUEL: usize = 2_000_000;

struct Ctx<'f> {
    funcs: &'f dyn Functions,
    /// File functions being differentiated, outermost first.
    stack: Vec<String>,
    fuel: usize,
}

impl<'f> Ctx<'f> {
    fn new(funcs: &'f dyn Functions) -> Ctx<'f> {
        Ctx {
            funcs,
            stack: Vec::new(),
            fuel: FUEL,
        }
    }

    fn burn(&mut self, span: &Span) -> Result<(), DerivError> {
        if self.fuel == 0 {
            return Err(error(
                span,
                "the derivative grows too large to expand (do defined functions nest each other many times?)",
            ));
        }
        self.fuel -= 1;
        Ok(())
    }

    fn enter(&mut self, func: &str, span: &Span) -> Result<(), DerivError> {
        if self.stack.len() >= MAX_NESTING {
            return Err(error(
                span,
                format!("defined functions nest more than {MAX_NESTING} deep here"),
            ));
        }
        if let Some(i) = self.stack.iter().position(|f| f == func) {
            let cycle: Vec<&str> = self.stack[i..]
                .iter()
                .map(String::as_str)
                .chain([func])
                .collect();
            return Err(error(
                span,
                format!(
                    "recursive function: `{}` reaches itself ({})",
                    func,
                    cycle.join(" -> ")
                ),
            ));
        }
        self.stack.push(func.to_string());
        Ok(())
    }

    /// `body` differentiated `times` times in `param`, with `func` on the
    /// stack so that recursion through the body is caught.
    fn diff_body(
        &mut self,
        func: &str,
        def: &FunctionDef,
        param: usize,
        times: u32,
        span: &Span,
    ) -> Result<Expr, DerivError> {
        self.enter(func, span)?;
        let mut d = Ok(def.body.clone());
        for _ in 0..times {
            d = d.and_then(|body| self.diff(&body, &def.params[param]));
        }
        self.stack.pop();
        checked_size(respan(&d?, span), span)
    }

    fn diff(&mut self, e: &Expr, var: &str) -> Result<Expr, DerivError> {
        self.burn(&e.span)?;
        let s = e.span.clone();
        match &e.kind {
            ExprKind::Num(_) => Ok(num(0.0, s)),
            ExprKind::Name(n) => Ok(num(if n == var { 1.0 } else { 0.0 }, s)),
            ExprKind::Neg(a) => Ok(neg(self.diff(a, var)?, s)),
            ExprKind::Binary(op, a, b) => self.diff_binary(*op, a, b, var, s),
            ExprKind::Call {
                func, primes, args, ..
            } => self.diff_call(func, *primes, args, var, s),
            ExprKind::Moment(..) => Err(error(
                &s,
                "cannot differentiate a moment: `E`, `Var` and `Cov` are numbers, not functions of a variable",
            )),
            ExprKind::Sum(..) | ExprKind::IndexedSum { .. } => Err(error(
                &s,
                "cannot differentiate a moment: `sum(n, T)` is a sum of random copies",
            )),
            ExprKind::Subscript { .. } => Err(error(
                &s,
                "cannot differentiate a copy `x[i]`: it belongs to a sum of random copies",
            )),
        }
    }

    // The cases of `diff` live in their own functions to keep its stack
    // frame small: it recurses once per level of the tree.

    fn diff_binary(
        &mut self,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        var: &str,
        s: Span,
    ) -> Result<Expr, DerivError> {
        let da = self.diff(a, var)?;
        let db = self.diff(b, var)?;
        let c = |e: &Expr| e.clone();
        Ok(match op {
            BinOp::Add | BinOp::Sub => bin(op, da, db, s),
            BinOp::Mul => {
                let left = bin(BinOp::Mul, da, c(b), s.clone());
                let right = bin(BinOp::Mul, c(a), db, s.clone());
                bin(BinOp::Add, left, right, s)
            }
            BinOp::Div if is_zero(&db) => bin(BinOp::Div, da, c(b), s),
            BinOp::Div => {
                let left = bin(BinOp::Mul, da, c(b), s.clone());
                let right = bin(BinOp::Mul, c(a), db, s.clone());
                let top = bin(BinOp::Sub, left, right, s.clone());
                let bottom = bin(BinOp::Pow, c(b), num(2.0, s.clone()), s.clone());
                bin(BinOp::Div, top, bottom, s)
            }
            BinOp::Pow => diff_pow(a, b, da, db, s),
        })
    }

    /// The chain rule: the sum over arguments of argument' * partial.
    /// The argument's derivative goes first, so `sin(2*x)` gives
    /// `2*cos(2*x)`.
    fn diff_call(
        &mut self,
        func: &str,
        primes: u32,
        args: &[Expr],
        var: &str,
        s: Span,
    ) -> Result<Expr, DerivError> {
        if primes > 0 {
            let Some(expanded) = self.expand_call(func, primes, args, &s)? else {
                return Err(error(
                    &s,
                    format!("cannot differentiate `{func}`: it is not a known function"),
                ));
            };
            return self.diff(&expanded, var);
        }
        let mut total = num(0.0, s.clone());
        for (i, arg) in args.iter().enumerate() {
            let d = self.diff(arg, var)?;
            if is_zero(&d) {
                continue;
            }
            let partial = self.partial(func, i, args, &s)?;
            let term = bin(BinOp::Mul, d, partial, s.clone());
            total = checked_size(bin(BinOp::Add, total, term, s.clone()), &s)?;
        }
        Ok(total)
    }

    /// The built-in's arguments with its optional trailing ones filled in.
    fn builtin_args(b: Builtin, args: &[Expr], span: &Span) -> Result<Vec<Expr>, DerivError> {
        let (lo, hi) = b.arity();
        if args.len() < lo || args.len() > hi {
            return Err(error(
                span,
                format!(
                    "`{}` is called with {} argument(s); it is written {}",
                    b.name(),
                    args.len(),
                    b.signature()
                ),
            ));
        }
        let mut full = args.to_vec();
        let missing = hi - args.len();
        let defaults = b.default_args();
        for &d in &defaults[defaults.len() - missing..] {
            full.push(num(d, span.clone()));
        }
        Ok(full)
    }

    fn check_arity(
        func: &str,
        def: &FunctionDef,
        given: usize,
        span: &Span,
    ) -> Result<(), DerivError> {
        if def.params.len() != given || given == 0 {
            return Err(error(
                span,
                format!(
                    "`{func}` takes {} argument(s) ({}), but is called with {given}",
                    def.params.len(),
                    def.params.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// The partial derivative of `func` in argument `i`, at `args`.
    fn partial(
        &mut self,
        func: &str,
        i: usize,
        args: &[Expr],
        span: &Span,
    ) -> Result<Expr, DerivError> {
        if let Some(b) = Builtin::from_name(func) {
            let full = Self::builtin_args(b, args, span)?;
            let Some(t) = template_expr(b, i, span) else {
                return Err(error(
                    span,
                    format!("cannot differentiate `{func}` in its argument {}", i + 1),
                ));
            };
            return self.substitute(&t, &TEMPLATE_PARAMS[..full.len()], &full);
        }
        let funcs = self.funcs;
        if let Some(def) = funcs.get(func) {
            Self::check_arity(func, def, args.len(), span)?;
            let d = self.diff_body(func, def, i, 1, span)?;
            return checked_size(self.substitute(&d, &def.params, args)?, span);
        }
        Err(error(
            span,
            format!("cannot differentiate `{func}`: it is not a known function"),
        ))
    }

    /// `func` with `primes` primes at `args`, written without primes; `None`
    /// for a function that is neither built in nor defined.
    fn expand_call(
        &mut self,
        func: &str,
        primes: u32,
        args: &[Expr],
        span: &Span,
    ) -> Result<Option<Expr>, DerivError> {
        if let Some(b) = Builtin::from_name(func) {
            let full = Self::builtin_args(b, args, span)?;
            // trigamma is the end of the chain: its derivative, a
            // polygamma function, is not in the language.
            let Some(t) = template_expr(b, 0, span) else {
                return Err(error(
                    span,
                    format!("cannot differentiate `{func}`: its derivative is not in the language"),
                ));
            };
            // An omitted argument is a constant: put it in before
            // simplifying, so `leaky_relu'(y)` folds its default slope.
            let (names, values) = if args.len() < full.len() {
                (&TEMPLATE_PARAMS[1..], &full[1..])
            } else {
                (&TEMPLATE_PARAMS[..0], &full[..0])
            };
            let mut d = simplify(&self.substitute(&t, names, values)?);
            for _ in 1..primes {
                d = self.diff(&d, TEMPLATE_PARAMS[0])?;
            }
            let given = args.len();
            let e = self.substitute(&d, &TEMPLATE_PARAMS[..given.min(2)], args)?;
            return checked_size(e, span).map(Some);
        }
        let funcs = self.funcs;
        if let Some(def) = funcs.get(func) {
            Self::check_arity(func, def, args.len(), span)?;
            let d = self.diff_body(func, def, 0, primes, span)?;
            let e = self.substitute(&d, &def.params, args)?;
            return checked_size(e, span).map(Some);
        }
        Ok(None)
    }

    /// Replaces every name in `params` with the matching `args` at once,
    /// so an argument that mentions a parameter's name is not touched.
    fn substitute<S: AsRef<str>>(
        &mut self,
        e: &Expr,
        params: &[S],
        args: &[Expr],
    ) -> Result<Expr, DerivError> {
        self.burn(&e.span)?;
        let kind = match &e.kind {
            ExprKind::Name(n) => {
                if let Some(i) = params.iter().position(|p| p.as_ref() == n) {
                    return Ok(args[i].clone());
                }
                e.kind.clone()
            }
            _ => self.map_children(e, &mut |cx, child| cx.substitute(child, params, args))?,
        };
        Ok(Expr::new(kind, e.span.clone()))
    }

    fn expand(&mut self, e: &Expr) -> Result<Expr, DerivError> {
        self.burn(&e.span)?;
        let kind = self.map_children(e, &mut |cx, child| cx.expand(child))?;
        if let ExprKind::Call {
            func, primes, args, ..
        } = &kind
            && *primes > 0
            && let Some(expanded) = self.expand_call(func, *primes, args, &e.span)?
        {
            return Ok(expanded);
        }
        Ok(Expr::new(kind, e.span.clone()))
    }

    /// `e`'s node with `f` applied to each child.
    fn map_children(
        &mut self,
        e: &Expr,
        f: &mut dyn FnMut(&mut Self, &Expr) -> Result<Expr, DerivError>,
    ) -> Result<ExprKind, DerivError> {
        try_map_kind(e, &mut |c| f(self, c))
    }
}

/// d(a^b) from a, b and their derivatives, by the cheapest rule that applies.
fn diff_pow(a: &Expr, b: &Expr, da: Expr, db: Expr, s: Span) -> Expr {
    let pow = |s: &Span| bin(BinOp::Pow, a.clone(), b.clone(), s.clone());
    let log_a = |s: &Span| call(Builtin::Log, vec![a.clone()], s.clone());
    match (is_zero(&da), is_zero(&db)) {
        (true, true) => num(0.0, s),
        // power rule: b * a^(b - 1) * a'
        (false, true) => {
            let b_minus_1 = bin(BinOp::Sub, b.clone(), num(1.0, s.clone()), s.clone());
            let a_pow = bin(BinOp::Pow, a.clone(), b_minus_1, s.clone());
            let coef = bin(BinOp::Mul, b.clone(), a_pow, s.clone());
            bin(BinOp::Mul, coef, da, s)
        }
        // exponential: a^b * log(a) * b'
        (true, false) => {
            let f = bin(BinOp::Mul, pow(&s), log_a(&s), s.clone());
            bin(BinOp::Mul, f, db, s)
        }
        // a^b * (b' log(a) + b a' / a)
        (false, false) => {
            let t1 = bin(BinOp::Mul, db, log_a(&s), s.clone());
            let t2 = bin(
                BinOp::Div,
                bin(BinOp::Mul, b.clone(), da, s.clone()),
                a.clone(),
                s.clone(),
            );
            let sum = bin(BinOp::Add, t1, t2, s.clone());
            bin(BinOp::Mul, pow(&s), sum, s)
        }
    }
}

/// `e` with every span (and function-name span) set to `span`: nodes made
/// from a template or a function body point at the call they came from.
fn respan(e: &Expr, span: &Span) -> Expr {
    let kind = match &e.kind {
        ExprKind::Call {
            func, primes, args, ..
        } => ExprKind::Call {
            func: func.clone(),
            func_span: span.clone(),
            primes: *primes,
            args: args.iter().map(|a| respan(a, span)).collect(),
        },
        _ => map_kind(e, &mut |c| respan(c, span)),
    };
    Expr::new(kind, span.clone())
}

/// `e`'s node with `f` applied to each child (infallible).
fn map_kind(e: &Expr, f: &mut dyn FnMut(&Expr) -> Expr) -> ExprKind {
    match try_map_kind(e, &mut |c| Ok::<_, std::convert::Infallible>(f(c))) {
        Ok(kind) => kind,
        Err(never) => match never {},
    }
}

/// `e`'s node with `f` applied to each child, stopping at the first error.
fn try_map_kind<E>(e: &Expr, f: &mut dyn FnMut(&Expr) -> Result<Expr, E>) -> Result<ExprKind, E> {
    Ok(match &e.kind {
        ExprKind::Num(_) | ExprKind::Name(_) | ExprKind::Subscript { .. } => e.kind.clone(),
        ExprKind::Neg(a) => ExprKind::Neg(Box::new(f(a)?)),
        ExprKind::Binary(op, a, b) => ExprKind::Binary(*op, Box::new(f(a)?), Box::new(f(b)?)),
        ExprKind::Call {
            func,
            func_span,
            primes,
            args,
        } => ExprKind::Call {
            func: func.clone(),
            func_span: func_span.clone(),
            primes: *primes,
            args: args.iter().map(&mut *f).collect::<Result<_, _>>()?,
        },
        ExprKind::Moment(op, args) => {
            ExprKind::Moment(*op, args.iter().map(&mut *f).collect::<Result<_, _>>()?)
        }
        ExprKind::Sum(n, body) => ExprKind::Sum(Box::new(f(n)?), Box::new(f(body)?)),
        ExprKind::IndexedSum {
            index,
            index_span,
            count,
            body,
        } => ExprKind::IndexedSum {
            index: index.clone(),
            index_span: index_span.clone(),
            count: Box::new(f(count)?),
            body: Box::new(f(body)?),
        },
    })
}

/// d(`expr`)/d(`var`), simplified. Primes inside are expanded first; a
/// moment or `sum` inside is an error.
pub fn derivative(expr: &Expr, var: &str, funcs: &dyn Functions) -> Result<Expr, DerivError> {
    let mut cx = Ctx::new(funcs);
    // Expanding first keeps primes out of the factors the product rule
    // copies into the result.
    let expanded = cx.expand(expr)?;
    let d = cx.diff(&expanded, var)?;
    Ok(simplify(&d))
}

/// Rewrites every call with primes into an expression without them:
/// `f''(a)` is the second derivative of `f` in its first argument,
/// evaluated at `a` (no chain rule: the prime belongs to `f`). Calls of
/// unknown functions are left as they are, for resolution to report.
pub fn expand_primes(expr: &Expr, funcs: &dyn Functions) -> Result<Expr, DerivError> {
    Ctx::new(funcs).expand(expr)
}

/// Constant folding and the identities of 0 and 1, bottom up.
pub fn simplify(expr: &Expr) -> Expr {
    let s = expr.span.clone();
    match &expr.kind {
        ExprKind::Neg(a) => neg(simplify(a), s),
        ExprKind::Binary(op, a, b) => bin(*op, simplify(a), simplify(b), s),
        _ => Expr::new(map_kind(expr, &mut simplify), s),
    }
}

fn num(v: f64, span: Span) -> Expr {
    // + 0.0 turns -0 into 0, which prints as it reads.
    Expr::new(ExprKind::Num(v + 0.0), span)
}

fn call(b: Builtin, args: Vec<Expr>, span: Span) -> Expr {
    let kind = ExprKind::Call {
        func: b.name().to_string(),
        func_span: span.clone(),
        primes: 0,
        args,
    };
    Expr::new(kind, span)
}

fn value(e: &Expr) -> Option<f64> {
    match e.kind {
        ExprKind::Num(v) => Some(v),
        _ => None,
    }
}

fn is_zero(e: &Expr) -> bool {
    value(e) == Some(0.0)
}

fn is_num(e: &Expr, v: f64) -> bool {
    value(e) == Some(v)
}

/// `-a` with the minus sunk into the leftmost factor, so `-(2*x)` is
/// `-2*x` and `-(a - b)` is `b - a`. Assumes `a` is simplified.
fn neg(a: Expr, span: Span) -> Expr {
    match a.kind {
        ExprKind::Num(v) => num(-v, span),
        ExprKind::Neg(inner) => *inner,
        ExprKind::Binary(BinOp::Mul, l, r) => bin(BinOp::Mul, neg(*l, span.clone()), *r, span),
        ExprKind::Binary(BinOp::Div, l, r) => bin(BinOp::Div, neg(*l, span.clone()), *r, span),
        ExprKind::Binary(BinOp::Sub, l, r) => bin(BinOp::Sub, *r, *l, span),
        kind => Expr::new(ExprKind::Neg(Box::new(Expr::new(kind, a.span))), span),
    }
}

/// `Some(p)` when `e` is `-p` in the forms `neg` produces.
fn split_neg(e: &Expr) -> Option<Expr> {
    match &e.kind {
        ExprKind::Num(v) if *v < 0.0 => Some(num(-v, e.span.clone())),
        ExprKind::Neg(inner) => Some((**inner).clone()),
        ExprKind::Binary(op @ (BinOp::Mul | BinOp::Div), l, r) => {
            split_neg(l).map(|p| bin(*op, p, (**r).clone(), e.span.clone()))
        }
        _ => None,
    }
}

/// Equal as trees, spans aside, and so equal in value.
fn same(a: &Expr, b: &Expr) -> bool {
    match (&a.kind, &b.kind) {
        (ExprKind::Num(x), ExprKind::Num(y)) => x == y,
        (ExprKind::Name(x), ExprKind::Name(y)) => x == y,
        (ExprKind::Neg(x), ExprKind::Neg(y)) => same(x, y),
        (ExprKind::Binary(o, x1, x2), ExprKind::Binary(p, y1, y2)) => {
            o == p && same(x1, y1) && same(x2, y2)
        }
        (
            ExprKind::Call {
                func: f,
                primes: p,
                args: xs,
                ..
            },
            ExprKind::Call {
                func: g,
                primes: q,
                args: ys,
                ..
            },
        ) => f == g && p == q && all_same(xs, ys),
        (ExprKind::Moment(o, xs), ExprKind::Moment(p, ys)) => o == p && all_same(xs, ys),
        // One copy of one variable, in one sum over its index.
        (
            ExprKind::Subscript {
                name: x, index: i, ..
            },
            ExprKind::Subscript {
                name: y, index: j, ..
            },
        ) => x == y && i == j,
        // Two `sum(n, T)` are independent draws even when written alike,
        // so no two of them are the same.
        _ => false,
    }
}

fn all_same(xs: &[Expr], ys: &[Expr]) -> bool {
    xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
}

fn fold(op: BinOp, x: f64, y: f64) -> Option<f64> {
    let v = op.apply(x, y);
    v.is_finite().then_some(v)
}

/// `a op b`, simplified, assuming `a` and `b` are.
fn bin(op: BinOp, a: Expr, b: Expr, span: Span) -> Expr {
    if let (Some(x), Some(y)) = (value(&a), value(&b))
        && let Some(v) = fold(op, x, y)
    {
        return num(v, span);
    }
    match op {
        BinOp::Add => {
            if is_zero(&a) {
                return b;
            }
            if is_zero(&b) {
                return a;
            }
            if let Some(p) = split_neg(&b) {
                return bin(BinOp::Sub, a, p, span);
            }
            if let Some(p) = split_neg(&a) {
                return bin(BinOp::Sub, b, p, span);
            }
        }
        BinOp::Sub => {
            if is_zero(&b) {
                return a;
            }
            if is_zero(&a) {
                return neg(b, span);
            }
            if let Some(p) = split_neg(&b) {
                return bin(BinOp::Add, a, p, span);
            }
            if same(&a, &b) {
                return num(0.0, span);
            }
        }
        BinOp::Mul => {
            if is_zero(&a) || is_zero(&b) {
                return num(0.0, span);
            }
            if is_num(&a, 1.0) {
                return b;
            }
            if is_num(&b, 1.0) {
                return a;
            }
            if is_num(&a, -1.0) {
                return neg(b, span);
            }
            if is_num(&b, -1.0) {
                return neg(a, span);
            }
            if let Some(p) = split_neg(&b) {
                return bin(BinOp::Mul, neg(a, span.clone()), p, span);
            }
            if value(&b).is_some() {
                return bin(BinOp::Mul, b, a, span);
            }
            if let ExprKind::Binary(BinOp::Mul, b1, b2) = b.kind {
                let left = bin(BinOp::Mul, a, *b1, span.clone());
                return bin(BinOp::Mul, left, *b2, span);
            }
        }
        BinOp::Div => {
            if is_zero(&a) {
                return num(0.0, span);
            }
            if is_num(&b, 1.0) {
                return a;
            }
            if is_num(&b, -1.0) {
                return neg(a, span);
            }
            if let Some(p) = split_neg(&b) {
                return bin(BinOp::Div, neg(a, span.clone()), p, span);
            }
            if same(&a, &b) {
                return num(1.0, span);
            }
        }
        BinOp::Pow => {
            if is_num(&b, 1.0) {
                return a;
            }
            if is_zero(&b) || is_num(&a, 1.0) {
                return num(1.0, span);
            }
        }
    }
    Expr::new(ExprKind::Binary(op, Box::new(a), Box::new(b)), span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::builtin::{GELU_TANH_C, GELU_TANH_K, SELU_ALPHA, SELU_LAMBDA};
    use crate::lang::{parse_function, sexpr};
    use crate::special::pdf as norm_pdf;
    use libm::erf;
    use proptest::prelude::*;
    use std::f64::consts::{E, PI, SQRT_2};

    /// Evaluates a prime-free expression with `x` and `a` bound (and the
    /// constants `pi` and `e`). Test-only: it panics on what it cannot do.
    fn eval(e: &Expr, x: f64, a: f64) -> f64 {
        let ev = |e: &Expr| eval(e, x, a);
        match &e.kind {
            ExprKind::Num(v) => *v,
            ExprKind::Name(n) => match n.as_str() {
                "x" => x,
                "a" => a,
                "pi" => PI,
                "e" => E,
                other => panic!("unbound name {other}"),
            },
            ExprKind::Neg(inner) => -ev(inner),
            ExprKind::Binary(op, l, r) => op.apply(ev(l), ev(r)),
            ExprKind::Call {
                func, primes, args, ..
            } => {
                assert_eq!(*primes, 0, "unexpanded prime in {e}");
                let b = Builtin::from_name(func).unwrap_or_else(|| panic!("unknown {func}"));
                let mut vals: Vec<f64> = args.iter().map(ev).collect();
                let missing = b.arity().1 - vals.len();
                let d = b.default_args();
                vals.extend_from_slice(&d[d.len() - missing..]);
                b.eval(&vals)
            }
            ExprKind::Moment(..)
            | ExprKind::Sum(..)
            | ExprKind::IndexedSum { .. }
            | ExprKind::Subscript { .. } => panic!("not deterministic: {e}"),
        }
    }

    fn parse(s: &str) -> Expr {
        parse_expr(s).unwrap_or_else(|err| panic!("{s}: {err}"))
    }

    fn d(s: &str, var: &str) -> Expr {
        derivative(&parse(s), var, &()).unwrap_or_else(|err| panic!("d/d{var} {s}: {err}"))
    }

    fn expanded(s: &str, funcs: &dyn Functions) -> Expr {
        expand_primes(&parse(s), funcs).unwrap_or_else(|err| panic!("{s}: {err}"))
    }

    /// Central difference of `f` at `x`; with h = 1e-5 its error is about
    /// 1e-11 for the functions here, far inside the tolerances used.
    fn central(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-5;
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    fn close(got: f64, want: f64, tol: f64) -> bool {
        (got - want).abs() <= tol * (1.0 + want.abs())
    }

    /// Points where `b` is smooth and inside its domain.
    fn smooth_points(b: Builtin) -> &'static [f64] {
        match b {
            Builtin::Sqrt | Builtin::Log => &[0.3, 1.1, 2.5, 7.0],
            Builtin::Asin | Builtin::Acos => &[-0.8, -0.3, 0.2, 0.7],
            // Between and beyond the poles at the non-positive integers;
            // beta's x + a must avoid them too.
            Builtin::Gamma | Builtin::Lgamma | Builtin::Digamma | Builtin::Trigamma => {
                &[-2.3, -1.7, -0.6, 0.35, 0.9, 1.3, 2.2, 7.5]
            }
            Builtin::Beta => &[0.35, 0.9, 1.3, 2.2, 7.5],
            // Either side of the kinks at -3 and 3, and at 6.
            Builtin::Hardswish | Builtin::Hardsigmoid => &[-4.0, -2.3, -0.6, 0.35, 2.2, 3.5],
            Builtin::Relu6 => &[-1.7, 0.35, 2.2, 5.5, 6.5],
            _ => &[-2.3, -1.7, -0.6, 0.35, 0.9, 1.3, 2.2],
        }
    }

    /// The call of `b` used to check it: two-argument built-ins take `a`.
    fn call_text(b: Builtin) -> String {
        match b.arity() {
            (_, 2) => format!("{}(x, a)", b.name()),
            _ => format!("{}(x)", b.name()),
        }
    }

    const A: f64 = 0.3;

    #[test]
    fn every_template_matches_a_finite_difference() {
        for b in Builtin::ALL.into_iter().filter(|&b| b != Builtin::Trigamma) {
            let f = parse(&call_text(b));
            let dfdx = d(&call_text(b), "x");
            let primed = expanded(
                &format!(
                    "{}'({})",
                    b.name(),
                    &call_text(b)[b.name().len() + 1..].trim_end_matches(')')
                ),
                &(),
            );
            for &x in smooth_points(b) {
                let want = central(|x| eval(&f, x, A), x);
                let got = eval(&dfdx, x, A);
                assert!(
                    close(got, want, 1e-8),
                    "{}: d/dx at {x}: {got} vs {want}",
                    b.name()
                );
                let got = eval(&primed, x, A);
                assert!(
                    close(got, want, 1e-8),
                    "{}' at {x}: {got} vs {want}",
                    b.name()
                );
            }
        }
    }

    #[test]
    fn second_argument_templates_match_finite_differences() {
        let mut checked = 0;
        for b in Builtin::ALL.into_iter().filter(|b| b.arity().1 == 2) {
            let f = parse(&call_text(b));
            let dfda = d(&call_text(b), "a");
            for &x in smooth_points(b) {
                for a in [0.3, 1.4] {
                    let want = central(|a| eval(&f, x, a), a);
                    let got = eval(&dfda, x, a);
                    assert!(
                        close(got, want, 1e-8),
                        "{}: d/da at x={x}, a={a}: {got} vs {want}",
                        b.name()
                    );
                }
            }
            checked += 1;
        }
        assert_eq!(checked, 7, "min, max, leaky_relu, prelu, elu, beta, celu");
    }

    #[test]
    fn activation_derivatives_against_closed_forms() {
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        // Misra 2019, eq. for mish': e^x w / d^2
        let mish = |x: f64| {
            let ex = x.exp();
            let w =
                4.0 * (x + 1.0) + 4.0 * (2.0 * x).exp() + (3.0 * x).exp() + ex * (4.0 * x + 6.0);
            let dd = 2.0 * ex + (2.0 * x).exp() + 2.0;
            ex * w / (dd * dd)
        };
        let silu = |x: f64| (1.0 + (-x).exp() + x * (-x).exp()) / (1.0 + (-x).exp()).powi(2);
        let gelu =
            |x: f64| 0.5 * (1.0 + erf(x / SQRT_2)) + x * (-x * x / 2.0).exp() / (2.0 * PI).sqrt();
        let selu = |x: f64| {
            if x > 0.0 {
                SELU_LAMBDA
            } else {
                SELU_LAMBDA * SELU_ALPHA * x.exp()
            }
        };
        let tanh2 = |x: f64| -2.0 * x.tanh() * (1.0 - x.tanh().powi(2));
        let sigmoid2 = |x: f64| sigmoid(x) * (1.0 - sigmoid(x)) * (1.0 - 2.0 * sigmoid(x));
        let erf1 = |x: f64| 2.0 / PI.sqrt() * (-x * x).exp();
        let phi2 = |x: f64| (x * x - 1.0) * norm_pdf(x);
        // PyTorch's form of gelu(approximate='tanh')': with t = tanh(u),
        // u = k (x + c x^3): (1 + t)/2 + x (1 - t^2) u'/2.
        let gelu_tanh = |x: f64| {
            let (k, c) = (GELU_TANH_K, GELU_TANH_C);
            let t = (k * (x + c * x * x * x)).tanh();
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * c * x * x)
        };
        let logsigmoid = |x: f64| 1.0 / (1.0 + x.exp());
        let softsign = |x: f64| (1.0 + x.abs()).powi(-2);
        let cases: [(&str, &dyn Fn(f64) -> f64); 12] = [
            ("mish'(x)", &mish),
            ("silu'(x)", &silu),
            ("gelu'(x)", &gelu),
            ("selu'(x)", &selu),
            ("softplus'(x)", &sigmoid),
            ("tanh''(x)", &tanh2),
            ("sigmoid''(x)", &sigmoid2),
            ("erf'(x)", &erf1),
            ("phi''(x)", &phi2),
            ("gelu_tanh'(x)", &gelu_tanh),
            ("logsigmoid'(x)", &logsigmoid),
            ("softsign'(x)", &softsign),
        ];
        for (src, want) in cases {
            let e = expanded(src, &());
            for x in [-3.1, -1.2, -0.4, 0.25, 0.8, 1.7, 4.0] {
                let (got, want) = (eval(&e, x, 0.0), want(x));
                assert!(close(got, want, 1e-13), "{src} at {x}: {got} vs {want}");
            }
        }
        // gelu'' and mish'' have no short closed form: check them against a
        // finite difference of the (independently checked) first derivative
        for name in ["gelu", "mish", "elu", "atan", "asin"] {
            let first = expanded(&format!("{name}'(x)"), &());
            let second = expanded(&format!("{name}''(x)"), &());
            for x in [-0.7, -0.2, 0.3, 0.6] {
                let want = central(|x| eval(&first, x, 0.0), x);
                let got = eval(&second, x, 0.0);
                assert!(close(got, want, 1e-8), "{name}'' at {x}: {got} vs {want}");
            }
        }
        // the selu template carries the constants of builtin.rs exactly
        let selu = parse(&Builtin::Selu.derivative(0).unwrap());
        let ExprKind::Binary(BinOp::Mul, lambda, _) = &selu.kind else {
            panic!("selu template shape: {selu}")
        };
        assert_eq!(lambda.kind, ExprKind::Num(SELU_LAMBDA));
        assert!(
            selu.to_string().contains(&format!("*{SELU_ALPHA}*")),
            "{selu}"
        );
    }

    #[test]
    fn kinks_follow_pytorch() {
        let at = |src: &str, x: f64, a: f64| eval(&expanded(src, &()), x, a);
        assert_eq!(at("relu'(x)", 0.0, 0.0), 0.0);
        assert_eq!(at("hardtanh'(x)", 1.0, 0.0), 0.0);
        assert_eq!(at("hardtanh'(x)", -1.0, 0.0), 0.0);
        assert_eq!(at("hardtanh'(x)", 0.999, 0.0), 1.0);
        assert_eq!(at("leaky_relu'(x, a)", 0.0, 0.2), 0.2);
        assert_eq!(at("leaky_relu'(x)", 0.0, 0.0), 0.01);
        assert_eq!(at("prelu'(x, a)", 0.0, 0.25), 0.25);
        assert_eq!(at("elu'(x, a)", 0.0, 0.7), 0.7);
        assert_eq!(at("elu'(x)", 0.0, 0.0), 1.0);
        assert_eq!(at("selu'(x)", 0.0, 0.0), SELU_LAMBDA * SELU_ALPHA);
        assert_eq!(at("abs'(x)", 0.0, 0.0), 0.0);
        // hardswish_backward: x/3 + 1/2 on [-3, 3], both ends included;
        // hardsigmoid_backward and relu6 (hardtanh(x, 0, 6)): 0 at the ends.
        assert_eq!(at("hardswish'(x)", -3.0, 0.0), -0.5);
        assert_eq!(at("hardswish'(x)", 3.0, 0.0), 1.5);
        assert_eq!(at("hardswish'(x)", -3.5, 0.0), 0.0);
        assert_eq!(at("hardswish'(x)", 3.5, 0.0), 1.0);
        assert_eq!(at("hardsigmoid'(x)", -3.0, 0.0), 0.0);
        assert_eq!(at("hardsigmoid'(x)", 3.0, 0.0), 0.0);
        assert_eq!(at("hardsigmoid'(x)", 0.0, 0.0), 1.0 / 6.0);
        assert_eq!(at("relu6'(x)", 0.0, 0.0), 0.0);
        assert_eq!(at("relu6'(x)", 6.0, 0.0), 0.0);
        assert_eq!(at("relu6'(x)", 5.9, 0.0), 1.0);
        // celu is smooth to first order at 0: slope 1 from both sides.
        assert_eq!(at("celu'(x, a)", 0.0, 0.7), 1.0);
        assert_eq!(at("celu'(x)", -800.0, 0.0), 0.0);
        // far right, elu' stays exact instead of inf*0
        assert_eq!(at("elu'(x)", 800.0, 0.0), 1.0);
        assert_eq!(at("elu''(x)", 800.0, 0.0), 0.0);
        // min(x, x) still has slope 1
        assert_eq!(eval(&d("min(x, x)", "x"), 0.5, 0.0), 1.0);
    }

    #[test]
    fn a_defined_function_differentiates_from_its_body() {
        let mut funcs = HashMap::new();
        funcs.insert(
            "mish2".to_string(),
            parse_function("x * tanh(softplus(x))").unwrap(),
        );
        funcs.insert("f".to_string(), parse_function("f(t, s) = s*t^3").unwrap());
        funcs.insert(
            "g".to_string(),
            parse_function("g(t) = f(t, 2) + mish2(t)").unwrap(),
        );
        let mish = expanded("mish'(x)", &());
        let via_prime = expanded("mish2'(x)", &funcs);
        let via_derivative = derivative(&parse("mish2(x)"), "x", &funcs).unwrap();
        for x in [-2.5, -0.3, 0.0, 0.4, 3.0] {
            let want = eval(&mish, x, 0.0);
            assert!(close(eval(&via_prime, x, 0.0), want, 1e-14), "at {x}");
            assert!(close(eval(&via_derivative, x, 0.0), want, 1e-14), "at {x}");
        }
        // partial in the second parameter, chain rule through arguments
        assert_eq!(d_with("f(x, a)", "a", &funcs).to_string(), "x^3");
        assert_eq!(d_with("f(2*x, a)", "x", &funcs).to_string(), "6*a*(2*x)^2");
        // f''(u) is f's second derivative at u: no chain rule through u
        assert_eq!(expanded("f''(sin(x), a)", &funcs).to_string(), "6*a*sin(x)");
        // nested definitions: g' = 2*3*t^2 + mish'(t)
        let g1 = expanded("g'(x)", &funcs);
        for x in [-1.0, 0.5, 2.0] {
            let want = 6.0 * x * x + eval(&mish, x, 0.0);
            assert!(close(eval(&g1, x, 0.0), want, 1e-14), "g' at {x}");
        }
        // nesting one definition inside itself is not recursion; the
        // result still calls mish2, which is mish under another name
        let ff = derivative(&parse("mish2(mish2(x))"), "x", &funcs).unwrap();
        let ff = parse(&ff.to_string().replace("mish2(", "mish("));
        let inner = eval(&parse("mish(x)"), 0.7, 0.0);
        let want = eval(&mish, 0.7, 0.0) * eval(&mish, inner, 0.0);
        assert!(close(eval(&ff, 0.7, 0.0), want, 1e-14));
    }

    fn d_with(s: &str, var: &str, funcs: &dyn Functions) -> Expr {
        derivative(&parse(s), var, funcs).unwrap_or_else(|err| panic!("{s}: {err}"))
    }

    /// Each line: expression, variable, printed simplified derivative.
    #[test]
    fn printed_derivatives() {
        let table = [
            ("x^2*sin(x)", "x", "2*x*sin(x) + x^2*cos(x)"),
            ("exp(-x^2)", "x", "-2*x*exp(-x^2)"),
            ("relu(2*x)", "x", "2*step(2*x)"),
            ("(2*x + 1)^3", "x", "6*(2*x + 1)^2"),
            ("n*x^n", "x", "n*n*x^(n - 1)"),
            ("2^x", "x", "2^x*log(2)"),
            ("x^x", "x", "x^x*(log(x) + 1)"),
            ("1/x", "x", "-1/x^2"),
            ("sin(x)/2", "x", "cos(x)/2"),
            ("tanh(x)", "x", "1 - tanh(x)^2"),
            ("a*x - x/a + 3", "x", "a - 1/a"),
            ("y*w", "x", "0"),
            ("sqrt(x)", "x", "1/(2*sqrt(x))"),
            ("leaky_relu(x, a)", "a", "min(x, 0)"),
            ("relu'(x)", "x", "0"),
            (
                "x*tanh'(x)",
                "x",
                "1 - tanh(x)^2 - 2*x*tanh(x)*(1 - tanh(x)^2)",
            ),
        ];
        for (src, var, want) in table {
            assert_eq!(d(src, var).to_string(), want, "d/d{var} {src}");
        }
    }

    /// Each line: expression, printed with its primes expanded.
    #[test]
    fn printed_expansions() {
        let mut funcs = HashMap::new();
        funcs.insert("cube".to_string(), parse_function("x^3").unwrap());
        let table = [
            ("relu'(y)", "step(y)"),
            ("E[relu'(y)^2]", "E[step(y)^2]"),
            ("leaky_relu'(y)", "0.01 + 0.99*step(y)"),
            ("leaky_relu'(y, b)", "b + (1 - b)*step(y)"),
            ("tanh''(x)", "-2*tanh(x)*(1 - tanh(x)^2)"),
            ("cube''(g(x))", "6*g(x)"),
            ("cube'(cube'(x))", "3*(3*x^2)^2"),
            ("unknown'(x) + relu(x)", "unknown'(x) + relu(x)"),
            ("identity'(y)", "1"),
            ("Var[sum(n, w*relu'(y))]", "Var[sum(n, w*step(y))]"),
        ];
        for (src, want) in table {
            assert_eq!(expanded(src, &funcs).to_string(), want, "{src}");
        }
        // template nodes point at the call they replace; arguments keep theirs
        let src = "1 + relu'(y + 2)";
        let e = expanded(src, &());
        let ExprKind::Binary(_, _, step) = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(&src[step.span.clone()], "relu'(y + 2)");
        let ExprKind::Call { args, .. } = &step.kind else {
            panic!("{step:?}")
        };
        assert_eq!(&src[args[0].span.clone()], "y + 2");
    }

    #[test]
    fn errors_point_at_the_cause() {
        let src = "x * E[x]";
        let err = derivative(&parse(src), "x", &()).unwrap_err();
        assert!(
            err.message.starts_with("cannot differentiate a moment"),
            "{err}"
        );
        assert_eq!(&src[err.span], "E[x]");
        let err = derivative(&parse("sum(n, x)"), "x", &()).unwrap_err();
        assert!(
            err.message.starts_with("cannot differentiate a moment"),
            "{err}"
        );

        let src = "2 + nope(x)";
        let err = derivative(&parse(src), "x", &()).unwrap_err();
        assert_eq!(
            err.message,
            "cannot differentiate `nope`: it is not a known function"
        );
        assert_eq!(&src[err.span], "nope(x)");
        let err = derivative(&parse("nope'(x)"), "x", &()).unwrap_err();
        assert!(err.message.contains("`nope`"), "{err}");
        let err = expand_primes(&parse("relu'(x, 2)"), &()).unwrap_err();
        assert_eq!(
            err.message,
            "`relu` is called with 2 argument(s); it is written relu(x)"
        );

        let mut funcs = HashMap::new();
        funcs.insert("f".to_string(), parse_function("f(t) = g(t) + 1").unwrap());
        funcs.insert("g".to_string(), parse_function("g(t) = 2*f(t)").unwrap());
        funcs.insert("h".to_string(), parse_function("h(t) = h'(t)").unwrap());
        let err = expand_primes(&parse("f'(y)"), &funcs).unwrap_err();
        assert_eq!(
            err.message,
            "recursive function: `f` reaches itself (f -> g -> f)"
        );
        let err = derivative(&parse("h(y)"), "y", &funcs).unwrap_err();
        assert_eq!(
            err.message,
            "recursive function: `h` reaches itself (h -> h)"
        );
        let err = expand_primes(&parse("f'(y, y)"), &funcs).unwrap_err();
        assert_eq!(
            err.message,
            "`f` takes 1 argument(s) (t), but is called with 2"
        );
    }

    #[test]
    fn exponential_expansion_is_stopped() {
        // f_k is sin composed 2^k times: its derivative has 2^k factors
        let mut funcs = HashMap::new();
        funcs.insert("f0".to_string(), parse_function("sin(x)").unwrap());
        for k in 1..30 {
            let body = format!("f{}(f{}(x))", k - 1, k - 1);
            funcs.insert(format!("f{k}"), parse_function(&body).unwrap());
        }
        let err = derivative(&parse("f29(x)"), "x", &funcs).unwrap_err();
        assert!(err.message.contains("too large"), "{err}");
        let err = expand_primes(&parse("f29'(x)"), &funcs).unwrap_err();
        assert!(err.message.contains("too large"), "{err}");
        // a few levels are fine: f3' is the product of 8 cosines
        let f3 = derivative(&parse("f3(x)"), "x", &funcs).unwrap();
        assert_eq!(f3.to_string().matches("cos(").count(), 8);
        // a long chain of definitions is stopped before the stack is at risk
        funcs.insert("g0".to_string(), parse_function("x").unwrap());
        for k in 1..100 {
            let body = format!("g{}(x) + 1", k - 1);
            funcs.insert(format!("g{k}"), parse_function(&body).unwrap());
        }
        let err = derivative(&parse("g99(x)"), "x", &funcs).unwrap_err();
        assert_eq!(err.message, "defined functions nest more than 32 deep here");
        assert_eq!(d_with("g20(x)", "x", &funcs).to_string(), "1");
    }

    /// Each line: expression, printed after simplification.
    #[test]
    fn simplification() {
        let table = [
            ("0*x", "0"),
            ("x*0 + y", "y"),
            ("1*x", "x"),
            ("x*1", "x"),
            ("x + 0", "x"),
            ("0 + x", "x"),
            ("x - 0", "x"),
            ("0 - x", "-x"),
            ("x^1", "x"),
            ("x^0", "1"),
            ("1^x", "1"),
            ("--x", "x"),
            ("-(-(-x))", "-x"),
            ("2 + 3*4", "14"),
            ("2^-1", "0.5"),
            ("x*2", "2*x"),
            ("2*(3*x)", "6*x"),
            ("-(2*x)", "-2*x"),
            ("a + -b", "a - b"),
            ("a - -b", "a + b"),
            ("-a + b", "b - a"),
            ("-(a - b)", "b - a"),
            ("a*(-b)", "-a*b"),
            ("(-a)*(-b)", "a*b"),
            ("a/-b", "-a/b"),
            ("x/1", "x"),
            ("0/x", "0"),
            ("1/0", "1/0"),
            ("0 - 0", "0"),
            ("E[0*x + y^1]", "E[y]"),
            ("relu(2 - 2)", "relu(0)"),
            ("sin(x) - sin(x)", "0"),
            ("E[w*x]/E[w*x]", "1"),
            ("sum(n, w) - sum(n, w)", "sum(n, w) - sum(n, w)"),
        ];
        for (src, want) in table {
            assert_eq!(simplify(&parse(src)).to_string(), want, "{src}");
        }
    }

    /// A polynomial in `x` with small integer coefficients. At x = 0.5 its
    /// value and derivative are exact in f64 (few bits), so simplification
    /// and differentiation can be checked for exact equality.
    fn poly() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            (0u32..4).prop_map(|n| ExprKind::Num(f64::from(n))),
            Just(ExprKind::Name("x".to_string())),
        ]
        .prop_map(|k| Expr::new(k, 0..0));
        leaf.prop_recursive(4, 32, 2, |inner| {
            let b = |e: Expr| Box::new(e);
            prop_oneof![
                inner.clone().prop_map(move |a| ExprKind::Neg(b(a))),
                (
                    prop_oneof![Just(BinOp::Add), Just(BinOp::Sub), Just(BinOp::Mul)],
                    inner.clone(),
                    inner.clone()
                )
                    .prop_map(move |(op, l, r)| ExprKind::Binary(op, b(l), b(r))),
                (inner, 0u32..3).prop_map(move |(l, n)| {
                    let n = Expr::new(ExprKind::Num(f64::from(n)), 0..0);
                    ExprKind::Binary(BinOp::Pow, b(l), b(n))
                }),
            ]
            .prop_map(|k| Expr::new(k, 0..0))
        })
    }

    /// Forward-mode value and derivative: an independent differentiator.
    fn dual(e: &Expr, x: f64) -> (f64, f64) {
        match &e.kind {
            ExprKind::Num(v) => (*v, 0.0),
            ExprKind::Name(_) => (x, 1.0),
            ExprKind::Neg(a) => {
                let (v, d) = dual(a, x);
                (-v, -d)
            }
            ExprKind::Binary(op, l, r) => {
                let ((u, du), (v, dv)) = (dual(l, x), dual(r, x));
                match op {
                    BinOp::Add => (u + v, du + dv),
                    BinOp::Sub => (u - v, du - dv),
                    BinOp::Mul => (u * v, du * v + u * dv),
                    BinOp::Pow if v == 0.0 => (1.0, 0.0),
                    BinOp::Pow => (u.powf(v), v * u.powf(v - 1.0) * du),
                    BinOp::Div => unreachable!("no division in poly()"),
                }
            }
            _ => unreachable!("poly() makes only numbers, x and operators"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn simplify_keeps_the_value(p in poly()) {
            let (want, _) = dual(&p, 0.5);
            prop_assert_eq!(eval(&simplify(&p), 0.5, 0.0), want, "{}", sexpr(&p));
        }

        #[test]
        fn derivative_agrees_with_dual_numbers(p in poly()) {
            let (_, want) = dual(&p, 0.5);
            let got = eval(&derivative(&p, "x", &()).unwrap(), 0.5, 0.0);
            prop_assert_eq!(got, want, "{}", sexpr(&p));
        }

        #[test]
        fn simplified_output_reads_back(p in poly()) {
            let s = simplify(&derivative(&p, "x", &()).unwrap());
            let again = parse_expr(&s.to_string()).unwrap();
            prop_assert_eq!(eval(&again, 0.5, 0.0), eval(&s, 0.5, 0.0));
        }
    }
}
