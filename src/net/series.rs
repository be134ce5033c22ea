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
//! A claim checked "for every l" is one test per layer and look, all
//! counted in the run's budget: a network is looked at as its table draws
//! it, and where a layer is undecided, extended (the same draws, then more)
//! to the plug-in size and, if still undecided, to the worst case of the
//! power calculation (see `work`), as a sampled claim's test is. Its row
//! says "holds" when every layer holds, "fails" when any layer fails, and
//! shows the layer that decided (the failing layer with the largest
//! deviation, or the layer closest to failing).
//!
//! The test is the engine's, on the difference of the sides, but its
//! standard error comes from the independent draws (the delta method) and
//! its critical value is a Student t quantile with draws - 1 degrees of
//! freedom at the run's per-test level 1e-6 / tests.

use super::Network;
use super::jacobian::Spectral;
use super::limit::{self, Stat};
use super::simulate::{Atom, Need, Norm, PAIRED, Signal, Stats};
use crate::diag::Diag;
use crate::exact::{Method, Val};
use crate::lang::arith::{BinOp, Tree};
use crate::lang::ast::{ClaimExpr, Expr, ExprKind, MomentOp, Relation, Span};
use crate::lang::builtin::Builtin;
use crate::lang::{parse_claim, parse_expr};
use crate::outcome::{Checked, Row};
use crate::verdict::{
    Defect, Evaluation, FAMILY_RATE, LOOKS, Settings, SideMethod, SideValue, Verdict,
    decisive_width, interval_verdict, judging_scale, parse_within, power_margin,
};
use crate::work;
use serde::Deserialize;
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::cell::{Cell, RefCell};
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
        // A variance's size is its second moment's, so that an isometry's
        // Var[s2] = 0 is judged against E[s2^2], not against rounding.
        Atom::Spectral(Spectral::Spread, l) => m(Atom::Spectral(Spectral::Square, l)).abs(),
        Atom::Pair(s, l) => m(Atom::Layer(s, l, 2)).abs(),
        a => m(a).abs(),
    })
}

/// A statistic a `limit(...)` asks the infinite-width prediction for, and
/// where it is written.
type LimitRequest = (Stat, Signal, usize, Span);

/// What names mean while compiling a side.
struct Env<'a> {
    net: &'a Network,
    /// The layer of a "for every l" claim.
    l: Option<usize>,
    /// Inside `limit(...)`: the NTK may be named.
    in_limit: Cell<bool>,
    /// The statistics the claim's `limit(...)` calls ask for, in the order
    /// of their [`Atom::Limit`] indices (shared by every layer's Env).
    limits: &'a RefCell<Vec<LimitRequest>>,
}

const VALID: &str = "E[q(k)], E[q(k)^2] or Var[q(k)] with q one of x, y, dx, dy, dW; corr(q(k)) or cross(q(k)) with q one of x, y; limit(...) of those, and limit(ntk(k)), limit(ntk_pair(k)); E[norm2], E[norm2^2], Var[norm2] (and gain2); E[s2(k)], E[s2(k)^2], Var[s2(k)], E[max(s2(k))], E[min(s2(k))] (s2 alone: k = L); L, l, n(k), alpha(k) (a residual block's scale), numbers and functions of them";

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
                primes: 0,
                args,
                ..
            } if moments && (func == "corr" || func == "cross") && args.len() == 1 => {
                self.pair(e, &args[0], func == "corr")?
            }
            ExprKind::Call {
                func,
                primes: 0,
                args,
                ..
            } if moments && func == "limit" && args.len() == 1 => {
                if self.in_limit.replace(true) {
                    return Err(Diag::new(
                        e.span.clone(),
                        "`limit` inside `limit`",
                        "write limit(...) once around the statistics",
                    ));
                }
                let inner = self.term(&args[0], true);
                self.in_limit.set(false);
                self.limited(inner?, &e.span)?
            }
            ExprKind::Call {
                func,
                primes: 0,
                args,
                ..
            } if moments && (func == "ntk" || func == "ntk_pair") && args.len() == 1 => {
                if !self.in_limit.get() {
                    return Err(Diag::new(
                        e.span.clone(),
                        format!("`{func}` is an infinite-width kernel, not a simulated statistic"),
                        format!("write it inside limit(...): limit({func}(l))"),
                    ));
                }
                let l = self.layer(&args[0], 1, func)?;
                let stat = if func == "ntk" {
                    Stat::Ntk
                } else {
                    self.two_inputs(e, func)?;
                    Stat::NtkPair
                };
                Term::Leaf(self.request((stat, Signal::Y, l, e.span.clone())))
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
                            // Within each Jacobian, then averaged: recorded
                            // as its own statistic (docs/networks.md).
                            Atom::Spectral(Spectral::Mean, l) => {
                                return Ok(Term::Leaf(Atom::Spectral(Spectral::Spread, l)));
                            }
                            Atom::Spectral(..) => {
                                return Err(Diag::new(
                                    arg.span.clone(),
                                    "only the mean of max(s2(k)) and min(s2(k)) is recorded",
                                    "E[max(s2(k))] or E[min(s2(k))]; Var[s2(k)] is the spread within each Jacobian",
                                ));
                            }
                            Atom::Pair(..) | Atom::Limit(_) => {
                                unreachable!("atom gives a signal's or a norm's mean")
                            }
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

    /// An index for a statistic of the infinite-width prediction.
    fn request(&self, r: LimitRequest) -> Atom {
        let mut all = self.limits.borrow_mut();
        let at = all
            .iter()
            .position(|(s, q, l, _)| (*s, *q, *l) == (r.0, r.1, r.2))
            .unwrap_or_else(|| {
                all.push(r);
                all.len() - 1
            });
        Atom::Limit(at)
    }

    /// `limit(side)`: the side's statistics replaced by their
    /// infinite-width values.
    fn limited(&self, t: Term, span: &Span) -> Result<Term, Diag> {
        Ok(match t {
            Term::Leaf(a) => Term::Leaf(match a {
                Atom::Layer(s, l, p) => self.request((
                    if p == 1 { Stat::Mean } else { Stat::Square },
                    s,
                    l,
                    span.clone(),
                )),
                Atom::Pair(s, l) => self.request((Stat::Cross, s, l, span.clone())),
                Atom::Limit(i) => Atom::Limit(i),
                Atom::Norm(..) | Atom::Spectral(..) => {
                    return Err(Diag::new(
                        span.clone(),
                        "`limit` has no value for norm2, gain2 or the Jacobian's s2",
                        "limit(...) of per-layer statistics: E[x(l)^2], Var[y(l)], corr(y(l)), ...",
                    ));
                }
            }),
            Term::Const(c) => Term::Const(c),
            Term::Neg(a) => Term::Neg(Box::new(self.limited(*a, span)?)),
            Term::Bin(op, a, b) => Term::bin(op, self.limited(*a, span)?, self.limited(*b, span)?),
            Term::Call(f, args) => Term::Call(
                f,
                args.into_iter()
                    .map(|a| self.limited(a, span))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    fn two_inputs(&self, e: &Expr, func: &str) -> Result<(), Diag> {
        if self.net.inputs < 2 {
            return Err(Diag::new(
                e.span.clone(),
                format!(
                    "`{func}` is about two inputs, but network `{}` pushes 1 input through each draw",
                    self.net.name
                ),
                "give the network inputs = 2 or more",
            ));
        }
        Ok(())
    }

    /// `cross(q(k))`, the mean of q_a q_b over units and pairs of inputs,
    /// and `corr(q(k))`, that over the mean of q^2: the two inputs'
    /// correlation, a ratio of per-draw means like any other side.
    fn pair(&self, e: &Expr, arg: &Expr, corr: bool) -> Result<Term, Diag> {
        let func = if corr { "corr" } else { "cross" };
        let ExprKind::Call {
            func: name,
            primes: 0,
            args,
            ..
        } = &arg.kind
        else {
            return Err(Diag::new(
                arg.span.clone(),
                format!("`{func}` takes a forward signal at a layer"),
                format!("{func}(x(l)) or {func}(y(l))"),
            ));
        };
        let Some(s) = Signal::from_name(name).filter(|s| PAIRED.contains(s)) else {
            return Err(Diag::new(
                arg.span.clone(),
                format!(
                    "`{func}` takes x or y: each input's backward pass starts from its own independent cost"
                ),
                format!("{func}(x(l)) or {func}(y(l))"),
            ));
        };
        if args.len() != 1 {
            return Err(Diag::new(
                arg.span.clone(),
                format!("`{name}` takes one layer index"),
                format!("{func}({name}(l))"),
            ));
        }
        self.two_inputs(e, func)?;
        let l = self.layer(&args[0], s.first_layer(), name)?;
        let cross = Term::Leaf(Atom::Pair(s, l));
        Ok(if corr {
            Term::bin(BinOp::Div, cross, Term::Leaf(Atom::Layer(s, l, 2)))
        } else {
            cross
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
            _ if self.s2_layer(base)?.is_some() => {
                let l = self.s2_layer(base)?.expect("checked");
                let s = if power == 2 {
                    Spectral::Square
                } else {
                    Spectral::Mean
                };
                Ok(Term::Leaf(Atom::Spectral(s, l)))
            }
            ExprKind::Call {
                func,
                func_span,
                primes: 0,
                args,
            } if matches!(func.as_str(), "max" | "min") && args.len() == 1 => {
                let Some(l) = self.s2_layer(&args[0])? else {
                    return Err(Diag::new(
                        args[0].span.clone(),
                        format!(
                            "`{func}` of one argument is the extreme squared singular value: `{func}(s2(k))`"
                        ),
                        VALID,
                    ));
                };
                if power == 2 {
                    return Err(Diag::new(
                        func_span.start..e.span.end,
                        format!("only the mean of {func}(s2(k)) is recorded, not its square"),
                        format!("E[{func}(s2(k))]"),
                    ));
                }
                Ok(Term::Leaf(Atom::Spectral(
                    if func == "max" {
                        Spectral::Max
                    } else {
                        Spectral::Min
                    },
                    l,
                )))
            }
            _ => Err(Diag::new(e.span.clone(), "not a network statistic", VALID)),
        }
    }

    /// The layer of `s2(k)` (the squared singular values of J_k = dx_k/dx_0,
    /// k in 1..L), or of `s2` alone (k = L); `None` for anything else.
    fn s2_layer(&self, e: &Expr) -> Result<Option<usize>, Diag> {
        let layer = self.s2_named(e)?;
        if layer.is_some()
            && let Some(what) = self.net.beyond_mlp()
        {
            return Err(Diag::new(
                e.span.clone(),
                format!(
                    "the Jacobian statistics are computed for plain MLPs, and network `{}` has {what}: \
                     its Jacobian is not the product of diag(f'(y_l)) W_l",
                    self.net.name
                ),
                "check s2 claims `in` networks without `residual` and `norm`",
            ));
        }
        Ok(layer)
    }

    fn s2_named(&self, e: &Expr) -> Result<Option<usize>, Diag> {
        match &e.kind {
            ExprKind::Name(n) if n == "s2" => Ok(Some(self.net.depth())),
            ExprKind::Call {
                func,
                primes: 0,
                args,
                ..
            } if func == "s2" && args.len() == 1 => self.layer(&args[0], 1, "s2").map(Some),
            _ => Ok(None),
        }
    }
}

/// Sets on each network the work its series claims read: the backward
/// pass, pair moments, norms ([`super::simulate::Need`]) and Jacobian
/// statistics, so that its draws do that and no more, and its cost
/// estimate counts what they do. A network no claim runs on keeps what it
/// was loaded with. A claim that does not compile is skipped here:
/// [`plan`] reports it, where it always did.
///
/// The atoms a side reads are those [`test_layer`] reads; the sizes it
/// judges against ([`magnitude`]) read the second moment beside a mean,
/// which the same pass computes, and E[s2^2] beside Var[s2], which the
/// same Gram matrix gives.
pub fn mark_needs(series: &[SeriesDef], networks: &mut [Network]) {
    let mut marked: Vec<Option<Need>> = vec![None; networks.len()];
    for def in series {
        // Compiled only: the limits' predictions are made once, when the
        // run plans its series claims.
        let Ok(plans) = compile(def, networks) else {
            continue;
        };
        for p in plans {
            let mut read = Vec::new();
            for (_, lhs, rhs) in &p.layers {
                atoms(lhs, &mut read);
                atoms(rhs, &mut read);
            }
            let need = marked[p.network].get_or_insert(Need::FORWARD);
            for a in read {
                need.add(a);
                if let Atom::Spectral(s, l) = a {
                    networks[p.network].jacobian.add(s, l);
                }
            }
        }
    }
    for (net, need) in networks.iter_mut().zip(marked) {
        if let Some(need) = need {
            net.need = need;
        }
    }
}

/// One network's row, compiled: the sides at each layer checked.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Index into the file's networks.
    pub network: usize,
    layers: Vec<(Option<usize>, Term, Term)>,
    /// The values of the claim's `limit(...)` statistics, by
    /// [`Atom::Limit`] index, and what sampling them found wrong.
    limits: Vec<Val>,
    defects: Vec<Defect>,
}

impl Planned {
    /// Statistical tests this row spends: one per layer and look (whichever
    /// looks its network takes: the verdict is read at the last).
    pub fn tests(&self) -> u64 {
        self.layers.len() as u64 * u64::from(LOOKS)
    }
}

/// Compiles a claim for every network it runs on, checking every layer
/// index, and predicts the infinite-width values its `limit(...)` calls
/// ask for; errors point into the file.
pub fn plan(def: &SeriesDef, networks: &[Network]) -> Result<Vec<Planned>, Diag> {
    compile(def, networks)?
        .into_iter()
        .map(|c| {
            let (limits, defects) = predicted(&networks[c.network], &c.requests, def.at)?;
            Ok(Planned {
                network: c.network,
                layers: c.layers,
                limits,
                defects,
            })
        })
        .collect()
}

/// A claim compiled for one network, before any prediction: what
/// [`mark_needs`] reads, without the quadrature a prediction takes.
struct Compiled {
    network: usize,
    layers: Vec<(Option<usize>, Term, Term)>,
    requests: Vec<LimitRequest>,
}

fn compile(def: &SeriesDef, networks: &[Network]) -> Result<Vec<Compiled>, Diag> {
    let mut out = Vec::new();
    for name in &def.networks {
        let Some(index) = networks.iter().position(|n| &n.name == name) else {
            continue;
        };
        let net = &networks[index];
        let requests = RefCell::new(Vec::new());
        let env_at = |l| Env {
            net,
            l,
            in_limit: Cell::new(false),
            limits: &requests,
        };
        let ls: Vec<Option<usize>> = match &def.layers {
            None => vec![None],
            Some(r) => {
                let env = env_at(None);
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
            let env = env_at(l);
            let side = |e: &Expr| env.term(e, true).map_err(|d| d.shifted(def.at));
            layers.push((l, side(&def.claim.lhs)?, side(&def.claim.rhs)?));
        }
        out.push(Compiled {
            network: index,
            layers,
            requests: requests.into_inner(),
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

/// The infinite-width values a claim's `limit(...)` calls ask for, from
/// one prediction of the network (pair statistics only when asked, being
/// the costly part); no prediction is made for a claim without `limit`.
fn predicted(
    net: &Network,
    requests: &[LimitRequest],
    at: usize,
) -> Result<(Vec<Val>, Vec<Defect>), Diag> {
    let Some(first) = requests.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let pairs = limit::Pairs {
        cross: requests.iter().any(|r| r.0 == Stat::Cross),
        ntk: requests.iter().any(|r| r.0 == Stat::NtkPair),
    };
    let p = limit::predict(net, pairs).map_err(|m| {
        Diag::new(
            first.3.clone(),
            format!("network `{}` has no infinite-width limit here: {m}", net.name),
            "weights of mean 0, biases Normal(0, s) or 0, and an activation whose Gaussian moments have exact values",
        )
        .shifted(at)
    })?;
    let values = requests
        .iter()
        .map(|(stat, s, l, span)| {
            p.value(*stat, *s, *l).ok_or_else(|| {
                let why = match (stat, &p.ntk_cross_missing) {
                    (Stat::NtkPair, Some(m)) => format!(": {m}"),
                    _ => String::new(),
                };
                Diag::new(
                    span.clone(),
                    format!("no infinite-width value for this statistic at layer {l}{why}"),
                    "a per-layer statistic the network has",
                )
                .shifted(at)
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((values, p.defects))
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
    /// A side with no simulated statistic but an infinite-width value:
    /// its error bound.
    exact: (Option<f64>, Option<f64>),
    deviation: f64,
    /// (|d| + h) / (allowed), how close to failing: above 1 is not "holds".
    tightness: f64,
    verdict: Verdict,
    /// The difference of the sides, its standard error, the limits' share
    /// of the half-width, and what the relation allows: the power
    /// calculation's inputs.
    d: f64,
    se: f64,
    exact_err: f64,
    allowed: f64,
}

/// How far `f` of the limits can move within their error bounds: the sum
/// over limits of the larger change at either end of each one's bound
/// (first order, as [`Val::apply`] takes a function's spread).
fn limits_spread(limits: &[Val], used: &[usize], f: &dyn Fn(&[f64]) -> f64) -> f64 {
    let mut v: Vec<f64> = limits.iter().map(|x| x.value).collect();
    let mid = f(&v);
    used.iter()
        .map(|&i| {
            let x = limits[i];
            v[i] = x.value + x.err;
            let up = (f(&v) - mid).abs();
            v[i] = x.value - x.err;
            let down = (f(&v) - mid).abs();
            v[i] = x.value;
            up.max(down)
        })
        .sum()
}

#[allow(clippy::too_many_arguments)]
fn test_layer(
    l: Option<usize>,
    lhs: &Term,
    rhs: &Term,
    limits: &[Val],
    def: &SeriesDef,
    stats: &Stats,
    settings: &Settings,
    critical: f64,
) -> Tested {
    // Recorded means go through the delta method; limits are exact values
    // whose error bounds are added to the allowance below.
    let mut all = Vec::new();
    atoms(lhs, &mut all);
    atoms(rhs, &mut all);
    let (exact, read): (Vec<Atom>, Vec<Atom>) =
        all.into_iter().partition(|a| matches!(a, Atom::Limit(_)));
    let used: Vec<usize> = exact
        .iter()
        .map(|a| match a {
            Atom::Limit(i) => *i,
            _ => unreachable!("partitioned"),
        })
        .collect();
    let value = |m: &[f64], lim: &[f64], a: &Atom| match a {
        Atom::Limit(i) => lim[*i],
        a => m[read.iter().position(|b| b == a).expect("collected")],
    };
    let centre: Vec<f64> = limits.iter().map(|x| x.value).collect();
    let side = |t: &Term| stats.delta(&read, &|m: &[f64]| t.eval_with(&|a| value(m, &centre, a)));
    let (lv, rv) = (side(lhs), side(rhs));
    let (d, se) = stats.delta(&read, &|m: &[f64]| {
        let at = |a: &Atom| value(m, &centre, a);
        lhs.eval_with(&at) - rhs.eval_with(&at)
    });
    let means: Vec<f64> = read.iter().map(|&a| stats.mean(a)).collect();
    let spread = |t: &dyn Fn(&[f64]) -> f64| limits_spread(limits, &used, t);
    let exact_err = spread(&|lim| {
        let at = |a: &Atom| value(&means, lim, a);
        lhs.eval_with(&at) - rhs.eval_with(&at)
    });
    let mean = |a| match a {
        Atom::Limit(i) => centre[i],
        a => stats.mean(a),
    };
    let natural = magnitude(lhs, &mean).max(magnitude(rhs, &mean));
    let scale = judging_scale(rv.0.abs(), natural, settings.resolution);
    let h = critical * se + exact_err;
    let deviation = if scale > 0.0 { d / scale } else { 0.0 };
    let kind = |t: &Term| {
        let mut a = Vec::new();
        atoms(t, &mut a);
        let constant = a.is_empty();
        let only_limits = !constant && a.iter().all(|x| matches!(x, Atom::Limit(_)));
        let err = only_limits.then(|| spread(&|lim| t.eval_with(&|a| value(&means, lim, a))));
        (constant, err)
    };
    let (kl, kr) = (kind(lhs), kind(rhs));
    let mut tested = Tested {
        layer: l,
        lhs: lv,
        rhs: rv,
        constant: (kl.0, kr.0),
        exact: (kl.1, kr.1),
        deviation,
        tightness: f64::INFINITY,
        verdict: Verdict::Inconclusive,
        d,
        se,
        exact_err,
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

/// The draws a network is extended to where its pilot (the draws its
/// table asks for) leaves a layer undecided: first the plug-in size, then,
/// where a layer is still undecided, the worst case (see `work`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extension {
    pub plug_in: f64,
    pub worst: f64,
}

/// The draws each network needs for this claim's undecided layers to be
/// decided (see `work`), from the draws simulated so far; networks that
/// need no more are left out. The worst case decides them except with the
/// per-test level; it is infinite where no number of draws will do (a side
/// that is not finite).
pub fn draws_needed(
    def: &SeriesDef,
    plans: &[Planned],
    stats: &[Option<Stats>],
    settings: &Settings,
    tests: u64,
) -> Vec<(usize, Extension)> {
    let mut out = Vec::new();
    for p in plans {
        let Some(stats) = stats[p.network].as_ref() else {
            continue;
        };
        let draws = stats.draws() as f64;
        let crit = critical(stats.draws() - 1, tests);
        let layers = tested(def, p, stats, settings, crit);
        if row_verdict(&layers) != Verdict::Inconclusive {
            continue;
        }
        let undecided: Vec<Tested> = layers
            .into_iter()
            .filter(|t| t.verdict == Verdict::Inconclusive)
            .collect();
        let worst = undecided
            .iter()
            .map(|t| {
                let margin = power_margin(def.claim.relation, t.allowed);
                work::draws_for_power(draws, t.se, margin, crit)
            })
            .fold(0.0f64, f64::max);
        if worst <= draws {
            continue;
        }
        let worst = worst.max(2.0 * draws);
        // Each layer at the size that decides it if its pilot were the
        // truth; the network at the largest of them.
        let plug_in = undecided
            .iter()
            .map(|t| {
                let gap = decisive_width(def.claim.relation, t.d, t.allowed) - t.exact_err;
                work::draws_for_plug_in(draws, t.se, gap, crit, worst)
            })
            .fold(0.0f64, f64::max);
        out.push((p.network, Extension { plug_in, worst }));
    }
    out
}

/// The networks on which some layer of this claim is undecided at the
/// draws simulated so far.
pub fn undecided(
    def: &SeriesDef,
    plans: &[Planned],
    stats: &[Option<Stats>],
    settings: &Settings,
    tests: u64,
) -> Vec<usize> {
    plans
        .iter()
        .filter(|p| {
            stats[p.network].as_ref().is_some_and(|stats| {
                let crit = critical(stats.draws() - 1, tests);
                row_verdict(&tested(def, p, stats, settings, crit)) == Verdict::Inconclusive
            })
        })
        .map(|p| p.network)
        .collect()
}

/// Every layer of a planned row, tested on its network's draws.
fn tested(
    def: &SeriesDef,
    p: &Planned,
    stats: &Stats,
    settings: &Settings,
    crit: f64,
) -> Vec<Tested> {
    p.layers
        .iter()
        .map(|(l, lhs, rhs)| test_layer(*l, lhs, rhs, &p.limits, def, stats, settings, crit))
        .collect()
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
            let tested = tested(def, p, stats, settings, crit);
            let mut evaluation = aggregate(&tested, net, stats.draws());
            if !p.limits.is_empty() {
                evaluation.defects = p.defects.clone();
                evaluation.notes.push(
                    "limit(...): the infinite-width values by the exact engine, each moment also sampled"
                        .to_string(),
                );
            }
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
        on_networks: true,
        rows,
        attribution: Vec::new(),
    }
}

/// A row's verdict from its layers' tests: fails if any layer fails (a
/// claim for every layer is refuted by one), holds if all hold. A row that
/// fails is decided whatever its other layers say, so more draws are not
/// spent on them ([`draws_needed`], [`undecided`]).
fn row_verdict(tested: &[Tested]) -> Verdict {
    if tested.iter().any(|t| t.verdict == Verdict::Fails) {
        Verdict::Fails
    } else if tested.iter().all(|t| t.verdict == Verdict::Holds) {
        Verdict::Holds
    } else {
        Verdict::Inconclusive
    }
}

/// One row from the layers' tests ([`row_verdict`]); the layer shown is
/// the one that decided.
fn aggregate(tested: &[Tested], net: &Network, draws: usize) -> Evaluation {
    let fails: Vec<&Tested> = tested
        .iter()
        .filter(|t| t.verdict == Verdict::Fails)
        .collect();
    let holds = tested
        .iter()
        .filter(|t| t.verdict == Verdict::Holds)
        .count();
    let verdict = row_verdict(tested);
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
    // A side without statistics is a number, shown as exact; one of
    // infinite-width values alone is exact with their bound.
    let side = |(v, se): (f64, f64), constant: bool, exact: Option<f64>| match exact {
        Some(err) => SideValue {
            value: v,
            err,
            method: SideMethod::Exact(Method::NestedQuadrature),
            sampled: None,
        },
        None => SideValue {
            value: v,
            err: se,
            method: if constant {
                SideMethod::Number
            } else {
                SideMethod::Sampled
            },
            sampled: (!constant).then_some((v, se)),
        },
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
        lhs: Some(side(shown.lhs, shown.constant.0, shown.exact.0)),
        rhs: Some(side(shown.rhs, shown.constant.1, shown.exact.1)),
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
