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
//! The *forward gain* makes the first one the identity at the input's q
//! (bias aside), the *backward gain* makes the second equal 1 there; each is
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
//!
//! Degenerate maps are reported as what they are: for a homogeneous
//! activation at its critical gain every q is fixed (ReLU at sqrt(2)), a map
//! that grows without bound has no fixed point, and one that shrinks to zero
//! has q* = 0 with chi_1 taken in the limit q -> 0.

use crate::audit::{FunctionTable, check_defined, define, load_path};
use crate::diag::{Diag, InputError};
use crate::exact::{Engine, Val};
use crate::lang::builtin::Builtin;
use crate::lang::{
    Expr, ExprKind, FunctionDef, Functions, parse_expr, parse_function, parse_model,
};
use crate::model::resolve::build;
use crate::report::{Format, num};
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
    Point { q: f64, stable: bool },
    /// The map is the identity: every q tried (q/16, q, 16 q) is fixed.
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
    fn of(chi: f64) -> Phase {
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
}

impl Analysis {
    /// Whether one gain preserves both passes at the input q.
    pub fn gains_coincide(&self) -> bool {
        (self.forward_gain - self.backward_gain).abs() <= SAME * self.forward_gain
    }
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
    match (name, slope) {
        ("identity", None) => Some((1.0, "'linear': 1".into())),
        ("sigmoid", None) => Some((1.0, "'sigmoid': 1".into())),
        ("tanh", None) => Some((5.0 / 3.0, "'tanh': 5/3".into())),
        ("relu", None) => Some((2f64.sqrt(), "'relu': sqrt(2)".into())),
        ("selu", None) => Some((0.75, "'selu': 3/4, \"found empirically\"".into())),
        ("leaky_relu", a) => {
            let a = a.unwrap_or(0.01);
            Some((
                (2.0 / (1.0 + a * a)).sqrt(),
                format!("'leaky_relu', param {a}: sqrt(2/(1 + a^2))"),
            ))
        }
        _ => None,
    }
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
                if let Some(def) = file.functions.get(name) {
                    if functions.get(name).is_some() {
                        return Err(arg_error(
                            &file.origin,
                            "",
                            format!("`{name}` is defined in two of the --functions files"),
                            "keep one definition, or rename the other",
                        ));
                    }
                    functions.insert(name.to_string(), def.clone());
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

    /// `E[body]` with z ~ N(0, q); `body` names the activation as `F`.
    fn moment(&self, body: &str, q: f64) -> Result<Val, InputError> {
        let model_text = format!("z ~ Normal(0, {:?})", q.sqrt());
        let expr_text = body.replace('F', &self.call);
        let shown = body.replace('F', "f");
        let fail = |m: String| {
            arg_error(
                "<activation>",
                &self.label,
                format!("E[{shown}] for f = {}, {model_text}: {m}", self.label),
                "gain needs an activation whose moments under a normal input exist",
            )
        };
        let stmts = parse_model(&model_text).map_err(|e| fail(e.message))?;
        let model = build("gain", &stmts, &self.functions).map_err(|d| fail(d.message))?;
        let e = parse_expr(&expr_text).map_err(|e| fail(e.message))?;
        let rv = model.rv(&e, &self.functions).map_err(|d| fail(d.message))?;
        match Engine::new(&model.scenario).expect(&rv) {
            Ok(x) if x.val.is_finite() => Ok(x.val),
            Ok(x) => Err(fail(format!("the value came out as {}", x.val.value))),
            Err(no) => Err(fail(format!("no exact value: {}", no.reason()))),
        }
    }

    fn second(&self, q: f64) -> Result<Val, InputError> {
        self.moment("F(z)^2", q)
    }

    fn derivative_second(&self, q: f64) -> Result<Val, InputError> {
        self.moment("F'(z)^2", q)
    }
}

/// A root of `h` in `[lo, hi]`, where `h(lo)` and `h(hi)` have opposite
/// signs, by bisection. `h` returns a value and an error bound; the search
/// stops when the bracket is `rel` relative wide or when the sign at the
/// midpoint is within the error (the root is then known as well as `h`).
pub fn bisect<E>(
    mut h: impl FnMut(f64) -> Result<Val, E>,
    mut lo: f64,
    mut hi: f64,
    rel: f64,
) -> Result<f64, E> {
    let positive_at_lo = h(lo)?.value > 0.0;
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
        let everywhere = sign(h(q0 / 16.0)?, q0 / 16.0) == 0 && sign(h(16.0 * q0)?, 16.0 * q0) == 0;
        if everywhere {
            return Ok(Fixed::EveryQ);
        }
        return Ok(Fixed::Point {
            q: q0,
            stable: slope(act, gain, q0)? < 1.0,
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
                stable: slope(act, gain, q)? < 1.0,
            });
        }
        if s != s0 {
            let (lo, hi) = if prev < q { (prev, q) } else { (q, prev) };
            let root = bisect(h, lo, hi, 1e-13)?;
            return Ok(Fixed::Point {
                q: root,
                stable: slope(act, gain, root)? < 1.0,
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
    let (mut q, mut backward_depth) = (opts.q, 1.0);
    for _ in 0..opts.depth {
        // A q that has run off to 0 or infinity stays there; the quadrature
        // cannot follow it and the compounded factor is already decided.
        if !(Q_FLOOR..=1e300).contains(&q) {
            break;
        }
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
    })
}

/// The whole analysis of one activation.
pub fn analyse(act: &Activation, opts: &Options) -> Result<Analysis, InputError> {
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
    let mean = act.moment("F(z)", opts.q)?;
    let mean = if mean.value.abs() <= mean.err {
        0.0
    } else {
        mean.value
    };
    let second_moment = act.second(opts.q)?.value;
    let derivative_moment = act.derivative_second(opts.q)?.value;
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
    let forward_gain = 1.0 / (second_moment / opts.q).sqrt();
    let backward_gain = 1.0 / derivative_moment.sqrt();
    let mut rows = Vec::new();
    if let Some((g, _)) = act.pytorch {
        rows.push(row(act, "pytorch", g, opts)?);
    }
    rows.push(row(act, "forward", forward_gain, opts)?);
    rows.push(row(act, "backward", backward_gain, opts)?);
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
    })
}

fn fixed_cell(f: Fixed) -> String {
    match f {
        Fixed::Point { q, stable: true } => num(q),
        Fixed::Point { q, stable: false } => format!("{} (unstable)", num(q)),
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
        ("forward gain 1/sqrt(E[f^2]/q)", a.forward_gain),
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
    table(
        &mut out,
        &["quantity".into(), "value".into()],
        &first,
        markdown,
    );
    out.push('\n');
    table(&mut out, &header, &body, markdown);
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
    out
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>], markdown: bool) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        if markdown {
            format!("| {} |", padded.join(" | "))
        } else {
            padded.join("  ").trim_end().to_string()
        }
    };
    let _ = writeln!(out, "{}", line(header));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", line(&rule));
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
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
    json!({
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
        assert!(stable);
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
