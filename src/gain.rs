//! `initaudit gain`: the initialization scale an activation needs, computed
//! rather than copied from a table.
//!
//! The model is mean-field signal propagation (Poole et al. 2016): weights
//! W ~ N(0, sigma_w^2 / N) with sigma_w the *gain*, biases b ~ N(0, sigma_b^2),
//! and a pre-activation that is N(0, q) at every layer of a wide network. Two
//! maps describe one layer:
//!
//! - the length map q' = sigma_w^2 E[f(sqrt(q) z)^2] + sigma_b^2 (forward);
//! - the gradient factor chi(q) = sigma_w^2 E[f'(sqrt(q) z)^2] (backward).
//!
//! The *forward gain* makes the input's q a fixed point of the first one,
//! sigma_w^2 = (q - sigma_b^2) / E[f(sqrt(q) z)^2] (none once the bias alone
//! reaches q), the *backward gain* makes the second equal 1 there; each is
//! shown beside PyTorch's `calculate_gain`, with the fixed point q* the length
//! map settles to from that q and chi_1 = chi(q*), whose side of 1 says
//! whether deep gradients vanish, explode, or neither (critical).
//!
//! Every expectation is the exact engine's (closed forms or quadrature with
//! an error bound) on the same `Rv` the audit uses, so a gain printed here
//! and a claim in `derivations/` cannot disagree about what `f` means; a
//! user-defined activation's derivative is the symbolic one. The fixed point
//! is found by bracketing and bisection whose stopping rule is the engine's
//! error bound: bisection never claims more digits than the moments have.
//! Each expectation is split at ±12 standard deviations of the input, so
//! that quadrature has breaks where the law's mass is even when the
//! activation's kinks are thousands of standard deviations away (small q,
//! and chi_1 as q -> 0).
//!
//! A number is not printed as exact on the exact engine's word alone: every
//! moment a printed number rests on is sampled with the test a claim's
//! sampled verdict uses, inside one family-wise budget for the run, and a
//! sample that contradicts it is a defect of the output (exit status 1).
//!
//! Degenerate maps are reported as what they are: for a homogeneous
//! activation at its critical gain every q is fixed (ReLU at sqrt(2); said
//! only when the map is the identity over the whole search range), a map
//! that grows without bound has no fixed point, and one that shrinks to zero
//! has q* = 0 with chi_1 taken in the limit q -> 0.

use crate::audit::{FunctionTable, Written, check_defined, define, load_path};
use crate::diag::{Diag, InputError};
use crate::exact::exists::{self, Integrable};
use crate::exact::{Engine, NoExact, Val};
use crate::lang::arith::BinOp;
use crate::lang::ast::Relation;
use crate::lang::builtin::Builtin;
use crate::lang::{
    Expr, ExprKind, FunctionDef, Functions, parse_expr, parse_function, parse_model,
};
use crate::model::resolve::{Model, build};
use crate::model::rv::{Moment, Rv, Side, VarId};
use crate::report::{Format, Frame, Rule, Style, num, table};
use crate::sample::StreamKey;
use crate::verdict::{BATCHES, Budget, Evaluation, FAMILY_RATE, Settings, Stage, Trial, Verdict};
use crate::work;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;

/// The name under which an activation written as an expression in `x`
/// (`'leaky_relu(x, 0.2)'`) is registered.
const INLINE: &str = "activation";

/// Relative agreement below which two gains count as one, and chi_1 as 1:
/// far above the engine's error (about 1e-12), far below any difference
/// that matters at depth (1e-7 over 1000 layers is 1e-4).
const SAME: f64 = 1e-8;

/// How far the bracket search for q* goes, as a factor of the input q in
/// either direction, before it calls the map divergent or collapsing.
const SEARCH_RANGE: f64 = 1e10;

/// How far, in factors of 16 either side of the input q, the length map
/// must be the identity before every q is called fixed: 16^8 = 4.3e9, the
/// reach of [`SEARCH_RANGE`].
const EVERY_Q_OCTAVES: i32 = 8;

/// Half-width, in standard deviations of the input, of the middle part of
/// every expectation (see [`Activation::moment`]); beyond it each normal
/// tail holds 1.8e-33 of the mass.
const CUT_SDS: f64 = 12.0;

/// Below this q the quadrature of a normal law of sd sqrt(q) stops being
/// meaningful; chi_1 "at q* = 0" is taken here.
const Q_FLOOR: f64 = 1e-12;

/// An activation: a name to call and the functions it may use.
pub struct Activation {
    /// What the user wrote: a name or an expression in x.
    pub label: String,
    /// The function called in every expectation.
    call: String,
    functions: FunctionTable,
    /// PyTorch's `calculate_gain` for it, with the recipe's words.
    pub pytorch: Option<(f64, String)>,
}

/// What `initaudit gain` is asked: the input variance, the bias variance and
/// how deep a network the per-layer factors are compounded over.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub q: f64,
    pub bias_var: f64,
    pub depth: u32,
}

/// Where the length map goes from the input q.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fixed {
    /// A fixed point; `stable` when the map's slope there is below 1, i.e.
    /// when iterating from nearby returns to it.
    /// `stable` is none when the slope is 1 to the precision of the
    /// moments (hardtanh in its linear regime): neither is shown.
    Point { q: f64, stable: Option<bool> },
    /// The map is the identity: every q tried, from q / 16^8 to 16^8 q by
    /// factors of 16, is fixed.
    EveryQ,
    /// The map grows without bound: no fixed point above the input q.
    Diverges,
    /// The map shrinks every q toward 0: q* = 0.
    Collapses,
}

/// Whether gradients keep, lose or gain size per layer at the fixed point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Ordered,
    Critical,
    Chaotic,
}

impl Phase {
    pub fn of(chi: f64) -> Phase {
        if (chi - 1.0).abs() <= SAME {
            Phase::Critical
        } else if chi < 1.0 {
            Phase::Ordered
        } else {
            Phase::Chaotic
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Ordered => "ordered",
            Phase::Critical => "critical",
            Phase::Chaotic => "chaotic",
        }
    }
}

/// One gain's mean-field behaviour.
#[derive(Clone, Debug)]
pub struct GainRow {
    /// "pytorch", "forward" or "backward".
    pub label: &'static str,
    pub gain: f64,
    pub fixed: Fixed,
    /// chi(q*); for `EveryQ` at the input q, for `Collapses` as q -> 0; none
    /// when the map diverges.
    pub chi_1: Option<f64>,
    /// Per layer at the input q: q'/q (bias included) and chi(q).
    pub forward_factor: f64,
    pub backward_factor: f64,
    /// Over `depth` layers, following q through the length map: q_D / q_0,
    /// and the product of chi(q_l) (how much the gradient's second moment
    /// grows from the last layer back to the first).
    pub forward_depth: f64,
    pub backward_depth: f64,
    /// The q of each layer the depth columns were compounded over.
    pub path: Vec<f64>,
}

/// Everything `initaudit gain` prints.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub activation: String,
    pub options: Options,
    /// E[f(sqrt(q) z)], E[f(sqrt(q) z)^2], E[f'(sqrt(q) z)^2].
    pub mean: f64,
    pub second_moment: f64,
    pub derivative_moment: f64,
    pub forward_gain: f64,
    pub backward_gain: f64,
    /// How PyTorch's `calculate_gain` arrives at its value, when it has one.
    pub pytorch_recipe: Option<String>,
    pub rows: Vec<GainRow>,
    /// Every moment behind a printed number, against sampling.
    pub checks: Vec<SelfCheck>,
    /// The run's settings, which the self-check used.
    pub settings: Settings,
}

impl Analysis {
    /// Whether sampling contradicts a number printed as exact.
    pub fn has_defect(&self) -> bool {
        self.checks.iter().any(|c| c.result == Agreement::Defect)
    }

    /// Whether one gain preserves both passes at the input q.
    pub fn gains_coincide(&self) -> bool {
        (self.forward_gain - self.backward_gain).abs() <= SAME * self.forward_gain
    }
}

/// The moments `gain` prints, each under z ~ N(0, q).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// E[f(z)].
    Mean,
    /// E[f(z)^2]: the length map, the forward gain, q*.
    Second,
    /// E[f'(z)^2]: chi, the backward gain, chi_1.
    DerivativeSecond,
}

impl Quantity {
    /// The body handed to [`Activation::moment`], the activation as `F`.
    fn body(self) -> &'static str {
        match self {
            Quantity::Mean => "F(z)",
            Quantity::Second => "F(z)^2",
            Quantity::DerivativeSecond => "F'(z)^2",
        }
    }

    /// The body of E[g^2] for this moment's integrand g.
    fn square_body(self) -> &'static str {
        match self {
            Quantity::Mean => "F(z)^2",
            Quantity::Second => "F(z)^4",
            Quantity::DerivativeSecond => "F'(z)^4",
        }
    }

    pub fn shown(self) -> &'static str {
        match self {
            Quantity::Mean => "E[f(z)]",
            Quantity::Second => "E[f(z)^2]",
            Quantity::DerivativeSecond => "E[f'(z)^2]",
        }
    }
}

/// A moment a printed number rests on, with the value the exact engine gave
/// it (as printed).
#[derive(Clone, Debug, PartialEq)]
pub struct Printed {
    pub quantity: Quantity,
    pub q: f64,
    pub exact: f64,
    /// The exact engine's error bound on it.
    pub err: f64,
    /// The printed numbers that rest on it.
    pub uses: Vec<String>,
    /// Only the depth columns rest on it: one of many compounded factors,
    /// sampled in one look (one test) rather than to ±resolution, which
    /// for thirty layers of three gains would take a minute.
    pub along_depth: bool,
}

/// What sampling says of one printed moment.
#[derive(Clone, Debug, PartialEq)]
pub enum Agreement {
    /// The sample's interval, at the run's family-wise level, lies within
    /// ±resolution of the exact value.
    Agrees,
    /// The sample does not exclude the exact value, but the draws allowed
    /// (--max-samples, or one look for a moment along the depth path) did
    /// not narrow its interval to ±resolution.
    Consistent,
    /// The sample excludes the exact value at that level: the exact engine
    /// (or the sampler) is wrong, and the output with it.
    Defect,
    /// Not checked, with why: the sample met a non-finite value, or its
    /// standard error means nothing (a heavy-tailed estimator).
    Unchecked(String),
}

/// One printed moment and its sampled cross-check.
#[derive(Clone, Debug, PartialEq)]
pub struct SelfCheck {
    pub printed: Printed,
    /// The sampled estimate and its standard error.
    pub sampled: Option<(f64, f64)>,
    pub draws: u64,
    pub result: Agreement,
}

fn arg_error(origin: &str, text: &str, message: String, help: impl Into<String>) -> InputError {
    InputError::new(origin, text, Diag::new(0..text.len(), message, help))
}

/// The activation names `gain` accepts: the built-in activations callable
/// with one argument, then the user's one-parameter functions.
fn valid_names(functions: &FunctionTable) -> Vec<String> {
    Builtin::ALL
        .iter()
        .filter(|b| b.is_activation() && b.arity().0 == 1)
        .map(|b| b.name().to_string())
        .chain(
            Builtin::ALIASES
                .iter()
                .filter(|(_, b)| b.is_activation())
                .map(|(alias, _)| alias.to_string()),
        )
        .chain(
            functions
                .names()
                .into_iter()
                .filter(|n| functions.get(n).is_some_and(|d| d.params.len() == 1))
                .map(str::to_string),
        )
        .collect()
}

/// PyTorch's `torch.nn.init.calculate_gain` for a built-in, read off the
/// call: `leaky_relu(x, a)` takes its slope from the call as PyTorch's
/// `param` does.
fn pytorch_gain(e: &Expr) -> Option<(f64, String)> {
    let (name, slope) = match &e.kind {
        ExprKind::Name(n) => (n.as_str(), None),
        ExprKind::Call {
            func, args, primes, ..
        } if *primes == 0 => match args.as_slice() {
            [x, a] if matches!(&x.kind, ExprKind::Name(v) if v == "x") => match a.kind {
                ExprKind::Num(a) => (func.as_str(), Some(a)),
                _ => return None,
            },
            [x] if matches!(&x.kind, ExprKind::Name(v) if v == "x") => (func.as_str(), None),
            _ => return None,
        },
        _ => return None,
    };
    Builtin::from_name(name)?.pytorch_gain(slope)
}

impl Activation {
    /// Resolves `spec` — a name, or an expression in `x` — against the
    /// built-ins, the functions of `files` and the `defines`.
    pub fn resolve(
        spec: &str,
        defines: &[String],
        files: &[PathBuf],
    ) -> Result<Activation, InputError> {
        let mut functions = FunctionTable::default();
        for path in files {
            let file = load_path(path)?;
            for name in file.functions.names() {
                if let (Some(def), Some(written)) = (
                    file.functions.get(name),
                    file.functions.written(name, &file),
                ) {
                    if functions.get(name).is_some() {
                        return Err(arg_error(
                            &file.origin,
                            "",
                            format!("`{name}` is defined in two of the --functions files"),
                            "keep one definition, or rename the other",
                        ));
                    }
                    functions.insert(name.to_string(), def.clone(), written);
                }
            }
        }
        for (i, d) in defines.iter().enumerate() {
            let origin = format!("--define #{}", i + 1);
            let def = parse_function(d).map_err(|e| InputError::new(&origin, d, e.into()))?;
            let Some(name) = def.name.clone() else {
                return Err(arg_error(
                    &origin,
                    d,
                    "a definition needs a name".into(),
                    "write it as f(x) = ...",
                ));
            };
            define(&mut functions, &origin, d, name, def)?;
        }
        check_defined(&functions, defines)?;
        let origin = "<activation>";
        let expr = parse_expr(spec).map_err(|e| InputError::new(origin, spec, e.into()))?;
        let pytorch = pytorch_gain(&expr);
        let call = match &expr.kind {
            ExprKind::Name(name) => {
                let known = match Builtin::from_name(name) {
                    Some(b) if b.is_activation() => Some(b.arity().0 == 1),
                    Some(_) => None,
                    None => functions.get(name).map(|d| d.params.len() == 1),
                };
                match known {
                    Some(true) => name.clone(),
                    Some(false) => {
                        let how = Builtin::from_name(name)
                            .map_or_else(|| format!("{name}(x, ...)"), |b| b.signature());
                        return Err(arg_error(
                            origin,
                            spec,
                            format!("`{name}` takes more than one argument ({how})"),
                            format!("give the rest in an expression in x, e.g. '{name}(x, 0.25)'"),
                        ));
                    }
                    None => {
                        return Err(arg_error(
                            origin,
                            spec,
                            format!("`{name}` is not an activation"),
                            format!(
                                "one of {}, an expression in x such as 'leaky_relu(x, 0.2)', \
                                 or a function given with --define 'f(x) = ...' or --functions FILE",
                                valid_names(&functions).join(", ")
                            ),
                        ));
                    }
                }
            }
            _ => {
                // Check the expression itself first, so that a mistake in it
                // is reported at its place in what the user wrote, among
                // the functions they can use (not the internal name below).
                let stmts = parse_model("x ~ Normal(0, 1)")
                    .map_err(|e| InputError::new("", "", e.into()))?;
                let model = build("gain", &stmts, &functions)
                    .map_err(|d| InputError::new(origin, spec, d))?;
                model
                    .rv(&expr, &functions)
                    .map_err(|d| InputError::new(origin, spec, d))?;
                functions.insert(
                    INLINE.to_string(),
                    FunctionDef {
                        name: Some(INLINE.to_string()),
                        params: vec!["x".to_string()],
                        body: expr.clone(),
                    },
                    Written::Elsewhere {
                        origin: origin.to_string(),
                        text: spec.to_string(),
                        at: 0,
                    },
                );
                INLINE.to_string()
            }
        };
        let act = Activation {
            label: spec.to_string(),
            call,
            functions,
            pytorch,
        };
        // Lower f and f' once up front, so that a bad body (an unknown name,
        // a function without a derivative) is reported against what the
        // user wrote, before any number is computed.
        let stmts =
            parse_model("x ~ Normal(0, 1)").map_err(|e| InputError::new("", "", e.into()))?;
        let model = build("gain", &stmts, &act.functions)
            .map_err(|d| InputError::new("<activation>", "", d))?;
        for text in [format!("{}(x)", act.call), format!("{}'(x)", act.call)] {
            let e = parse_expr(&text).map_err(|e| InputError::new(origin, &text, e.into()))?;
            if let Err(d) = model.rv(&e, &act.functions) {
                return Err(if act.call == INLINE && d.span.end <= spec.len() {
                    InputError::new(origin, spec, d)
                } else {
                    arg_error(origin, spec, d.message, d.help)
                });
            }
        }
        Ok(act)
    }

    /// `body` (which names the activation as `F`) lowered under
    /// z ~ N(0, q), with the model it lives in.
    fn lowered(&self, body: &str, q: f64) -> Result<(Model, Rv), InputError> {
        let model_text = format!("z ~ Normal(0, {:?})", q.sqrt());
        let expr_text = body.replace('F', &self.call);
        let fail = |m: String| self.moment_error(body, q, m);
        let stmts = parse_model(&model_text).map_err(|e| fail(e.message))?;
        let model = build("gain", &stmts, &self.functions).map_err(|d| fail(d.message))?;
        let e = parse_expr(&expr_text).map_err(|e| fail(e.message))?;
        let rv = model.rv(&e, &self.functions).map_err(|d| fail(d.message))?;
        Ok((model, rv))
    }

    /// The run refused before the work `message` describes is spent.
    fn over_budget(&self, message: String) -> InputError {
        arg_error(
            "<activation>",
            &self.label,
            message,
            "raise --budget (CPU-seconds of one core), lower --depth (fewer moments along \
             the path are sampled) or --max-samples, or widen --resolution",
        )
    }

    fn moment_error(&self, body: &str, q: f64, m: String) -> InputError {
        let shown = body.replace('F', "f");
        arg_error(
            "<activation>",
            &self.label,
            format!(
                "E[{shown}] for f = {}, z ~ Normal(0, {:?}): {m}",
                self.label,
                q.sqrt()
            ),
            "gain needs an activation whose moments under a normal input exist",
        )
    }

    /// `E[body]` with z ~ N(0, q); `body` names the activation as `F`.
    ///
    /// The expectation is taken as three: over |z| < CUT_SDS sqrt(q) and
    /// over each tail beyond it, each by the exact engine. The split is an
    /// identity, and it gives quadrature breaks at the law's own scale: a
    /// law much narrower than the distance between the activation's kinks
    /// (hardtanh at q = 1e-8, or any activation as q -> 0) otherwise sits
    /// at the end of a wide piece where no quadrature node lands, and its
    /// mass is silently missed. Each part keeps the engine's existence
    /// checks, so a moment that does not exist still fails in its tail.
    fn moment(&self, body: &str, q: f64) -> Result<Val, InputError> {
        let (model, rv) = self.lowered(body, q)?;
        // Decided on the whole moment, so that the reason is about f rather
        // than about one of the parts below.
        if let Integrable::No(why) = exists::integrable(&model.scenario, &rv, 1.0) {
            return Err(self.moment_error(body, q, format!("it does not exist: {why}")));
        }
        let Some(v) = model.scenario.bases.iter().position(|b| b.name == "z") else {
            return Err(self.moment_error(body, q, "the model lost its variable".into()));
        };
        let z = || Box::new(Rv::Base(VarId(v)));
        let cut = CUT_SDS * q.sqrt();
        let step = |arg: Rv| Rv::Call(Builtin::Step, vec![arg]);
        let times = |a: Rv, b: Rv| Rv::bin(BinOp::Mul, a, b);
        let inside = times(
            step(Rv::Bin(BinOp::Add, z(), Box::new(Rv::Const(cut)))),
            step(Rv::Bin(BinOp::Sub, Box::new(Rv::Const(cut)), z())),
        );
        let above = step(Rv::Bin(BinOp::Sub, z(), Box::new(Rv::Const(cut))));
        let below = step(Rv::Bin(
            BinOp::Sub,
            Box::new(Rv::Neg(z())),
            Box::new(Rv::Const(cut)),
        ));
        let engine = Engine::new(&model.scenario);
        let mut total = Val::exact(0.0);
        for part in [inside, above, below] {
            match engine.expect(&times(rv.clone(), part)) {
                Ok(x) if x.val.is_finite() => total = total + x.val,
                Ok(x) => {
                    return Err(self.moment_error(
                        body,
                        q,
                        format!("the value came out as {}", x.val.value),
                    ));
                }
                Err(no) => {
                    // Said of the whole moment where the engine has a
                    // reason for it, rather than of a part the user never
                    // wrote.
                    let why = match engine.expect(&rv) {
                        Err(whole) => whole.reason().to_string(),
                        Ok(_) => no.reason().to_string(),
                    };
                    return Err(self.moment_error(body, q, format!("no exact value: {why}")));
                }
            }
        }
        Ok(total)
    }

    /// The standard error of the mean of `draws` draws of a printed
    /// moment's integrand g, from its exact variance E[g^2] - E[g]^2 (both
    /// the engine's, not the value being checked); none when the engine has
    /// no E[g^2].
    fn exact_standard_error(&self, p: &Printed, draws: u64) -> Option<f64> {
        let square = self.moment(p.quantity.square_body(), p.q).ok()?;
        let mean = self.moment(p.quantity.body(), p.q).ok()?;
        let var = (square.value - mean.value * mean.value).max(0.0);
        Some((var / draws.max(1) as f64).sqrt())
    }

    /// `E[body]` with z ~ N(0, q), `body` naming the activation as `F`
    /// (`"F'(z)^2"`): the moment every number of `gain` rests on, for the
    /// commands built on the same maps (`meanfield`, `init`).
    pub fn expectation(&self, body: &str, q: f64) -> Result<Val, InputError> {
        self.moment(body, q)
    }

    /// The name an expectation calls for the activation, and the functions
    /// it may use: what a model over other variables needs to lower it.
    pub fn callable(&self) -> (&str, &FunctionTable) {
        (&self.call, &self.functions)
    }

    fn second(&self, q: f64) -> Result<Val, InputError> {
        self.moment(Quantity::Second.body(), q)
    }

    fn derivative_second(&self, q: f64) -> Result<Val, InputError> {
        self.moment(Quantity::DerivativeSecond.body(), q)
    }
}

/// A root of `h` in `[lo, hi]`, where `h(lo)` and `h(hi)` have opposite
/// signs, by bisection. `h` returns a value and an error bound; the search
/// stops when the bracket is `rel` relative wide or when the sign at the
/// midpoint is within the error (the root is then known as well as `h`).
/// An end whose sign is within the error is that root already: bisecting
/// from it would follow the sign of rounding, not of `h`, and could walk
/// the whole bracket to the other end.
pub fn bisect<E>(
    mut h: impl FnMut(f64) -> Result<Val, E>,
    mut lo: f64,
    mut hi: f64,
    rel: f64,
) -> Result<f64, E> {
    let at_lo = h(lo)?;
    if at_lo.value.abs() <= at_lo.err {
        return Ok(lo);
    }
    let at_hi = h(hi)?;
    if at_hi.value.abs() <= at_hi.err {
        return Ok(hi);
    }
    let positive_at_lo = at_lo.value > 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if hi - lo <= rel * mid.abs() || mid == lo || mid == hi {
            return Ok(mid);
        }
        let v = h(mid)?;
        if v.value.abs() <= v.err {
            return Ok(mid);
        }
        if (v.value > 0.0) == positive_at_lo {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// sign(h) with "zero" when the error bound does not decide it.
fn sign(v: Val, q: f64) -> i8 {
    if v.value.abs() <= v.err + 1e-12 * q {
        0
    } else if v.value > 0.0 {
        1
    } else {
        -1
    }
}

fn length_map(act: &Activation, gain: f64, bias_var: f64, q: f64) -> Result<Val, InputError> {
    Ok(act.second(q)?.scale(gain * gain) + Val::exact(bias_var))
}

/// h(q) = q' - q, the length map's excess.
fn excess(act: &Activation, gain: f64, bias_var: f64, q: f64) -> Result<Val, InputError> {
    Ok(length_map(act, gain, bias_var, q)? - Val::exact(q))
}

/// Where the length map goes from `q0`: the first sign change of its excess
/// in the direction it moves, which (the map being increasing) is the fixed
/// point that iteration from `q0` converges to.
pub fn fixed_point(
    act: &Activation,
    gain: f64,
    bias_var: f64,
    q0: f64,
) -> Result<Fixed, InputError> {
    let h = |q: f64| excess(act, gain, bias_var, q);
    let s0 = sign(h(q0)?, q0);
    if s0 == 0 {
        // "Every q" is said only of a map that is the identity across the
        // whole search range: hardtanh at gain 1 is the identity to every
        // digit from q = 1e-8 up to 16 q, and shrinks q by a third at q = 1.
        // A moment that cannot be had far out proves nothing either way.
        let fixed_at = |q: f64| h(q).is_ok_and(|v| sign(v, q) == 0);
        let everywhere = (1..=EVERY_Q_OCTAVES).all(|k| {
            let f = 16f64.powi(k);
            fixed_at(q0 / f) && fixed_at(q0 * f)
        });
        if everywhere {
            return Ok(Fixed::EveryQ);
        }
        return Ok(Fixed::Point {
            q: q0,
            stable: stability(act, gain, q0)?,
        });
    }
    let step = if s0 > 0 { 2.0 } else { 0.5 };
    let mut prev = q0;
    let mut q = q0 * step;
    while q <= q0 * SEARCH_RANGE && q >= q0 / SEARCH_RANGE {
        let s = sign(h(q)?, q);
        if s == 0 {
            return Ok(Fixed::Point {
                q,
                stable: stability(act, gain, q)?,
            });
        }
        if s != s0 {
            let (lo, hi) = if prev < q { (prev, q) } else { (q, prev) };
            let root = bisect(h, lo, hi, 1e-13)?;
            return Ok(Fixed::Point {
                q: root,
                stable: stability(act, gain, root)?,
            });
        }
        prev = q;
        q *= step;
    }
    Ok(if s0 > 0 {
        Fixed::Diverges
    } else {
        Fixed::Collapses
    })
}

/// Whether iteration returns to a fixed point q: its slope below 1; none
/// when the slope is within [`SAME`] of 1, further than the difference
/// quotient below can tell.
fn stability(act: &Activation, gain: f64, q: f64) -> Result<Option<bool>, InputError> {
    let s = slope(act, gain, q)?;
    Ok(((s - 1.0).abs() > SAME).then_some(s < 1.0))
}

/// dq'/dq at q by a central difference; its error (engine error over the
/// step) is about 1e-8, ample for telling a slope from 1.
fn slope(act: &Activation, gain: f64, q: f64) -> Result<f64, InputError> {
    let d = 1e-4 * q;
    let up = act.second(q + d)?.value;
    let down = act.second(q - d)?.value;
    Ok(gain * gain * (up - down) / (2.0 * d))
}

fn row(
    act: &Activation,
    label: &'static str,
    gain: f64,
    opts: &Options,
) -> Result<GainRow, InputError> {
    let g2 = gain * gain;
    let fixed = fixed_point(act, gain, opts.bias_var, opts.q)?;
    let chi_1 = match fixed {
        Fixed::Point { q, .. } => Some(g2 * act.derivative_second(q.max(Q_FLOOR))?.value),
        Fixed::EveryQ => Some(g2 * act.derivative_second(opts.q)?.value),
        Fixed::Collapses => Some(g2 * act.derivative_second(Q_FLOOR)?.value),
        Fixed::Diverges => None,
    };
    let forward_factor = length_map(act, gain, opts.bias_var, opts.q)?.value / opts.q;
    let backward_factor = g2 * act.derivative_second(opts.q)?.value;
    let (mut q, mut backward_depth, mut path) = (opts.q, 1.0, Vec::new());
    for _ in 0..opts.depth {
        // A q that has run off to 0 or infinity stays there; the quadrature
        // cannot follow it and the compounded factor is already decided.
        if !(Q_FLOOR..=1e300).contains(&q) {
            break;
        }
        path.push(q);
        backward_depth *= g2 * act.derivative_second(q)?.value;
        q = length_map(act, gain, opts.bias_var, q)?.value;
    }
    Ok(GainRow {
        label,
        gain,
        fixed,
        chi_1,
        forward_factor,
        backward_factor,
        forward_depth: q / opts.q,
        backward_depth,
        path,
    })
}

/// The whole analysis of one activation.
pub fn analyse(
    act: &Activation,
    opts: &Options,
    settings: &Settings,
) -> Result<Analysis, InputError> {
    let _progress = crate::progress::run();
    crate::progress::phase("gain: exact moments", 0);
    let bad = |flag: &str, v: f64, valid: &str| {
        let text = format!("{v}");
        Err(arg_error(
            flag,
            &text,
            format!("{flag} {v} is out of range"),
            valid,
        ))
    };
    if !(opts.q.is_finite() && opts.q > 0.0) {
        return bad("--q", opts.q, "a positive input variance, e.g. --q 1");
    }
    if !(opts.bias_var.is_finite() && opts.bias_var >= 0.0) {
        return bad(
            "--bias-var",
            opts.bias_var,
            "a variance >= 0, e.g. --bias-var 0.05",
        );
    }
    if !(1..=100_000).contains(&opts.depth) {
        return bad("--depth", opts.depth.into(), "a depth from 1 to 100000");
    }
    // A mean within its error bound of 0 (tanh, selu) is shown as 0, not
    // as quadrature noise of 1e-19.
    let mean_val = act.moment(Quantity::Mean.body(), opts.q)?;
    let mean = if mean_val.value.abs() <= mean_val.err {
        0.0
    } else {
        mean_val.value
    };
    let second_val = act.second(opts.q)?;
    let derivative_val = act.derivative_second(opts.q)?;
    let (second_moment, derivative_moment) = (second_val.value, derivative_val.value);
    let unusable = |what: &str| {
        Err(arg_error(
            "<activation>",
            &act.label,
            format!("{what} is 0 at q = {}: no gain can preserve it", opts.q),
            "an activation that is not zero almost everywhere",
        ))
    };
    if second_moment <= 0.0 {
        return unusable("E[f(sqrt(q) z)^2]");
    }
    if derivative_moment <= 0.0 {
        return unusable("E[f'(sqrt(q) z)^2]");
    }
    // The forward gain holds q fixed: q = sigma_w^2 E[f(sqrt(q) z)^2] +
    // sigma_b^2. The bias alone already gives every pre-activation variance
    // sigma_b^2, so no gain does that once sigma_b^2 >= q.
    if opts.bias_var >= opts.q {
        let text = format!("{}", opts.bias_var);
        return Err(arg_error(
            "--bias-var",
            &text,
            format!(
                "--bias-var {} is not below --q {}: the bias alone gives the next layer \
                 that much variance, so no forward gain can hold q fixed",
                opts.bias_var, opts.q
            ),
            "a bias variance below q, e.g. --bias-var 0.05 with --q 1",
        ));
    }
    let forward_gain = ((opts.q - opts.bias_var) / second_moment).sqrt();
    let backward_gain = 1.0 / derivative_moment.sqrt();
    let mut rows = Vec::new();
    if let Some((g, _)) = act.pytorch {
        rows.push(row(act, "pytorch", g, opts)?);
    }
    rows.push(row(act, "forward", forward_gain, opts)?);
    rows.push(row(act, "backward", backward_gain, opts)?);
    let printed = printed_moments(
        act,
        opts,
        [
            (
                Quantity::Mean,
                Val {
                    value: mean,
                    ..mean_val
                },
                "E[f]",
            ),
            (
                Quantity::Second,
                second_val,
                "E[f^2], forward gain, forward/layer",
            ),
            (
                Quantity::DerivativeSecond,
                derivative_val,
                "E[f'^2], backward gain, backward/layer",
            ),
        ],
        &rows,
    )?;
    let checks = self_check(act, &printed, settings)?;
    Ok(Analysis {
        activation: act.label.clone(),
        options: *opts,
        mean,
        second_moment,
        derivative_moment,
        forward_gain,
        backward_gain,
        pytorch_recipe: act.pytorch.as_ref().map(|(_, r)| r.clone()),
        rows,
        checks,
        settings: *settings,
    })
}

/// Records that a printed number rests on `quantity` at `q`; a moment
/// already recorded (the same q bit for bit) gains a use instead of a
/// second test, and is checked fully if any use needs it.
fn note(
    printed: &mut Vec<Printed>,
    quantity: Quantity,
    q: f64,
    val: Val,
    what: String,
    along_depth: bool,
) {
    match printed
        .iter_mut()
        .find(|p| p.quantity == quantity && p.q.to_bits() == q.to_bits())
    {
        Some(p) => {
            if !p.uses.contains(&what) {
                p.uses.push(what);
            }
            p.along_depth &= along_depth;
        }
        None => printed.push(Printed {
            quantity,
            q,
            exact: val.value,
            err: val.err,
            uses: vec![what],
            along_depth,
        }),
    }
}

/// The moments behind the numbers of an analysis: the three at the input
/// q, and for each gain the one that makes q* a fixed point and the one
/// that is chi_1, then the ones along each gain's layer-by-layer path.
fn printed_moments(
    act: &Activation,
    opts: &Options,
    at_q: [(Quantity, Val, &str); 3],
    rows: &[GainRow],
) -> Result<Vec<Printed>, InputError> {
    let mut printed = Vec::new();
    for (quantity, val, what) in at_q {
        note(&mut printed, quantity, opts.q, val, what.to_string(), false);
    }
    for r in rows {
        let chi_at = match r.fixed {
            Fixed::Point { q, .. } => {
                let what = format!("q* ({})", r.label);
                note(
                    &mut printed,
                    Quantity::Second,
                    q,
                    act.second(q)?,
                    what,
                    false,
                );
                Some(q.max(Q_FLOOR))
            }
            Fixed::EveryQ => Some(opts.q),
            Fixed::Collapses => Some(Q_FLOOR),
            Fixed::Diverges => None,
        };
        if let Some(q) = chi_at {
            let what = format!("chi_1 ({})", r.label);
            let val = act.derivative_second(q)?;
            note(
                &mut printed,
                Quantity::DerivativeSecond,
                q,
                val,
                what,
                false,
            );
        }
    }
    for r in rows {
        let what = format!("x{} ({})", opts.depth, r.label);
        for q in path_sampled(&r.path) {
            for quantity in [Quantity::Second, Quantity::DerivativeSecond] {
                let val = act.moment(quantity.body(), q)?;
                note(&mut printed, quantity, q, val, what.clone(), true);
            }
        }
    }
    Ok(printed)
}

/// Most layers of one gain's depth path that are sampled, so that a run
/// with --depth 100000 stays bounded.
const PATH_SAMPLED: usize = 64;

/// The layers of a depth path whose moments are sampled: all of them up to
/// [`PATH_SAMPLED`], beyond that as many evenly spaced, first and last
/// included.
fn path_sampled(path: &[f64]) -> Vec<f64> {
    if path.len() <= PATH_SAMPLED {
        return path.to_vec();
    }
    let last = path.len() - 1;
    (0..PATH_SAMPLED)
        .map(|i| path[i * last / (PATH_SAMPLED - 1)])
        .collect()
}

/// Draws for a moment along the depth path: one look of the sampled test.
const DEPTH_DRAWS: u64 = 1024 * BATCHES as u64;

/// The tests a self-check spends: every look of a full check, one for a
/// moment along the depth path.
fn tests(printed: &[Printed]) -> u64 {
    printed
        .iter()
        .map(|p| {
            if p.along_depth {
                1
            } else {
                Budget::tests_for(0, true)
            }
        })
        .sum()
}

/// One printed moment as the test that samples it: "E[f(z)] = exact".
struct Lowered<'s> {
    model: Model,
    moments: [Moment; 1],
    rhs: Side,
    key: StreamKey,
    look: &'s Settings,
}

impl Lowered<'_> {
    fn trial(&self) -> Trial<'_> {
        Trial {
            scenario: &self.model.scenario,
            moments: &self.moments,
            lhs: &Side::Leaf(0),
            rhs: &self.rhs,
            relation: Relation::Eq,
            within: None,
            key: self.key,
        }
    }
}

/// Cross-checks each printed moment by seeded sampling, with the sampled
/// test a claim gets: "E[...] = exact value" on batch means, its sample
/// doubling until the interval fits within ±resolution of the value (or
/// --max-samples stops it), every look of every check counted in one
/// family-wise budget. A defect is what the claims' self-check calls one:
/// the sample misses the exact value by more than the critical interval
/// plus the exact error bound, so that a sample with no spread (f'^2 = 1
/// wherever the law has mass) is not faulted for the last bit of rounding.
/// The work is bounded by --budget as the audit's is: the first looks are
/// estimated together before any draw, and the powered tests together
/// before they are drawn; a run over the budget is refused (exit 2).
pub fn self_check(
    act: &Activation,
    printed: &[Printed],
    settings: &Settings,
) -> Result<Vec<SelfCheck>, InputError> {
    let budget = Budget::new(tests(printed));
    let sampled_only = [Err(NoExact::NoForm(
        "the self-check samples what it checks".into(),
    ))];
    // Along the depth path one look's draws are enough; at q the test runs
    // to the size its power calculation asks for.
    let one_look = Settings {
        max_samples: settings.max_samples.min(DEPTH_DRAWS),
        ..*settings
    };
    let lowered = printed
        .iter()
        .map(|p| {
            let (model, rv) = act.lowered(p.quantity.body(), p.q)?;
            let q_key = format!("{:e}", p.q);
            let key = StreamKey::new(
                settings.seed,
                &["gain", &act.label, p.quantity.body(), &q_key],
            );
            let look = if p.along_depth { &one_look } else { settings };
            Ok(Lowered {
                model,
                moments: [Moment::E(rv)],
                rhs: Side::Const(p.exact),
                key,
                look,
            })
        })
        .collect::<Result<Vec<_>, InputError>>()?;
    // Estimated before it is spent, as in the audit: the first looks
    // together, then what the power calculations ask for on top.
    let pilots: f64 = lowered
        .iter()
        .map(|l| work::lane_seconds(l.trial().pilot_ops(l.look)))
        .sum();
    if pilots > settings.budget {
        return Err(act.over_budget(format!(
            "the self-check of its {} printed moments is estimated at {} of work on one core, \
             over the budget of {}",
            printed.len(),
            work::human_seconds(pilots),
            work::human_seconds(settings.budget)
        )));
    }
    crate::progress::phase("gain: sampling every printed moment", printed.len() as u64);
    let mut evaluations: Vec<Evaluation> = lowered
        .iter()
        .map(|l| {
            crate::progress::advance(1);
            l.trial()
                .evaluate(&sampled_only, l.look, &budget, Stage::Pilot)
        })
        .collect();
    let total: f64 = evaluations
        .iter()
        .map(|e| e.spent_seconds() + e.needed_seconds())
        .sum();
    // A test its power calculation puts beyond --max-samples (every one
    // along the depth path, which takes one look) is not refused: it keeps
    // what its look saw and is reported as consistent, not as agreeing.
    if total > settings.budget {
        return Err(act.over_budget(format!(
            "the self-check's sampled tests need {} of work on one core in all, over the \
             budget of {}",
            work::human_seconds(total),
            work::human_seconds(settings.budget)
        )));
    }
    for (l, ev) in lowered.iter().zip(evaluations.iter_mut()) {
        if let Some(n) = ev.need {
            *ev = l
                .trial()
                .evaluate(&sampled_only, l.look, &budget, Stage::Powered(n));
        }
    }
    printed
        .iter()
        .zip(evaluations)
        .map(|(p, ev)| {
            let sampled = ev.lhs.as_ref().map(|v| (v.value, v.err));
            let why_not = || {
                ev.notes
                    .iter()
                    .rfind(|n| !n.starts_with("no exact value"))
                    .cloned()
                    .unwrap_or_else(|| "it was not sampled".to_string())
            };
            let result = match (&ev.non_finite, sampled) {
                (Some(why), _) => Agreement::Unchecked(why.clone()),
                (None, Some((mean, se))) if se.is_finite() => {
                    let miss = (mean - p.exact).abs();
                    let within_bound = miss <= p.err || miss <= 1e-12 * p.exact.abs();
                    let disagree = |se: f64| miss > budget.critical * se + p.err && !within_bound;
                    // Batch means can all miss a rare event at once (relu(x - 5):
                    // no draw above 5 in 131072) and agree on a standard error
                    // of 0; the estimator's exact variance is then a floor, as
                    // in the claims' self-check. It only ever widens the
                    // interval, so it is computed only when needed.
                    let mut se = se;
                    if disagree(se)
                        && let Some(floor) = act.exact_standard_error(p, ev.draws)
                    {
                        se = se.max(floor);
                    }
                    if disagree(se) {
                        Agreement::Defect
                    } else if ev.verdict == Verdict::Holds
                        || (ev.verdict == Verdict::Fails && within_bound)
                    {
                        // A "fails" that is no defect is a sample without
                        // spread that misses only by the exact error bound.
                        Agreement::Agrees
                    } else {
                        Agreement::Consistent
                    }
                }
                _ => Agreement::Unchecked(why_not()),
            };
            Ok(SelfCheck {
                printed: p.clone(),
                sampled,
                draws: ev.draws,
                result,
            })
        })
        .collect()
}

fn fixed_cell(f: Fixed) -> String {
    match f {
        Fixed::Point {
            q,
            stable: Some(true),
        } => num(q),
        Fixed::Point {
            q,
            stable: Some(false),
        } => format!("{} (unstable)", num(q)),
        Fixed::Point { q, stable: None } => format!("{} (slope 1)", num(q)),
        Fixed::EveryQ => "every q is fixed".into(),
        Fixed::Diverges => "none: q grows without bound".into(),
        Fixed::Collapses => "0: q shrinks to 0".into(),
    }
}

/// The plain-words line for one gain.
fn words(r: &GainRow, depth: u32) -> String {
    let Some(chi) = r.chi_1 else {
        return format!(
            "the length map has no fixed point: activations grow by {} over {depth} layers",
            num(r.forward_depth)
        );
    };
    let at = match r.fixed {
        Fixed::EveryQ => "at every q".to_string(),
        Fixed::Collapses => "as q -> 0".to_string(),
        _ => "at q*".to_string(),
    };
    match Phase::of(chi) {
        Phase::Critical => format!("critical: chi_1 = 1 {at}; gradients keep their size"),
        Phase::Ordered => format!(
            "ordered: chi_1 = {} < 1 {at}; gradients shrink, depth scale {} layers",
            num(chi),
            num(-1.0 / chi.ln())
        ),
        Phase::Chaotic => format!(
            "chaotic: chi_1 = {} > 1 {at}; gradients grow, depth scale {} layers",
            num(chi),
            num(1.0 / chi.ln())
        ),
    }
}

fn summary(a: &Analysis) -> String {
    if a.gains_coincide() {
        let critical = a
            .rows
            .iter()
            .find(|r| r.label == "forward")
            .and_then(|r| r.chi_1)
            .is_some_and(|c| Phase::of(c) == Phase::Critical);
        format!(
            "forward and backward gains coincide at {}: one gain preserves both passes{}",
            num(a.forward_gain),
            if critical {
                ", and it is critical (chi_1 = 1)"
            } else {
                ""
            }
        )
    } else {
        format!(
            "no single gain preserves both passes: forward {} != backward {}",
            num(a.forward_gain),
            num(a.backward_gain)
        )
    }
}

fn gain_label(a: &Analysis, r: &GainRow) -> String {
    match r.label {
        "pytorch" => format!(
            "PyTorch ({})",
            a.pytorch_recipe.as_deref().unwrap_or_default()
        ),
        l => l.to_string(),
    }
}

pub fn render(a: &Analysis, fmt: Format) -> String {
    match fmt {
        Format::Json => {
            serde_json::to_string_pretty(&to_json(a)).expect("json of plain values") + "\n"
        }
        Format::Table => text(a, false),
        Format::Markdown => text(a, true),
    }
}

fn text(a: &Analysis, markdown: bool) -> String {
    let o = &a.options;
    let mut out = String::new();
    let head = format!(
        "gain for {}: z ~ N(0, q), q = {}, sigma_b^2 = {}",
        a.activation,
        num(o.q),
        num(o.bias_var)
    );
    if markdown {
        let _ = writeln!(out, "### {head}\n");
    } else {
        let _ = writeln!(out, "=== {head} ===\n");
    }
    let moments = [
        ("E[f(sqrt(q) z)]", a.mean),
        ("E[f(sqrt(q) z)^2]", a.second_moment),
        ("E[f'(sqrt(q) z)^2]", a.derivative_moment),
        ("forward gain sqrt((q - sigma_b^2)/E[f^2])", a.forward_gain),
        ("backward gain 1/sqrt(E[f'^2])", a.backward_gain),
    ];
    let d = o.depth;
    let header = [
        "gain".to_string(),
        "sigma_w".to_string(),
        "q*".to_string(),
        "chi_1".to_string(),
        "phase".to_string(),
        "forward/layer".to_string(),
        "backward/layer".to_string(),
        format!("forward x{d}"),
        format!("backward x{d}"),
    ];
    let body: Vec<Vec<String>> = a
        .rows
        .iter()
        .map(|r| {
            vec![
                gain_label(a, r),
                num(r.gain),
                fixed_cell(r.fixed),
                r.chi_1.map_or("—".into(), num),
                r.chi_1.map_or("—", |c| Phase::of(c).name()).to_string(),
                num(r.forward_factor),
                num(r.backward_factor),
                num(r.forward_depth),
                num(r.backward_depth),
            ]
        })
        .collect();
    let first: Vec<Vec<String>> = moments
        .iter()
        .map(|(k, v)| vec![k.to_string(), num(*v)])
        .collect();
    out.push_str(&table(
        table_style(markdown),
        &["quantity".into(), "value".into()],
        &first,
    ));
    out.push('\n');
    out.push_str(&table(table_style(markdown), &header, &body));
    out.push('\n');
    for r in &a.rows {
        let _ = writeln!(
            out,
            "- {} {}: {}",
            gain_label(a, r),
            num(r.gain),
            words(r, d)
        );
    }
    let _ = writeln!(out, "\n{}", summary(a));
    out.push('\n');
    self_check_text(&mut out, a, markdown);
    out
}

/// A resolution as the user gives it: 0.005 as "0.5%".
fn percent(r: f64) -> String {
    let p = format!("{:.6}", r * 100.0);
    format!("{}%", p.trim_end_matches('0').trim_end_matches('.'))
}

fn agreement_cell(r: &Agreement, draws: u64) -> String {
    match r {
        Agreement::Agrees => "agrees".into(),
        Agreement::Consistent => format!("consistent, not resolved in {draws} draws"),
        Agreement::Defect => "DEFECT".into(),
        Agreement::Unchecked(why) => format!("not checked: {why}"),
    }
}

/// The self-check: what was sampled, against what, and what it found. The
/// moments along the depth path are many; they are listed only when one
/// is not consistent.
fn self_check_text(out: &mut String, a: &Analysis, markdown: bool) {
    let st = &a.settings;
    let printed: Vec<Printed> = a.checks.iter().map(|c| c.printed.clone()).collect();
    let _ = writeln!(
        out,
        "self-check: each moment behind the numbers above, z ~ N(0, q), against seeded \
         sampling (seed {}); it agrees when the sample's interval lies within ±{} of it, \
         at a family-wise false-alarm rate of {FAMILY_RATE:e} over {} tests\n",
        st.seed,
        percent(st.resolution),
        tests(&printed)
    );
    let header = [
        "moment", "q", "exact", "sampled", "± se", "draws", "behind", "result",
    ]
    .map(String::from);
    let (depth, main): (Vec<&SelfCheck>, Vec<&SelfCheck>) =
        a.checks.iter().partition(|c| c.printed.along_depth);
    let (quiet, loud): (Vec<&SelfCheck>, Vec<&SelfCheck>) = depth
        .into_iter()
        .partition(|c| matches!(c.result, Agreement::Agrees | Agreement::Consistent));
    let body: Vec<Vec<String>> = main
        .iter()
        .chain(&loud)
        .map(|c| {
            let (m, se) = c.sampled.unwrap_or((f64::NAN, f64::NAN));
            vec![
                c.printed.quantity.shown().to_string(),
                num(c.printed.q),
                num(c.printed.exact),
                num(m),
                num(se),
                c.draws.to_string(),
                c.printed.uses.join("; "),
                agreement_cell(&c.result, c.draws),
            ]
        })
        .collect();
    out.push_str(&table(table_style(markdown), &header, &body));
    if !quiet.is_empty() {
        let _ = writeln!(
            out,
            "\nalong the depth path: {} more moments (E[f(z)^2] and E[f'(z)^2] at {}), \
             one look of {} draws each: none contradicts its exact value",
            quiet.len(),
            if a.options.depth as usize > PATH_SAMPLED {
                format!(
                    "{PATH_SAMPLED} evenly spaced layers' q of {}",
                    a.options.depth
                )
            } else {
                "each layer's q".to_string()
            },
            quiet.iter().map(|c| c.draws).max().unwrap_or(0)
        );
    }
    let defects = a
        .checks
        .iter()
        .filter(|c| c.result == Agreement::Defect)
        .count();
    if defects > 0 {
        let _ = writeln!(
            out,
            "\nDEFECT: sampling contradicts {defects} moment(s) behind numbers printed as exact \
             above; they are not to be trusted"
        );
    }
}

/// Gain's tables (and init's and meanfield's): titles over a rule of
/// dashes, in columns or in markdown.
pub fn table_style(markdown: bool) -> Style {
    Style {
        frame: if markdown {
            Frame::Markdown
        } else {
            Frame::Plain
        },
        rule: Rule::Dashes,
        right: false,
    }
}

fn to_json(a: &Analysis) -> Value {
    let rows: Vec<Value> = a
        .rows
        .iter()
        .map(|r| {
            let fixed = match r.fixed {
                Fixed::Point { q, stable } => {
                    json!({"kind": "point", "q_star": q, "stable": stable})
                }
                Fixed::EveryQ => json!({"kind": "every_q"}),
                Fixed::Diverges => json!({"kind": "diverges"}),
                Fixed::Collapses => json!({"kind": "collapses", "q_star": 0.0}),
            };
            json!({
                "label": r.label,
                "gain": r.gain,
                "fixed_point": fixed,
                "chi_1": r.chi_1,
                "phase": r.chi_1.map(|c| Phase::of(c).name()),
                "forward_factor": r.forward_factor,
                "backward_factor": r.backward_factor,
                "forward_at_depth": r.forward_depth,
                "backward_at_depth": r.backward_depth,
                "says": words(r, a.options.depth),
            })
        })
        .collect();
    let checks: Vec<Value> = a
        .checks
        .iter()
        .map(|c| {
            let (result, why) = match &c.result {
                Agreement::Agrees => ("agrees", None),
                Agreement::Consistent => ("consistent", None),
                Agreement::Defect => ("defect", None),
                Agreement::Unchecked(w) => ("unchecked", Some(w.as_str())),
            };
            json!({
                "moment": c.printed.quantity.shown(),
                "q": c.printed.q,
                "exact": c.printed.exact,
                "err": c.printed.err,
                "sampled": c.sampled.map(|s| s.0),
                "se": c.sampled.map(|s| s.1),
                "draws": c.draws,
                "behind": c.printed.uses,
                "along_depth": c.printed.along_depth,
                "result": result,
                "why": why,
            })
        })
        .collect();
    json!({
        "schema_version": crate::report::SCHEMA_VERSION,
        "self_check": {
            "seed": a.settings.seed,
            "resolution": a.settings.resolution,
            "max_samples": a.settings.max_samples,
            "family_rate": FAMILY_RATE,
            "moments": checks,
            "defect": a.has_defect(),
        },
        "activation": a.activation,
        "q": a.options.q,
        "bias_var": a.options.bias_var,
        "depth": a.options.depth,
        "mean": a.mean,
        "second_moment": a.second_moment,
        "derivative_second_moment": a.derivative_moment,
        "forward_gain": a.forward_gain,
        "backward_gain": a.backward_gain,
        "gains_coincide": a.gains_coincide(),
        "pytorch_recipe": a.pytorch_recipe,
        "gains": rows,
        "summary": summary(a),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(f: impl Fn(f64) -> f64) -> impl FnMut(f64) -> Result<Val, ()> {
        move |x| Ok(Val::exact(f(x)))
    }

    #[test]
    fn bisection_finds_sqrt_two() {
        let r = bisect(plain(|x| x * x - 2.0), 1.0, 2.0, 1e-14).unwrap();
        assert!((r - std::f64::consts::SQRT_2).abs() < 4e-14, "{r}");
    }

    #[test]
    fn bisection_finds_a_decreasing_root() {
        // The Dottie number, cos(x) = x, to 15 digits (a decreasing excess,
        // as a stable fixed point has).
        let r = bisect(plain(|x| x.cos() - x), 0.0, 1.0, 1e-14).unwrap();
        assert!((r - 0.739_085_133_215_160_6).abs() < 2e-14, "{r}");
    }

    #[test]
    fn bisection_stops_where_the_error_bound_hides_the_sign() {
        // With an error bound of 0.01 on h(x) = x - 0.3, the first midpoint
        // within 0.01 of the root ends the search: no false digits.
        let h = |x: f64| -> Result<Val, ()> {
            Ok(Val {
                value: x - 0.3,
                err: 0.01,
            })
        };
        let r = bisect(h, 0.0, 1.0, 1e-14).unwrap();
        assert!((r - 0.3).abs() <= 0.01, "{r}");
        assert!(
            (r - 0.3).abs() > 1e-6,
            "stopped only at {r}: searched past the error"
        );
    }

    fn resolve(spec: &str) -> Activation {
        Activation::resolve(spec, &[], &[]).unwrap()
    }

    #[test]
    fn relu_length_map_is_half_gain_squared() {
        // q' = sigma_w^2 q / 2 exactly: below sqrt(2) it collapses, above it
        // diverges, at sqrt(2) every q is fixed.
        let a = resolve("relu");
        assert_eq!(fixed_point(&a, 1.3, 0.0, 1.0).unwrap(), Fixed::Collapses);
        assert_eq!(fixed_point(&a, 1.5, 0.0, 1.0).unwrap(), Fixed::Diverges);
        assert_eq!(
            fixed_point(&a, 2f64.sqrt(), 0.0, 3.0).unwrap(),
            Fixed::EveryQ
        );
    }

    #[test]
    fn relu_with_bias_settles_at_the_geometric_limit() {
        // q* = sigma_b^2 / (1 - sigma_w^2/2).
        let a = resolve("relu");
        let Fixed::Point { q, stable } = fixed_point(&a, 1.2, 0.1, 1.0).unwrap() else {
            panic!("no fixed point");
        };
        let truth = 0.1 / (1.0 - 1.44 / 2.0);
        assert!((q - truth).abs() < 1e-10 * truth, "{q} vs {truth}");
        assert_eq!(stable, Some(true));
    }

    fn printed(quantity: Quantity, q: f64, exact: f64, along_depth: bool) -> Printed {
        Printed {
            quantity,
            q,
            exact,
            err: 1e-15,
            uses: vec!["test".into()],
            along_depth,
        }
    }

    #[test]
    fn the_self_check_catches_a_wrong_exact_value() {
        // E[tanh(z)^2] = 0.39429449039784117 for z ~ N(0, 1) (17 digits,
        // the same constant tests/gain.rs takes from docs/REFERENCES.md). Handed
        // the truth, the check agrees; handed a value 2% off (four times
        // the resolution, many standard errors at 131072 draws), it is a
        // defect, in a full check and in the one look of a depth moment.
        let a = resolve("tanh");
        let truth = 0.394_294_490_397_841_17;
        let wrong = truth * 1.02;
        let checks = self_check(
            &a,
            &[
                printed(Quantity::Second, 1.0, truth, false),
                printed(Quantity::Second, 1.0, wrong, false),
                printed(Quantity::Second, 1.0, wrong, true),
            ],
            &Settings::default(),
        )
        .unwrap();
        assert_eq!(checks[0].result, Agreement::Agrees, "{:?}", checks[0]);
        assert_eq!(checks[1].result, Agreement::Defect, "{:?}", checks[1]);
        assert_eq!(checks[2].result, Agreement::Defect, "{:?}", checks[2]);
        assert!(checks[2].draws <= DEPTH_DRAWS);
    }

    #[test]
    fn a_sample_without_spread_is_not_faulted_for_rounding() {
        // hardtanh' = 1 wherever N(0, 1e-8) has mass: every draw is 1, the
        // standard error 0, and an exact value one ulp below 1 is within
        // its own error bound, not a defect. Two ulps beyond the bound is.
        let a = resolve("hardtanh");
        let below = 1.0 - f64::EPSILON / 2.0;
        let mut far = printed(Quantity::DerivativeSecond, 1e-8, 1.0 - 1e-6, false);
        far.err = 1e-9;
        let checks = self_check(
            &a,
            &[printed(Quantity::DerivativeSecond, 1e-8, below, false), far],
            &Settings::default(),
        )
        .unwrap();
        assert_eq!(checks[0].sampled.map(|s| s.1), Some(0.0));
        assert_eq!(checks[0].result, Agreement::Agrees, "{:?}", checks[0]);
        assert_eq!(checks[1].result, Agreement::Defect, "{:?}", checks[1]);
    }

    #[test]
    fn moments_of_a_narrow_law_far_from_the_kinks_are_not_lost() {
        // hardtanh(x) = x within 1e4 standard deviations of 0 at q = 1e-8:
        // E[f^2] = q and E[f'^2] = 1 up to 1e-(2e7); E[f] = 0 by symmetry.
        let a = resolve("hardtanh");
        let q = 1e-8;
        let second = a.second(q).unwrap();
        assert!((second.value - q).abs() <= 1e-13 * q, "{second:?}");
        let slope = a.derivative_second(q).unwrap();
        assert!((slope.value - 1.0).abs() <= 1e-13, "{slope:?}");
        let mean = a.moment(Quantity::Mean.body(), q).unwrap();
        assert!(mean.value.abs() <= mean.err.max(1e-25), "{mean:?}");
    }

    #[test]
    fn a_long_depth_path_is_sampled_at_evenly_spaced_layers() {
        let short: Vec<f64> = (0..30).map(f64::from).collect();
        assert_eq!(path_sampled(&short), short);
        let long: Vec<f64> = (0..1000).map(f64::from).collect();
        let picked = path_sampled(&long);
        assert_eq!(picked.len(), PATH_SAMPLED);
        assert_eq!((picked[0], picked[PATH_SAMPLED - 1]), (0.0, 999.0));
        // Evenly spaced: steps of 999/63, i.e. 15 or 16 layers.
        assert!(
            picked
                .windows(2)
                .all(|w| (15.0..=16.0).contains(&(w[1] - w[0])))
        );
    }

    #[test]
    fn identity_forward_factor_counts_the_bias() {
        let a = resolve("identity");
        let r = row(
            &a,
            "forward",
            0.9,
            &Options {
                q: 2.0,
                bias_var: 0.5,
                depth: 3,
            },
        )
        .unwrap();
        assert!((r.forward_factor - (0.81 * 2.0 + 0.5) / 2.0).abs() < 1e-12);
        // q* = 0.5 / (1 - 0.81), and chi = 0.81 at every layer.
        let Fixed::Point { q, .. } = r.fixed else {
            panic!()
        };
        assert!((q - 0.5 / 0.19).abs() < 1e-10);
        assert!((r.backward_depth - 0.81f64.powi(3)).abs() < 1e-12);
    }
}
