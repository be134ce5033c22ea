//! The infinite-width prediction of a `[network.NAME]`, layer by layer:
//! what its per-layer statistics tend to as every width grows with
//! n_{l-1} Var[w_l] held fixed.
//!
//! In that limit (Neal 1996, Poole et al. 2016, Lee et al. 2018) a layer's
//! pre-activations are Gaussian: y_l ~ N(0, q_l) for one input and, for two
//! inputs a and b, (y_la, y_lb) jointly normal with covariance k_l. With
//! s_l = n_{l-1} Var[w_l] (the forward weight variance) and sigma_b^2 the
//! bias variance,
//!
//! - the length map: q_{l+1} = s_{l+1} E[f(y_l)^2] + sigma_b^2;
//! - the cross map: k_{l+1} = s_{l+1} E[f(y_la) f(y_lb)] + sigma_b^2, whose
//!   ratio c_l = k_l / q_l is the c-map of Poole et al.: the NNGP kernel;
//! - backward, with the gradient independence assumption that makes the
//!   limit exact for gradients (Yang 2019): E[dx_L^2] = 1 (the cost's g),
//!   E[dy_l^2] = E[f'(y_l)^2] E[dx_l^2] and E[dx_{l-1}^2] = t_l E[dy_l^2]
//!   with t_l = n_l Var[w_l] (the product W^T dy sums over n_l units);
//! - the NTK in the NTK parameterisation (Jacot et al. 2018, as
//!   neural-tangents composes it): Theta_1 = Sigma_1 and
//!   Theta_l = Sigma_l + s_l E[f'(y_{l-1,a}) f'(y_{l-1,b})] Theta_{l-1}.
//!
//! Every expectation is the exact engine's, on the network's own lowering
//! of f and f' (so the limit and the simulation cannot disagree about what
//! f means), under `z ~ Normal(0, sqrt(q))` or the language's pair law.
//! A moment with no exact value is a reason, never a number. The error
//! bound is carried through the recursion: each moment's own bound, plus
//! what the error of its inputs (q_l, k_l) can move it, taken as twice the
//! moment's slope (a central difference) times that error; then the
//! arithmetic's own rounding through [`Val`].
//!
//! Every exact moment is also sampled by the audit's sampler ([`SAMPLES`]
//! draws in [`BATCHES`] batches, from a stream
//! fixed by the network's name and seed), with a t test at the level
//! 1e-6 / (moments checked): a moment the sampler contradicts is a defect
//! of the prediction, reported with the claims that use it.

use super::simulate::Signal;
use super::{Fill, Network, WeightLaw};
use crate::exact::{Engine, Val};
use crate::lang::arith::BinOp;
use crate::lang::{FunctionDef, parse_model};
use crate::model::Scenario;
use crate::model::law::Law;
use crate::model::resolve::build;
use crate::model::rv::{Moment, Rv, VarId};
use crate::sample::{Sampler, StreamKey};
use crate::verdict::{Defect, FAMILY_RATE, standard_error};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::HashMap;

/// Draws per sampled moment: enough that a moment wrong in its third
/// digit is caught, few enough that a 30-layer prediction samples in
/// milliseconds.
pub const SAMPLES: usize = 4000;

/// Batches the draws are split into: the standard error is that of the
/// batch means, as for every sampled moment of the audit.
const BATCHES: usize = 40;

/// Relative step of the central difference that bounds how much a
/// moment moves with the error of its inputs.
const SLOPE_STEP: f64 = 1e-3;

/// An activation for the maps: f and f' as expressions of base variable 0.
#[derive(Clone, Copy)]
pub struct Act<'a> {
    pub f: &'a Rv,
    pub df: &'a Rv,
}

/// One layer's parameters: s_l = n_{l-1} Var[w_l], t_l = n_l Var[w_l] and
/// the bias variance.
#[derive(Clone, Copy, Debug)]
pub struct LayerVars {
    pub forward: f64,
    pub backward: f64,
    pub bias: f64,
}

/// The input's moments: E[x_0], E[x_0^2] and E[x_0a x_0b] (two inputs).
#[derive(Clone, Copy, Debug)]
pub struct InputMoments {
    pub mean: f64,
    pub square: f64,
    pub cross: f64,
}

/// Which statistic of a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    Mean,
    Square,
    /// E[q_a q_b] over two inputs.
    Cross,
    /// The NTK at layer l: Theta_l(a, a) and Theta_l(a, b).
    Ntk,
    NtkPair,
}

/// The prediction, layer by layer (index l = 0..L; a signal a layer does
/// not have is none).
#[derive(Clone, Debug)]
pub struct Prediction {
    x_mean: Vec<Val>,
    x_square: Vec<Val>,
    x_cross: Vec<Option<Val>>,
    y_square: Vec<Option<Val>>,
    y_cross: Vec<Option<Val>>,
    dx_square: Vec<Val>,
    dy_square: Vec<Option<Val>>,
    /// Theta_l(a, a) and Theta_l(a, b).
    pub ntk: Vec<Option<Val>>,
    pub ntk_cross: Vec<Option<Val>>,
    /// Why the NTK off the diagonal has no value, when E[f'(u) f'(v)] has
    /// none (erf's, whose nested quadrature does not converge): the other
    /// statistics do not need it.
    pub ntk_cross_missing: Option<String>,
    /// Exact moments the sampler contradicted.
    pub defects: Vec<Defect>,
    /// Exact moments sampled.
    pub sampled: usize,
}

impl Prediction {
    /// The infinite-width value of a statistic (the NTK's signal is y);
    /// none where the signal does not exist at the layer or the pair
    /// statistics were not computed.
    pub fn value(&self, stat: Stat, s: Signal, l: usize) -> Option<Val> {
        let get = |v: &Vec<Option<Val>>| v.get(l).copied().flatten();
        match stat {
            Stat::Ntk => return get(&self.ntk),
            Stat::NtkPair => return get(&self.ntk_cross),
            _ => {}
        }
        let square = match s {
            Signal::X => self.x_square.get(l).copied(),
            Signal::Y => get(&self.y_square),
            Signal::Dx => self.dx_square.get(l).copied(),
            Signal::Dy => get(&self.dy_square),
            Signal::Dw => match (l.checked_sub(1), get(&self.dy_square)) {
                (Some(k), Some(dy)) => Some(dy * self.x_square[k]),
                _ => None,
            },
        }?;
        // Zero-mean weights and biases make every signal but x centred;
        // the backward ones by the cost's own zero mean.
        let mean = match s {
            Signal::X => self.x_mean[l],
            _ => Val::exact(0.0),
        };
        let cross = match s {
            Signal::X => get(&self.x_cross),
            Signal::Y => get(&self.y_cross),
            _ => None,
        };
        match stat {
            Stat::Mean => Some(mean),
            Stat::Square => Some(square),
            _ => cross,
        }
    }
}

/// `rv` with base variable 0 renamed to `to`.
fn renamed(rv: &Rv, to: usize) -> Rv {
    let mut out = rv.clone();
    fn walk(rv: &mut Rv, to: usize) {
        if let Rv::Base(v) = rv {
            if v.0 == 0 {
                *v = VarId(to);
            }
            return;
        }
        for c in rv.children_mut() {
            walk(c, to);
        }
    }
    walk(&mut out, to);
    out
}

/// What one moment is: its integrand over z (one input) or over (u, v).
#[derive(Clone, Debug)]
enum Body {
    One(Rv),
    Pair(Rv),
}

impl Body {
    fn square(g: &Rv) -> Body {
        Body::One(Rv::bin(BinOp::Mul, g.clone(), g.clone()))
    }

    fn pair(g: &Rv) -> Body {
        Body::Pair(Rv::bin(BinOp::Mul, g.clone(), renamed(g, 1)))
    }

    /// The body as the moment of a model: z of variance q, or the pair
    /// (u, v) of variances q and covariance k. At correlation 1 the pair
    /// law is degenerate, and the body is the one-input g(z, z).
    fn model(&self, q: f64, k: f64) -> Result<(Scenario, Rv), String> {
        let sd = q.sqrt();
        let (model, rv) = match self {
            Body::One(g) => (format!("z ~ Normal(0, {sd:?})"), g.clone()),
            Body::Pair(g) => {
                let c = (k / q).clamp(-1.0, 1.0);
                if c == 1.0 {
                    return Body::One(renamed_back(g)).model(q, q);
                }
                (
                    format!("u, v ~ BivariateNormal({sd:?}, {sd:?}, {c:?})"),
                    g.clone(),
                )
            }
        };
        let stmts = parse_model(&model).map_err(|e| e.message)?;
        // f and f' are already lowered: the model needs no functions.
        let none: HashMap<String, FunctionDef> = HashMap::new();
        let model = build("limit", &stmts, &none).map_err(|d| d.message)?;
        Ok((model.scenario, rv))
    }

    /// E[body] with the pre-activations of variance q (and covariance k).
    fn exact(&self, q: f64, k: f64) -> Result<Val, String> {
        let (scenario, rv) = self.model(q, k)?;
        match Engine::new(&scenario).expect(&rv) {
            Ok(x) if x.val.is_finite() => Ok(x.val),
            Ok(x) => Err(format!("the value came out as {}", x.val.value)),
            Err(no) => Err(format!("no exact value: {}", no.reason())),
        }
    }

    /// E[body] at inputs that carry an error: the value at their centre,
    /// its bound widened by twice the slope times each input's error.
    fn at(&self, q: Val, k: Val) -> Result<Val, String> {
        let mid = self.exact(q.value, k.value)?;
        let mut err = mid.err;
        let h = SLOPE_STEP * q.value;
        // Twice the difference quotient over a step of 1e-3 q: the slope
        // with room for its change over the step, and for the quotient's
        // own error (both moments' bounds over h).
        let slope = |other: Val| 2.0 * ((other.value - mid.value).abs() + other.err + mid.err) / h;
        if q.err > 0.0 {
            // Moving both variances at fixed covariance.
            err += slope(self.exact(q.value + h, k.value)?) * q.err;
        }
        if let Body::Pair(_) = self
            && k.err > 0.0
        {
            // Stepping away from |c| = 1, where the pair law ends.
            let step = if k.value >= 0.0 { -h } else { h };
            err += slope(self.exact(q.value, k.value + step)?) * k.err;
        }
        Ok(Val {
            value: mid.value,
            err,
        })
    }

    /// The sample mean of the body by the project's sampler, and its
    /// standard error over [`BATCHES`] batches; `None` where the body is
    /// not finite at some draw.
    fn sampled(&self, q: f64, k: f64, key: StreamKey) -> Option<(f64, f64)> {
        let (scenario, rv) = self.model(q, k).ok()?;
        let mut sampler = Sampler::new(&scenario, &[Moment::E(rv)], key, BATCHES);
        sampler.extend((SAMPLES / BATCHES) as u64).ok()?;
        let se = standard_error(sampler.batch_estimates().iter().map(|b| b[0]));
        Some((sampler.pooled()[0], se))
    }
}

/// g(u, v) with v renamed back to u: the integrand on the diagonal.
fn renamed_back(rv: &Rv) -> Rv {
    let mut out = rv.clone();
    fn walk(rv: &mut Rv) {
        if let Rv::Base(v) = rv {
            *v = VarId(0);
            return;
        }
        for c in rv.children_mut() {
            walk(c);
        }
    }
    walk(&mut out);
    out
}

/// A moment computed, to be sampled afterwards.
struct Used {
    body: Body,
    q: f64,
    k: f64,
    exact: Val,
    what: String,
}

/// Records the moment for the sampled check and returns its value.
fn moment(used: &mut Vec<Used>, body: Body, q: Val, k: Val, what: String) -> Result<Val, String> {
    let exact = body.at(q, k)?;
    used.push(Used {
        body,
        q: q.value,
        k: k.value,
        exact,
        what,
    });
    Ok(exact)
}

/// Which of the costly pair statistics (nested quadrature) to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pairs {
    /// Two inputs' cross moments (the NNGP kernel, the c-map).
    pub cross: bool,
    /// The NTK off the diagonal, which needs E[f'(u) f'(v)] too.
    pub ntk: bool,
}

/// The recursion over layers `vars` from the input's moments; pair
/// statistics only as `pairs` asks. `key` names the sampled check's
/// stream.
pub fn propagate(
    act: Act,
    vars: &[LayerVars],
    input: InputMoments,
    pairs: Pairs,
    key: StreamKey,
) -> Result<Prediction, String> {
    let pairs_wanted = pairs.cross || pairs.ntk;
    let depth = vars.len();
    let mut used = Vec::new();
    let mut p = Prediction {
        x_mean: vec![Val::exact(input.mean)],
        x_square: vec![Val::exact(input.square)],
        x_cross: vec![pairs_wanted.then_some(Val::exact(input.cross))],
        y_square: vec![None],
        y_cross: vec![None],
        dx_square: Vec::new(),
        dy_square: vec![None],
        ntk: vec![None],
        ntk_cross: vec![None],
        ntk_cross_missing: None,
        defects: Vec::new(),
        sampled: 0,
    };
    let (f, df) = (act.f, act.df);
    let mut previous_slope: Option<(Val, Option<Val>)> = None;
    for (i, v) in vars.iter().enumerate() {
        let l = i + 1;
        let (s, b) = (Val::exact(v.forward), Val::exact(v.bias));
        let q = s * p.x_square[i] + b;
        if !(q.value > 0.0 && q.value.is_finite()) {
            return Err(format!(
                "the pre-activations of layer {l} have variance {}: no Gaussian limit",
                q.value
            ));
        }
        let k = p.x_cross[i].map(|c| s * c + b);
        let (theta, theta_cross) = match previous_slope {
            None => (q, k),
            Some((d, dc)) => (
                q + s * d * p.ntk[i].expect("set at the layer before"),
                match (k, dc, p.ntk_cross[i]) {
                    (Some(k), Some(dc), Some(t)) => Some(k + s * dc * t),
                    _ => None,
                },
            ),
        };
        p.y_square.push(Some(q));
        p.y_cross.push(k);
        p.ntk.push(Some(theta));
        p.ntk_cross.push(theta_cross);
        let zero = Val::exact(0.0);
        p.x_mean.push(moment(
            &mut used,
            Body::One(f.clone()),
            q,
            zero,
            format!("E[f(y({l}))]"),
        )?);
        p.x_square.push(moment(
            &mut used,
            Body::square(f),
            q,
            zero,
            format!("E[f(y({l}))^2]"),
        )?);
        let d = moment(
            &mut used,
            Body::square(df),
            q,
            zero,
            format!("E[f'(y({l}))^2]"),
        )?;
        let (cross, dc) = match k {
            Some(k) => (
                Some(moment(
                    &mut used,
                    Body::pair(f),
                    q,
                    k,
                    format!("E[f(y_a({l})) f(y_b({l}))]"),
                )?),
                if !pairs.ntk {
                    None
                } else {
                    match moment(
                        &mut used,
                        Body::pair(df),
                        q,
                        k,
                        format!("E[f'(y_a({l})) f'(y_b({l}))]"),
                    ) {
                        Ok(v) => Some(v),
                        Err(why) => {
                            p.ntk_cross_missing
                                .get_or_insert(format!("E[f'(u) f'(v)] at layer {l}: {why}"));
                            None
                        }
                    }
                },
            ),
            None => (None, None),
        };
        p.x_cross.push(cross);
        // E[f'(y_l)^2] is kept for the backward pass below.
        p.dy_square.push(Some(d));
        previous_slope = Some((d, dc));
    }
    // Backward: dy_square holds E[f'(y_l)^2] until multiplied by E[dx_l^2].
    let mut dx = vec![Val::exact(0.0); depth + 1];
    dx[depth] = Val::exact(1.0);
    for l in (1..=depth).rev() {
        let dy = p.dy_square[l].expect("set forward") * dx[l];
        p.dy_square[l] = Some(dy);
        dx[l - 1] = Val::exact(vars[l - 1].backward) * dy;
    }
    p.dx_square = dx;
    p.defects = contradicted(&used, key);
    p.sampled = used.len();
    Ok(p)
}

/// Samples every exact moment the prediction used (see the module's doc)
/// and returns those the sampler contradicts. A moment the sampler cannot
/// draw finitely is contradicted as well: its exact value is finite.
fn contradicted(used: &[Used], key: StreamKey) -> Vec<Defect> {
    let tests = used.len().max(1) as f64;
    let t = StudentsT::new(0.0, 1.0, (BATCHES - 1) as f64).expect("valid t law");
    let critical = -t.inverse_cdf(FAMILY_RATE / tests / 2.0);
    let mut defects = Vec::new();
    for (i, u) in used.iter().enumerate() {
        let key = StreamKey::new(key.0, &[&i.to_string()]);
        let (mean, se) = u
            .body
            .sampled(u.q, u.k, key)
            .unwrap_or((f64::NAN, f64::NAN));
        let agrees = (mean - u.exact.value).abs() <= critical * se + u.exact.err;
        // NaN (no finite draw) agrees with nothing.
        if !agrees {
            defects.push(Defect {
                moment: u.what.clone(),
                exact: u.exact.value,
                sampled: mean,
                se,
            });
        }
    }
    defects
}

/// The prediction for a network; the reason when it has none (a law
/// whose limit is not Gaussian, a moment with no exact value).
pub fn predict(net: &Network, pairs: Pairs) -> Result<Prediction, String> {
    if let Some(what) = net.beyond_mlp() {
        return Err(format!(
            "the limits are the plain MLP's recursions, and the network has {what}"
        ));
    }
    let mut vars = Vec::new();
    for (l, law) in net.weights.iter().enumerate() {
        let WeightLaw::Iid(law) = law else {
            return Err(format!(
                "layer {}: the limit is computed for weights with independent entries, not `Orthogonal`",
                l + 1
            ));
        };
        let mean = law
            .raw_moment(1)
            .map_err(|_| "the weight law has no mean")?;
        let second = law
            .raw_moment(2)
            .map_err(|_| "the weight law has no variance".to_string())?;
        if mean != 0.0 || !second.is_finite() {
            return Err(format!(
                "layer {}: the weight law has mean {mean}; the limit is for weights of mean 0 and finite variance",
                l + 1
            ));
        }
        let bias = match &net.biases[l] {
            Fill::Const(c) if *c == 0.0 => 0.0,
            Fill::Law(Law::Normal { mean, sd }) if *mean == 0.0 => sd * sd,
            _ => {
                return Err(
                    "the limit needs biases Normal(0, s) or 0: any other bias keeps the \
                     pre-activations non-Gaussian at every width"
                        .into(),
                );
            }
        };
        vars.push(LayerVars {
            forward: net.widths[l] as f64 * second,
            backward: net.widths[l + 1] as f64 * second,
            bias,
        });
    }
    let input = match &net.input {
        Fill::Const(c) => InputMoments {
            mean: *c,
            square: c * c,
            cross: c * c,
        },
        Fill::Law(law) => {
            let (m1, m2) = match (law.raw_moment(1), law.raw_moment(2)) {
                (Ok(a), Ok(b)) if b.is_finite() => (a, b),
                _ => return Err("the input law has no second moment".into()),
            };
            let rho = net.input_corr.unwrap_or(0.0);
            InputMoments {
                mean: m1,
                square: m2,
                cross: m1 * m1 + rho * (m2 - m1 * m1),
            }
        }
    };
    let (f, df) = net.activation.rvs();
    let key = StreamKey::new(net.seed, &["limit", &net.name]);
    propagate(Act { f, df }, &vars, input, pairs, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(body: Body, q: f64, k: f64, exact: f64) -> Used {
        Used {
            body,
            q,
            k,
            exact: Val::exact(exact),
            what: format!("{exact}"),
        }
    }

    /// The sampled check passes the true moments and contradicts a wrong
    /// one: E[z^2] = q and E[u v] = k for the pair (closed forms), against
    /// a value 30% off and one with no finite draw. With 4000 draws the
    /// standard error of E[z^2] = 2 is 2 sqrt(2) / sqrt(4000) = 0.045 and
    /// the critical value about 6: 30% off is 13 standard errors, caught
    /// by any stream (10% off, 4.4 standard errors, was caught only when
    /// the sample mean fell low, about one stream in six).
    #[test]
    fn the_sampler_contradicts_a_wrong_moment_only() {
        let z = Rv::Base(VarId(0));
        let key = StreamKey::new(7, &["limit-test"]);
        let right = [
            used(Body::square(&z), 2.0, 0.0, 2.0),
            used(Body::pair(&z), 1.0, 0.5, 0.5),
        ];
        assert!(contradicted(&right, key).is_empty());
        let wrong = [
            used(Body::square(&z), 2.0, 0.0, 2.6),
            used(Body::pair(&z), 1.0, 0.5, 0.5),
        ];
        let defects = contradicted(&wrong, key);
        assert_eq!(defects.len(), 1, "{defects:?}");
        assert_eq!(defects[0].exact, 2.6);
        assert!((defects[0].sampled - 2.0).abs() < 0.2, "{defects:?}");
        let infinite = [used(
            Body::One(Rv::bin(BinOp::Div, Rv::Const(1.0), Rv::Const(0.0))),
            1.0,
            0.0,
            1.0,
        )];
        assert_eq!(contradicted(&infinite, key).len(), 1);
    }
}
