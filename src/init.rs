//! `initaudit init`: what a framework's initializer puts in one layer, and
//! why, for a weight of a given shape.
//!
//! A recipe is a target variance and a law with that variance. The target
//! is gain^2 / fan (PyTorch's kaiming and xavier, with fan_avg for xavier
//! written 2 / (fan_in + fan_out)) or scale / fan (JAX's variance_scaling
//! and everything built on it); the law is normal with that variance,
//! uniform on ±sqrt(3 var), or, in JAX, a standard normal truncated to
//! (-2, 2) and divided by its own standard deviation 0.87962566103423978.
//! The fans follow each framework's own rule on its own layout:
//!
//! - PyTorch (`torch.nn.init._calculate_fan_in_and_fan_out`): weight
//!   (out, in, k...), fan_in = dim 1 x prod(k), fan_out = dim 0 x prod(k).
//!   A transposed convolution's weight is (in, out/groups, k...) and the
//!   same rule is applied to it, so its "fan_in" is out/groups x prod(k):
//!   the quirk is reproduced, and said (`--transposed`).
//! - JAX (`jax.nn.initializers._compute_fans`, Flax's layouts): weight
//!   (k..., in, out), fan_in = dim -2 x prod(k), fan_out = dim -1 x prod(k).
//!
//! `default` is what the framework's own layers do: PyTorch's Linear and
//! Conv call kaiming_uniform_ with a = sqrt(5) (gain sqrt(1/3), so the
//! bound is 1/sqrt(fan_in)) and draw the bias from U(±1/sqrt(fan_in));
//! Flax's Dense and Conv use lecun_normal and a zero bias.
//!
//! The gain for an activation is computed, never only looked up: the
//! forward gain 1/sqrt(E[f(z)^2]) or the backward 1/sqrt(E[f'(z)^2]) at
//! z ~ N(0, 1), by the exact engine through [`gain::Activation`]; PyTorch's
//! `calculate_gain` table where the user asks for it. What the layer then
//! does to the forward and backward second moments, per layer and over
//! `--depth` layers of the same shape, is the mean-field length map and
//! gradient factor of `gain`.
//!
//! Every number printed as exact is restated as a claim (the law's
//! variance against the scheme's target written as a formula, the gain's
//! defining identity, each layer of the depth path) and audited, exact and
//! sampled ([`crate::meanfield::restate`]). An orthogonal matrix has no
//! scalar law: its entries' mean square is gain^2 / max(rows, cols)
//! deterministically (a semi-orthogonal matrix's squared entries sum to
//! min(rows, cols)), which tests/init.rs checks on drawn matrices.

use crate::diag::{Diag, InputError};
use crate::exact::Val;
use crate::gain::{self, Activation};
use crate::meanfield::restate::{self, Outcome, Restated};
use crate::report::{self, Format, num};
use crate::verdict::Settings;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;

/// The standard deviation of N(0, 1) truncated to (-2, 2), as JAX writes
/// it in variance_scaling; derivations/frameworks.toml checks it.
pub const TRUNCATED_SD: f64 = 0.879_625_661_034_239_8;

/// Layers restated in the self-check: all of a path up to this many, else
/// this many spread evenly over it.
const PATH_RESTATED: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    Torch,
    Jax,
}

impl Framework {
    pub const ALL: &[Framework] = &[Framework::Torch, Framework::Jax];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Framework::Torch => "torch",
            Framework::Jax => "jax",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    KaimingNormal,
    KaimingUniform,
    XavierNormal,
    XavierUniform,
    LecunNormal,
    LecunUniform,
    VarianceScaling,
    Orthogonal,
    Default,
}

impl Scheme {
    pub const ALL: &[Scheme] = &[
        Scheme::KaimingNormal,
        Scheme::KaimingUniform,
        Scheme::XavierNormal,
        Scheme::XavierUniform,
        Scheme::LecunNormal,
        Scheme::LecunUniform,
        Scheme::VarianceScaling,
        Scheme::Orthogonal,
        Scheme::Default,
    ];

    /// The name on the command line (the frameworks' own function names).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::KaimingNormal => "kaiming_normal",
            Scheme::KaimingUniform => "kaiming_uniform",
            Scheme::XavierNormal => "xavier_normal",
            Scheme::XavierUniform => "xavier_uniform",
            Scheme::LecunNormal => "lecun_normal",
            Scheme::LecunUniform => "lecun_uniform",
            Scheme::VarianceScaling => "variance_scaling",
            Scheme::Orthogonal => "orthogonal",
            Scheme::Default => "default",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    FanIn,
    FanOut,
    FanAvg,
}

impl Mode {
    pub const ALL: &[Mode] = &[Mode::FanIn, Mode::FanOut, Mode::FanAvg];

    pub fn name(self) -> &'static str {
        match self {
            Mode::FanIn => "fan_in",
            Mode::FanOut => "fan_out",
            Mode::FanAvg => "fan_avg",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    Normal,
    Uniform,
    TruncatedNormal,
}

impl Distribution {
    pub const ALL: &[Distribution] = &[
        Distribution::Normal,
        Distribution::Uniform,
        Distribution::TruncatedNormal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Distribution::Normal => "normal",
            Distribution::Uniform => "uniform",
            Distribution::TruncatedNormal => "truncated_normal",
        }
    }
}

/// Which gain an activation gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GainRule {
    /// 1/sqrt(E[f(z)^2]): keeps the forward second moment.
    Forward,
    /// 1/sqrt(E[f'(z)^2]): keeps the backward one.
    Backward,
    /// PyTorch's calculate_gain table.
    Pytorch,
}

impl GainRule {
    pub const ALL: &[GainRule] = &[GainRule::Forward, GainRule::Backward, GainRule::Pytorch];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GainRule::Forward => "forward",
            GainRule::Backward => "backward",
            GainRule::Pytorch => "pytorch",
        }
    }
}

/// What `initaudit init` is asked.
#[derive(Clone, Debug)]
pub struct Request {
    pub scheme: Scheme,
    pub framework: Framework,
    pub shape: Vec<u64>,
    pub transposed: bool,
    pub act: Option<String>,
    pub defines: Vec<String>,
    pub functions: Vec<PathBuf>,
    pub gain: Option<f64>,
    pub gain_rule: Option<GainRule>,
    pub mode: Option<Mode>,
    pub distribution: Option<Distribution>,
    pub scale: Option<f64>,
    pub depth: u32,
}

/// A weight law.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Law {
    Normal {
        sd: f64,
    },
    Uniform {
        bound: f64,
    },
    /// N(0, sd^2) truncated to ±2 sd.
    TruncatedNormal {
        sd: f64,
    },
    /// Gain times a (semi-)orthogonal matrix of rows x cols.
    Orthogonal {
        gain: f64,
        rows: u64,
        cols: u64,
    },
    Zero,
}

impl Law {
    /// E[w^2] of one entry.
    pub fn second_moment(self) -> f64 {
        match self {
            Law::Normal { sd } => sd * sd,
            Law::Uniform { bound } => bound * bound / 3.0,
            Law::TruncatedNormal { sd } => (sd * TRUNCATED_SD).powi(2),
            Law::Orthogonal { gain, rows, cols } => gain * gain / rows.max(cols) as f64,
            Law::Zero => 0.0,
        }
    }

    /// The law in the claim language, if it is a scalar law.
    fn model(self, name: &str) -> Option<String> {
        match self {
            Law::Normal { sd } => Some(format!("{name} ~ Normal(0, {sd:?})")),
            Law::Uniform { bound } => Some(format!("{name} ~ Uniform({:?}, {bound:?})", -bound)),
            Law::TruncatedNormal { sd } => Some(format!(
                "{name} ~ TruncatedNormal(0, {sd:?}, {:?}, {:?})",
                -2.0 * sd,
                2.0 * sd
            )),
            Law::Orthogonal { .. } | Law::Zero => None,
        }
    }

    fn describe(self) -> String {
        match self {
            Law::Normal { sd } => format!("Normal(0, {})", num(sd)),
            Law::Uniform { bound } => format!("Uniform(-{}, {})", num(bound), num(bound)),
            Law::TruncatedNormal { sd } => {
                format!("Normal(0, {}) truncated to ±{}", num(sd), num(2.0 * sd))
            }
            Law::Orthogonal { gain, rows, cols } => {
                format!("{} x a semi-orthogonal {rows} x {cols} matrix", num(gain))
            }
            Law::Zero => "zeros".into(),
        }
    }
}

/// The target variance as a formula of the claim language, with its
/// parameters: what the law's variance must equal.
#[derive(Clone, Debug)]
struct Target {
    formula: String,
    params: Vec<(&'static str, f64)>,
    value: f64,
}

/// A recipe, resolved.
pub struct Recipe {
    pub request: Request,
    pub fan_in: u64,
    pub fan_out: u64,
    /// The gain (or JAX's scale, as sqrt(scale)) and where it came from.
    pub gain: Option<(f64, String)>,
    pub scale: Option<f64>,
    pub mode: Option<Mode>,
    pub weight: Law,
    pub bias: Option<Law>,
    target: Option<Target>,
    pub activation: Activation,
    pub analysis: Layer,
    pub notes: Vec<String>,
    pub check: Outcome,
}

/// What one layer of this recipe does under the activation.
#[derive(Clone, Debug)]
pub struct Layer {
    /// fan_in E[w^2] and fan_out E[w^2].
    pub forward_var: f64,
    pub backward_var: f64,
    pub bias_var: f64,
    /// At q = 1: q' and the gradient factor.
    pub forward_factor: f64,
    pub backward_factor: f64,
    /// q along the depth (q_0 = 1, ..., q_depth) and the gradient factors
    /// of each layer.
    pub path: Vec<f64>,
    pub chis: Vec<f64>,
}

impl Layer {
    pub fn forward_depth(&self) -> f64 {
        self.path.last().copied().unwrap_or(1.0)
    }

    pub fn backward_depth(&self) -> f64 {
        self.chis.iter().product()
    }
}

fn bad(flag: &str, text: &str, message: impl Into<String>, help: impl Into<String>) -> InputError {
    InputError::new(flag, text, Diag::new(0..text.len(), message, help))
}

fn framework_name(f: Framework) -> &'static str {
    match f {
        Framework::Torch => "PyTorch",
        Framework::Jax => "JAX",
    }
}

/// The fans by the framework's rule: (fan_in, fan_out), and the rows and
/// columns its orthogonal initializer flattens the weight to.
pub fn fans(framework: Framework, shape: &[u64]) -> Result<(u64, u64), String> {
    if shape.len() < 2 {
        return Err(format!(
            "{} computes fans only for weights of 2 or more dimensions; this one has {}",
            framework_name(framework),
            shape.len()
        ));
    }
    let total: u64 = shape.iter().product();
    match framework {
        Framework::Torch => {
            let field: u64 = shape[2..].iter().product();
            Ok((shape[1] * field, shape[0] * field))
        }
        Framework::Jax => {
            let (i, o) = (shape[shape.len() - 2], shape[shape.len() - 1]);
            let field = total / (i * o);
            Ok((i * field, o * field))
        }
    }
}

/// (rows, cols) of the matrix an orthogonal initializer draws: PyTorch
/// keeps dim 0 as rows and flattens the rest; JAX keeps the last axis as
/// columns and flattens the rest.
pub fn orthogonal_matrix(framework: Framework, shape: &[u64]) -> (u64, u64) {
    let total: u64 = shape.iter().product();
    match framework {
        Framework::Torch => (shape[0], total / shape[0]),
        Framework::Jax => {
            let cols = shape[shape.len() - 1];
            (total / cols, cols)
        }
    }
}

/// What scheme x framework means: (mode, distribution, scale or none for a
/// gain-taking scheme, gain-taking).
struct Rule {
    mode: Option<Mode>,
    /// Fixed by the scheme; none: taken from --distribution.
    distribution: Option<Distribution>,
    /// JAX's scale, fixed by the scheme.
    scale: Option<f64>,
    takes_gain: bool,
    takes_mode: bool,
    takes_scale: bool,
}

fn rule(r: &Request) -> Result<Rule, InputError> {
    use Distribution::*;
    use Scheme::*;
    let name = r.scheme.name();
    let fixed = |mode, dist, scale| Rule {
        mode: Some(mode),
        distribution: Some(dist),
        scale: Some(scale),
        takes_gain: false,
        takes_mode: false,
        takes_scale: false,
    };
    Ok(match (r.framework, r.scheme) {
        (Framework::Torch, KaimingNormal | KaimingUniform) => Rule {
            mode: Some(r.mode.unwrap_or(Mode::FanIn)),
            distribution: Some(if r.scheme == KaimingNormal {
                Normal
            } else {
                Uniform
            }),
            scale: None,
            takes_gain: true,
            takes_mode: true,
            takes_scale: false,
        },
        (Framework::Torch, XavierNormal | XavierUniform) => Rule {
            mode: Some(Mode::FanAvg),
            distribution: Some(if r.scheme == XavierNormal {
                Normal
            } else {
                Uniform
            }),
            scale: None,
            takes_gain: true,
            takes_mode: false,
            takes_scale: false,
        },
        (_, Orthogonal) => Rule {
            mode: None,
            distribution: None,
            scale: None,
            takes_gain: true,
            takes_mode: false,
            takes_scale: false,
        },
        (Framework::Torch, Default) => Rule {
            mode: Some(Mode::FanIn),
            distribution: Some(Uniform),
            scale: None,
            takes_gain: false,
            takes_mode: false,
            takes_scale: false,
        },
        (Framework::Torch, LecunNormal | LecunUniform | VarianceScaling) => {
            return Err(bad(
                "SCHEME",
                name,
                format!("PyTorch's torch.nn.init has no {name}"),
                "use --framework jax for it, or one of kaiming_normal, kaiming_uniform, \
                 xavier_normal, xavier_uniform, orthogonal, default",
            ));
        }
        (Framework::Jax, KaimingNormal) => fixed(Mode::FanIn, TruncatedNormal, 2.0),
        (Framework::Jax, KaimingUniform) => fixed(Mode::FanIn, Uniform, 2.0),
        (Framework::Jax, XavierNormal) => fixed(Mode::FanAvg, TruncatedNormal, 1.0),
        (Framework::Jax, XavierUniform) => fixed(Mode::FanAvg, Uniform, 1.0),
        (Framework::Jax, LecunNormal | Default) => fixed(Mode::FanIn, TruncatedNormal, 1.0),
        (Framework::Jax, LecunUniform) => fixed(Mode::FanIn, Uniform, 1.0),
        (Framework::Jax, VarianceScaling) => Rule {
            // Keras's defaults for VarianceScaling: fan_in, truncated normal.
            mode: Some(r.mode.unwrap_or(Mode::FanIn)),
            distribution: Some(r.distribution.unwrap_or(TruncatedNormal)),
            scale: None,
            takes_gain: true,
            takes_mode: true,
            takes_scale: true,
        },
    })
}

/// Every flag the scheme does not take is an error, never ignored.
fn refuse_unused(r: &Request, rl: &Rule) -> Result<(), InputError> {
    let name = r.scheme.name();
    let fw = framework_name(r.framework);
    if let Some(g) = r.gain
        && !rl.takes_gain
    {
        return Err(bad(
            "--gain",
            &format!("{g}"),
            format!("{fw}'s {name} takes no gain"),
            "drop --gain (--act still sets the activation the layer is analysed under)",
        ));
    }
    if let Some(m) = r.mode
        && !rl.takes_mode
    {
        return Err(bad(
            "--mode",
            m.name(),
            format!("{fw}'s {name} has a fixed fan rule"),
            "drop --mode, or use kaiming_* (PyTorch) or variance_scaling (JAX)",
        ));
    }
    if let Some(d) = r.distribution
        && rl.distribution != Some(d)
        && !(r.framework == Framework::Jax && r.scheme == Scheme::VarianceScaling)
    {
        return Err(bad(
            "--distribution",
            d.name(),
            format!("{fw}'s {name} draws from a fixed law"),
            "drop --distribution, or pick the scheme with that law (e.g. kaiming_normal), \
             or JAX's variance_scaling",
        ));
    }
    if let Some(s) = r.scale
        && !rl.takes_scale
        && !(r.framework == Framework::Jax && r.scheme == Scheme::Orthogonal)
    {
        return Err(bad(
            "--scale",
            &format!("{s}"),
            format!("{fw}'s {name} takes no scale"),
            "drop --scale; JAX's variance_scaling and orthogonal take one",
        ));
    }
    if r.transposed && r.framework != Framework::Torch {
        return Err(bad(
            "--transposed",
            "--transposed",
            "--transposed describes PyTorch's ConvTranspose layout (in, out/groups, k...)",
            "JAX's layouts are (k..., in, out) for every layer: drop --transposed",
        ));
    }
    if r.gain_rule.is_some() && !rl.takes_gain {
        return Err(bad(
            "--gain-rule",
            "--gain-rule",
            format!("{fw}'s {name} has a fixed gain"),
            "drop --gain-rule (--act still sets the activation the layer is analysed under)",
        ));
    }
    if r.gain.is_some() && r.gain_rule.is_some() {
        return Err(bad(
            "--gain-rule",
            "--gain-rule",
            "--gain-rule chooses how --act gives a gain, but --gain gives it directly",
            "drop one of --gain and --gain-rule",
        ));
    }
    if r.gain_rule.is_some() && r.act.is_none() {
        return Err(bad(
            "--gain-rule",
            "--gain-rule",
            "--gain-rule needs --act: the gain is computed from an activation",
            "add --act ACTIVATION",
        ));
    }
    Ok(())
}

fn positive(flag: &str, v: f64) -> Result<f64, InputError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(
            flag,
            &format!("{v}"),
            format!("{flag} {v} is out of range"),
            "a positive number",
        ))
    }
}

/// The gain from --gain, or computed from --act by the rule asked for
/// (forward for fan_in and fan_avg, backward for fan_out by default).
fn gain_of(
    r: &Request,
    act: &Activation,
    mode: Option<Mode>,
    claims: &mut Vec<Restated>,
) -> Result<Option<(f64, String)>, InputError> {
    if let Some(g) = r.gain {
        return Ok(Some((positive("--gain", g)?, "--gain".into())));
    }
    if r.act.is_none() {
        return Ok(None);
    }
    let (call, _) = act.callable();
    let rule = r.gain_rule.unwrap_or(if mode == Some(Mode::FanOut) {
        GainRule::Backward
    } else {
        GainRule::Forward
    });
    let from_moment = |body: &str, what: &str| -> Result<(f64, String), InputError> {
        let m = act.expectation(body, 1.0)?.value;
        if !(m.is_finite() && m > 0.0) {
            return Err(bad(
                "--act",
                &act.label,
                format!(
                    "E[{}] = {m} at z ~ N(0, 1): no gain",
                    body.replace('F', "f")
                ),
                "an activation that is not zero almost everywhere",
            ));
        }
        Ok((1.0 / m.sqrt(), what.to_string()))
    };
    let (g, how) = match rule {
        GainRule::Forward => from_moment("F(z)^2", "forward: 1/sqrt(E[f(z)^2])")?,
        GainRule::Backward => from_moment("F'(z)^2", "backward: 1/sqrt(E[f'(z)^2])")?,
        GainRule::Pytorch => match &act.pytorch {
            Some((g, recipe)) => (*g, format!("PyTorch's calculate_gain ({recipe})")),
            None => {
                return Err(bad(
                    "--act",
                    &act.label,
                    format!("PyTorch's calculate_gain has no entry for {}", act.label),
                    "--gain-rule forward or backward computes one",
                ));
            }
        },
    };
    let body = match rule {
        GainRule::Forward => Some("F(z)^2"),
        GainRule::Backward => Some("F'(z)^2"),
        GainRule::Pytorch => None,
    };
    if let Some(body) = body {
        claims.push(Restated {
            id: "gain".into(),
            model: format!("g = {g:?}\nz ~ Normal(0, 1)"),
            says: format!("g^2 * E[{}] = 1", body.replace('F', call)),
        });
    }
    Ok(Some((g, how)))
}

/// Resolves and analyses a recipe, and audits its restated numbers.
pub fn recipe(r: &Request, settings: &Settings) -> Result<Recipe, InputError> {
    let shape_text = r
        .shape
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if r.shape.contains(&0) {
        return Err(bad(
            "--shape",
            &shape_text,
            "a weight dimension is 0",
            "every dimension at least 1, e.g. --shape 64,3,3,3",
        ));
    }
    let (fan_in, fan_out) = fans(r.framework, &r.shape).map_err(|m| {
        bad(
            "--shape",
            &shape_text,
            m,
            match r.framework {
                Framework::Torch => {
                    "PyTorch's layout: out,in,k... (e.g. --shape 128,256 or 64,3,3,3)"
                }
                Framework::Jax => "JAX's layout: k...,in,out (e.g. --shape 256,128 or 3,3,64,128)",
            },
        )
    })?;
    let rl = rule(r)?;
    refuse_unused(r, &rl)?;
    let act = Activation::resolve(
        r.act.as_deref().unwrap_or("identity"),
        &r.defines,
        &r.functions,
    )?;
    let mut claims = Vec::new();
    let mut notes = Vec::new();
    let mode = rl.mode;
    let fan = |m: Mode| match m {
        Mode::FanIn => fan_in as f64,
        Mode::FanOut => fan_out as f64,
        Mode::FanAvg => (fan_in + fan_out) as f64 / 2.0,
    };
    let computed = if rl.takes_gain {
        gain_of(r, &act, mode, &mut claims)?
    } else {
        None
    };
    let gain = computed.or(match (r.framework, r.scheme) {
        (Framework::Torch, Scheme::KaimingNormal | Scheme::KaimingUniform) => Some((
            2f64.sqrt(),
            "PyTorch's default: calculate_gain('leaky_relu', 0)".into(),
        )),
        (Framework::Torch, Scheme::XavierNormal | Scheme::XavierUniform | Scheme::Orthogonal) => {
            Some((1.0, "PyTorch's default".into()))
        }
        (Framework::Torch, Scheme::Default) => Some((
            (1.0f64 / 3.0).sqrt(),
            "kaiming_uniform_(a = sqrt(5)): sqrt(2/(1 + 5))".into(),
        )),
        _ => None,
    });
    let mut scale = None;
    let (weight, bias, target) = if r.scheme == Scheme::Orthogonal {
        if r.gain.is_some() && r.scale.is_some() {
            return Err(bad(
                "--scale",
                &format!("{}", r.scale.unwrap_or_default()),
                "--gain and --scale are one multiplier here",
                "give one of them",
            ));
        }
        let g = match (r.scale, &gain) {
            (Some(s), _) => positive("--scale", s)?,
            (None, Some((g, _))) => *g,
            (None, None) => 1.0,
        };
        let (rows, cols) = orthogonal_matrix(r.framework, &r.shape);
        (
            Law::Orthogonal {
                gain: g,
                rows,
                cols,
            },
            None,
            None,
        )
    } else {
        let m = mode.unwrap_or(Mode::FanIn);
        let n = fan(m);
        let dist = rl.distribution.unwrap_or(Distribution::TruncatedNormal);
        let target = match (r.framework, r.scheme) {
            (Framework::Torch, Scheme::Default) => Target {
                // kaiming_uniform_(a = sqrt(5)): gain^2 = 2 / (1 + 5).
                formula: "(2 / (1 + sqrt(5)^2)) / n".into(),
                params: vec![("n", n)],
                value: 1.0 / (3.0 * n),
            },
            (Framework::Torch, Scheme::XavierNormal | Scheme::XavierUniform) => {
                let g = gain.as_ref().map_or(1.0, |g| g.0);
                Target {
                    formula: "g^2 * 2 / (fan_in + fan_out)".into(),
                    params: vec![
                        ("g", g),
                        ("fan_in", fan_in as f64),
                        ("fan_out", fan_out as f64),
                    ],
                    value: g * g * 2.0 / (fan_in + fan_out) as f64,
                }
            }
            (Framework::Torch, _) => {
                // kaiming_*: PyTorch's default nonlinearity is leaky_relu
                // with a = 0, gain sqrt(2).
                let g = gain.as_ref().map_or(2f64.sqrt(), |g| g.0);
                Target {
                    formula: "g^2 / n".into(),
                    params: vec![("g", g), ("n", n)],
                    value: g * g / n,
                }
            }
            (Framework::Jax, _) => {
                let s = match (rl.scale, r.scale, &gain) {
                    (Some(s), _, _) => s,
                    (None, Some(s), None) => positive("--scale", s)?,
                    (None, Some(s), Some(_)) => {
                        return Err(bad(
                            "--scale",
                            &format!("{s}"),
                            "--scale and a gain (--gain or --act) both set the scale",
                            "give one: scale = gain^2",
                        ));
                    }
                    (None, None, Some((g, _))) => g * g,
                    // Keras's default scale.
                    (None, None, None) => 1.0,
                };
                scale = Some(s);
                Target {
                    formula: "s / n".into(),
                    params: vec![("s", s), ("n", n)],
                    value: s / n,
                }
            }
        };
        let var = target.value;
        let weight = match dist {
            Distribution::Normal => Law::Normal { sd: var.sqrt() },
            Distribution::Uniform => Law::Uniform {
                bound: (3.0 * var).sqrt(),
            },
            Distribution::TruncatedNormal => Law::TruncatedNormal {
                sd: var.sqrt() / TRUNCATED_SD,
            },
        };
        let bias = match (r.framework, r.scheme) {
            (Framework::Torch, Scheme::Default) => Some(Law::Uniform {
                bound: 1.0 / (fan_in as f64).sqrt(),
            }),
            (Framework::Jax, Scheme::Default) => Some(Law::Zero),
            _ => None,
        };
        (weight, bias, Some(target))
    };
    if r.transposed {
        notes.push(format!(
            "ConvTranspose weight (in, out/groups, k...): PyTorch takes fan_in = dim 1 x k = {fan_in} \
             (the layer's output channels per group) and fan_out = dim 0 x k = {fan_out} (its input \
             channels), the reverse of the data flow"
        ));
    }
    if let Law::TruncatedNormal { sd } = weight {
        notes.push(format!(
            "JAX draws N(0, 1) truncated to (-2, 2) and multiplies by {} = sqrt(target)/{TRUNCATED_SD}, \
             so the weights lie within ±{} and have the target variance",
            num(sd),
            num(2.0 * sd)
        ));
    }
    if let Law::Orthogonal { rows, cols, .. } = weight {
        notes.push(format!(
            "the {rows} x {cols} matrix has orthonormal {}: its squared entries sum to {} exactly, so \
             their mean is gain^2 / {} whatever the draw",
            if rows <= cols { "rows" } else { "columns" },
            rows.min(cols),
            rows.max(cols)
        ));
    }
    if let (Some(t), Some(model)) = (&target, weight.model("w")) {
        let params: String = t
            .params
            .iter()
            .map(|(k, v)| format!("{k} = {v:?}\n"))
            .collect();
        claims.push(Restated {
            id: "weight-variance".into(),
            model: format!("{params}{model}"),
            says: format!("Var[w] = {}", t.formula),
        });
    }
    if let Some(Law::Uniform { bound }) = bias {
        claims.push(Restated {
            id: "bias-variance".into(),
            model: format!(
                "n = {:?}\nb ~ Uniform({:?}, {bound:?})",
                fan_in as f64, -bound
            ),
            says: "Var[b] = 1 / (3 * n)".into(),
        });
    }
    let second = weight.second_moment();
    let bias_var = bias.map_or(0.0, Law::second_moment);
    let analysis = layer(
        &act,
        second * fan_in as f64,
        second * fan_out as f64,
        bias_var,
        r.depth,
    )?;
    claims.extend(layer_claims(&act, &analysis));
    let check = restate::audit("<init>", act.callable().1, &claims, settings)?;
    Ok(Recipe {
        request: r.clone(),
        fan_in,
        fan_out,
        gain,
        scale,
        mode,
        weight,
        bias,
        target,
        activation: act,
        analysis,
        notes,
        check,
    })
}

/// The length map and gradient factor of a stack of `depth` such layers,
/// from q = 1.
fn layer(
    act: &Activation,
    fwd: f64,
    bwd: f64,
    bias_var: f64,
    depth: u32,
) -> Result<Layer, InputError> {
    let map = |q: f64| -> Result<f64, InputError> {
        Ok((act.expectation("F(z)^2", q)?.scale(fwd) + Val::exact(bias_var)).value)
    };
    let chi =
        |q: f64| -> Result<f64, InputError> { Ok(act.expectation("F'(z)^2", q)?.value * bwd) };
    let mut path = vec![1.0];
    let mut chis = Vec::new();
    for _ in 0..depth {
        let q = *path.last().unwrap_or(&1.0);
        // A q that has run off to 0 or infinity stays there, as in `gain`.
        if !(1e-12..=1e300).contains(&q) {
            break;
        }
        chis.push(chi(q)?);
        path.push(map(q)?);
    }
    Ok(Layer {
        forward_var: fwd,
        backward_var: bwd,
        bias_var,
        forward_factor: map(1.0)?,
        backward_factor: chi(1.0)?,
        path,
        chis,
    })
}

/// Each layer of the depth path restated: q_{l+1} from q_l, and the
/// gradient factor at q_l.
fn layer_claims(act: &Activation, l: &Layer) -> Vec<Restated> {
    let (call, _) = act.callable();
    let n = l.chis.len();
    let picked: Vec<usize> = if n <= PATH_RESTATED {
        (0..n).collect()
    } else {
        (0..PATH_RESTATED)
            .map(|k| k * (n - 1) / (PATH_RESTATED - 1))
            .collect()
    };
    let mut out = Vec::new();
    for i in picked {
        let model = format!(
            "s2 = {:?}\nsb = {:?}\nb2 = {:?}\nz ~ Normal(0, {:?})",
            l.forward_var,
            l.backward_var,
            l.bias_var,
            l.path[i].sqrt()
        );
        out.push(Restated {
            id: format!("forward-{}", i + 1),
            model: model.clone(),
            says: format!("s2 * E[{call}(z)^2] + b2 = {:?}", l.path[i + 1]),
        });
        out.push(Restated {
            id: format!("backward-{}", i + 1),
            model,
            says: format!("sb * E[{call}'(z)^2] = {:?}", l.chis[i]),
        });
    }
    out
}

pub fn render(rc: &Recipe, fmt: Format, seed: u64) -> String {
    match fmt {
        Format::Json => {
            serde_json::to_string_pretty(&to_json(rc)).expect("json of plain values") + "\n"
        }
        Format::Table => text(rc, false, seed),
        Format::Markdown => text(rc, true, seed),
    }
}

fn rows(rc: &Recipe) -> Vec<(String, String)> {
    let r = &rc.request;
    let a = &rc.analysis;
    let mut rows = vec![
        ("fan_in".to_string(), rc.fan_in.to_string()),
        ("fan_out".to_string(), rc.fan_out.to_string()),
    ];
    if let Some(m) = rc.mode {
        rows.push(("mode".into(), m.name().into()));
    }
    if let Some((g, how)) = &rc.gain {
        rows.push(("gain".into(), format!("{} ({how})", num(*g))));
    }
    if let Some(s) = rc.scale {
        rows.push(("scale".into(), num(s)));
    }
    if let Some(t) = &rc.target {
        rows.push((
            "Var[w] target".into(),
            format!("{} = {}", t.formula, num(t.value)),
        ));
    }
    rows.push(("weight law".into(), rc.weight.describe()));
    match rc.weight {
        Law::Normal { sd } => rows.push(("std".into(), num(sd))),
        Law::Uniform { bound } => {
            rows.push(("std".into(), num(bound / 3f64.sqrt())));
            rows.push(("bound".into(), num(bound)));
        }
        Law::TruncatedNormal { sd } => {
            rows.push(("std".into(), num(sd * TRUNCATED_SD)));
            rows.push(("std of the underlying normal".into(), num(sd)));
            rows.push(("truncation point".into(), num(2.0 * sd)));
        }
        Law::Orthogonal { .. } => {
            rows.push((
                "root mean square".into(),
                num(rc.weight.second_moment().sqrt()),
            ));
        }
        Law::Zero => {}
    }
    if let Some(b) = rc.bias {
        rows.push(("bias law".into(), b.describe()));
        if let Law::Uniform { bound } = b {
            rows.push(("bias bound".into(), num(bound)));
        }
    }
    let act = r.act.as_deref().unwrap_or("identity (no --act)");
    rows.push((
        format!("forward E[x'^2] factor per layer ({act}, q = 1)"),
        num(a.forward_factor),
    ));
    rows.push((
        format!("backward gradient factor per layer ({act})"),
        num(a.backward_factor),
    ));
    let d = a.chis.len();
    rows.push((format!("forward over {d} layers"), num(a.forward_depth())));
    rows.push((format!("backward over {d} layers"), num(a.backward_depth())));
    rows
}

fn text(rc: &Recipe, markdown: bool, seed: u64) -> String {
    let r = &rc.request;
    let mut out = String::new();
    let head = format!(
        "init {} ({}) for a weight of shape ({})",
        r.scheme.name(),
        framework_name(r.framework),
        r.shape
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if markdown {
        let _ = writeln!(out, "### {head}\n");
    } else {
        let _ = writeln!(out, "=== {head} ===\n");
    }
    let body: Vec<Vec<String>> = rows(rc).into_iter().map(|(k, v)| vec![k, v]).collect();
    out.push_str(&report::table(
        gain::table_style(markdown),
        &["quantity".into(), "value".into()],
        &body,
    ));
    out.push('\n');
    for n in &rc.notes {
        let _ = writeln!(out, "- {n}");
    }
    if !rc.notes.is_empty() {
        out.push('\n');
    }
    out.push_str(&rc.check.text(seed));
    out
}

fn law_json(l: Law) -> Value {
    match l {
        Law::Normal { sd } => json!({"law": "normal", "std": sd}),
        Law::Uniform { bound } => {
            json!({"law": "uniform", "bound": bound, "std": bound / 3f64.sqrt()})
        }
        Law::TruncatedNormal { sd } => json!({
            "law": "truncated_normal", "underlying_std": sd, "truncation": 2.0 * sd,
            "std": sd * TRUNCATED_SD
        }),
        Law::Orthogonal { gain, rows, cols } => json!({
            "law": "orthogonal", "gain": gain, "rows": rows, "cols": cols,
            "root_mean_square": l.second_moment().sqrt()
        }),
        Law::Zero => json!({"law": "zeros"}),
    }
}

fn to_json(rc: &Recipe) -> Value {
    let r = &rc.request;
    let a = &rc.analysis;
    json!({
        "schema_version": crate::report::SCHEMA_VERSION,
        "scheme": r.scheme.name(),
        "framework": r.framework.name(),
        "shape": r.shape,
        "transposed": r.transposed,
        "fan_in": rc.fan_in,
        "fan_out": rc.fan_out,
        "mode": rc.mode.map(Mode::name),
        "gain": rc.gain.as_ref().map(|(g, how)| json!({"value": g, "from": how})),
        "scale": rc.scale,
        "target_variance": rc.target.as_ref().map(|t| json!({"formula": t.formula, "value": t.value})),
        "weight": law_json(rc.weight),
        "bias": rc.bias.map(law_json),
        "activation": r.act.as_deref().unwrap_or("identity"),
        "forward_per_layer": a.forward_factor,
        "backward_per_layer": a.backward_factor,
        "depth": a.chis.len(),
        "forward_depth": a.forward_depth(),
        "backward_depth": a.backward_depth(),
        "q_path": a.path,
        "notes": rc.notes,
        "self_check": rc.check.json(),
    })
}
