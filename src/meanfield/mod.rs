//! `initaudit meanfield`: the whole mean-field picture of a deep random
//! network at initialization, for any activation (Poole et al. 2016,
//! Schoenholz et al. 2017).
//!
//! Weights N(0, sigma_w^2 / N), biases N(0, sigma_b^2), pre-activations
//! N(0, q) at every layer of an infinitely wide network. Two maps describe a
//! layer:
//!
//! - the length map q -> sigma_w^2 E[f(sqrt(q) z)^2] + sigma_b^2, whose
//!   fixed point is q* (found by `gain::fixed_point`, the same bisection
//!   `initaudit gain` uses);
//! - the correlation map of two inputs at q*,
//!   c -> (sigma_w^2 E[f(u1) f(u2)] + sigma_b^2) / q* with (u1, u2)
//!   Gaussian of variance q* and correlation c; its stable fixed point is
//!   c* (1 in the ordered phase).
//!
//! Their slopes give chi_1 = sigma_w^2 E[f'(sqrt(q*) z)^2] (the slope of the
//! c-map at c = 1, and the per-layer factor of gradients),
//! chi_c = sigma_w^2 E[f'(u1) f'(u2)] at c*, and the depth scales
//! xi_q = -1/log(slope of the length map at q*) and xi_c = -1/log(chi_c).
//! The length map's slope is taken as sigma_w^2 E[f(z) f'(z) z] / q*
//! (z ~ N(0, q*)), which by Stein's lemma is the papers'
//! chi_1 + sigma_w^2 E[f''(z) f(z)] for smooth f, and stays right for an
//! activation whose f' jumps where f is not 0 (hardtanh, relu6), where the
//! language's f'' would miss the jump's delta.
//!
//! Every bivariate moment is the exact engine's, on the language's pair law
//! `u, v ~ BivariateNormal(sd, sd, c)` (nested quadrature with an error
//! bound), on the same `Rv` lowering a claim gets; a moment with no exact
//! value is an error with the engine's reason, never a number. Roots (q*,
//! c*, the edge of chaos) are found by bisection that stops where the
//! engine's error bound no longer decides the sign. Then every printed
//! number is restated as a claim and audited ([`restate`]): exact, and each
//! exact moment sampled, inside the run's budget.

pub mod plot;
pub mod restate;

use crate::diag::{Diag, InputError};
use crate::exact::{Engine, Val};
use crate::gain::{self, Activation, Fixed, Phase};
use crate::lang::{parse_expr, parse_model};
use crate::model::resolve::build;
use crate::report::{self, Format, num};
use crate::verdict::Settings;
use restate::{Outcome, Restated};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// Relative width at which a root's bracket is narrow enough: far below
/// the seven digits printed, far above the moments' error (about 1e-13).
const ROOT_REL: f64 = 1e-11;

/// Below this q the length map has collapsed to 0 (as in `gain`).
const Q_FLOOR: f64 = 1e-12;

/// The input q the length map is iterated from: any q reaches the same
/// stable fixed point when there is one, and 1 is where `gain` starts.
const Q_START: f64 = 1.0;

/// How close to 1 the scan for c* goes: 1 - 2^-30. A fixed point closer
/// to 1 than that is one whose chi_1 exceeds 1 by less than about 1e-9,
/// which is critical to the precision of the moments.
const C_SCAN_OCTAVES: i32 = 30;

/// Where the edge-of-chaos search looks: sigma_w^2 from 2^-4 to 2^10.
const EDGE_RANGE: (i32, i32) = (-8, 20);

/// The error an input flag raises, pointing at the value as typed.
fn flag_error(flag: &str, value: f64, help: &str) -> InputError {
    let text = format!("{value}");
    InputError::new(
        flag,
        &text,
        Diag::new(
            0..text.len(),
            format!("{flag} {value} is out of range"),
            help,
        ),
    )
}

/// E[body] for (u, v) ~ BivariateNormal(sqrt(q), sqrt(q), c); `body`
/// names the activation as `F`.
pub fn pair_moment(act: &Activation, body: &str, q: f64, c: f64) -> Result<Val, InputError> {
    let (call, functions) = act.callable();
    let sd = q.sqrt();
    let model_text = format!("u, v ~ BivariateNormal({sd:?}, {sd:?}, {c:?})");
    let expr_text = body.replace('F', call);
    let shown = body.replace('F', "f");
    let fail = |m: String| {
        InputError::new(
            "<activation>",
            &act.label,
            Diag::new(
                0..act.label.len(),
                format!(
                    "E[{shown}] for f = {}, u, v ~ BivariateNormal({sd:?}, {sd:?}, {c:?}): {m}",
                    act.label
                ),
                "meanfield needs an activation whose moments under a normal pair exist",
            ),
        )
    };
    let stmts = parse_model(&model_text).map_err(|e| fail(e.message))?;
    let model = build("meanfield", &stmts, functions).map_err(|d| fail(d.message))?;
    let e = parse_expr(&expr_text).map_err(|e| fail(e.message))?;
    let rv = model.rv(&e, functions).map_err(|d| fail(d.message))?;
    match Engine::new(&model.scenario).expect(&rv) {
        Ok(x) if x.val.is_finite() => Ok(x.val),
        Ok(x) => Err(fail(format!("the value came out as {}", x.val.value))),
        Err(no) => Err(fail(format!("no exact value: {}", no.reason()))),
    }
}

/// The length map's fixed point and what it means for the rest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Length {
    /// q*, reached from q = 1.
    Fixed(f64),
    /// Every q is fixed (a homogeneous activation at its critical gain
    /// with no bias); the quantities are given at q = 1.
    EveryQ,
    /// q* = 0: the map shrinks every q; the quantities are limits q -> 0.
    Collapses,
    /// No fixed point: q grows without bound.
    Diverges,
}

impl Length {
    /// The q at which the quantities are evaluated.
    fn at(self) -> Option<f64> {
        match self {
            Length::Fixed(q) => Some(q.max(Q_FLOOR)),
            Length::EveryQ => Some(Q_START),
            Length::Collapses => Some(Q_FLOOR),
            Length::Diverges => None,
        }
    }
}

/// The mean-field quantities at one (sigma_w^2, sigma_b^2).
#[derive(Clone, Debug)]
pub struct Point {
    pub weight_var: f64,
    pub bias_var: f64,
    pub length: Length,
    /// Everything below is none when the length map diverges.
    pub chi_1: Option<Val>,
    /// The length map's slope at q*.
    pub length_slope: Option<Val>,
    pub c_star: Option<f64>,
    pub chi_c: Option<Val>,
}

/// -1/log(x): the depth over which a per-layer factor x < 1 shrinks a
/// deviation by e; none (infinite) at or above 1.
pub fn depth_scale(x: f64) -> Option<f64> {
    (x > 0.0 && x < 1.0).then(|| -1.0 / x.ln())
}

impl Point {
    pub fn phase(&self) -> Option<Phase> {
        self.chi_1.map(|c| Phase::of(c.value))
    }

    pub fn xi_q(&self) -> Option<f64> {
        self.length_slope.and_then(|s| depth_scale(s.value))
    }

    /// Infinite on the critical line, where chi_c = chi_1 = 1 to the
    /// moments' precision.
    pub fn xi_c(&self) -> Option<f64> {
        if self.phase() == Some(Phase::Critical) {
            return None;
        }
        self.chi_c.and_then(|s| depth_scale(s.value))
    }
}

/// The c-map's excess h(c) = map(c) - c at q.
fn c_excess(act: &Activation, w2: f64, b2: f64, q: f64, c: f64) -> Result<Val, InputError> {
    let m = pair_moment(act, "F(u)*F(v)", q, c)?;
    Ok((m.scale(w2) + Val::exact(b2)).scale(1.0 / q) - Val::exact(c))
}

/// The stable fixed point of the c-map in the chaotic phase: h > 0 at
/// c = -1 (the map stays in [-1, 1]) and h < 0 just below 1 (its slope
/// there is chi_1 > 1); the first sign change going up from -1.
fn chaotic_c_star(act: &Activation, w2: f64, b2: f64, q: f64) -> Result<Option<f64>, InputError> {
    let grid: Vec<f64> = (0..20)
        .map(|k| -1.0 + 0.1 * f64::from(k))
        .chain((4..=C_SCAN_OCTAVES).map(|k| 1.0 - 2f64.powi(-k)))
        .collect();
    let mut prev = None;
    for &c in &grid {
        let h = c_excess(act, w2, b2, q, c)?;
        if h.value < -h.err {
            let Some(lo) = prev else {
                return Ok(Some(c));
            };
            let root = gain::bisect(|c| c_excess(act, w2, b2, q, c), lo, c, ROOT_REL)?;
            return Ok(Some(root));
        }
        prev = Some(c);
    }
    Ok(None)
}

/// Everything at one (sigma_w^2, sigma_b^2).
pub fn point(act: &Activation, w2: f64, b2: f64) -> Result<Point, InputError> {
    let sigma_w = w2.sqrt();
    let length = match gain::fixed_point(act, sigma_w, b2, Q_START)? {
        Fixed::Point { q, .. } if q < Q_FLOOR => Length::Collapses,
        Fixed::Point { q, .. } => Length::Fixed(q),
        Fixed::EveryQ => Length::EveryQ,
        Fixed::Collapses => Length::Collapses,
        Fixed::Diverges => Length::Diverges,
    };
    let Some(q) = length.at() else {
        return Ok(Point {
            weight_var: w2,
            bias_var: b2,
            length,
            chi_1: None,
            length_slope: None,
            c_star: None,
            chi_c: None,
        });
    };
    let chi_1 = act.expectation("F'(z)^2", q)?.scale(w2);
    let length_slope = act.expectation("F(z)*F'(z)*z", q)?.scale(w2 / q);
    let (c_star, chi_c) = match Phase::of(chi_1.value) {
        Phase::Chaotic => match chaotic_c_star(act, w2, b2, q)? {
            Some(c) => (
                Some(c),
                Some(pair_moment(act, "F'(u)*F'(v)", q, c)?.scale(w2)),
            ),
            None => (None, None),
        },
        // c = 1 is then the stable fixed point, and the c-map's slope
        // there is chi_1 itself.
        _ => (Some(1.0), Some(chi_1)),
    };
    Ok(Point {
        weight_var: w2,
        bias_var: b2,
        length,
        chi_1: Some(chi_1),
        length_slope: Some(length_slope),
        c_star,
        chi_c,
    })
}

/// chi_1 - 1 at sigma_w^2 = w2, as a value the bisection can read; a
/// length map that diverges is on the chaotic side of every finite chi.
fn chi_excess(act: &Activation, w2: f64, b2: f64) -> Result<Val, InputError> {
    let sigma_w = w2.sqrt();
    let q = match gain::fixed_point(act, sigma_w, b2, Q_START)? {
        Fixed::Point { q, .. } => q.max(Q_FLOOR),
        Fixed::EveryQ => Q_START,
        Fixed::Collapses => Q_FLOOR,
        Fixed::Diverges => return Ok(Val::exact(1.0)),
    };
    Ok(act.expectation("F'(z)^2", q)?.scale(w2) - Val::exact(1.0))
}

/// The edge of chaos at bias variance b2: the sigma_w^2 with chi_1 = 1,
/// or none where chi_1 stays on one side over the whole search range.
pub fn edge(act: &Activation, b2: f64) -> Result<Option<f64>, InputError> {
    let mut prev: Option<f64> = None;
    for k in EDGE_RANGE.0..=EDGE_RANGE.1 {
        let w2 = 2f64.powf(f64::from(k) / 2.0);
        let h = chi_excess(act, w2, b2)?;
        if h.value.abs() <= h.err {
            return Ok(Some(w2));
        }
        if h.value > 0.0 {
            let Some(lo) = prev else {
                return Ok(None);
            };
            return gain::bisect(|w| chi_excess(act, w, b2), lo, w2, ROOT_REL).map(Some);
        }
        prev = Some(w2);
    }
    Ok(None)
}

/// What `initaudit meanfield` is asked.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// None: find the edge of chaos and report there.
    pub sigma_w: Option<f64>,
    pub bias_var: f64,
}

/// The command's result.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub activation: String,
    pub options: Options,
    /// The edge of chaos, when asked for (no --sigma-w): sigma_w^2.
    pub edge: Option<f64>,
    pub point: Option<Point>,
    pub check: Outcome,
}

impl Analysis {
    pub fn has_defect(&self) -> bool {
        !self.check.passed()
    }
}

/// The whole analysis: the point asked for (or the edge of chaos), its
/// numbers restated and audited under `settings`.
pub fn analyse(
    act: &Activation,
    opts: &Options,
    settings: &Settings,
) -> Result<Analysis, InputError> {
    if !(opts.bias_var.is_finite() && opts.bias_var >= 0.0) {
        return Err(flag_error(
            "--bias-var",
            opts.bias_var,
            "a variance >= 0, e.g. --bias-var 0.05",
        ));
    }
    if let Some(s) = opts.sigma_w
        && !(s.is_finite() && s > 0.0)
    {
        return Err(flag_error(
            "--sigma-w",
            s,
            "a positive weight scale, e.g. --sigma-w 1.5 (sigma_w^2 = 2.25)",
        ));
    }
    let (edge, w2) = match opts.sigma_w {
        Some(s) => (None, Some(s * s)),
        None => {
            let e = edge(act, opts.bias_var)?;
            (e, e)
        }
    };
    let point = w2.map(|w2| point(act, w2, opts.bias_var)).transpose()?;
    let (call, functions) = act.callable();
    let claims = point
        .as_ref()
        .map(|p| restatements(p, edge.is_some(), call))
        .unwrap_or_default();
    let check = if claims.is_empty() {
        Outcome {
            claims: 0,
            tests: 0,
            defects: Vec::new(),
        }
    } else {
        restate::audit("<meanfield>", functions, &claims, settings)?
    };
    Ok(Analysis {
        activation: act.label.clone(),
        options: *opts,
        edge,
        point,
        check,
    })
}

/// The printed numbers as claims. Right sides are the printed values at
/// full precision; left sides are the definitions.
fn restatements(p: &Point, at_edge: bool, call: &str) -> Vec<Restated> {
    let (w2, b2) = (p.weight_var, p.bias_var);
    let Some(q) = p.length.at() else {
        return Vec::new();
    };
    let normal = format!("s2 = {w2:?}\nb2 = {b2:?}\nq = {q:?}\nz ~ Normal(0, sqrt(q))");
    let mut out = Vec::new();
    if let Length::Fixed(qs) = p.length
        && qs >= Q_FLOOR
    {
        out.push(Restated {
            id: "q-star".into(),
            model: normal.clone(),
            says: "s2 * E[F(z)^2] + b2 = q".into(),
        });
    }
    if let Some(chi) = p.chi_1 {
        // At the edge the claim is its definition, chi_1 = 1.
        let chi = if at_edge { 1.0 } else { chi.value };
        out.push(Restated {
            id: if at_edge { "edge" } else { "chi-1" }.into(),
            model: normal.clone(),
            says: format!("s2 * E[F'(z)^2] = {chi:?}"),
        });
    }
    if let Some(s) = p.length_slope {
        out.push(Restated {
            id: "length-slope".into(),
            model: normal.clone(),
            says: format!("s2 * E[F(z) * F'(z) * z] / q = {:?}", s.value),
        });
    }
    if let (Some(c), Some(chi_c)) = (p.c_star, p.chi_c)
        && c < 1.0
    {
        let pair = format!(
            "s2 = {w2:?}\nb2 = {b2:?}\nq = {q:?}\nu, v ~ BivariateNormal(sqrt(q), sqrt(q), {c:?})"
        );
        out.push(Restated {
            id: "c-star".into(),
            model: pair.clone(),
            says: format!("(s2 * E[F(u) * F(v)] + b2) / q = {c:?}"),
        });
        out.push(Restated {
            id: "chi-c".into(),
            model: pair,
            says: format!("s2 * E[F'(u) * F'(v)] = {:?}", chi_c.value),
        });
    }
    for c in &mut out {
        c.says = c.says.replace('F', call);
    }
    out
}

fn cell(v: Option<f64>, none: &str) -> String {
    v.map_or(none.to_string(), num)
}

fn rows(a: &Analysis) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let Some(p) = &a.point else {
        return rows;
    };
    rows.push(("sigma_w^2".into(), num(p.weight_var)));
    rows.push(("sigma_w".into(), num(p.weight_var.sqrt())));
    rows.push(("sigma_b^2".into(), num(p.bias_var)));
    rows.push((
        "q*".into(),
        match p.length {
            Length::Fixed(q) => num(q),
            Length::EveryQ => "every q (shown at q = 1)".into(),
            Length::Collapses => "0 (limits as q -> 0)".into(),
            Length::Diverges => "none: q grows without bound".into(),
        },
    ));
    rows.push(("chi_1".into(), cell(p.chi_1.map(|v| v.value), "—")));
    rows.push((
        "phase".into(),
        p.phase().map_or("—".into(), |ph| ph.name().to_string()),
    ));
    rows.push(("c*".into(), cell(p.c_star, "—")));
    rows.push(("chi_c".into(), cell(p.chi_c.map(|v| v.value), "—")));
    let xi = |v: Option<Val>, x: Option<f64>| match (v, x) {
        (None, _) => "—".to_string(),
        (Some(_), None) => "∞".to_string(),
        (Some(_), Some(x)) => num(x),
    };
    rows.push(("xi_q".into(), xi(p.length_slope, p.xi_q())));
    rows.push(("xi_c".into(), xi(p.chi_c, p.xi_c())));
    rows
}

pub fn render(a: &Analysis, fmt: Format, seed: u64) -> String {
    match fmt {
        Format::Json => {
            serde_json::to_string_pretty(&to_json(a)).expect("json of plain values") + "\n"
        }
        Format::Table => text(a, false, seed),
        Format::Markdown => text(a, true, seed),
    }
}

fn text(a: &Analysis, markdown: bool, seed: u64) -> String {
    let mut out = String::new();
    let head = match a.options.sigma_w {
        Some(s) => format!(
            "meanfield for {}: sigma_w = {}, sigma_b^2 = {}",
            a.activation,
            num(s),
            num(a.options.bias_var)
        ),
        None => format!(
            "meanfield for {}: the edge of chaos at sigma_b^2 = {}",
            a.activation,
            num(a.options.bias_var)
        ),
    };
    if markdown {
        let _ = writeln!(out, "### {head}\n");
    } else {
        let _ = writeln!(out, "=== {head} ===\n");
    }
    if a.options.sigma_w.is_none() && a.edge.is_none() {
        let _ = writeln!(
            out,
            "no edge of chaos: chi_1 stays on one side of 1 for sigma_w^2 from 2^{} to 2^{}",
            EDGE_RANGE.0 / 2,
            EDGE_RANGE.1 / 2
        );
    }
    let body: Vec<Vec<String>> = rows(a).into_iter().map(|(k, v)| vec![k, v]).collect();
    if !body.is_empty() {
        out.push_str(&report::table(
            gain::table_style(markdown),
            &["quantity".into(), "value".into()],
            &body,
        ));
        out.push('\n');
    }
    if let Some(p) = &a.point {
        let _ = writeln!(out, "{}\n", words(p));
    }
    out.push_str(&a.check.text(seed));
    out
}

fn words(p: &Point) -> String {
    match (p.phase(), p.xi_c()) {
        (None, _) => "the length map diverges: no fixed point, no phase".into(),
        (Some(Phase::Critical), _) => {
            "critical: chi_1 = 1; gradients keep their size and correlations \
             approach their fixed point more slowly than exponentially"
                .into()
        }
        (Some(Phase::Ordered), xi) => format!(
            "ordered: chi_1 < 1; every two inputs become perfectly correlated (c* = 1), \
             over about {} layers (xi_c), and gradients vanish",
            cell(xi, "∞")
        ),
        (Some(Phase::Chaotic), xi) => format!(
            "chaotic: chi_1 > 1; nearby inputs decorrelate toward c* = {}, over about {} \
             layers (xi_c), and gradients explode",
            cell(p.c_star, "—"),
            cell(xi, "∞")
        ),
    }
}

fn val_json(v: Option<Val>) -> Value {
    v.map_or(Value::Null, |v| json!({"value": v.value, "err": v.err}))
}

fn to_json(a: &Analysis) -> Value {
    let point = a.point.as_ref().map_or(Value::Null, |p| {
        json!({
            "sigma_w2": p.weight_var,
            "sigma_w": p.weight_var.sqrt(),
            "sigma_b2": p.bias_var,
            "q_star": match p.length {
                Length::Fixed(q) => json!(q),
                Length::EveryQ => json!("every"),
                Length::Collapses => json!(0.0),
                Length::Diverges => json!("diverges"),
            },
            "chi_1": val_json(p.chi_1),
            "length_slope": val_json(p.length_slope),
            "phase": p.phase().map(|ph| ph.name()),
            "c_star": p.c_star,
            "chi_c": val_json(p.chi_c),
            "xi_q": p.xi_q(),
            "xi_c": p.xi_c(),
        })
    });
    json!({
        "activation": a.activation,
        "sigma_b2": a.options.bias_var,
        "edge_of_chaos": a.options.sigma_w.is_none(),
        "edge_sigma_w2": a.edge,
        "point": point,
        "self_check": a.check.json(),
    })
}

/// `initaudit meanfield ACT...`: the first activation analysed, every one
/// drawn into the phase diagram when `plot` is given.
pub fn command(
    specs: &[String],
    defines: &[String],
    files: &[std::path::PathBuf],
    opts: &Options,
    plot_path: Option<&std::path::Path>,
    settings: &Settings,
) -> Result<Analysis, InputError> {
    let acts = specs
        .iter()
        .map(|s| Activation::resolve(s, defines, files))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = acts.first() else {
        return Err(flag_error("ACT", 0.0, "name at least one activation"));
    };
    if acts.len() > 1 && plot_path.is_none() {
        let extra = specs[1..].join(" ");
        return Err(InputError::new(
            "ACT",
            &extra,
            Diag::new(
                0..extra.len(),
                "several activations are compared only in the phase diagram",
                "add --plot phase.svg, or name one activation",
            ),
        ));
    }
    // The diagram is by far the larger part of the work: refused before
    // any of it, or of the analysis, is done.
    if let Some(path) = plot_path {
        plot::refuse_over_budget(acts.len(), settings.budget).map_err(|m| {
            let shown = path.display().to_string();
            InputError::new(
                "--plot",
                &shown,
                Diag::new(
                    0..shown.len(),
                    m,
                    "raise --budget (CPU-seconds of one core), or leave out --plot",
                ),
            )
        })?;
    }
    let analysis = analyse(first, opts, settings)?;
    if let Some(path) = plot_path {
        let d = plot::diagram(&acts)?;
        plot::draw(path, &d).map_err(|m| {
            let shown = path.display().to_string();
            InputError::new(
                "--plot",
                &shown,
                Diag::new(0..shown.len(), m, "a writable path ending in .svg"),
            )
        })?;
    }
    Ok(analysis)
}
