//! Finite-width networks: the single-unit claims checked on actual random
//! multilayer perceptrons.
//!
//! The papers' recurrences are statements about one unit in expectation,
//! derived under independence assumptions that a real network of width n
//! satisfies only approximately: the forward and backward signals share
//! weights, and a layer's squared norm fluctuates by O(1/n) around its mean.
//! So a `[network.NAME]` table describes a network to *draw*, not a model
//! to integrate: widths n_0, ..., n_L, an activation, a weight law written in
//! `fan_in` and `fan_out`, a bias law, an input law, how many inputs go
//! through each drawn network and how many independent networks to draw.
//!
//! Indexing (the modern one, not He et al.'s shifted one): x_0 is the input,
//! y_l = W_l x_{l-1} + b_l and x_l = f(y_l) for l = 1..L, with W_l of shape
//! n_l x n_{l-1} (fan_in = n_{l-1}, fan_out = n_l). The cost is
//! C = <g, x_L> with g ~ N(0, I) drawn afresh for each input, so dC/dx_L = g.
//!
//! Every statistic is a mean over draws of a per-draw value, and draws are
//! independent, so a standard error is an honest sd / sqrt(draws); the units
//! and inputs of one draw share its weights and are not counted as
//! independent. [`series`] turns those per-draw values into claims,
//! [`simulate`] produces them, and [`plot`] draws them against depth.

pub mod activation;
pub mod jacobian;
pub mod limit;
pub mod plot;
pub mod products;
pub mod series;
pub mod simulate;

use crate::diag::Diag;
use crate::lang::ast::{Expr, ExprKind, Span, Stmt};
use crate::lang::{FunctionDef, Functions, parse_expr};
use crate::memory::{self, human_bytes};
use crate::model::law::Law;
use crate::model::resolve::build;
use crate::model::rv::Rv;
use crate::model::{BaseVar, Source};
use crate::report::{self, Format, Frame, Rule, Style};
use crate::sample::StreamKey;
pub use activation::Activation;
use jacobian::Spectral;
use plot::Curve;
use serde::Deserialize;
use simulate::{Atom, Norm, Signal, Stats};
use std::path::Path;
use toml::Spanned;

/// CPU-seconds one random number of a draw is budgeted at (see
/// [`Network::seconds`]).
pub const NORMAL_SECONDS: f64 = 2.5e-9;

/// CPU-seconds one multiply-add of a draw's products is budgeted at.
pub const MULTIPLY_ADD_SECONDS: f64 = 0.25e-9;

/// The share of the memory the machine has left that the draws in flight
/// may take; the rest is for everything else the process and the machine
/// hold, and for what the estimate leaves out (allocator slack).
const MEMORY_SHARE: f64 = 0.75;

/// Fewest independent draws: standard errors over draws need a few dozen
/// for the t quantile (and the delta method) to mean something.
pub const MIN_DRAWS: i64 = 32;

/// A `[network.NAME]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    #[serde(default)]
    about: Option<String>,
    #[serde(default)]
    widths: Option<Spanned<Vec<i64>>>,
    #[serde(default)]
    depth: Option<Spanned<i64>>,
    #[serde(default)]
    width: Option<Spanned<i64>>,
    activation: Spanned<String>,
    weight: Spanned<String>,
    #[serde(default)]
    bias: Option<Spanned<String>>,
    input: Spanned<String>,
    inputs: Spanned<i64>,
    #[serde(default)]
    input_corr: Option<Spanned<f64>>,
    draws: Spanned<i64>,
    #[serde(default)]
    seed: Option<Spanned<i64>>,
    #[serde(default)]
    residual: Option<Spanned<String>>,
    #[serde(default)]
    norm: Option<Spanned<String>>,
}

/// Where one array's entries come from: a law, or a constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Fill {
    Const(f64),
    Law(Law),
}

/// How one layer's weight matrix is drawn: every entry from one law, or
/// as a whole. Orthogonal is a law of the matrix, not of an entry (its
/// entries are dependent: each row has unit norm), so it lives here and
/// not among the scalar laws of `model::law`, which the bias and input
/// still use.
#[derive(Clone, Debug, PartialEq)]
pub enum WeightLaw {
    /// Independent entries from one law.
    Iid(Law),
    /// `gain` times a Haar-random matrix with orthonormal columns (n_l >=
    /// n_{l-1}) or rows (n_l < n_{l-1}): `Orthogonal(g)`.
    Orthogonal { gain: f64 },
}

/// A network ready to draw.
#[derive(Clone, Debug)]
pub struct Network {
    pub name: String,
    /// Where its size is written (the widths), in the file: where an error
    /// about its memory points.
    pub span: Span,
    pub about: String,
    /// n_0 (input) to n_L.
    pub widths: Vec<usize>,
    pub activation: Activation,
    /// The weight law of layer l at index l - 1.
    pub weights: Vec<WeightLaw>,
    pub weight_text: String,
    pub biases: Vec<Fill>,
    pub input: Fill,
    pub inputs: usize,
    /// The correlation of every two inputs' coordinates (`input_corr`);
    /// none: the inputs are independent.
    pub input_corr: Option<f64>,
    pub draws: usize,
    pub seed: u64,
    /// The Jacobian work its draws do: none unless a series claim or
    /// `initaudit net --jacobian` asks ([`series::mark_needs`]).
    pub jacobian: jacobian::Need,
    /// The rest of the work its draws do ([`simulate::Need`]): everything
    /// when loaded; the audit narrows it to what its series claims read
    /// ([`series::mark_needs`]), `initaudit net` to what it prints.
    pub need: simulate::Need,
    /// Residual blocks: `None` is the plain MLP.
    pub residual: Option<Residual>,
    /// Normalization of the activation's argument: `None` is none.
    pub norm: Option<Normalization>,
}

/// The branch scales of a residual network: block l computes
/// x_l = x_{l-1} + alpha_l y_l with y_l = W_l f(x_{l-1}) + b_l (He et al.
/// 2016's pre-activation form), so `y` is the branch before its scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Residual {
    /// As written in the file.
    pub text: String,
    /// alpha_l at index l - 1.
    pub alphas: Vec<f64>,
}

/// A normalization applied to the vector the activation reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalization {
    /// LayerNorm without affine parameters and with eps = 0:
    /// z = (v - mean(v)) / sd(v) over the units of one input, sd with
    /// divisor n (as PyTorch's). PyTorch's eps = 1e-5 would make the second
    /// moment var/(var + eps), visibly below 1 at small weight scales;
    /// eps = 0 keeps it 1 to rounding, and a vector with no spread (0/0) is
    /// an error of the run rather than a silent number.
    Layer,
}

impl Normalization {
    /// The values `norm` accepts, as written.
    pub const NAMES: [&str; 1] = ["layer"];

    pub fn name(self) -> &'static str {
        match self {
            Normalization::Layer => "layer",
        }
    }
}

impl Network {
    /// What makes the network more than the plain MLP (residual blocks,
    /// a normalization), which the Jacobian's product form and the
    /// infinite-width limits do not describe; `None` for the plain MLP.
    pub fn beyond_mlp(&self) -> Option<&'static str> {
        match (&self.residual, &self.norm) {
            (None, None) => None,
            (Some(_), None) => Some("residual blocks"),
            (None, Some(_)) => Some("a LayerNorm"),
            (Some(_), Some(_)) => Some("residual blocks and a LayerNorm"),
        }
    }

    pub fn depth(&self) -> usize {
        self.widths.len() - 1
    }

    /// What the header says beyond an MLP's description: empty for a plain
    /// MLP, so its output is what it was before residual blocks existed.
    pub fn blocks_text(&self) -> String {
        let mut out = String::new();
        if let Some(r) = &self.residual {
            out.push_str(&format!(", residual blocks alpha_l = {}", r.text));
        }
        if let Some(n) = self.norm {
            out.push_str(&format!(", norm {}", n.name()));
        }
        out
    }

    /// Bytes one draw holds at its peak: every weight matrix, and the
    /// forward signals of every layer (and the backward ones, when the
    /// draw runs the backward pass, which needs them all).
    pub fn bytes_per_draw(&self) -> f64 {
        self.cost().0
    }

    /// How many draws may be held in memory at once, given the bytes the
    /// machine has left (`None`: it does not say, and as many as there are
    /// threads run, each allocating fallibly). Refused (at the widths) when
    /// not even one draw fits in its share.
    pub fn draws_at_once(&self, available: Option<u64>) -> Result<usize, Diag> {
        let per_draw = self.bytes_per_draw();
        let Some(available) = available else {
            return Ok(rayon::current_num_threads().clamp(1, self.draws));
        };
        let room = available as f64 * MEMORY_SHARE;
        if per_draw > room {
            let widths = &self.widths;
            return Err(Diag::new(
                self.span.clone(),
                format!(
                    "network `{}` would need {} for one draw ({} weights and {} signal values{}); this machine has {} available, of which draws may take {}",
                    self.name,
                    human_bytes(per_draw),
                    widths
                        .windows(2)
                        .map(|w| w[0] as f64 * w[1] as f64)
                        .sum::<f64>(),
                    self.signals()
                        * self.inputs as f64
                        * widths.iter().map(|&n| n as f64).sum::<f64>(),
                    if self.jacobian.any {
                        format!(
                            ", and {} of Jacobians",
                            human_bytes(jacobian::bytes(widths, &self.jacobian))
                        )
                    } else {
                        String::new()
                    },
                    human_bytes(available as f64),
                    human_bytes(room),
                ),
                "use narrower layers, fewer layers or fewer `inputs` per draw",
            ));
        }
        Ok(((room / per_draw).floor() as usize).clamp(1, self.draws))
    }

    /// Seconds the whole run should take on one core, from the counts of
    /// random numbers and multiply-adds; printed before a run and checked
    /// against `--budget`. The two rates are measured (idle, one thread,
    /// `net`, which computes every statistic): with the lane generator a
    /// normal costs about 1.7 ns and a multiply-add of the products 0.15
    /// to 0.2 ns (he-30 1.82 s, hanin-64x10 4.86 s, relu-1024 0.86 s);
    /// the constants are 1.5 and 1.25 times those, so that the estimate
    /// stays an upper bound on a busier or slower core.
    pub fn seconds(&self) -> f64 {
        let (_, normals, flops) = self.cost();
        self.draws as f64 * (normals * NORMAL_SECONDS + flops * MULTIPLY_ADD_SECONDS)
    }

    /// The signals a draw holds at every layer: x and y, and dx and dy
    /// when it runs the backward pass.
    fn signals(&self) -> f64 {
        if self.need.backward { 4.0 } else { 2.0 }
    }

    /// (bytes per draw, random numbers per draw, multiply-adds per draw),
    /// for the work `need` and `jacobian` ask of a draw.
    fn cost(&self) -> (f64, f64, f64) {
        let widths = &self.widths;
        let k = self.inputs as f64;
        let backward = self.need.backward;
        let weights: f64 = widths.windows(2).map(|w| w[0] as f64 * w[1] as f64).sum();
        let units: f64 = widths.iter().map(|&n| n as f64).sum();
        let widest = widths.iter().copied().max().unwrap_or(0) as f64;
        // x and y of every layer, dx and dy with the backward pass; a
        // residual block also keeps what its weights read, f(x_{l-1}), and
        // a normalized net the normalized vector (and one sd per input and
        // layer, counted as a unit).
        let mut signals = self.signals();
        let mut elementwise = 0.0;
        let passes = if backward { 2.0 } else { 1.0 };
        if self.residual.is_some() {
            signals += 1.0;
            // x_{l-1} + alpha y forward, dx_l + f' W^T dy backward.
            elementwise += passes;
        }
        if self.norm.is_some() {
            signals += 1.0 + 1.0 / widths.iter().copied().min().unwrap_or(1).max(1) as f64;
            // Mean, spread and scaling forward; two means and the
            // projection backward.
            elementwise += 4.0 * passes;
        }
        let mut bytes = 8.0 * (weights + signals * k * units);
        if self.need.pairs {
            // The sum over inputs of x_l and y_l: one addition per entry.
            bytes += 8.0 * widest;
            elementwise += 2.0;
        }
        // Weights, biases and inputs; the cost vector g with the backward
        // pass.
        let last = *widths.last().unwrap_or(&0) as f64;
        let normals = weights + units + k * (widths[0] as f64 + if backward { last } else { 0.0 });
        // Forward W x, and backward W^T dy: one or two products per layer.
        let mut flops = passes * k * weights + elementwise * k * units;
        if self
            .weights
            .iter()
            .any(|w| matches!(w, WeightLaw::Orthogonal { .. }))
        {
            // Householder QR of the m x k Gaussian matrix and forming Q,
            // counted as 2 m k^2 product-equivalents (BENCHMARKS.md: about
            // 1.5 measured); nalgebra's factors hold two copies.
            let mut widest = 0.0f64;
            for w in widths.windows(2) {
                let (m, n) = (w[0].max(w[1]) as f64, w[0].min(w[1]) as f64);
                flops += 2.0 * m * n * n;
                widest = widest.max(m * n);
            }
            bytes += 8.0 * 2.0 * widest;
        }
        bytes += jacobian::bytes(widths, &self.jacobian);
        flops += jacobian::flops(widths, self.inputs, &self.jacobian);
        (bytes, normals, flops)
    }
}

/// The name under which the network's activation is lowered; it cannot
/// collide with a user's function because the lexer does not accept `$`,
/// and lowering looks names up without lexing them.
const ACTIVATION: &str = "$activation";

/// Resolves a `[network.NAME]` table. `at(span)` turns the span of a TOML
/// string value into the file offset of its contents; every error carries
/// a file span.
pub fn load(
    name: &str,
    raw: &Spanned<RawNetwork>,
    at: &dyn Fn(&Span) -> usize,
    functions: &dyn Functions,
) -> Result<Network, Diag> {
    let r = raw.get_ref();
    let whole = raw.span();
    let positive = |v: &Spanned<i64>, what: &str, least: i64| -> Result<usize, Diag> {
        let x = *v.get_ref();
        if x < least {
            return Err(Diag::new(
                v.span(),
                format!("{what} must be at least {least}, not {x}"),
                format!("an integer >= {least}"),
            ));
        }
        usize::try_from(x).map_err(|_| Diag::new(v.span(), format!("{what} is too large"), ""))
    };
    let widths: Vec<usize> = match (&r.widths, &r.depth, &r.width) {
        (Some(w), None, None) => {
            if w.get_ref().len() < 2 {
                return Err(Diag::new(
                    w.span(),
                    "`widths` lists n_0 (the input) to n_L: at least two numbers",
                    "e.g. widths = [64, 128, 256, 128]",
                ));
            }
            let mut out = Vec::new();
            for &x in w.get_ref() {
                if x < 1 {
                    return Err(Diag::new(
                        w.span(),
                        format!("a width must be at least 1, not {x}"),
                        "positive integers",
                    ));
                }
                out.push(usize::try_from(x).map_err(|_| {
                    Diag::new(w.span(), "a width is too large", "a positive integer")
                })?);
            }
            out
        }
        (None, Some(d), Some(n)) => {
            let depth = positive(d, "`depth`", 1)?;
            let width = positive(n, "`width`", 1)?;
            if depth > 100_000 {
                return Err(Diag::new(
                    d.span(),
                    "`depth` is too large",
                    "at most 100000",
                ));
            }
            vec![width; depth + 1]
        }
        _ => {
            return Err(Diag::new(
                whole,
                format!("network `{name}` needs either `widths` or both `depth` and `width`"),
                "widths = [n_0, n_1, ..., n_L], or depth = L and width = n (every n_l = n, the input too)",
            ));
        }
    };
    let inputs = positive(&r.inputs, "`inputs`", 1)?;
    let draws = positive(&r.draws, "`draws`", MIN_DRAWS)?;
    let seed = match &r.seed {
        None => 0,
        Some(s) => u64::try_from(*s.get_ref())
            .map_err(|_| Diag::new(s.span(), "`seed` must not be negative", "an integer >= 0"))?,
    };

    let activation = activation(&r.activation, at, functions)?;
    let mut weights = Vec::new();
    let mut biases = Vec::new();
    for w in widths.windows(2) {
        let (fan_in, fan_out) = (w[0] as f64, w[1] as f64);
        weights.push(weight(&r.weight, at, functions, fan_in, fan_out)?);
        biases.push(match &r.bias {
            None => Fill::Const(0.0),
            Some(b) => fill(b, at, functions, fan_in, fan_out, "bias")?,
        });
    }
    let n0 = widths[0] as f64;
    let input = fill(&r.input, at, functions, n0, n0, "input")?;
    let input_corr = match &r.input_corr {
        None => None,
        Some(c) => Some(input_corr(c, &input, inputs)?),
    };
    let residual = match &r.residual {
        None => None,
        Some(v) => Some(residual(v, at, functions, &widths)?),
    };
    let norm = match &r.norm {
        None => None,
        Some(v) => Some(normalization(v, &widths, residual.is_some())?),
    };

    let net = Network {
        name: name.to_string(),
        span: r
            .widths
            .as_ref()
            .map(|w| w.span())
            .or_else(|| r.width.as_ref().map(|w| w.span()))
            .unwrap_or(whole),
        about: r.about.clone().unwrap_or_default(),
        widths,
        activation,
        weights,
        weight_text: r.weight.get_ref().clone(),
        biases,
        input,
        inputs,
        input_corr,
        draws,
        seed,
        jacobian: jacobian::Need::default(),
        need: simulate::Need::ALL,
        residual,
        norm,
    };
    Ok(net)
}

/// A layer's weight law: `Orthogonal(g)`, with `g` a positive number that
/// may use `fan_in` and `fan_out`, or a scalar law for every entry.
fn weight(
    v: &Spanned<String>,
    at: &dyn Fn(&Span) -> usize,
    functions: &dyn Functions,
    fan_in: f64,
    fan_out: f64,
) -> Result<WeightLaw, Diag> {
    let off = at(&v.span());
    let e = parse_expr(v.get_ref()).map_err(|e| Diag::from(e).shifted(off))?;
    if let ExprKind::Call {
        func,
        func_span,
        primes: 0,
        args,
    } = &e.kind
        && func == ORTHOGONAL
    {
        let [g] = args.as_slice() else {
            return Err(Diag::new(
                func_span.clone(),
                format!(
                    "`Orthogonal` takes one argument, the gain, not {}",
                    args.len()
                ),
                "Orthogonal(g), e.g. Orthogonal(1) or Orthogonal(sqrt(2))",
            )
            .shifted(off));
        };
        let model =
            build("weight", &fans(fan_in, fan_out), functions).map_err(|d| d.shifted(off))?;
        return match model.rv(g, functions).map_err(|d| d.shifted(off))? {
            Rv::Const(gain) if gain.is_finite() && gain > 0.0 => {
                Ok(WeightLaw::Orthogonal { gain })
            }
            Rv::Const(gain) => Err(Diag::new(
                g.span.clone(),
                format!(
                    "the gain of `Orthogonal` must be a positive number, not {gain} (fan_in = {fan_in}, fan_out = {fan_out})"
                ),
                "a positive number, e.g. 1 or sqrt(2)",
            )
            .shifted(off)),
            _ => Err(Diag::new(
                g.span.clone(),
                "the gain of `Orthogonal` must be a number",
                "a number, which may use fan_in and fan_out, e.g. sqrt(2)",
            )
            .shifted(off)),
        };
    }
    match fill(v, at, functions, fan_in, fan_out, "weight")? {
        Fill::Law(l) => Ok(WeightLaw::Iid(l)),
        Fill::Const(_) => Err(Diag::new(
            v.span(),
            "the weight law must be random",
            "a law such as Normal(0, sqrt(2/fan_in)), or Orthogonal(g)",
        )),
    }
}

/// The matrix law's name in `weight`.
const ORTHOGONAL: &str = "Orthogonal";

/// `fan_in` and `fan_out` bound as a model's definitions.
fn fans(fan_in: f64, fan_out: f64) -> Vec<Stmt> {
    let param = |name: &str, value: f64| Stmt::Define {
        name: name.to_string(),
        name_span: 0..0,
        value: num(value),
    };
    vec![param("fan_in", fan_in), param("fan_out", fan_out)]
}

/// `input_corr = rho`: the inputs of a draw are built from one shared
/// normal vector s and one own normal vector e_j per input, x_j = m +
/// sqrt(rho) (s - m) + sqrt(1 - rho) (e_j - m), so that each input's
/// coordinates keep the law Normal(m, sd) and any two inputs' coordinates
/// have correlation rho. Only a normal law stays itself under that mixing,
/// and only rho in [0, 1] is reached by one shared vector; both are checked.
fn input_corr(c: &Spanned<f64>, input: &Fill, inputs: usize) -> Result<f64, Diag> {
    let rho = *c.get_ref();
    if !(0.0..=1.0).contains(&rho) {
        return Err(Diag::new(
            c.span(),
            format!("`input_corr` must be a correlation from 0 to 1, not {rho}"),
            "a number from 0 to 1, e.g. input_corr = 0.5",
        ));
    }
    if inputs < 2 {
        return Err(Diag::new(
            c.span(),
            "`input_corr` correlates inputs of a draw, but `inputs` is 1",
            "inputs = 2 or more, or remove `input_corr`",
        ));
    }
    if !matches!(input, Fill::Law(Law::Normal { .. })) {
        return Err(Diag::new(
            c.span(),
            "`input_corr` needs a normal `input` law",
            "input = \"Normal(0, 1)\" (a law that mixing with a shared vector keeps)",
        ));
    }
    Ok(rho)
}

/// `residual = "EXPR"`: alpha_l for l = 1..L, the expression evaluated by
/// the language with `l` and `L` bound (so `sqrt`, `/` and `^` mean what
/// they mean in claims). Every block adds to its input, so the widths must
/// be equal; a scale must be a finite number >= 0 (a negative one only
/// flips the sign of a branch, which a scale is not meant to do).
fn residual(
    v: &Spanned<String>,
    at: &dyn Fn(&Span) -> usize,
    functions: &dyn Functions,
    widths: &[usize],
) -> Result<Residual, Diag> {
    if let Some(w) = widths.iter().find(|&&w| w != widths[0]) {
        return Err(Diag::new(
            v.span(),
            format!(
                "a residual block adds its branch to its input, so every width must be equal; these are {} (n_0 = {}, and {w})",
                series::widths_text(widths),
                widths[0]
            ),
            "depth = L and width = n, or widths = [n, n, ..., n]",
        ));
    }
    let off = at(&v.span());
    let e = parse_expr(v.get_ref()).map_err(|e| Diag::from(e).shifted(off))?;
    let depth = widths.len() - 1;
    let mut alphas = Vec::with_capacity(depth);
    for l in 1..=depth {
        let param = |name: &str, value: f64| Stmt::Define {
            name: name.to_string(),
            name_span: 0..0,
            value: num(value),
        };
        let stmts = [param("l", l as f64), param("L", depth as f64)];
        let model = build("residual", &stmts, functions).map_err(|d| d.shifted(off))?;
        let value = match model.rv(&e, functions).map_err(|d| d.shifted(off))? {
            Rv::Const(c) => c,
            _ => {
                return Err(Diag::new(
                    e.span.clone(),
                    "the residual scale must be a number",
                    "an expression in l (the block) and L (the depth), such as \"0.5\" or \"1/sqrt(L)\"",
                )
                .shifted(off));
            }
        };
        if !(value.is_finite() && value >= 0.0) {
            return Err(Diag::new(
                e.span.clone(),
                format!("the residual scale is {value} at l = {l}"),
                "a finite number >= 0 at every l = 1..L, such as \"0.5\" or \"1/sqrt(L)\"",
            )
            .shifted(off));
        }
        alphas.push(value);
    }
    Ok(Residual {
        text: v.get_ref().clone(),
        alphas,
    })
}

/// `norm = "layer"`. A LayerNorm of one unit is 0/0 for every input, so
/// every normalized vector must have at least two units: in an MLP the
/// pre-activations y_1..y_L, in a residual net the blocks' inputs
/// x_0..x_{L-1}.
fn normalization(
    v: &Spanned<String>,
    widths: &[usize],
    residual: bool,
) -> Result<Normalization, Diag> {
    let norm = match v.get_ref().as_str() {
        "layer" => Normalization::Layer,
        other => {
            return Err(Diag::new(
                v.span(),
                format!("unknown normalization `{other}`"),
                format!(
                    "norm = {} (or no `norm` key for none)",
                    Normalization::NAMES
                        .iter()
                        .map(|n| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    };
    let normalized = if residual {
        &widths[..widths.len() - 1]
    } else {
        &widths[1..]
    };
    if let Some(w) = normalized.iter().find(|&&w| w < 2) {
        return Err(Diag::new(
            v.span(),
            format!("a LayerNorm of {w} unit divides 0 by 0: it needs at least two units"),
            "widths of at least 2 for every normalized vector",
        ));
    }
    Ok(norm)
}

/// The activation as a function of one variable: a function's name (`relu`,
/// a `[functions]` entry) or an expression in `x` (`leaky_relu(x, 0.2)`).
fn activation(
    v: &Spanned<String>,
    at: &dyn Fn(&Span) -> usize,
    functions: &dyn Functions,
) -> Result<Activation, Diag> {
    let off = at(&v.span());
    let text = v.get_ref();
    let body = parse_expr(text).map_err(|e| Diag::from(e).shifted(off))?;
    let x = Expr::new(ExprKind::Name("x".to_string()), body.span.clone());
    let body = match &body.kind {
        ExprKind::Name(n) if n != "x" => Expr::new(
            ExprKind::Call {
                func: n.clone(),
                func_span: body.span.clone(),
                primes: 0,
                args: vec![x.clone()],
            },
            body.span.clone(),
        ),
        _ => body,
    };
    let table = WithActivation {
        inner: functions,
        def: FunctionDef {
            name: Some(ACTIVATION.to_string()),
            params: vec!["x".to_string()],
            body,
        },
    };
    let stmts = [Stmt::Draw {
        names: vec![("x".to_string(), 0..0)],
        law: "Normal".to_string(),
        law_span: 0..0,
        args: vec![num(0.0), num(1.0)],
        span: 0..0,
    }];
    let model = build("activation", &stmts, &table).map_err(|d| d.shifted(off))?;
    let call = |primes| {
        Expr::new(
            ExprKind::Call {
                func: ACTIVATION.to_string(),
                func_span: 0..text.len(),
                primes,
                args: vec![x.clone()],
            },
            0..text.len(),
        )
    };
    let f = model.rv(&call(0), &table).map_err(|d| d.shifted(off))?;
    let df = model.rv(&call(1), &table).map_err(|d| d.shifted(off))?;
    Ok(Activation::new(text.clone(), f, df))
}

fn num(v: f64) -> Expr {
    Expr::new(ExprKind::Num(v), 0..0)
}

/// The file's functions plus the activation under its reserved name.
struct WithActivation<'a> {
    inner: &'a dyn Functions,
    def: FunctionDef,
}

impl Functions for WithActivation<'_> {
    fn get(&self, name: &str) -> Option<&FunctionDef> {
        if name == ACTIVATION {
            Some(&self.def)
        } else {
            self.inner.get(name)
        }
    }

    fn names(&self) -> Vec<&str> {
        let mut n = self.inner.names();
        n.push(ACTIVATION);
        n
    }
}

/// A law (`Normal(0, sqrt(2/fan_in))`) or a number (`0`), with `fan_in` and
/// `fan_out` bound, through the same resolution as a scenario's model so
/// that its parameters are checked the same way.
fn fill(
    v: &Spanned<String>,
    at: &dyn Fn(&Span) -> usize,
    functions: &dyn Functions,
    fan_in: f64,
    fan_out: f64,
    what: &str,
) -> Result<Fill, Diag> {
    let off = at(&v.span());
    let e = parse_expr(v.get_ref()).map_err(|e| Diag::from(e).shifted(off))?;
    let mut stmts = fans(fan_in, fan_out);
    if let ExprKind::Call {
        func, func_span, ..
    } = &e.kind
        && func == ORTHOGONAL
    {
        return Err(Diag::new(
            func_span.clone(),
            format!(
                "`Orthogonal` draws a whole weight matrix; the {what} needs a law of one number"
            ),
            "Orthogonal(g) is for `weight` only; here a law such as Normal(0, 1), or a number",
        )
        .shifted(off));
    }
    if let ExprKind::Call {
        func,
        func_span,
        primes: 0,
        args,
    } = &e.kind
        && Law::SIGNATURES.iter().any(|(n, _)| n == func)
    {
        if func == "BivariateNormal" {
            return Err(Diag::new(
                func_span.clone(),
                format!("a {what} law draws one number"),
                "a law of one variable such as Normal(0, 1)",
            )
            .shifted(off));
        }
        stmts.push(Stmt::Draw {
            names: vec![("w".to_string(), 0..0)],
            law: func.clone(),
            law_span: func_span.clone(),
            args: args.clone(),
            span: e.span.clone(),
        });
        let model = build(what, &stmts, functions).map_err(|d| d.shifted(off))?;
        let BaseVar { source, .. } = &model.scenario.bases[0];
        return match &model.scenario.sources[*source] {
            Source::Single(l) => Ok(Fill::Law(l.clone())),
            Source::Bivariate(_) => unreachable!("refused above"),
        };
    }
    let model = build(what, &stmts, functions).map_err(|d| d.shifted(off))?;
    match model.rv(&e, functions).map_err(|d| d.shifted(off))? {
        Rv::Const(c) if c.is_finite() => Ok(Fill::Const(c)),
        _ => Err(Diag::new(
            e.span.clone(),
            format!("the {what} must be a law or a number"),
            format!(
                "a law of fan_in and fan_out such as Normal(0, sqrt(2/fan_in)), or a number; laws: {}",
                Law::SIGNATURES
                    .iter()
                    .filter(|(n, _)| *n != "BivariateNormal")
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .shifted(off)),
    }
}

/// The stream family of a network's draws: the run's seed, the network's
/// name and its own seed — not the file's path, so that `initaudit net` and
/// the audit draw the same networks however the path is spelled.
pub fn key(net: &Network, seed: u64) -> StreamKey {
    StreamKey::new(seed, &["network", &net.name, &net.seed.to_string()])
}

/// How a per-layer column is read off the recorded means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mean,
    Square,
    Var,
}

/// The per-layer columns of the table, in order; the plot may draw those
/// that are positive.
const COLUMNS: [(&str, Signal, Kind); 8] = [
    ("E[x]", Signal::X, Kind::Mean),
    ("E[x^2]", Signal::X, Kind::Square),
    ("Var[y]", Signal::Y, Kind::Var),
    ("Var[dx]", Signal::Dx, Kind::Var),
    ("Var[dy]", Signal::Dy, Kind::Var),
    ("E[dy^2]", Signal::Dy, Kind::Square),
    ("E[dW]", Signal::Dw, Kind::Mean),
    ("E[dW^2]", Signal::Dw, Kind::Square),
];

/// The columns drawn when the user does not choose.
const DEFAULT_PLOT: [&str; 5] = ["E[x^2]", "Var[y]", "Var[dx]", "Var[dy]", "E[dW^2]"];

fn column(stats: &Stats, s: Signal, l: usize, kind: Kind) -> (f64, f64) {
    match kind {
        Kind::Mean => stats.delta(&[Atom::Layer(s, l, 1)], &|m| m[0]),
        Kind::Square => stats.delta(&[Atom::Layer(s, l, 2)], &|m| m[0]),
        Kind::Var => stats.delta(&[Atom::Layer(s, l, 1), Atom::Layer(s, l, 2)], &|m| {
            m[1] - m[0] * m[0]
        }),
    }
}

fn pm((v, se): (f64, f64)) -> String {
    format!("{} ± {:.1e}", report::num(v), se)
}

/// The per-layer table of a simulated network, then the law of ||x_L||^2:
/// plain columns in a terminal, markdown's table under `markdown`.
pub fn table(net: &Network, stats: &Stats, markdown: bool) -> String {
    let titles: Vec<String> = ["l", "n_l"]
        .into_iter()
        .chain(COLUMNS.iter().map(|c| c.0))
        .map(str::to_string)
        .collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let titles: Vec<String> = titles
        .into_iter()
        .chain(spectral_columns(net).iter().map(|s| s.name().to_string()))
        .collect();
    for l in 0..=net.depth() {
        let mut row = vec![l.to_string(), net.widths[l].to_string()];
        for (_, s, kind) in COLUMNS {
            row.push(if l < s.first_layer() {
                "—".to_string()
            } else {
                pm(column(stats, s, l, kind))
            });
        }
        for &s in spectral_columns(net) {
            row.push(if l == 0 {
                "—".to_string()
            } else {
                pm(stats.delta(&[Atom::Spectral(s, l)], &|m| m[0]))
            });
        }
        rows.push(row);
    }
    let (heading, indent) = if markdown { ("### ", "") } else { ("", "  ") };
    let mut out = format!(
        "{heading}network {}: {}\n{}widths {}, activation {}, weights {}{}, {} draws of {} inputs\n\n",
        net.name,
        net.about,
        if markdown { "\n" } else { indent },
        series::widths_text(&net.widths),
        net.activation.text,
        net.weight_text,
        net.blocks_text(),
        stats.draws(),
        net.inputs
    );
    let style = if markdown {
        Style {
            right: true,
            ..Style::lined(true)
        }
    } else {
        Style {
            frame: Frame::Plain,
            rule: Rule::Nothing,
            right: true,
        }
    };
    out.push_str(&report::table(style, &titles, &rows));
    out.push('\n');
    for (norm, mean, rel) in norms(stats) {
        out.push_str(&format!(
            "{}E[{n}] = {}   Var[{n}]/E[{n}]^2 = {}\n",
            if markdown { "- " } else { indent },
            pm(mean),
            pm(rel),
            n = norm.name()
        ));
    }
    out.push_str(if markdown {
        "\n(± one standard error over independent draws; norm2 = ||x_L||^2, gain2 = ||x_L||^2/||x_0||^2)\n"
    } else {
        "  (± one standard error over independent draws; norm2 = ||x_L||^2, gain2 = ||x_L||^2/||x_0||^2)\n"
    });
    if net.jacobian.any {
        out.push_str(&format!(
            "{}(s2: the squared singular values of J_l = dx_l/dx_0, min(n_l, n_0) of them; Var[s2] their variance within one Jacobian)\n",
            if markdown { "" } else { indent }
        ));
    }
    out
}

/// The Jacobian columns `initaudit net --jacobian` adds; none otherwise.
fn spectral_columns(net: &Network) -> &'static [Spectral] {
    if net.jacobian.any {
        &[
            Spectral::Mean,
            Spectral::Spread,
            Spectral::Max,
            Spectral::Min,
        ]
    } else {
        &[]
    }
}

/// A value and its standard error.
type Estimate = (f64, f64);

/// The mean of each norm of the last layer and its squared coefficient of
/// variation, each with its standard error.
fn norms(stats: &Stats) -> Vec<(Norm, Estimate, Estimate)> {
    Norm::ALL
        .into_iter()
        .map(|norm| {
            let mean = stats.delta(&[Atom::Norm(norm, 1)], &|m| m[0]);
            let rel = stats.delta(&[Atom::Norm(norm, 1), Atom::Norm(norm, 2)], &|m| {
                (m[1] - m[0] * m[0]) / (m[0] * m[0])
            });
            (norm, mean, rel)
        })
        .collect()
}

/// The same numbers as [`table`], as JSON (docs/networks.md): every value
/// with its standard error, a statistic a layer does not have as null.
pub fn json(net: &Network, stats: &Stats) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let estimate = |(value, se): (f64, f64)| json!({ "value": value, "se": se });
    let layers: Vec<Value> = (0..=net.depth())
        .map(|l| {
            let mut values = Map::new();
            for (name, s, kind) in COLUMNS {
                let v = if l < s.first_layer() {
                    Value::Null
                } else {
                    estimate(column(stats, s, l, kind))
                };
                values.insert(name.to_string(), v);
            }
            for &s in spectral_columns(net) {
                let v = if l == 0 {
                    Value::Null
                } else {
                    estimate(stats.delta(&[Atom::Spectral(s, l)], &|m| m[0]))
                };
                values.insert(s.name().to_string(), v);
            }
            json!({ "layer": l, "width": net.widths[l], "values": values })
        })
        .collect();
    let norms: Vec<Value> = norms(stats)
        .into_iter()
        .map(|(norm, mean, rel)| {
            json!({
                "name": norm.name(),
                "mean": estimate(mean),
                "relative_variance": estimate(rel),
            })
        })
        .collect();
    let mut doc = json!({
        "network": net.name,
        "about": net.about,
        "widths": net.widths,
        "activation": net.activation.text,
        "weights": net.weight_text,
        "draws": stats.draws(),
        "inputs": net.inputs,
        "layers": layers,
        "norms": norms,
    });
    // Only networks that have them carry the keys, so a plain MLP's
    // document is what it was.
    if let Some(r) = &net.residual {
        doc["residual"] = json!({ "text": r.text, "alphas": r.alphas });
    }
    if let Some(n) = net.norm {
        doc["norm"] = json!(n.name());
    }
    doc
}

/// The curves of the chosen columns (by their table names) for a network.
pub fn curves(net: &Network, stats: &Stats, chosen: &[String]) -> Result<Vec<Curve>, String> {
    let chosen: Vec<String> = if chosen.is_empty() {
        DEFAULT_PLOT.iter().map(|s| s.to_string()).collect()
    } else {
        chosen.to_vec()
    };
    let mut out = Vec::new();
    for name in &chosen {
        let Some((label, s, kind)) = COLUMNS
            .iter()
            .find(|c| c.0 == name.trim() && c.2 != Kind::Mean)
        else {
            return Err(format!(
                "`{name}` is not a statistic that can be plotted on a log scale; choose from {}",
                COLUMNS
                    .iter()
                    .filter(|c| c.2 != Kind::Mean)
                    .map(|c| c.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        out.push(Curve {
            label: format!("{}: {label}", net.name),
            points: (s.first_layer()..=net.depth())
                .map(|l| {
                    let (v, se) = column(stats, *s, l, *kind);
                    (l as f64, v, se)
                })
                .collect(),
        });
    }
    Ok(out)
}

/// A file's networks, with what errors about them point into.
pub struct NetworkFile<'a> {
    /// The path as the user typed it.
    pub origin: &'a str,
    pub text: &'a str,
    pub networks: &'a [Network],
}

/// How `initaudit net` runs: the seed, the budget (CPU-seconds of one
/// core) and the output format.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub seed: u64,
    pub budget: f64,
    pub format: Format,
    /// `--jacobian`: every Jacobian statistic at every layer, and the
    /// spectrum's histogram as the plot.
    pub jacobian: bool,
}

/// `initaudit net NAME... [--plot FILE]`: finds the networks in the files,
/// reports what each will cost through `progress` before drawing it,
/// simulates them, and returns the tables. The
/// error is a message for the user (exit status 2).
pub fn command(
    files: &[NetworkFile],
    names: &[String],
    plot: Option<&Path>,
    chosen: &[String],
    run: Run,
    progress: &mut dyn FnMut(&str),
) -> Result<String, String> {
    let Run {
        seed,
        budget,
        format,
        jacobian,
    } = run;
    let _progress = crate::progress::run();
    if jacobian && plot.is_some() && !chosen.is_empty() {
        return Err(
            "error: with --jacobian the plot is the spectrum's histogram; --series chooses curves against depth\n  \
             = help: drop --series, or drop --jacobian to plot the statistics against depth\n"
                .to_string(),
        );
    }
    let mut owned = Vec::new();
    for name in names {
        let Some(net) = files
            .iter()
            .flat_map(|f| f.networks.iter())
            .find(|n| &n.name == name)
        else {
            let known: Vec<&str> = files
                .iter()
                .flat_map(|f| f.networks.iter().map(|n| n.name.as_str()))
                .collect();
            return Err(format!(
                "error: no network `{name}` in the files read\n  networks: {}\n",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        // The command's own flag decides, not the claims that marked the
        // network in its file: the table is the same with or without them.
        let mut net = net.clone();
        if let Some(what) = net.beyond_mlp().filter(|_| jacobian) {
            return Err(format!(
                "error: --jacobian is computed for plain MLPs, and network `{name}` has {what}\n  \
                 = help: name networks without `residual` and `norm`, or drop --jacobian\n"
            ));
        }
        // The table prints every layer's forward and backward moments and
        // the norms, never the pairs of inputs.
        net.need = simulate::Need {
            backward: true,
            pairs: false,
            norms: true,
        };
        net.jacobian = if jacobian {
            jacobian::Need::everything(net.depth())
        } else {
            jacobian::Need::default()
        };
        owned.push(net);
    }
    let found: Vec<&Network> = owned.iter().collect();
    // Every network is sized against the machine before any is drawn (a
    // larger budget cannot fix that), then estimated against the budget.
    let located = |net: &Network, d: Diag| {
        let f = files
            .iter()
            .find(|f| f.networks.iter().any(|n| n.name == net.name))
            .expect("found in the files");
        crate::diag::InputError::new(f.origin, f.text, d).render()
    };
    let available = memory::available();
    for net in &found {
        net.draws_at_once(available).map_err(|d| located(net, d))?;
    }
    let total: f64 = found.iter().map(|n| n.seconds()).sum();
    if total > budget {
        let worst = found
            .iter()
            .max_by(|a, b| a.seconds().total_cmp(&b.seconds()))
            .expect("at least one network");
        return Err(format!(
            "error: the networks are estimated at {} of work on one core, over the budget of {}\n  \
             network `{}`: {} draws of {} inputs, widths {}, about {} ({} per draw)\n  \
             = help: raise --budget (CPU-seconds of one core), or give the network fewer `draws`, \
             `inputs` or smaller widths\n",
            crate::work::human_seconds(total),
            crate::work::human_seconds(budget),
            worst.name,
            worst.draws,
            worst.inputs,
            series::widths_text(&worst.widths),
            crate::work::human_seconds(worst.seconds()),
            crate::work::human_seconds(worst.seconds() / worst.draws as f64),
        ));
    }
    let mut out = String::new();
    let mut documents = Vec::new();
    let mut all_curves = Vec::new();
    let mut histograms = Vec::new();
    for net in found {
        progress(&format!(
            "network {}: {} per draw, about {:.1} s of work on one core\n",
            net.name,
            human_bytes(net.bytes_per_draw()),
            net.seconds()
        ));
        let stats = simulate::simulate(net, key(net, seed)).map_err(|d| located(net, d))?;
        match format {
            Format::Json => documents.push(json(net, &stats)),
            Format::Table | Format::Markdown => {
                out.push_str(&table(net, &stats, format == Format::Markdown));
                out.push('\n');
            }
        }
        if plot.is_some() && jacobian {
            histograms.push((net.name.clone(), stats.spectrum().collect::<Vec<f64>>()));
        } else if plot.is_some() {
            all_curves.extend(curves(net, &stats, chosen).map_err(|e| format!("error: {e}\n"))?);
        }
    }
    if let Some(path) = plot {
        if jacobian {
            let title = "squared singular values s2 of dx_L/dx_0, every input of every draw";
            plot::draw_spectra(path, title, &histograms).map_err(|e| format!("error: {e}\n"))?;
        } else {
            let title = format!(
                "{} against depth (± one standard error)",
                names.join(" vs ")
            );
            plot::draw(path, &title, &all_curves).map_err(|e| format!("error: {e}\n"))?;
        }
        if format != Format::Json {
            out.push_str(&format!("plot written to {}\n", path.display()));
        }
    }
    if format == Format::Json {
        let doc = serde_json::json!({
            "schema_version": crate::report::SCHEMA_VERSION,
            "networks": documents,
            "seed": seed,
            "plot": plot.map(|p| p.display().to_string()),
        });
        out = serde_json::to_string_pretty(&doc).expect("json values serialize") + "\n";
    }
    Ok(out)
}
