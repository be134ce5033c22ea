//! Series claims: statements about a network's per-layer statistics,
//! checked on the simulated draws.
//!
//! A `[[series]]` entry is a claim in the ordinary language whose moments
//! name network signals instead of scenario variables: `E[x(l)^2]`,
//! `Var[y(L)]`, `E[dW(l)]`, `Var[gain2]`. Outside moments, `L` is the depth,
//! `n(k)` the width of layer k and `l` the layer a `layers = "2..L"` claim
//! is checked at. The networks play the part scenarios play for ordinary
//! claims: each row of the table is one network, and `expect` pins a
//! verdict per network.
//!
//! A claim checked "for every l" is one test per layer, all counted in the
//! run's budget. Its row says "holds" when every layer holds, "fails" when
//! any layer fails, and shows the layer that decided (the failing layer
//! with the largest deviation, or the layer closest to failing).
//!
//! The test is the engine's, on the difference of the sides, but its
//! standard error comes from the independent draws (the delta method) and
//! its critical value is a Student t quantile with draws - 1 degrees of
//! freedom at the run's per-test level 1e-6 / tests.

use super::Network;
use super::simulate::{Atom, Norm, Signal, Stats};
use crate::diag::Diag;
use crate::lang::arith::{BinOp, Tree};
use crate::lang::ast::{ClaimExpr, Expr, ExprKind, MomentOp, Relation, Span};
use crate::lang::builtin::Builtin;
use crate::lang::{parse_claim, parse_expr};
use crate::outcome::{Checked, Row};
use crate::verdict::{
    Evaluation, FAMILY_RATE, Settings, SideMethod, SideValue, Verdict, interval_verdict,
    judging_scale, parse_within,
};
use serde::Deserialize;
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::BTreeMap;
use toml::Spanned;

/// A `[[series]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeries {
    pub id: Spanned<String>,
    #[serde(default)]
    cite: Option<String>,
    says: Spanned<String>,
    #[serde(default)]
    layers: Option<Spanned<String>>,
    #[serde(default)]
    within: Option<Spanned<String>>,
    #[serde(default)]
    expect: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "in")]
    networks: Option<Vec<Spanned<String>>>,
}

/// The layer range of a "for every l" claim: bounds are expressions in `L`.
#[derive(Clone, Debug)]
pub struct Layers {
    pub text: String,
    lo: Expr,
    hi: Expr,
    /// File offset of the range's text.
    at: usize,
}

/// A loaded series claim.
#[derive(Clone, Debug)]
pub struct SeriesDef {
    pub id: String,
    pub cite: String,
    pub claim: ClaimExpr,
    pub layers: Option<Layers>,
    pub within: Option<(f64, bool)>,
    pub expect: Vec<(String, Verdict)>,
    /// The networks it is checked on, in the file's order.
    pub networks: Vec<String>,
    /// File offset of the claim's text.
    at: usize,
    /// The `id` value's span, for errors about the claim as a whole.
    span: Span,
}

impl SeriesDef {
    /// The claim as shown: the text that was evaluated, and its range.
    pub fn says(&self) -> String {
        match &self.layers {
            None => format!("{}", self.claim),
            Some(r) => format!("{}   for every l in {}", self.claim, r.text),
        }
    }
}

/// Reads a `[[series]]` entry. `at` maps a string token's span to the file
/// offset of its contents; `networks` are the file's network names.
pub fn load(
    raw: &Spanned<RawSeries>,
    at: &dyn Fn(&Span) -> usize,
    networks: &[String],
) -> Result<SeriesDef, Diag> {
    let r = raw.get_ref();
    let says_at = at(&r.says.span());
    let claim = parse_claim(r.says.get_ref()).map_err(|e| Diag::from(e).shifted(says_at))?;
    let within = match &r.within {
        None => None,
        Some(w) => Some(parse_within(w.get_ref()).map_err(|m| {
            Diag::new(
                w.span(),
                m,
                "a percentage such as \"2%\" or an absolute number such as \"0.01\"",
            )
        })?),
    };
    match (claim.relation, within) {
        (Relation::Approx, None) => {
            return Err(Diag::new(
                claim.relation_span.clone(),
                "`~=` needs a `within` band",
                "add within = \"2%\" (relative to the right side) or within = \"0.01\" (absolute)",
            )
            .shifted(says_at));
        }
        (rel, Some(_)) if rel != Relation::Approx => {
            return Err(Diag::new(
                r.within.as_ref().map_or(r.says.span(), |w| w.span()),
                "`within` applies only to an approximate claim",
                "write the relation as `~=`, or remove `within`",
            ));
        }
        _ => {}
    }
    let list = networks.join(", ");
    let chosen = match &r.networks {
        None => networks.to_vec(),
        Some(names) => {
            let mut out = Vec::new();
            for v in names {
                if !networks.contains(v.get_ref()) {
                    return Err(Diag::new(
                        v.span(),
                        format!("no network `{}` in this file", v.get_ref()),
                        format!("networks: {list}"),
                    ));
                }
                out.push(v.get_ref().clone());
            }
            // Rows follow the file's order of networks.
            networks
                .iter()
                .filter(|n| out.contains(n))
                .cloned()
                .collect()
        }
    };
    if chosen.is_empty() {
        return Err(Diag::new(
            r.id.span(),
            format!("series claim `{}` has no network to run on", r.id.get_ref()),
            "define a [network.NAME] table in this file",
        ));
    }
    let mut expect = Vec::new();
    for (name, v) in &r.expect {
        if !chosen.contains(name) {
            return Err(Diag::new(
                v.span(),
                format!("`expect` names `{name}`, which is not a network this claim runs on"),
                format!("networks: {}", chosen.join(", ")),
            ));
        }
        let verdict = match v.get_ref().as_str() {
            "holds" => Verdict::Holds,
            "fails" => Verdict::Fails,
            "undefined" => Verdict::Undefined,
            other => {
                return Err(Diag::new(
                    v.span(),
                    format!("unknown verdict `{other}`"),
                    "\"holds\", \"fails\" or \"undefined\"",
                ));
            }
        };
        expect.push((name.clone(), verdict));
    }
    let layers = match &r.layers {
        None => None,
        Some(v) => {
            let text = v.get_ref();
            let off = at(&v.span());
            let Some(dots) = text.find("..") else {
                return Err(Diag::new(
                    v.span(),
                    format!("`{text}` is not a layer range"),
                    "a range such as \"1..L\" or \"2..L-1\" (both ends included)",
                ));
            };
            let lo = parse_expr(&text[..dots]).map_err(|e| Diag::from(e).shifted(off))?;
            let hi =
                parse_expr(&text[dots + 2..]).map_err(|e| Diag::from(e).shifted(off + dots + 2))?;
            Some(Layers {
                text: text.clone(),
                lo,
                hi: Expr::new(hi.kind, hi.span.start + dots + 2..hi.span.end + dots + 2),
                at: off,
            })
        }
    };
    Ok(SeriesDef {
        id: r.id.get_ref().clone(),
        cite: r.cite.clone().unwrap_or_default(),
        claim,
        layers,
        within,
        expect,
        networks: chosen,
        at: says_at,
        span: r.id.span(),
    })
}

/// A side compiled for one network and one layer: the arithmetic tree of
/// an ordinary side, whose leaves are recorded means instead of moments.
type Term = Tree<Atom>;

/// The atoms a term reads, each once, in the order met.
fn atoms(t: &Term, out: &mut Vec<Atom>) {
    t.for_each_leaf(&mut |a| {
        if !out.contains(a) {
            out.push(*a);
        }
    });
}

/// The size of the side before its terms cancel: a mean's natural size
/// is the root mean square, a second moment is its own size. Claims
/// about quantities that are zero (E[dW] = 0) are judged against it.
fn magnitude(t: &Term, m: &dyn Fn(Atom) -> f64) -> f64 {
    t.magnitude(&|a| match *a {
        Atom::Layer(s, l, 1) => m(Atom::Layer(s, l, 2)).abs().sqrt(),
        Atom::Norm(n, 1) => m(Atom::Norm(n, 2)).abs().sqrt(),
        a => m(a).abs(),
    })
}

/// What names mean while compiling a side.
struct Env<'a> {
    net: &'a Network,
    /// The layer of a "for every l" claim.
    l: Option<usize>,
}

const VALID: &str = "E[q(k)], E[q(k)^2] or Var[q(k)] with q one of x, y, dx, dy, dW; E[norm2], E[norm2^2], Var[norm2] (and gain2); L, l, n(k), alpha(k) (a residual block's scale), numbers and functions of them";

impl Env<'_> {
    /// A layer index: `term` without moments has no atoms, so it folds.
    fn number(&self, e: &Expr) -> Result<f64, Diag> {
        Ok(self.term(e, false)?.eval_with(&|_| f64::NAN))
    }

    fn layer(&self, e: &Expr, first: usize, what: &str) -> Result<usize, Diag> {
        let v = self.number(e)?;
        let depth = self.net.depth();
        if v != v.trunc() || v < first as f64 || v > depth as f64 {
            return Err(Diag::new(
                e.span.clone(),
                format!(
                    "layer {v} of {what} does not exist in network `{}`{}",
                    self.net.name,
                    self.l.map_or(String::new(), |l| format!(" (at l = {l})"))
                ),
                format!("an integer from {first} to L = {depth}"),
            ));
        }
        Ok(v as usize)
    }

    fn term(&self, e: &Expr, moments: bool) -> Result<Term, Diag> {
        let unary = |a: &Expr| self.term(a, moments).map(Box::new);
        Ok(match &e.kind {
            ExprKind::Num(v) => Term::Const(*v),
            ExprKind::Name(n) => match n.as_str() {
                "pi" => Term::Const(std::f64::consts::PI),
                "e" => Term::Const(std::f64::consts::E),
                "L" => Term::Const(self.net.depth() as f64),
                "l" => match self.l {
                    Some(l) => Term::Const(l as f64),
                    None => {
                        return Err(Diag::new(
                            e.span.clone(),
                            "`l` is defined only in a claim checked for every layer",
                            "add layers = \"1..L\" to the claim, or write a layer number",
                        ));
                    }
                },
                other => {
                    return Err(Diag::new(
                        e.span.clone(),
                        format!("unknown name `{other}` in a series claim"),
                        VALID,
                    ));
                }
            },
            ExprKind::Neg(a) => Term::Neg(unary(a)?),
            ExprKind::Binary(op, a, b) => Term::Bin(*op, unary(a)?, unary(b)?),
            ExprKind::Call {
                func, args, primes, ..
            } if func == "n" && *primes == 0 && args.len() == 1 => {
                let k = self.layer(&args[0], 0, "n")?;
                Term::Const(self.net.widths[k] as f64)
            }
            ExprKind::Call {
                func, args, primes, ..
            } if func == "alpha" && *primes == 0 && args.len() == 1 => {
                let Some(residual) = &self.net.residual else {
                    return Err(Diag::new(
                        e.span.clone(),
                        format!(
                            "`alpha(k)` is a residual block's scale, and network `{}` has no `residual`",
                            self.net.name
                        ),
                        "check the claim only `in` residual networks",
                    ));
                };
                let k = self.layer(&args[0], 1, "alpha")?;
                Term::Const(residual.alphas[k - 1])
            }
            ExprKind::Call {
                func,
                func_span,
                primes: 0,
                args,
            } if Builtin::from_name(func).is_some() => {
                let f = Builtin::from_name(func).expect("checked");
                let (lo, hi) = f.arity();
                if args.len() < lo || args.len() > hi {
                    return Err(Diag::new(
                        func_span.clone(),
                        format!("`{func}` takes {}", f.signature()),
                        f.signature(),
                    ));
                }
                let mut v = args
                    .iter()
                    .map(|a| self.term(a, moments))
                    .collect::<Result<Vec<_>, _>>()?;
                let defaults = f.default_args();
                v.extend(
                    defaults[defaults.len() - (hi - args.len())..]
                        .iter()
                        .map(|&d| Term::Const(d)),
                );
                Term::Call(f, v)
            }
            ExprKind::Moment(op, args) if moments => {
                let arg = &args[0];
                match op {
                    MomentOp::E => self.atom(arg, true)?,
                    MomentOp::Var => {
                        let Term::Leaf(atom) = self.atom(arg, false)? else {
                            unreachable!("atom gives a mean")
                        };
                        let square = match atom {
                            Atom::Layer(s, l, _) => Atom::Layer(s, l, 2),
                            Atom::Norm(n, _) => Atom::Norm(n, 2),
                        };
                        Term::bin(
                            BinOp::Sub,
                            Term::Leaf(square),
                            Term::bin(BinOp::Pow, Term::Leaf(atom), Term::Const(2.0)),
                        )
                    }
                    MomentOp::Cov => {
                        return Err(Diag::new(
                            e.span.clone(),
                            "series claims have no Cov",
                            VALID,
                        ));
                    }
                }
            }
            _ => {
                return Err(Diag::new(
                    e.span.clone(),
                    if moments {
                        "not something a series claim can use"
                    } else {
                        "a layer index is a number: an expression of l, L and numbers"
                    },
                    VALID,
                ));
            }
        })
    }

    /// `q(k)`, `q(k)^2`, `norm2`, `norm2^2` inside E or Var (Var only the
    /// first power).
    fn atom(&self, e: &Expr, squares: bool) -> Result<Term, Diag> {
        let (base, power) = match &e.kind {
            ExprKind::Binary(BinOp::Pow, a, b)
                if squares && matches!(b.kind, ExprKind::Num(p) if p == 2.0) =>
            {
                (a.as_ref(), 2)
            }
            _ => (e, 1),
        };
        match &base.kind {
            ExprKind::Call {
                func,
                primes: 0,
                args,
                ..
            } if args.len() == 1 && Signal::from_name(func).is_some() => {
                let s = Signal::from_name(func).expect("checked");
                let l = self.layer(&args[0], s.first_layer(), func)?;
                Ok(Term::Leaf(Atom::Layer(s, l, power)))
            }
            ExprKind::Name(n) if Norm::from_name(n).is_some() => Ok(Term::Leaf(Atom::Norm(
                Norm::from_name(n).expect("checked"),
                power,
            ))),
            _ => Err(Diag::new(e.span.clone(), "not a network statistic", VALID)),
        }
    }
}

/// One network's row, compiled: the sides at each layer checked.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Index into the file's networks.
    pub network: usize,
    layers: Vec<(Option<usize>, Term, Term)>,
}

impl Planned {
    /// Statistical tests this row spends: one per layer.
    pub fn tests(&self) -> u64 {
        self.layers.len() as u64
    }
}

/// Compiles a claim for every network it runs on, checking every layer
/// index; errors point into the file.
pub fn plan(def: &SeriesDef, networks: &[Network]) -> Result<Vec<Planned>, Diag> {
    let mut out = Vec::new();
    for name in &def.networks {
        let Some(index) = networks.iter().position(|n| &n.name == name) else {
            continue;
        };
        let net = &networks[index];
        let ls: Vec<Option<usize>> = match &def.layers {
            None => vec![None],
            Some(r) => {
                let env = Env { net, l: None };
                let bound = |e: &Expr| -> Result<usize, Diag> {
                    env.layer(e, 0, "the range").map_err(|d| d.shifted(r.at))
                };
                let (lo, hi) = (bound(&r.lo)?, bound(&r.hi)?);
                if lo > hi {
                    return Err(Diag::new(
                        r.at..r.at + r.text.len(),
                        format!(
                            "the range {} is empty in network `{name}` ({lo}..{hi})",
                            r.text
                        ),
                        "the first layer must not exceed the last",
                    ));
                }
                (lo..=hi).map(Some).collect()
            }
        };
        let mut layers = Vec::new();
        for l in ls {
            let env = Env { net, l };
            let side = |e: &Expr| env.term(e, true).map_err(|d| d.shifted(def.at));
            layers.push((l, side(&def.claim.lhs)?, side(&def.claim.rhs)?));
        }
        out.push(Planned {
            network: index,
            layers,
        });
    }
    if out.is_empty() {
        return Err(Diag::new(
            def.span.clone(),
            format!("series claim `{}` has no network to run on", def.id),
            "list networks of this file in `in`",
        ));
    }
    Ok(out)
}

/// The two-sided critical value of a t statistic with `dof` degrees of
/// freedom at the per-test level of a run of `tests` tests.
pub fn critical(dof: usize, tests: u64) -> f64 {
    let alpha = FAMILY_RATE / tests.max(1) as f64;
    let t = StudentsT::new(0.0, 1.0, dof.max(1) as f64).expect("valid t law");
    -t.inverse_cdf(alpha / 2.0)
}

/// One layer's test.
struct Tested {
    layer: Option<usize>,
    lhs: (f64, f64),
    rhs: (f64, f64),
    /// Whether each side is a number (no statistic in it).
    constant: (bool, bool),
    deviation: f64,
    /// (|d| + h) / (allowed), how close to failing: above 1 is not "holds".
    tightness: f64,
    verdict: Verdict,
    /// The standard error of the difference of the sides, and what the
    /// relation allows: the power calculation's inputs.
    se: f64,
    allowed: f64,
}

fn test_layer(
    l: Option<usize>,
    lhs: &Term,
    rhs: &Term,
    def: &SeriesDef,
    stats: &Stats,
    settings: &Settings,
    critical: f64,
) -> Tested {
    let mut read = Vec::new();
    atoms(lhs, &mut read);
    atoms(rhs, &mut read);
    let side = |t: &Term| {
        stats.delta(&read, &|m: &[f64]| {
            t.eval_with(&|a| m[read.iter().position(|b| b == a).expect("collected")])
        })
    };
    let (lv, rv) = (side(lhs), side(rhs));
    let (d, se) = stats.delta(&read, &|m: &[f64]| {
        let at = |a: &Atom| m[read.iter().position(|b| b == a).expect("collected")];
        lhs.eval_with(&at) - rhs.eval_with(&at)
    });
    let mean = |a| stats.mean(a);
    let natural = magnitude(lhs, &mean).max(magnitude(rhs, &mean));
    let scale = judging_scale(lv.0.abs().max(rv.0.abs()), natural, settings.resolution);
    let h = critical * se;
    let deviation = if scale > 0.0 { d / scale } else { 0.0 };
    let constant = |t: &Term| {
        let mut a = Vec::new();
        atoms(t, &mut a);
        a.is_empty()
    };
    let mut tested = Tested {
        layer: l,
        lhs: lv,
        rhs: rv,
        constant: (constant(lhs), constant(rhs)),
        deviation,
        tightness: f64::INFINITY,
        verdict: Verdict::Inconclusive,
        se,
        allowed: f64::NAN,
    };
    if !(d.is_finite() && h.is_finite()) {
        return tested;
    }
    let allowed = match (def.claim.relation, def.within) {
        (Relation::Approx, Some((p, true))) => p * rv.0.abs(),
        (Relation::Approx, Some((a, false))) => a,
        (Relation::Approx, None) => 0.0,
        _ => settings.resolution * scale,
    };
    let (verdict, excess) = interval_verdict(def.claim.relation, d, h, allowed);
    tested.verdict = verdict;
    tested.allowed = allowed;
    tested.tightness = if allowed > 0.0 {
        excess / allowed
    } else {
        f64::INFINITY
    };
    tested
}

/// The draws each network needs for this claim's undecided layers to be
/// decided except with the per-test level (see `work`), from the draws
/// simulated so far; `None` for networks that need no more. Infinite where
/// no number of draws will do (a side that is not finite).
pub fn draws_needed(
    def: &SeriesDef,
    plans: &[Planned],
    stats: &[Option<Stats>],
    settings: &Settings,
    tests: u64,
) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    for p in plans {
        let Some(stats) = stats[p.network].as_ref() else {
            continue;
        };
        let draws = stats.draws();
        let crit = critical(draws - 1, tests);
        let mut need = 0.0f64;
        for (l, lhs, rhs) in &p.layers {
            let t = test_layer(*l, lhs, rhs, def, stats, settings, crit);
            if t.verdict != Verdict::Inconclusive {
                continue;
            }
            let margin = crate::verdict::power_margin(def.claim.relation, t.allowed);
            need = need.max(crate::work::draws_for_power(
                draws as f64,
                t.se,
                margin,
                crit,
            ));
        }
        if need > draws as f64 {
            out.push((p.network, need.max(2.0 * draws as f64)));
        }
    }
    out
}

/// Evaluates a planned claim on simulated networks: one row per network.
/// `stats[i]` belongs to `networks[i]` (None for networks no claim uses).
pub fn check(
    def: &SeriesDef,
    plans: &[Planned],
    networks: &[Network],
    stats: &[Option<Stats>],
    settings: &Settings,
    tests: u64,
) -> Checked {
    let rows = plans
        .iter()
        .map(|p| {
            let net = &networks[p.network];
            let stats = stats[p.network]
                .as_ref()
                .expect("simulated: a claim uses it");
            let crit = critical(stats.draws() - 1, tests);
            let tested: Vec<Tested> = p
                .layers
                .iter()
                .map(|(l, lhs, rhs)| test_layer(*l, lhs, rhs, def, stats, settings, crit))
                .collect();
            let evaluation = aggregate(&tested, net, stats.draws());
            let pinned = def
                .expect
                .iter()
                .find(|(n, _)| n == &net.name)
                .map(|(_, v)| *v);
            let expected = pinned.or(Some(Verdict::Holds));
            Row {
                scenario: net.name.clone(),
                requirements: Vec::new(),
                as_expected: expected.is_none_or(|v| v == evaluation.verdict),
                evaluation,
                expected,
                pinned: pinned.is_some(),
            }
        })
        .collect();
    Checked {
        id: def.id.clone(),
        cite: def.cite.clone(),
        why: String::new(),
        says: def.says(),
        relation: def.claim.relation,
        rows,
        attribution: Vec::new(),
    }
}

/// One row from the layers' tests: fails if any layer fails, holds if all
/// hold; the layer shown is the one that decided.
fn aggregate(tested: &[Tested], net: &Network, draws: usize) -> Evaluation {
    let fails: Vec<&Tested> = tested
        .iter()
        .filter(|t| t.verdict == Verdict::Fails)
        .collect();
    let holds = tested
        .iter()
        .filter(|t| t.verdict == Verdict::Holds)
        .count();
    let verdict = if !fails.is_empty() {
        Verdict::Fails
    } else if holds == tested.len() {
        Verdict::Holds
    } else {
        Verdict::Inconclusive
    };
    let shown = if fails.is_empty() {
        tested
            .iter()
            .max_by(|a, b| a.tightness.total_cmp(&b.tightness))
            .expect("at least one layer")
    } else {
        fails
            .iter()
            .copied()
            .max_by(|a, b| a.deviation.abs().total_cmp(&b.deviation.abs()))
            .expect("a failing layer")
    };
    // A side without statistics is a number, shown as exact.
    let side = |(v, se): (f64, f64), constant: bool| SideValue {
        value: v,
        err: se,
        method: if constant {
            SideMethod::Number
        } else {
            SideMethod::Sampled
        },
        sampled: (!constant).then_some((v, se)),
    };
    let mut notes = vec![format!(
        "{draws} independent networks of widths {}, {} inputs each",
        widths_text(&net.widths),
        net.inputs
    )];
    if let Some(l) = shown.layer {
        let first = tested.first().and_then(|t| t.layer).unwrap_or(0);
        let last = tested.last().and_then(|t| t.layer).unwrap_or(0);
        notes.push(format!(
            "for every l in {first}..{last}: holds at {holds}, fails at {} of {} layers; shown: l = {l}, the {}",
            fails.len(),
            tested.len(),
            if fails.is_empty() {
                "closest to failing"
            } else {
                "largest failing deviation"
            }
        ));
    }
    if !(shown.lhs.0.is_finite() && shown.rhs.0.is_finite()) {
        notes.push("a side is not finite on the simulated networks".to_string());
    }
    Evaluation {
        lhs: Some(side(shown.lhs, shown.constant.0)),
        rhs: Some(side(shown.rhs, shown.constant.1)),
        verdict,
        deviation: shown.deviation,
        draws: draws as u64,
        capped: false,
        defects: Vec::new(),
        notes,
        non_finite: None,
        need: None,
        refused: None,
        cost_per_draw: 0,
    }
}

/// `[256 x 31]` for equal widths, the list otherwise.
pub fn widths_text(widths: &[usize]) -> String {
    if widths.iter().all(|&w| w == widths[0]) {
        format!("{} (input and {} layers)", widths[0], widths.len() - 1)
    } else {
        widths
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }
}
