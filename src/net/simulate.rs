//! Drawing networks: the forward and backward pass, with nalgebra, and the
//! per-draw statistics every series is built from.
//!
//! One draw is one network (weights, biases) with `inputs` inputs pushed
//! through it and, for each input, its own cost vector g ~ N(0, I). From a
//! draw we keep, per layer and signal, the mean over units and inputs of the
//! signal and of its square: those are unbiased for E[q_l] and E[q_l^2],
//! and the draws are independent, so the standard error of any smooth
//! function of such means follows from their covariance over draws (the
//! delta method, [`Stats::delta`]). Units and inputs of one draw are not
//! independent — they share the weights — which is exactly why they are
//! averaged inside a draw rather than counted as samples.
//!
//! Draw `d` takes its random numbers from stream `d` of the network's key
//! (a lane generator, [`StreamKey::lanes`], whose normal and uniform fills
//! run a vector at a time and give the same numbers on every CPU), in a
//! fixed order (input, then each layer's weights and bias, then g), so
//! the statistics do not depend on the thread count. A draw does only the
//! work its [`Need`] asks for; g, the last numbers of its stream, is drawn
//! only with the backward pass, so leaving that out changes no other
//! number. Draws run in waves small enough that the draws in flight fit in
//! the memory the machine has ([`Network::draws_at_once`]). A workspace
//! holds every matrix of a draw, allocated fallibly (running out is an
//! error, not an abort) and overwritten by each draw in turn; rayon's jobs
//! take them from a pool: allocating afresh per draw cost more in page
//! faults than the products. A statistic's sums run over the signal in
//! order (their bits are `Iterator::sum`'s); each is a chain of additions
//! that waits on its last, so a layer's two signals (y and x, dx and dy)
//! are summed in one loop, where their four chains overlap.

use super::jacobian::{self, Spectral};
use super::products;
use super::{Fill, Network, WeightLaw};
use crate::diag::Diag;
use crate::memory::{self, OutOfMemory};
use crate::model::law::Lanes;
use crate::progress;
use crate::sample::StreamKey;
use nalgebra::DMatrix;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::sync::Mutex;

/// The per-layer signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// x_l, the activation (x_0 the input).
    X,
    /// y_l, the pre-activation.
    Y,
    /// dC/dx_l.
    Dx,
    /// dC/dy_l.
    Dy,
    /// dC/dW_l, one entry (per input: the outer product dy_l x_{l-1}^T).
    Dw,
}

impl Signal {
    pub const ALL: [Signal; 5] = [Signal::X, Signal::Y, Signal::Dx, Signal::Dy, Signal::Dw];

    /// The name claims use.
    pub fn name(self) -> &'static str {
        match self {
            Signal::X => "x",
            Signal::Y => "y",
            Signal::Dx => "dx",
            Signal::Dy => "dy",
            Signal::Dw => "dW",
        }
    }

    pub fn from_name(name: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The first layer the signal exists at: the input has an x and a dx
    /// but no y, dy or W.
    pub fn first_layer(self) -> usize {
        match self {
            Signal::X | Signal::Dx => 0,
            Signal::Y | Signal::Dy | Signal::Dw => 1,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Statistics of the last layer's squared norm, one value per input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// ||x_L||^2.
    Norm2,
    /// ||x_L||^2 / ||x_0||^2: for Gaussian weights its law does not depend
    /// on the input (rotation invariance), which is Hanin's setting.
    Gain2,
}

impl Norm {
    pub const ALL: [Norm; 2] = [Norm::Norm2, Norm::Gain2];

    pub fn name(self) -> &'static str {
        match self {
            Norm::Norm2 => "norm2",
            Norm::Gain2 => "gain2",
        }
    }

    pub fn from_name(name: &str) -> Option<Norm> {
        Norm::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One recorded mean: of a signal at a layer, or of a norm, to the first or
/// second power, or a statistic of the Jacobian's spectrum at a layer
/// (1..=L).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Atom {
    Layer(Signal, usize, u8),
    Norm(Norm, u8),
    Spectral(Spectral, usize),
    /// The mean over units and over pairs of distinct inputs a < b of one
    /// draw of q_a q_b, for q = x or y: the cross moment whose ratio to the
    /// second moment is the two inputs' correlation (the c-map's c).
    Pair(Signal, usize),
    /// The infinite-width prediction of a statistic: an exact value a
    /// series plan holds (its index there), never a recorded mean.
    Limit(usize),
}

/// Per-draw means of every atom.
#[derive(Clone, Debug)]
pub struct Stats {
    pub depth: usize,
    /// What the draws computed: reading anything else is a defect of the
    /// caller, stopped rather than read as NaN.
    pub need: Need,
    /// `per_draw[d][index(atom)]`; a Jacobian statistic no claim asked for
    /// is NaN. When the network keeps its spectrum, the slots are followed
    /// by the last layer's squared singular values of each input.
    pub per_draw: Vec<Vec<f64>>,
}

/// The signals whose pairs of inputs are recorded ([`Atom::Pair`]): only
/// the forward ones, since each input's backward pass starts from its own
/// independent cost vector.
pub const PAIRED: [Signal; 2] = [Signal::X, Signal::Y];

/// What a draw computes beyond the forward pass and the moments of x and
/// y, which every statistic builds on. The backward pass costs as much as
/// the forward one and the pair moments a pass over every layer, so a draw
/// does them only when something reads them: the audit marks each network
/// from the atoms its series claims read ([`super::series::mark_needs`]),
/// `initaudit net` asks for what its table prints. Its Jacobian work is
/// [`super::jacobian::Need`]. A loaded network asks for everything but
/// the Jacobians until something marks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    /// dC/dx, dC/dy and dC/dW at every layer (the cost vector g included).
    pub backward: bool,
    /// The cross moments of pairs of inputs, [`Atom::Pair`].
    pub pairs: bool,
    /// ||x_L||^2 and ||x_L||^2 / ||x_0||^2, [`Atom::Norm`].
    pub norms: bool,
}

impl Need {
    /// The forward pass and its moments only.
    pub const FORWARD: Need = Need {
        backward: false,
        pairs: false,
        norms: false,
    };

    /// Every recorded mean but the Jacobians'.
    pub const ALL: Need = Need {
        backward: true,
        pairs: true,
        norms: true,
    };

    /// Adds what reading `atom` needs.
    pub fn add(&mut self, atom: Atom) {
        match atom {
            Atom::Layer(Signal::Dx | Signal::Dy | Signal::Dw, _, _) => self.backward = true,
            Atom::Pair(..) => self.pairs = true,
            Atom::Norm(..) => self.norms = true,
            Atom::Layer(Signal::X | Signal::Y, _, _) | Atom::Spectral(..) | Atom::Limit(_) => {}
        }
    }

    /// Whether a draw under this need records `atom` (Jacobian statistics
    /// are [`super::jacobian::Need`]'s, and NaN where not asked for).
    pub fn records(&self, atom: Atom) -> bool {
        let mut with = *self;
        with.add(atom);
        with == *self
    }
}

fn slots(depth: usize) -> usize {
    Signal::ALL.len() * (depth + 1) * 2
        + Norm::ALL.len() * 2
        + Spectral::ALL.len() * depth
        + PAIRED.len() * (depth + 1)
}

fn index(depth: usize, atom: Atom) -> usize {
    let norms = Signal::ALL.len() * (depth + 1) * 2;
    match atom {
        Atom::Layer(s, l, p) => (s.index() * (depth + 1) + l) * 2 + usize::from(p - 1),
        Atom::Norm(n, p) => norms + (n as usize) * 2 + usize::from(p - 1),
        Atom::Spectral(s, l) => norms + Norm::ALL.len() * 2 + (s as usize) * depth + (l - 1),
        Atom::Pair(s, l) => {
            let which = PAIRED
                .iter()
                .position(|&p| p == s)
                .expect("pairs are recorded for x and y only");
            norms + Norm::ALL.len() * 2 + Spectral::ALL.len() * depth + which * (depth + 1) + l
        }
        Atom::Limit(_) => unreachable!("a limit is an exact value, not a recorded mean"),
    }
}

impl Stats {
    pub fn draws(&self) -> usize {
        self.per_draw.len()
    }

    /// The last layer's squared singular values of every input of every
    /// draw, when the network keeps them (`Need::spectrum`); else empty.
    pub fn spectrum(&self) -> impl Iterator<Item = f64> + '_ {
        let from = slots(self.depth);
        self.per_draw
            .iter()
            .flat_map(move |d| d[from..].iter().copied())
    }

    /// The slot of `atom`, which the draws must have computed.
    fn slot(&self, atom: Atom) -> usize {
        assert!(
            self.need.records(atom),
            "{atom:?} read from draws that did not compute it ({:?})",
            self.need
        );
        index(self.depth, atom)
    }

    pub fn mean(&self, atom: Atom) -> f64 {
        let i = self.slot(atom);
        self.per_draw.iter().map(|v| v[i]).sum::<f64>() / self.draws() as f64
    }

    /// `f` of the atoms' means, with its standard error by the delta method:
    /// the gradient of `f` (central differences) applied to each draw's
    /// values gives one linearised value per draw, whose sd over sqrt(draws)
    /// is the standard error. Exact for linear `f`, first-order otherwise.
    pub fn delta(&self, atoms: &[Atom], f: &dyn Fn(&[f64]) -> f64) -> (f64, f64) {
        let idx: Vec<usize> = atoms.iter().map(|&a| self.slot(a)).collect();
        let n = self.draws() as f64;
        let means: Vec<f64> = idx
            .iter()
            .map(|&i| self.per_draw.iter().map(|v| v[i]).sum::<f64>() / n)
            .collect();
        let value = f(&means);
        if !value.is_finite() {
            return (value, f64::NAN);
        }
        let grad: Vec<f64> = (0..idx.len())
            .map(|j| {
                let sd = (self
                    .per_draw
                    .iter()
                    .map(|v| (v[idx[j]] - means[j]).powi(2))
                    .sum::<f64>()
                    / n)
                    .sqrt();
                let h = 1e-6 * (means[j].abs() + sd);
                if h == 0.0 {
                    return 0.0;
                }
                let mut m = means.clone();
                m[j] = means[j] + h;
                let up = f(&m);
                m[j] = means[j] - h;
                let down = f(&m);
                (up - down) / (2.0 * h)
            })
            .collect();
        let z: Vec<f64> = self
            .per_draw
            .iter()
            .map(|v| {
                idx.iter()
                    .zip(&grad)
                    .map(|(&i, g)| if *g == 0.0 { 0.0 } else { g * v[i] })
                    .sum()
            })
            .collect();
        let zm = z.iter().sum::<f64>() / n;
        let var = z.iter().map(|x| (x - zm).powi(2)).sum::<f64>() / (n - 1.0);
        (value, (var / n).sqrt())
    }
}

/// Draws the network `net.draws` times; draw `d` uses stream `d` of `key`.
/// The error (at the network's widths) is a network the machine's memory
/// cannot hold, found before drawing or by an allocation that failed.
pub fn simulate(net: &Network, key: StreamKey) -> Result<Stats, Diag> {
    let mut stats = Stats {
        depth: net.depth(),
        need: net.need,
        per_draw: Vec::with_capacity(net.draws),
    };
    extend(net, key, &mut stats, net.draws)?;
    Ok(stats)
}

/// Adds draws up to `to` in all: draw `d` still uses stream `d`, so the
/// first draws are those `simulate` made and more draws only add to them
/// (the power calculation asks for more after a first look).
pub fn extend(net: &Network, key: StreamKey, stats: &mut Stats, to: usize) -> Result<(), Diag> {
    assert_eq!(stats.need, net.need, "more draws of the same work");
    let from = stats.per_draw.len();
    if to <= from {
        return Ok(());
    }
    let wave = net.draws_at_once(memory::available())?.clamp(1, to - from);
    progress::phase(&format!("network {}: draws", net.name), (to - from) as u64);
    let pool = Pool {
        net,
        free: Mutex::new(Vec::new()),
    };
    for start in (from..to).step_by(wave) {
        let end = (start + wave).min(to);
        // One workspace per rayon job, reused by every draw the job makes
        // and handed on to the next job: a draw of a 30-layer net of width
        // 256 holds 16 MiB, and allocating (and zeroing) that afresh for
        // each draw cost more than its products.
        let batch: Vec<Vec<f64>> = (start..end)
            .into_par_iter()
            .map_init(
                || pool.lend(),
                |lent, d| {
                    let draw = match &mut lent.space {
                        Some(Ok(space)) => one_draw(net, space, &mut key.lanes(d as u64)),
                        Some(Err(e)) => Err(DrawError::Memory(e.clone())),
                        None => unreachable!("a lent workspace is held until dropped"),
                    };
                    progress::advance(1);
                    draw
                },
            )
            .collect::<Result<_, _>>()
            .map_err(|e| match e {
                DrawError::Memory(e) => Diag::new(
                    net.span.clone(),
                    format!("network `{}`: {e} for one draw", net.name),
                    "use narrower layers, fewer layers or fewer `inputs` per draw, or free memory",
                ),
                DrawError::Flat { vector } => Diag::new(
                    net.span.clone(),
                    format!(
                        "network `{}`: the LayerNorm met a {vector} whose units are all equal, which it cannot normalize (0/0)",
                        net.name
                    ),
                    "give the input, weights or bias laws under which the units differ",
                ),
            })?;
        stats.per_draw.extend(batch);
    }
    Ok(())
}

/// The workspaces of one network's draws that no rayon job holds: rayon's
/// `map_init` starts a job for every piece it splits off (8 for 32 draws
/// on one thread), and each would allocate and zero a workspace of its
/// own. At most as many exist as jobs run at once.
struct Pool<'a> {
    net: &'a Network,
    free: Mutex<Vec<Workspace>>,
}

impl Pool<'_> {
    /// A free workspace, or a new one (an error if memory runs out).
    fn lend(&self) -> Lent<'_, '_> {
        let free = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Lent {
            pool: self,
            space: Some(free.map_or_else(|| Workspace::new(self.net), Ok)),
        }
    }
}

/// A workspace a job holds; it goes back to the pool when the job ends.
struct Lent<'p, 'a> {
    pool: &'p Pool<'a>,
    space: Option<Result<Workspace, OutOfMemory>>,
}

impl Drop for Lent<'_, '_> {
    fn drop(&mut self) {
        if let Some(Ok(space)) = self.space.take() {
            self.pool
                .free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(space);
        }
    }
}

/// Every matrix one draw writes, allocated once and overwritten by each
/// draw in full (so no value of one draw reaches the next, whichever job
/// or wave made it).
struct Workspace {
    /// `xs[l]` is x_l, `n_l x inputs`.
    xs: Vec<DMatrix<f64>>,
    /// `ys[l - 1]` is y_l.
    ys: Vec<DMatrix<f64>>,
    /// `ws[l - 1]` is W_l, `n_l x n_{l-1}`.
    ws: Vec<DMatrix<f64>>,
    bias: Vec<f64>,
    /// dC/dx_l and dC/dy_l of the layer the backward pass is at, per
    /// layer so that each has its layer's shape. Empty without the
    /// backward pass.
    dxs: Vec<DMatrix<f64>>,
    dys: Vec<DMatrix<f64>>,
    /// The sum over inputs of a layer's signal, for the pair moments
    /// ([`pair_moment`]); empty without them.
    across: Vec<f64>,
    /// The Jacobians' buffers, when the network's claims ask for them.
    jacobian: Option<jacobian::Space>,
    /// `zs[l - 1]` is the normalized vector layer l's activation reads:
    /// LN(y_l) in an MLP, LN(x_{l-1}) in a residual block. Empty without
    /// `norm`.
    zs: Vec<DMatrix<f64>>,
    /// `hs[l - 1]` is what a residual block's W_l reads, f(x_{l-1}) or
    /// f(LN(x_{l-1})). Empty in an MLP, whose W_l reads x_{l-1}.
    hs: Vec<DMatrix<f64>>,
    /// The sd of each normalized vector, `sds[(l - 1) * inputs + j]`.
    sds: Vec<f64>,
}

impl Workspace {
    fn new(net: &Network) -> Result<Workspace, OutOfMemory> {
        let n = &net.widths;
        let k = net.inputs;
        let depth = net.depth();
        let signals = |from: usize| -> Result<Vec<DMatrix<f64>>, OutOfMemory> {
            (from..=depth).map(|l| zeros(n[l], k)).collect()
        };
        Ok(Workspace {
            xs: signals(0)?,
            ys: signals(1)?,
            ws: (1..=depth)
                .map(|l| zeros(n[l], n[l - 1]))
                .collect::<Result<_, _>>()?,
            bias: memory::try_zeros(n.iter().copied().max().unwrap_or(0))?,
            dxs: if net.need.backward {
                signals(0)?
            } else {
                Vec::new()
            },
            dys: if net.need.backward {
                signals(1)?
            } else {
                Vec::new()
            },
            across: if net.need.pairs {
                memory::try_zeros(n.iter().copied().max().unwrap_or(0))?
            } else {
                Vec::new()
            },
            jacobian: if net.jacobian.any {
                Some(jacobian::Space::new(net)?)
            } else {
                None
            },
            // Every residual block reads from and adds to the same width,
            // so `signals(1)` has the shapes of x_0..x_{L-1} too.
            zs: if net.norm.is_some() {
                signals(1)?
            } else {
                Vec::new()
            },
            hs: if net.residual.is_some() {
                signals(1)?
            } else {
                Vec::new()
            },
            sds: if net.norm.is_some() {
                memory::try_zeros(depth * k)?
            } else {
                Vec::new()
            },
        })
    }
}

/// A zero matrix, or an error if the allocator refuses.
fn zeros(rows: usize, cols: usize) -> Result<DMatrix<f64>, OutOfMemory> {
    let len = rows
        .checked_mul(cols)
        .ok_or(OutOfMemory { bytes: u64::MAX })?;
    Ok(DMatrix::from_vec(rows, cols, memory::try_zeros(len)?))
}

fn fill(f: &Fill, rng: &mut Lanes, out: &mut [f64]) {
    match f {
        Fill::Const(c) => out.fill(*c),
        Fill::Law(l) => l.fill_lanes(rng, out),
    }
}

/// Means over all entries of `m` and of its square.
fn moments(m: &DMatrix<f64>) -> (f64, f64) {
    means(m, sums([m.as_slice()])[0])
}

/// The means of a matrix's entries and squares from their [`sums`].
fn means(m: &DMatrix<f64>, (s, s2): (f64, f64)) -> (f64, f64) {
    let n = m.len() as f64;
    (s / n, s2 / n)
}

/// Sums over all entries of each of `N` equally long slices and of their
/// squares, each in order (from -0.0, as `Iterator::sum` does, so the bits
/// are those sums'), in one pass over the slices side by side. Each sum is
/// a chain of additions that waits on its last, so a lone sum runs at the
/// adder's latency; 2N chains in one loop overlap (two signals of a layer,
/// y and x, or dx and dy, are summed together), and plain slices spare
/// the matrix iterator's bookkeeping, which profiles put beside the
/// additions.
fn sums<const N: usize>(ms: [&[f64]; N]) -> [(f64, f64); N] {
    let len = ms.first().map_or(0, |m| m.len());
    assert!(ms.iter().all(|m| m.len() == len), "slices of one shape");
    let mut s = [(-0.0, -0.0); N];
    for i in 0..len {
        for (acc, m) in s.iter_mut().zip(&ms) {
            let v = m[i];
            acc.0 += v;
            acc.1 += v * v;
        }
    }
    s
}

/// The sum of `v` in order from +0.0: the bits of nalgebra's `sum` of a
/// column, which folds its entries so, over a plain slice.
fn column_sum(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |a, b| a + b)
}

/// The mean of q_a q_b over units and pairs of distinct columns a < b of
/// `m` (units x inputs); NaN with fewer than two inputs. The sum over
/// pairs is (||sum_a q_a||^2 - sum_a ||q_a||^2) / 2, O(units inputs)
/// rather than the O(units inputs^2) of the pairs' dot products;
/// `squares` is sum_a ||q_a||^2 (the second moment's sum), `across` room
/// for sum_a q_a. The rounding of the two forms is bounded alike, by
/// about units * inputs * eps * `squares` (the test derives it).
fn pair_moment(m: &DMatrix<f64>, squares: f64, across: &mut [f64]) -> f64 {
    let (rows, k) = m.shape();
    if k < 2 {
        return f64::NAN;
    }
    let across = &mut across[..rows];
    let mut columns = m.as_slice().chunks_exact(rows);
    across.copy_from_slice(columns.next().expect("two columns"));
    for c in columns {
        for (s, v) in across.iter_mut().zip(c) {
            *s += v;
        }
    }
    let total = across.iter().map(|v| v * v).sum::<f64>();
    (total - squares) / (rows * k * (k - 1)) as f64
}

/// Up to this many inputs a draw's forward product is computed block by
/// block of W's columns while W is drawn
/// ([`products::forward_while_drawing`]). It is the bound below which
/// nalgebra's `mul_to` goes column by column (its `gemv`, in the same order
/// of operations), so the fused loop gives the same bits as `mul_to` did;
/// above it `mul_to` calls matrixmultiply, whose blocking reads W few
/// times anyway.
const FUSED_INPUTS: usize = 5;

/// Why a draw stopped.
#[derive(Clone, Debug)]
enum DrawError {
    Memory(OutOfMemory),
    /// A LayerNorm met a vector (`x_3`, `y_4`) whose units were all equal:
    /// 0/0, which eps = 0 does not hide (see [`super::Normalization`]).
    Flat {
        vector: String,
    },
}

impl From<OutOfMemory> for DrawError {
    fn from(e: OutOfMemory) -> DrawError {
        DrawError::Memory(e)
    }
}

/// LayerNorm of every column of `v` into `z`, with each column's sd (divisor
/// n, eps = 0) in `sd`: z = (v - mean(v)) / sd(v), so every column of `z`
/// has mean 0 and mean square 1 to rounding. `Err` when a column has no
/// spread.
fn layer_norm(v: &DMatrix<f64>, z: &mut DMatrix<f64>, sd: &mut [f64]) -> Result<(), ()> {
    let rows = v.nrows();
    let n = rows as f64;
    // Over plain slices, in nalgebra's order: the column's `sum` folds
    // from +0.0, the squares' `Iterator::sum` from -0.0.
    let columns = v.as_slice().chunks_exact(rows);
    for ((col, out), s) in columns
        .zip(z.as_mut_slice().chunks_exact_mut(rows))
        .zip(sd.iter_mut())
    {
        let mean = col.iter().fold(0.0, |a, b| a + b) / n;
        let var = col.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        *s = var.sqrt();
        if *s == 0.0 {
            return Err(());
        }
        for (o, x) in out.iter_mut().zip(col) {
            *o = (x - mean) / *s;
        }
    }
    Ok(())
}

/// The backward pass through [`layer_norm`], in place: `d` holds dC/dz and
/// becomes dC/dv = J^T dC/dz, where z's Jacobian
/// J = (I - 1 1^T / n - z z^T / n) / sd is symmetric, so
/// dC/dv = (dC/dz - mean(dC/dz) - z mean(z * dC/dz)) / sd per column.
fn layer_norm_backward(d: &mut DMatrix<f64>, z: &DMatrix<f64>, sd: &[f64]) {
    let rows = d.nrows();
    let n = rows as f64;
    let columns = d.as_mut_slice().chunks_exact_mut(rows);
    for ((col, zc), s) in columns.zip(z.as_slice().chunks_exact(rows)).zip(sd) {
        // The column's sum (nalgebra's `sum`, from +0.0) and its product
        // with z (`Iterator::sum`, from -0.0) in one loop, whose two
        // chains of additions overlap.
        let (mut sum, mut along) = (0.0, -0.0);
        for (g, z) in col.iter().zip(zc) {
            sum += g;
            along += g * z;
        }
        let (mean, along) = (sum / n, along / n);
        for (g, z) in col.iter_mut().zip(zc) {
            *g = (*g - mean - z * along) / s;
        }
    }
}

/// One draw: the forward pass with the moments of x and y, then what
/// `net.need` and `net.jacobian` ask for. Slots of statistics not computed
/// stay NaN (and [`Stats`] refuses to read them).
fn one_draw(net: &Network, space: &mut Workspace, rng: &mut Lanes) -> Result<Vec<f64>, DrawError> {
    let depth = net.depth();
    let n = &net.widths;
    let k = net.inputs;
    let need = net.need;
    let normalized = net.norm.is_some();
    let alphas = net.residual.as_ref().map(|r| r.alphas.as_slice());
    let mut out = memory::try_zeros(slots(depth))?;
    out.fill(f64::NAN);
    let put = |out: &mut [f64], atom: (Signal, usize), (m1, m2): (f64, f64)| {
        out[index(depth, Atom::Layer(atom.0, atom.1, 1))] = m1;
        out[index(depth, Atom::Layer(atom.0, atom.1, 2))] = m2;
    };
    // The moments of a forward signal from its [`sums`], and its pair
    // moment when asked.
    let forward_moments = |out: &mut [f64],
                           s: Signal,
                           l: usize,
                           m: &DMatrix<f64>,
                           (sum, squares): (f64, f64),
                           across: &mut [f64]| {
        put(out, (s, l), means(m, (sum, squares)));
        if need.pairs {
            out[index(depth, Atom::Pair(s, l))] = pair_moment(m, squares, across);
        }
    };
    let Workspace {
        xs,
        ys,
        ws,
        bias,
        dxs,
        dys,
        across,
        jacobian,
        zs,
        hs,
        sds,
    } = space;

    fill(&net.input, rng, xs[0].as_mut_slice());
    if let (Some(rho), Fill::Law(law)) = (net.input_corr, &net.input) {
        // One shared vector after the inputs' own (see `net::input_corr`);
        // the bias buffer is free until layer 1 fills it.
        let shared = &mut bias[..n[0]];
        law.fill_lanes(rng, shared);
        let m = law.raw_moment(1).unwrap_or(0.0);
        let (a, b) = (rho.sqrt(), (1.0 - rho).sqrt());
        for mut col in xs[0].column_iter_mut() {
            for (x, s) in col.iter_mut().zip(shared.iter()) {
                *x = m + a * (s - m) + b * (*x - m);
            }
        }
    }
    let [input] = sums([xs[0].as_slice()]);
    forward_moments(&mut out, Signal::X, 0, &xs[0], input, across);
    for l in 1..=depth {
        let sd = if normalized {
            &mut sds[(l - 1) * k..l * k]
        } else {
            &mut [][..]
        };
        if alphas.is_some() {
            // The branch reads f(x_{l-1}), or f(LN(x_{l-1})) as in a pre-LN
            // transformer.
            let u = if normalized {
                layer_norm(&xs[l - 1], &mut zs[l - 1], sd).map_err(|()| DrawError::Flat {
                    vector: format!("x_{}", l - 1),
                })?;
                &zs[l - 1]
            } else {
                &xs[l - 1]
            };
            net.activation.apply(u.as_slice(), hs[l - 1].as_mut_slice());
        }
        let read = if alphas.is_some() {
            &hs[l - 1]
        } else {
            &xs[l - 1]
        };
        let w = &mut ws[l - 1];
        let y = &mut ys[l - 1];
        let fused = match &net.weights[l - 1] {
            WeightLaw::Iid(law) if k <= FUSED_INPUTS => {
                products::forward_while_drawing(
                    law,
                    rng,
                    n[l],
                    w.as_mut_slice(),
                    read.as_slice(),
                    y.as_mut_slice(),
                );
                true
            }
            WeightLaw::Iid(law) => {
                law.fill_lanes(rng, w.as_mut_slice());
                false
            }
            WeightLaw::Orthogonal { gain } => {
                draw_orthogonal(*gain, rng, w);
                false
            }
        };
        let bias = &mut bias[..n[l]];
        fill(&net.biases[l - 1], rng, bias);
        if !fused {
            w.mul_to(read, y);
        }
        for col in y.as_mut_slice().chunks_exact_mut(n[l]) {
            for (v, b) in col.iter_mut().zip(bias.iter()) {
                *v += b;
            }
        }
        let (before, after) = xs.split_at_mut(l);
        let (input, x) = (&before[l - 1], &mut after[0]);
        match alphas {
            Some(alphas) => {
                let alpha = alphas[l - 1];
                for ((x, i), y) in x.iter_mut().zip(input.iter()).zip(y.iter()) {
                    *x = i + alpha * y;
                }
            }
            None if normalized => {
                let z = &mut zs[l - 1];
                layer_norm(y, z, sd).map_err(|()| DrawError::Flat {
                    vector: format!("y_{l}"),
                })?;
                net.activation.apply(z.as_slice(), x.as_mut_slice());
            }
            None => net.activation.apply(y.as_slice(), x.as_mut_slice()),
        }
        let [of_y, of_x] = sums([y.as_slice(), x.as_slice()]);
        forward_moments(&mut out, Signal::Y, l, y, of_y, across);
        forward_moments(&mut out, Signal::X, l, x, of_x, across);
    }
    if need.norms {
        let (mut s, mut s2, mut r, mut r2) = (0.0, 0.0, 0.0, 0.0);
        for j in 0..k {
            let last = xs[depth].column(j).norm_squared();
            let gain = last / xs[0].column(j).norm_squared();
            s += last;
            s2 += last * last;
            r += gain;
            r2 += gain * gain;
        }
        let kf = k as f64;
        for (norm, (a, b)) in [(Norm::Norm2, (s, s2)), (Norm::Gain2, (r, r2))] {
            out[index(depth, Atom::Norm(norm, 1))] = a / kf;
            out[index(depth, Atom::Norm(norm, 2))] = b / kf;
        }
    }
    if need.backward {
        backward(
            net,
            rng,
            xs,
            ys,
            ws,
            dxs,
            dys,
            zs,
            hs,
            sds,
            &mut |s, l, m| put(&mut out, (s, l), m),
        );
    }
    if let Some(space) = jacobian {
        let mut spectrum = Vec::new();
        jacobian::record(
            net,
            ws,
            ys,
            space,
            &mut |s, l, v| out[index(depth, Atom::Spectral(s, l))] = v,
            &mut spectrum,
        );
        out.try_reserve_exact(spectrum.len())
            .map_err(|_| OutOfMemory {
                bytes: 8 * spectrum.len() as u64,
            })?;
        out.extend(spectrum);
    }
    Ok(out)
}

/// The backward pass of C = <g, x_L>, g ~ N(0, I) drawn last from the
/// draw's stream: dC/dx_l, dC/dy_l and dC/dW_l at every layer, whose
/// moments go to `put(signal, layer, (mean, mean square))`.
#[allow(clippy::too_many_arguments)]
fn backward(
    net: &Network,
    rng: &mut Lanes,
    xs: &[DMatrix<f64>],
    ys: &[DMatrix<f64>],
    ws: &[DMatrix<f64>],
    dxs: &mut [DMatrix<f64>],
    dys: &mut [DMatrix<f64>],
    zs: &[DMatrix<f64>],
    hs: &[DMatrix<f64>],
    sds: &[f64],
    put: &mut dyn FnMut(Signal, usize, (f64, f64)),
) {
    let depth = net.depth();
    let n = &net.widths;
    let k = net.inputs;
    let normalized = net.norm.is_some();
    let alphas = net.residual.as_ref().map(|r| r.alphas.as_slice());
    rng.fill_normal(0.0, 1.0, dxs[depth].as_mut_slice());
    let kf = k as f64;
    for l in (1..=depth).rev() {
        let sd = if normalized {
            &sds[(l - 1) * k..l * k]
        } else {
            &[][..]
        };
        let dy = &mut dys[l - 1];
        match alphas {
            // x_l = x_{l-1} + alpha_l y_l: dC/dy_l = alpha_l dC/dx_l.
            Some(alphas) => {
                for (dy, d) in dy.iter_mut().zip(dxs[l].iter()) {
                    *dy = alphas[l - 1] * d;
                }
            }
            // x_l = f(z_l), z_l = LN(y_l): dC/dz_l = f'(z_l) dC/dx_l, then
            // back through the LayerNorm.
            None if normalized => {
                net.activation.backward(
                    zs[l - 1].as_slice(),
                    xs[l].as_slice(),
                    dxs[l].as_slice(),
                    dy.as_mut_slice(),
                );
                layer_norm_backward(dy, &zs[l - 1], sd);
            }
            None => net.activation.backward(
                ys[l - 1].as_slice(),
                xs[l].as_slice(),
                dxs[l].as_slice(),
                dy.as_mut_slice(),
            ),
        }
        // dC/dx_l (g, or the last iteration's W^T dy) and dC/dy_l summed
        // in one pass.
        let [of_dx, of_dy] = sums([dxs[l].as_slice(), dy.as_slice()]);
        put(Signal::Dx, l, means(&dxs[l], of_dx));
        put(Signal::Dy, l, means(dy, of_dy));
        // dC/dW_l for one input is dy a^T, a what W_l reads (x_{l-1}, or
        // the branch's f(x_{l-1})): the mean of its entries is
        // mean(dy) mean(a), of their squares mean(dy^2) mean(a^2).
        let read = if alphas.is_some() {
            &hs[l - 1]
        } else {
            &xs[l - 1]
        };
        let (mut m1, mut m2) = (0.0, 0.0);
        let (rows, cols) = (n[l] as f64, n[l - 1] as f64);
        for j in 0..k {
            let d = dy.column(j);
            let a = read.column(j);
            let (d_sum, a_sum) = (
                column_sum(&dy.as_slice()[j * n[l]..(j + 1) * n[l]]),
                column_sum(&read.as_slice()[j * n[l - 1]..(j + 1) * n[l - 1]]),
            );
            m1 += (d_sum / rows) * (a_sum / cols);
            m2 += (d.norm_squared() / rows) * (a.norm_squared() / cols);
        }
        put(Signal::Dw, l, (m1 / kf, m2 / kf));
        let (before, after) = dxs.split_at_mut(l);
        let (back, dx) = (&mut before[l - 1], &after[0]);
        // W^T dy as nalgebra's `tr_mul_to` computes it (a dot product per
        // column of W and input), at the machine's vector width.
        products::transpose_times(
            n[l],
            ws[l - 1].as_slice(),
            dy.as_slice(),
            back.as_mut_slice(),
        );
        if alphas.is_some() {
            // x_l = x_{l-1} + alpha_l (W_l f(u) + b_l), u = x_{l-1} or
            // LN(x_{l-1}): dC/dx_{l-1} = dC/dx_l + J_u^T (f'(u) W_l^T dC/dy_l).
            let u = if normalized { &zs[l - 1] } else { &xs[l - 1] };
            net.activation.backward_in_place(
                u.as_slice(),
                hs[l - 1].as_slice(),
                back.as_mut_slice(),
            );
            if normalized {
                layer_norm_backward(back, &zs[l - 1], sd);
            }
            for (b, d) in back.iter_mut().zip(dx.iter()) {
                *b += d;
            }
        }
    }
    put(Signal::Dx, 0, moments(&dxs[0]));
}

/// Draws `gain` times a Haar-random matrix of `w`'s shape: orthonormal
/// columns when it is tall or square, orthonormal rows when it is wide.
/// The QR factorisation of a Gaussian matrix of the taller shape, with each
/// column of Q multiplied by the sign of R's diagonal entry, is Haar
/// (Mezzadri 2007): with another sign convention Q is not. nalgebra 0.35
/// already returns R with a nonnegative diagonal, so today the correction
/// changes nothing; it is there so that the draw stays Haar whatever
/// convention the factorisation uses (tests check the Haar moments). A
/// wide matrix is the transpose of a tall one.
/// The Gaussian numbers are taken column by column from `rng`, so the draw
/// is the stream's; nalgebra's QR allocates its own factors, counted in
/// the network's memory estimate.
pub fn draw_orthogonal<R: Rng>(gain: f64, rng: &mut R, w: &mut DMatrix<f64>) {
    let (rows, cols) = w.shape();
    let mut a = DMatrix::<f64>::zeros(rows.max(cols), rows.min(cols));
    for v in a.iter_mut() {
        *v = rng.sample(StandardNormal);
    }
    // Haar needs the factorization whose R has a positive diagonal (else
    // Q's columns carry Householder's fixed signs); nalgebra's QR is that
    // one, which `nalgebras_qr_has_a_positive_diagonal` holds it to.
    let q = a.qr().q();
    if rows >= cols {
        w.copy_from(&q);
    } else {
        q.transpose_to(w);
    }
    *w *= gain;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::law::Law;
    use crate::net::Fill;
    use nalgebra::DVector;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn network(text: &str) -> Network {
        match crate::audit::load("t.toml", text) {
            Ok(mut f) => f.networks.remove(0),
            Err(e) => panic!("{}", e.render()),
        }
    }

    /// A width-5 tanh network with `extra` keys.
    fn network_with(extra: &str) -> Network {
        let text = format!(
            "[network.n]\nwidths = [5, 5, 5, 5]\nactivation = \"tanh\"\nweight = \"Normal(0, 1)\"\nbias = \"0.1\"\ninput = \"Normal(0, 1)\"\ninputs = 2\ndraws = 32\n{extra}"
        );
        network(&text)
    }

    /// x_L of one input through the drawn weights (no bias), for finite
    /// differences.
    fn forward(net: &Network, ws: &[DMatrix<f64>], x: &DVector<f64>) -> DVector<f64> {
        ws.iter()
            .fold(x.clone(), |x, w| (w * x).map(|y| net.activation.value(y)))
    }

    /// The Jacobian statistics of a draw against a separate computation:
    /// J_l as the explicit product of the dense per-layer matrices
    /// diag(f'(y_m)) W_m, itself checked against central differences of
    /// the forward pass, and its squared singular values from an SVD of
    /// that product. Unequal widths, so that k = min(n_l, n_0) changes
    /// from layer to layer, with Gaussian and orthogonal weights (tall and
    /// wide matrices both).
    #[test]
    fn the_product_form_jacobian_is_the_dense_product_and_the_derivative() {
        for weight in ["Normal(0, 1/sqrt(fan_in))", "Orthogonal(1.3)"] {
            let mut net = network(&format!(
                "[network.t]\nwidths = [5, 7, 4, 6]\nactivation = \"tanh\"\nweight = \"{weight}\"\n\
                 input = \"Normal(0, 1)\"\ninputs = 2\ndraws = 32\n"
            ));
            let depth = net.depth();
            net.jacobian = jacobian::Need::everything(depth);
            let mut space = Workspace::new(&net).unwrap();
            let out = one_draw(&net, &mut space, &mut StreamKey::new(3, &[]).lanes(0)).unwrap();
            let n0 = net.widths[0];
            let mut expected = vec![[0.0f64; 5]; depth + 1];
            let mut last = Vec::new();
            for c in 0..net.inputs {
                let mut j = DMatrix::<f64>::identity(n0, n0);
                for (l, at) in expected.iter_mut().enumerate().skip(1) {
                    let d = space.ys[l - 1]
                        .column(c)
                        .map(|y| net.activation.derivative(y));
                    j = DMatrix::from_diagonal(&d) * &space.ws[l - 1] * j;
                    let s2: Vec<f64> = j
                        .clone()
                        .svd(false, false)
                        .singular_values
                        .iter()
                        .map(|s| s * s)
                        .collect();
                    assert_eq!(s2.len(), net.widths[l].min(n0));
                    let k = s2.len() as f64;
                    let mean = s2.iter().sum::<f64>() / k;
                    let square = s2.iter().map(|v| v * v).sum::<f64>() / k;
                    let spread = s2.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / k;
                    let max = s2.iter().copied().fold(f64::MIN, f64::max);
                    let min = s2.iter().copied().fold(f64::MAX, f64::min);
                    for (i, v) in [mean, square, spread, max, min].into_iter().enumerate() {
                        at[i] += v / net.inputs as f64;
                    }
                    if l == depth {
                        last.extend(s2);
                    }
                }
                // The product is the derivative: central differences of the
                // forward pass (tanh is smooth; h^2 f''' and eps / h are
                // both below 1e-9 here).
                let x = space.xs[0].column(c).into_owned();
                let h = 1e-6;
                for i in 0..n0 {
                    let mut up = x.clone();
                    up[i] += h;
                    let mut down = x.clone();
                    down[i] -= h;
                    let fd = (forward(&net, &space.ws, &up) - forward(&net, &space.ws, &down))
                        / (2.0 * h);
                    let err = (fd - j.column(i)).amax();
                    assert!(err < 1e-8, "{weight}: column {i} off by {err}");
                }
            }
            for l in 1..=depth {
                for s in Spectral::ALL {
                    let got = out[index(depth, Atom::Spectral(s, l))];
                    let want = expected[l][s as usize];
                    // Var[s2] is a difference of moments of size ~1: its
                    // error is absolute.
                    let scale = if s == Spectral::Spread {
                        expected[l][1]
                    } else {
                        want.abs()
                    };
                    assert!(
                        (got - want).abs() <= 1e-12 * scale,
                        "{weight}: {} at l = {l}: {got} against {want}",
                        s.name()
                    );
                }
            }
            let mut kept: Vec<f64> = out[slots(depth)..].to_vec();
            assert_eq!(kept.len(), net.inputs * net.widths[depth].min(n0));
            kept.sort_by(f64::total_cmp);
            last.sort_by(f64::total_cmp);
            for (a, b) in kept.iter().zip(&last) {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
                    "{a} against {b}"
                );
            }
        }
    }

    /// A drawn orthogonal matrix: orthonormal columns (tall or square) or
    /// rows (wide), times the gain, to rounding.
    #[test]
    fn orthogonal_matrices_are_orthogonal_to_rounding() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        for (rows, cols) in [(6, 6), (9, 4), (4, 9), (64, 64)] {
            let mut w = DMatrix::zeros(rows, cols);
            draw_orthogonal(1.7, &mut rng, &mut w);
            let gram = if rows >= cols {
                w.tr_mul(&w)
            } else {
                &w * w.transpose()
            } / (1.7 * 1.7);
            let err = (gram.clone() - DMatrix::identity(gram.nrows(), gram.ncols())).amax();
            assert!(err < 1e-14, "{rows}x{cols}: {err}");
        }
    }

    /// The QR `draw_orthogonal` relies on: A = Q R with R's diagonal
    /// positive, the one factorization whose Q is Haar for Gaussian A
    /// (with a negative R_ii, column i of Q would have Householder's fixed
    /// sign). Were nalgebra's convention to change, this fails first.
    #[test]
    fn nalgebras_qr_has_a_positive_diagonal() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(13);
        for (rows, cols) in [(5, 5), (9, 4), (64, 64)] {
            for _ in 0..50 {
                let a = DMatrix::<f64>::from_fn(rows, cols, |_, _| rng.sample(StandardNormal));
                let qr = a.clone().qr();
                let (q, r) = (qr.q(), qr.r());
                assert!(r.diagonal().iter().all(|&d| d > 0.0), "{}", r.diagonal());
                let err = (&q * &r - &a).amax();
                assert!(err < 1e-12 * a.amax(), "{rows}x{cols}: Q R off by {err}");
            }
        }
    }

    /// Haar: every column of a Haar matrix (and of a Haar tall matrix with
    /// orthonormal columns) is uniform on the sphere of R^n, so an entry u
    /// has E[u] = 0, P(u > 0) = 1/2 and E[u^2] = 1/n, with Var[u^2] =
    /// E[u^4] - 1/n^2 = 3/(n(n+2)) - 1/n^2 (u^2 ~ Beta(1/2, (n-1)/2)).
    /// 20000 draws; each bound is five standard errors.
    #[test]
    fn orthogonal_matrices_are_haar() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(12);
        let draws = 20_000;
        for (rows, cols) in [(4usize, 4usize), (6, 3), (3, 6)] {
            let n = rows.max(cols) as f64;
            let var_u2 = 3.0 / (n * (n + 2.0)) - 1.0 / (n * n);
            let mut w = DMatrix::zeros(rows, cols);
            // The first and the last entry: the first column, and the last
            // column that Householder's reflections build.
            let corners = [(0, 0), (rows - 1, cols - 1)];
            let mut sums = [[0.0f64; 3]; 2];
            for _ in 0..draws {
                draw_orthogonal(1.0, &mut rng, &mut w);
                for (s, &(i, j)) in sums.iter_mut().zip(&corners) {
                    let u = w[(i, j)];
                    s[0] += u;
                    s[1] += u * u;
                    s[2] += f64::from(u > 0.0);
                }
            }
            let d = draws as f64;
            for (s, at) in sums.iter().zip(corners) {
                let (mean, square, positive) = (s[0] / d, s[1] / d, s[2] / d);
                assert!(
                    mean.abs() < 5.0 * (1.0 / n / d).sqrt(),
                    "{rows}x{cols} {at:?}: E[u] = {mean}"
                );
                assert!(
                    (square - 1.0 / n).abs() < 5.0 * (var_u2 / d).sqrt(),
                    "{rows}x{cols} {at:?}: E[u^2] = {square}, not 1/{n}"
                );
                assert!(
                    (positive - 0.5).abs() < 5.0 * (0.25 / d).sqrt(),
                    "{rows}x{cols} {at:?}: P(u > 0) = {positive}"
                );
            }
        }
    }

    /// LayerNorm written out from its definition, apart from the
    /// simulator's.
    fn plain_layer_norm(v: &DVector<f64>) -> DVector<f64> {
        let n = v.len() as f64;
        let mean = v.sum() / n;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        v.map(|x| (x - mean) / sd)
    }

    fn bias(net: &Network, l: usize) -> f64 {
        match net.biases[l - 1] {
            Fill::Const(c) => c,
            Fill::Law(_) => panic!("the tests' biases are constants"),
        }
    }

    /// x_l from y_l, by the documented definition of layer l.
    fn from_y(net: &Network, l: usize, before: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
        let f = |v: &DVector<f64>| v.map(|x| net.activation.value(x));
        match &net.residual {
            Some(r) => before + y * r.alphas[l - 1],
            None if net.norm.is_some() => f(&plain_layer_norm(y)),
            None => f(y),
        }
    }

    /// y_l from x_{l-1} and W_l.
    fn branch(net: &Network, l: usize, w: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
        let read = if net.residual.is_some() {
            let u = if net.norm.is_some() {
                plain_layer_norm(x)
            } else {
                x.clone()
            };
            u.map(|v| net.activation.value(v))
        } else {
            x.clone()
        };
        w * read + DVector::from_element(w.nrows(), bias(net, l))
    }

    /// x_L from x_l, layer by layer, with weights `ws`.
    fn forward_from(net: &Network, ws: &[DMatrix<f64>], l: usize, x: DVector<f64>) -> DVector<f64> {
        (l + 1..=net.depth()).fold(x, |x, k| {
            let y = branch(net, k, &ws[k - 1], &x);
            from_y(net, k, &x, &y)
        })
    }

    /// Central difference of C = <g, x_L> along one coordinate.
    fn central(c: &dyn Fn(f64) -> f64) -> f64 {
        let h = 1e-5;
        (c(h) - c(-h)) / (2.0 * h)
    }

    /// Checks every gradient a draw computes against finite differences of
    /// an independent forward pass: dC/dx_l and dC/dy_l at every layer and
    /// unit, and dC/dW_l = dy_l a^T (a what W_l reads) at every entry, for
    /// both inputs of a draw.
    fn backward_matches_finite_differences(net: &Network) {
        let mut space = Workspace::new(net).expect("small");
        let mut rng = StreamKey::new(3, &[]).lanes(0);
        one_draw(net, &mut space, &mut rng).unwrap_or_else(|e| panic!("{e:?}"));
        let depth = net.depth();
        let close = |fd: f64, exact: f64, what: &str| {
            assert!(
                (fd - exact).abs() <= 1e-6 * (1.0 + exact.abs()),
                "{what}: finite difference {fd}, backward pass {exact}"
            );
        };
        for j in 0..net.inputs {
            let col =
                |m: &DMatrix<f64>| DVector::from_iterator(m.nrows(), m.column(j).iter().copied());
            let g = col(&space.dxs[depth]);
            let cost = |x: DVector<f64>| g.dot(&x);
            let x_l = forward_from(net, &space.ws, 0, col(&space.xs[0]));
            for (a, b) in x_l.iter().zip(col(&space.xs[depth]).iter()) {
                assert!(
                    (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                    "forward {a} vs {b}"
                );
            }
            for l in 0..=depth {
                let x = col(&space.xs[l]);
                for i in 0..x.len() {
                    let fd = central(&|h| {
                        let mut p = x.clone();
                        p[i] += h;
                        cost(forward_from(net, &space.ws, l, p))
                    });
                    close(
                        fd,
                        space.dxs[l][(i, j)],
                        &format!("dC/dx_{l}[{i}], input {j}"),
                    );
                }
            }
            for l in 1..=depth {
                let (before, y) = (col(&space.xs[l - 1]), col(&space.ys[l - 1]));
                for i in 0..y.len() {
                    let fd = central(&|h| {
                        let mut p = y.clone();
                        p[i] += h;
                        cost(forward_from(net, &space.ws, l, from_y(net, l, &before, &p)))
                    });
                    close(
                        fd,
                        space.dys[l - 1][(i, j)],
                        &format!("dC/dy_{l}[{i}], input {j}"),
                    );
                }
                let read = if net.residual.is_some() {
                    &space.hs[l - 1]
                } else {
                    &space.xs[l - 1]
                };
                let w = &space.ws[l - 1];
                for (r, c) in (0..w.nrows()).flat_map(|r| (0..w.ncols()).map(move |c| (r, c))) {
                    let fd = central(&|h| {
                        let mut ws = space.ws.clone();
                        ws[l - 1][(r, c)] += h;
                        cost(forward_from(net, &ws, 0, col(&space.xs[0])))
                    });
                    let exact = space.dys[l - 1][(r, j)] * read[(c, j)];
                    close(fd, exact, &format!("dC/dW_{l}[{r},{c}], input {j}"));
                }
            }
        }
    }

    #[test]
    fn the_mlps_backward_pass_is_the_derivative() {
        backward_matches_finite_differences(&network_with(""));
    }

    #[test]
    fn the_layer_normalized_backward_pass_is_the_derivative() {
        backward_matches_finite_differences(&network_with("norm = \"layer\"\n"));
    }

    #[test]
    fn the_residual_backward_pass_is_the_derivative() {
        // A scale that varies with the block, so that alpha_l is read at
        // the right l.
        backward_matches_finite_differences(&network_with("residual = \"0.5 + l/10\"\n"));
        backward_matches_finite_differences(&network_with(
            "residual = \"1/sqrt(L)\"\nnorm = \"layer\"\n",
        ));
    }

    #[test]
    fn a_layer_norm_has_mean_zero_and_mean_square_one_per_vector() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let law = Law::Normal { mean: 3.0, sd: 1e3 };
        let mut v = DMatrix::zeros(257, 3);
        law.fill(&mut rng, v.as_mut_slice());
        let (mut z, mut sd) = (DMatrix::zeros(257, 3), vec![0.0; 3]);
        layer_norm(&v, &mut z, &mut sd).expect("spread");
        for c in z.column_iter() {
            assert!((c.sum() / 257.0).abs() < 1e-15, "{}", c.sum());
            assert!((c.norm_squared() / 257.0 - 1.0).abs() < 1e-14);
        }
        // A vector with no spread is refused, not turned into NaN.
        let flat = DMatrix::from_element(4, 1, 2.0);
        let (mut z, mut sd) = (DMatrix::zeros(4, 1), vec![0.0]);
        assert!(layer_norm(&flat, &mut z, &mut sd).is_err());
    }

    /// The pair moment as the mean of the pairs' dot products, the
    /// definition (and what the simulator computed before).
    fn pairs_directly(m: &DMatrix<f64>) -> f64 {
        let k = m.ncols();
        let mut sum = 0.0;
        for a in 0..k {
            for b in a + 1..k {
                sum += m.column(a).dot(&m.column(b));
            }
        }
        sum / (m.nrows() * k * (k - 1) / 2) as f64
    }

    /// gamma_m = m u / (1 - m u), the bound on the relative error of m
    /// roundings (Higham, Accuracy and Stability, 2nd ed., Lemma 3.1).
    fn gamma(m: usize) -> f64 {
        let u = f64::EPSILON / 2.0;
        m as f64 * u / (1.0 - m as f64 * u)
    }

    /// `pair_moment`'s (|sum q_a|^2 - sum |q_a|^2) / 2 against the pairs'
    /// dot products, within the sum of their rounding bounds, each derived
    /// from Higham's gamma (A_i = sum_a |q_ai|, m the pairs of units):
    /// - direct: a dot of n products has error gamma_n sum_i |q_ai q_bi|,
    ///   the P = k(k-1)/2 dots' sum adds gamma_P, so gamma_{n+P} T / m with
    ///   T = sum_{a<b} sum_i |q_ai q_bi|, then u for the division;
    /// - sums: s_i = sum_a q_ai is off by gamma_{k-1} A_i, so s_i^2 by
    ///   (2 gamma_{k-1} + gamma_{k-1}^2) A_i^2, and sum_i s_i^2 adds
    ///   gamma_n (1 + gamma_{k-1})^2 A_i^2; sum |q_a|^2 (n k nonnegative
    ///   terms) is off by gamma_{nk} of itself; the difference and the
    ///   division add u each.
    ///
    /// Columns independent, nearly opposite (the difference cancels), and
    /// sharing a large mean (correlation near 1).
    #[test]
    fn pair_moments_from_sums_are_the_pairs_dot_products_to_rounding() {
        let u = f64::EPSILON / 2.0;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(21);
        let law = Law::Normal { mean: 0.0, sd: 1.0 };
        for (n, k) in [(256usize, 2usize), (256, 4), (64, 32), (7, 3), (1024, 16)] {
            for shape in ["independent", "opposite", "shared mean"] {
                let mut m = DMatrix::zeros(n, k);
                law.fill(&mut rng, m.as_mut_slice());
                if shape == "opposite" {
                    let first = m.column(0).into_owned();
                    for (a, mut c) in m.column_iter_mut().enumerate().skip(1) {
                        let sign = if a % 2 == 1 { -1.0 } else { 1.0 };
                        c.zip_apply(&first, |v, f| *v = sign * f + 1e-6 * *v);
                    }
                } else if shape == "shared mean" {
                    m.add_scalar_mut(100.0);
                }
                let squares = m.iter().map(|v| v * v).sum::<f64>();
                let mut across = vec![0.0; n];
                let fast = pair_moment(&m, squares, &mut across);
                let direct = pairs_directly(&m);
                let pairs = (n * k * (k - 1) / 2) as f64;
                let a: Vec<f64> = m.row_iter().map(|r| r.abs().sum()).collect();
                let a2: f64 = a.iter().map(|v| v * v).sum();
                let t = (a2 - squares) / 2.0;
                let g = gamma(k - 1);
                let s1 = m.row_iter().map(|r| r.sum().powi(2)).sum::<f64>();
                let fast_err = ((gamma(n) * (1.0 + g).powi(2) + 2.0 * g + g * g) * a2
                    + gamma(n * k) * squares
                    + u * (s1 - squares).abs())
                    / (2.0 * pairs)
                    + u * fast.abs();
                let direct_err = gamma(n + k * (k - 1) / 2) * t / pairs + u * direct.abs();
                let bound = fast_err + direct_err;
                assert!(
                    (fast - direct).abs() <= bound,
                    "{n} x {k} {shape}: {fast} against {direct}, bound {bound}"
                );
                // The bound is rounding: far below the entries' size.
                assert!(bound < 1e-9 * squares / (n * k) as f64, "{bound}");
            }
        }
        // One input has no pairs.
        assert!(pair_moment(&DMatrix::from_element(3, 1, 1.0), 3.0, &mut [0.0; 3]).is_nan());
    }

    /// The side-by-side sums are `Iterator::sum`'s of each slice and of
    /// its squares, bit for bit (from -0.0: an empty slice's sum is -0.0),
    /// and `column_sum` is nalgebra's `sum` of a column (from +0.0).
    #[test]
    fn side_by_side_sums_are_the_iterators_bit_for_bit() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(31);
        let law = Law::Normal { mean: 0.5, sd: 2.0 };
        for len in [0, 1, 7, 64, 257] {
            let mut a = vec![0.0; len];
            let mut b = vec![0.0; len];
            law.fill(&mut rng, &mut a);
            law.fill(&mut rng, &mut b);
            let both = sums([a.as_slice(), b.as_slice()]);
            let [alone] = sums([a.as_slice()]);
            for (got, v) in [(both[0], &a), (both[1], &b), (alone, &a)] {
                let want: (f64, f64) = (v.iter().sum(), v.iter().map(|x| x * x).sum());
                assert_eq!(got.0.to_bits(), want.0.to_bits(), "sum of {len}");
                assert_eq!(got.1.to_bits(), want.1.to_bits(), "squares of {len}");
            }
            let column = DMatrix::from_vec(len, 1, a.clone());
            assert_eq!(column_sum(&a).to_bits(), column.sum().to_bits(), "{len}");
        }
    }

    #[test]
    fn drawing_while_multiplying_is_fill_then_mul_to_bit_for_bit() {
        // The fused forward pass must consume the generator as one fill of W
        // does and give nalgebra's bits, or outputs would change with it.
        let law = Law::Normal { mean: 0.0, sd: 0.3 };
        for (rows, cols, k) in [
            (7, 9, 1),
            (16, 3, 4),
            (33, 17, 5),
            (256, 256, 4),
            (64, 6, 2),
        ] {
            let mut rng = StreamKey::new(rows as u64, &[]).lanes(0);
            let mut x = DMatrix::zeros(cols, k);
            law.fill_lanes(&mut rng, x.as_mut_slice());
            let (mut fused_rng, mut plain_rng) = (rng.clone(), rng);
            let (mut w, mut y) = (DMatrix::zeros(rows, cols), DMatrix::zeros(rows, k));
            products::forward_while_drawing(
                &law,
                &mut fused_rng,
                rows,
                w.as_mut_slice(),
                x.as_slice(),
                y.as_mut_slice(),
            );
            let mut w2 = DMatrix::zeros(rows, cols);
            law.fill_lanes(&mut plain_rng, w2.as_mut_slice());
            let mut y2 = DMatrix::zeros(rows, k);
            w2.mul_to(&x, &mut y2);
            let bits = |m: &DMatrix<f64>| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&w), bits(&w2), "{rows}x{cols}, {k} inputs");
            assert_eq!(bits(&y), bits(&y2), "{rows}x{cols}, {k} inputs");
            let next = |r: &mut Lanes| r.sample::<f64, _>(StandardNormal);
            assert_eq!(next(&mut fused_rng), next(&mut plain_rng));
        }
    }
}
