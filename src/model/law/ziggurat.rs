//! The standard normal by the ziggurat method, written out so that its fast
//! path inlines into the laws' fill loops, drawing exactly what rand_distr
//! 0.6's `StandardNormal` draws, bit for bit.
//!
//! Why not call `StandardNormal`: its `sample` is too large to inline, so
//! every draw paid a call and the generator's state went through memory,
//! and the normal draws were about half of the audit's sampling CPU. Here
//! the common case (about 99% of draws: one 64-bit word, a multiply by a
//! table entry, one comparison) is a few instructions inside the caller's
//! loop; the wedges and the tail are a cold function beside it.
//!
//! The algorithm is the ZIGNOR variant (Doornik 2005, "An Improved
//! Ziggurat Method to Generate Normal Random Samples") of Marsaglia and
//! Tsang's ziggurat, as rand_distr implements it: 256 layers of equal area
//! `v` under f(x) = exp(-x^2/2), the base layer being the box
//! [0, r] x [0, f(r)] plus the tail beyond r. One word gives both the layer
//! (its low 8 bits) and a uniform `u` in [-1, 1) (its high 52 bits); a draw
//! `u x_i` inside the next layer's width is accepted at once; otherwise the
//! base layer samples the tail (Marsaglia 1964), and the others test the
//! wedge against the density. Every draw consumes the words rand_distr's
//! consumes and does its arithmetic in its order, so the audit's streams
//! are today's.
//!
//! The tables are computed at first use from the two constants that define
//! them (rand_distr's generator script, `utils/ziggurat_tables.py`, with
//! Doornik's r and v), by the same recursion in the same order, so the
//! abscissae come out equal to rand_distr's typed ones on this platform's
//! libm (tested through the draws). The density table is f at those
//! abscissae; rand_distr's is the same values printed to 18 decimals,
//! which moves three entries by an ulp: a wedge test could decide
//! differently only if its uniform fell within an ulp of the threshold.

use std::sync::LazyLock;

use rand::distr::Open01;
use rand::{Rng, RngExt};

/// Layers of the ziggurat; a layer index is a word's low 8 bits.
const LAYERS: usize = 256;

/// Where the tail begins: the base layer's right edge (Doornik's r).
pub(super) const R: f64 = 3.654_152_885_361_009;

/// The area of every layer, the base layer's box and tail included
/// (Doornik's v, for 256 layers).
pub(super) const V: f64 = 0.004_928_673_233_99;

/// The unnormalised standard normal density, as the tables and the wedge
/// test evaluate it.
#[inline(always)]
pub(super) fn density(x: f64) -> f64 {
    (-x * x / 2.0).exp()
}

/// The layers' right edges and the density there.
pub struct Ziggurat {
    /// `x[0] = v / f(r)` (the base layer's box stretched to area v, so that
    /// its uniform covers the tail's share), `x[1] = r`, then each edge the
    /// one that gives the layer below it area v; `x[256] = 0`.
    pub(super) x: [f64; LAYERS + 1],
    /// `f(x[i])`; `f[256] = 1`.
    pub(super) f: [f64; LAYERS + 1],
}

pub(super) static TABLES: LazyLock<Ziggurat> = LazyLock::new(|| {
    let mut x = [0.0; LAYERS + 1];
    x[0] = V / density(R);
    x[1] = R;
    for i in 2..LAYERS {
        let below = x[i - 1];
        // the edge whose density is f(x[i-1]) + v / x[i-1]
        x[i] = (-2.0 * (V / below + density(below)).ln()).sqrt();
    }
    let f = x.map(density);
    Ziggurat { x, f }
});

impl Ziggurat {
    /// One standard normal draw, rand_distr's `StandardNormal` to the bit.
    #[inline(always)]
    pub fn draw<G: Rng + ?Sized>(&self, rng: &mut G) -> f64 {
        loop {
            let bits = rng.next_u64();
            let (i, u) = layer_and_uniform(bits);
            let x = u * self.x[i];
            if x.abs() < self.x[i + 1] {
                return x;
            }
            if let Some(x) = self.edge(rng, i, u, x) {
                return x;
            }
        }
    }

    /// [`Ziggurat::draw`] for a generator the caller holds in a local
    /// variable: the cold path gets a copy of it, so that no pointer to the
    /// local escapes and the compiler can keep the generator's state in
    /// registers across the caller's whole loop instead of storing it
    /// after every word. The same words, the same draws. The fastest loop a
    /// scalar generator allows: the sampler and the networks drew with it
    /// before the lane generator, and `benches/normals.rs` measures the
    /// lanes against it.
    #[inline(always)]
    pub fn draw_held<G: Rng + Clone>(&self, rng: &mut G) -> f64 {
        loop {
            let bits = rng.next_u64();
            let (i, u) = layer_and_uniform(bits);
            let x = u * self.x[i];
            if x.abs() < self.x[i + 1] {
                return x;
            }
            let mut copy = rng.clone();
            let edge = self.edge(&mut copy, i, u, x);
            *rng = copy;
            if let Some(x) = edge {
                return x;
            }
        }
    }

    /// A draw that fell outside the next layer's width: the tail when in
    /// the base layer, else the wedge test; `None` rejects it.
    #[cold]
    #[inline(never)]
    fn edge<G: Rng + ?Sized>(&self, rng: &mut G, i: usize, u: f64, x: f64) -> Option<f64> {
        if i == 0 {
            return Some(tail(rng, u));
        }
        let w: f64 = rng.random();
        (self.f[i + 1] + (self.f[i] - self.f[i + 1]) * w < density(x)).then_some(x)
    }
}

/// A word's layer (its low 8 bits) and a uniform in [-1, 1) from its high
/// 52 bits: a float in [2, 4) built from the bits as the mantissa, minus 3.
/// The 4 bits between are unused, as in rand_distr.
#[inline(always)]
fn layer_and_uniform(bits: u64) -> (usize, f64) {
    let two_to_four = f64::from_bits((bits >> 12) | (1024 << 52));
    ((bits & 0xff) as usize, two_to_four - 3.0)
}

/// Marsaglia's exact tail beyond r, on the side of `u`'s sign: with
/// x = ln(U1) / r <= 0 and y = ln(U2), accept when -2y >= x^2 and return
/// r - x (mirrored for a negative `u`).
pub(super) fn tail<G: Rng + ?Sized>(rng: &mut G, u: f64) -> f64 {
    // Written as rand_distr writes it (a while loop entered once by its
    // initial values), so the words consumed and the roundings match.
    let mut x = 1.0f64;
    let mut y = 0.0f64;
    while -2.0 * y < x * x {
        let x_: f64 = rng.sample(Open01);
        let y_: f64 = rng.sample(Open01);
        x = x_.ln() / R;
        y = y_.ln();
    }
    if u < 0.0 { x - R } else { R - x }
}
