//! The standard normal by the ziggurat method, written out so that its fast
//! path inlines into the laws' fill loops, drawing exactly what rand_distr
//! 0.6's `StandardNormal` draws, bit for bit.
//!
//! Why not call `StandardNormal`: its `sample` is too large to inline, so
//! every draw paid a call and the generator's state went through memory,
//! and the normal draws were about half of the audit's sampling CPU. Here
//! the common case (about 99% of draws: one 64-bit word, a multiply by a
//! table entry, one comparison) is a few instructions inside the caller's
//! loop; the wedges and the tail are a cold function beside it, and the
//! wedge test calls `exp` only for the draws its squeeze (a chord and a
//! tangent of exp, [`Squeeze`]) cannot decide with a margin wider than
//! every rounding, so it decides as `exp` would.
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
    exponent(x).exp()
}

/// The density's exponent -x^2/2, rounded as [`density`] rounds it (the
/// product rounded once, the halving exact): monotone in |x|, so a draw
/// between two edges has its exponent between theirs.
#[inline(always)]
fn exponent(x: f64) -> f64 {
    -x * x / 2.0
}

/// The layers' right edges and the density there.
pub struct Ziggurat {
    /// `x[0] = v / f(r)` (the base layer's box stretched to area v, so that
    /// its uniform covers the tail's share), `x[1] = r`, then each edge the
    /// one that gives the layer below it area v; `x[256] = 0`.
    pub(super) x: [f64; LAYERS + 1],
    /// `f(x[i])`; `f[256] = 1`.
    pub(super) f: [f64; LAYERS + 1],
    /// Each layer's squeeze of the density in its wedge ([`Squeeze`]).
    squeeze: [Squeeze; LAYERS],
}

/// Bounds on the density over a layer's wedge, in b = -x^2/2 (the
/// exponent the wedge test's `exp` takes): exp is convex, so on
/// [b_i, b_{i+1}] (b_i = -x[i]^2/2, as the tables round it) it lies below
/// its chord through (b_i, f[i]) and (b_{i+1}, f[i+1]) and above its
/// tangent at the midpoint m. A wedge draw whose threshold falls outside
/// both, by a relative margin far wider than every rounding involved, is
/// decided as `exp` would decide it, without calling it.
///
/// Why: the wedge test's libm `exp` was about a sixth of the vector fill's
/// time (a call of some 20 ns, 1.1% of the words). The bounds are a few
/// multiplies and decide over 99% of wedge draws.
#[derive(Clone, Copy, Default)]
struct Squeeze {
    /// b_i, the exponent at the layer's outer edge x[i].
    b: f64,
    /// The chord's slope, (f[i+1] - f[i]) / (b_{i+1} - b_i).
    slope: f64,
    /// The tangent's point m, midway between b_i and b_{i+1}...
    m: f64,
    /// ... and exp(m), the tangent's value and slope there.
    exp_m: f64,
}

/// The squeeze's relative margin, 2^-30. Its roundings: the chord and the
/// tangent are each a few operations on table entries that libm computed
/// to within an ulp, so each bound is within some 30 ulps (2^-47) of the
/// exact chord or tangent at the draw's b (the chord's error is relative
/// to max(f[i], f[i+1]), at most 2.2 times the value in the lowest
/// layer); libm's `exp` is within an ulp of exp(b) (glibc documents 1 ulp
/// for x86-64); the margin's own multiply one more rounding. 2^-30 covers
/// all of these many thousand times over, so a threshold below the tangent
/// by it is below `exp`'s value, and one above the chord by it is above.
const MARGIN: f64 = 1.0 / (1u64 << 30) as f64;

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
    let mut squeeze = [Squeeze::default(); LAYERS];
    // layer 0 has the tail beyond its rectangle, not a wedge
    for i in 1..LAYERS {
        let [b, next] = [x[i], x[i + 1]].map(exponent);
        let m = 0.5 * (b + next);
        squeeze[i] = Squeeze {
            b,
            slope: (f[i + 1] - f[i]) / (next - b),
            m,
            exp_m: m.exp(),
        };
    }
    Ziggurat { x, f, squeeze }
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
        self.wedge_accepts(i, x, w).then_some(x)
    }

    /// The wedge test of layer `i` (1 to 255) for the draw `x` (with
    /// x[i+1] <= |x| <= x[i]) and the uniform `w`: whether
    /// `f[i+1] + (f[i] - f[i+1]) w < density(x)`, decided by the squeeze
    /// where it can and by `exp` where the threshold is within the margin
    /// of a bound (see [`Squeeze`]).
    #[inline(always)]
    fn wedge_accepts(&self, i: usize, x: f64, w: f64) -> bool {
        let threshold = self.f[i + 1] + (self.f[i] - self.f[i + 1]) * w;
        let b = exponent(x);
        let Squeeze {
            b: b_i,
            slope,
            m,
            exp_m,
        } = self.squeeze[i];
        if threshold < exp_m * (1.0 + (b - m)) * (1.0 - MARGIN) {
            return true;
        }
        if threshold > (self.f[i] + slope * (b - b_i)) * (1.0 + MARGIN) {
            return false;
        }
        threshold < b.exp()
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// The wedge test as rand_distr writes it, with `exp` every time.
    fn by_exp(z: &Ziggurat, i: usize, x: f64, w: f64) -> bool {
        z.f[i + 1] + (z.f[i] - z.f[i + 1]) * w < density(x)
    }

    /// The uniform w at which a wedge draw's threshold equals `target`.
    fn w_at(z: &Ziggurat, i: usize, target: f64) -> f64 {
        ((target - z.f[i + 1]) / (z.f[i] - z.f[i + 1])).clamp(0.0, 1.0)
    }

    /// Every wedge layer, draws across its wedge (|u| from the next edge's
    /// ratio to 1, both signs), and uniforms w at random, at the exact
    /// threshold and at both bounds' margins (where a bound too tight by
    /// more than the roundings would decide wrongly), each with its 64
    /// neighbouring doubles: the squeeze decides as `exp` does. And it
    /// decides most random draws without `exp`.
    #[test]
    fn the_squeeze_decides_every_wedge_as_exp_does() {
        let z = &*TABLES;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(41);
        let (mut random, mut squeezed) = (0, 0);
        for i in 1..LAYERS {
            let inner = z.x[i + 1] / z.x[i];
            for k in 0..=64 {
                let u = inner + (1.0 - inner) * f64::from(k) / 64.0;
                for x in [u * z.x[i], -u * z.x[i]] {
                    if x.abs() < z.x[i + 1] || x.abs() > z.x[i] {
                        continue;
                    }
                    let b = exponent(x);
                    let Squeeze {
                        b: b_i,
                        slope,
                        m,
                        exp_m,
                    } = z.squeeze[i];
                    let lower = exp_m * (1.0 + (b - m)) * (1.0 - MARGIN);
                    let upper = (z.f[i] + slope * (b - b_i)) * (1.0 + MARGIN);
                    assert!(lower <= density(x) && density(x) <= upper, "{i} {x}");
                    let mut ws: Vec<f64> = (0..16).map(|_| rng.random()).collect();
                    random += ws.len();
                    squeezed += ws
                        .iter()
                        .filter(|&&w| {
                            let t = z.f[i + 1] + (z.f[i] - z.f[i + 1]) * w;
                            t < lower || t > upper
                        })
                        .count();
                    for target in [density(x), lower, upper] {
                        let mut w = w_at(z, i, target);
                        for _ in 0..32 {
                            w = w.next_down();
                        }
                        for _ in 0..64 {
                            ws.push(w);
                            w = w.next_up();
                        }
                    }
                    for w in ws.into_iter().filter(|w| (0.0..1.0).contains(w)) {
                        assert_eq!(z.wedge_accepts(i, x, w), by_exp(z, i, x, w), "{i} {x} {w}");
                    }
                }
            }
        }
        // measured: 99.7% of these (a grid of draws in every layer, not
        // weighted as the fill meets the layers) decided without exp
        assert!(squeezed * 100 > random * 95, "{squeezed} of {random}");
    }
}
