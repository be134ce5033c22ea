//! Eight xoshiro256++ streams advanced side by side, and the normal and
//! uniform fills that read them a vector at a time.
//!
//! Why: a normal draw on one scalar xoshiro256++ cost about 2.5 ns, 1.55 of
//! them the generator's serial dependency chain (every word needs the state
//! the previous word left), and the weights of the networks and the
//! sampler's base variables are mostly normal draws. Eight independent
//! generators have no chain between them: a refill advances all eight in
//! the same instructions (one AVX-512 register per state word, or two AVX2
//! registers of four lanes, or a scalar loop on other CPUs) and leaves
//! [`WORDS`] words in a buffer.
//!
//! The model: a [`Lanes`] is one stream of 64-bit words, the buffer read in
//! order, where a refill's words are lane 0's next word, lane 1's, ...,
//! lane 7's, then each lane's word after that, and so on. Everything is
//! defined on that word stream, whatever reads it: [`Lanes::fill_normal`]
//! gives exactly what [`Ziggurat::draw`](super::Ziggurat::draw) would give
//! drawing from the same stream word by word (and `fill_uniform` what
//! rand's `random::<f64>()` would), so the draws keep the exact ZIGNOR
//! algorithm and tables of `ziggurat.rs`, filling n then m values equals
//! filling n + m, and other laws draw through [`rand::Rng`] from the same
//! words.
//!
//! The vector fill only computes faster what that definition says: it takes
//! the next eight (AVX-512) or four (AVX2) words, forms their fast-path
//! candidates (layer from the low byte, the layer's two edges, multiply,
//! compare) and, if all are accepted, stores them; otherwise it keeps those
//! before the first rejected word, makes one scalar draw from that word
//! (the wedges and the tail consume the words after it as the scalar
//! algorithm does) and goes on from the next unread word. So the output
//! never depends on the CPU: the vector paths and the scalar path are the
//! same function of the words, and the words are integer arithmetic
//! (tested bit for bit on every path the CPU has, and each lane against
//! rand_xoshiro's own generator). The AVX-512 uniform fill does not go
//! through the buffer once it is spent: it steps the lanes in registers
//! and converts each step's eight words where they are made, the words a
//! refill would have buffered, in the same order. (The normal fill tried
//! the same and was slower: see [`Lanes::fill_normal`]'s AVX-512 path.)
//!
//! Why the lanes are independent: each lane is a xoshiro256++ generator
//! (period 2^256 - 1) started from its own state, and the states come from
//! distinct SplitMix64 outputs (see `StreamKey::lanes`); as for the
//! batches of `sample::stream`, two lanes' sequences would have to overlap
//! within the words a run draws, a chance of order words^2 / 2^256.

use std::convert::Infallible;

use rand::TryRng;

use super::ziggurat::{TABLES, Ziggurat};

/// Generators advanced together: two AVX2 registers of four 64-bit lanes,
/// so that each register's dependency chain hides the other's latency.
pub const LANES: usize = 8;

/// Words one refill leaves in the buffer (a multiple of [`LANES`]): enough
/// to amortise the refill's call, few enough to stay in L1 beside the
/// caller's data.
pub const WORDS: usize = 256;

/// Eight xoshiro256++ generators and the buffer of their next words.
#[derive(Clone)]
pub struct Lanes {
    /// The four state words of each lane: `state[k][j]` is word k of lane j,
    /// so one row is one register's worth of lanes.
    state: [[u64; LANES]; 4],
    words: [u64; WORDS],
    /// The next word to hand out; `WORDS` when the buffer is spent.
    next: usize,
}

impl Lanes {
    /// The generator whose lane j starts in xoshiro256++ state `states[j]`
    /// (rand_xoshiro's word order: `from_seed` of the four words in
    /// little-endian bytes).
    ///
    /// # Panics
    /// If a lane's state is all zero, the one state xoshiro never leaves.
    pub fn new(states: [[u64; 4]; LANES]) -> Lanes {
        assert!(
            states.iter().all(|s| s.iter().any(|&w| w != 0)),
            "a xoshiro256++ lane seeded with the all-zero state"
        );
        let mut state = [[0; LANES]; 4];
        for (j, s) in states.iter().enumerate() {
            for k in 0..4 {
                state[k][j] = s[k];
            }
        }
        Lanes {
            state,
            words: [0; WORDS],
            next: WORDS,
        }
    }

    /// The next word of the stream.
    #[inline(always)]
    fn word(&mut self) -> u64 {
        if self.next == WORDS {
            self.refill();
        }
        let w = self.words[self.next];
        self.next += 1;
        w
    }

    fn refill(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, just checked.
            unsafe { refill_avx512(&mut self.state, &mut self.words) };
            self.next = 0;
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, just checked.
            unsafe { refill_avx2(&mut self.state, &mut self.words) };
            self.next = 0;
            return;
        }
        refill_in(&mut self.state, &mut self.words);
        self.next = 0;
    }

    /// `out[i] = mean + sd * z_i` for standard normal draws z_i: the
    /// ziggurat of [`super::Ziggurat::draw`] on this stream's words.
    pub fn fill_normal(&mut self, mean: f64, sd: f64, out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, just checked.
            return unsafe { self.fill_normal_avx512(mean, sd, out) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, just checked.
            return unsafe { self.fill_normal_avx2(mean, sd, out) };
        }
        self.fill_normal_in(mean, sd, out)
    }

    /// The scalar ziggurat, word by word: the definition the vector path
    /// must match, and the path of a CPU without AVX2 (public so that the
    /// benchmark can time it on any CPU).
    pub fn fill_normal_in(&mut self, mean: f64, sd: f64, out: &mut [f64]) {
        let normal = &*TABLES;
        for x in out {
            *x = mean + sd * normal.draw(self);
        }
    }

    /// Four words at a time through the ziggurat's fast path: the layers'
    /// edges `[x[i], x[i + 1]]` loaded as pairs (two AVX2 gathers cost more
    /// on the CPUs measured), then the multiply and the comparison of every
    /// lane at once. A block with a rejected word goes back to one scalar
    /// draw from its first word (which reads the words after it as a wedge
    /// or the tail needs), and the blocks go on from the word after those.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn fill_normal_avx2(&mut self, mean: f64, sd: f64, out: &mut [f64]) {
        use std::arch::x86_64::{
            _CMP_LT_OQ, _mm_loadu_pd, _mm256_add_pd, _mm256_andnot_pd, _mm256_castpd128_pd256,
            _mm256_castsi256_pd, _mm256_cmp_pd, _mm256_insertf128_pd, _mm256_loadu_si256,
            _mm256_movemask_pd, _mm256_mul_pd, _mm256_or_si256, _mm256_set1_epi64x, _mm256_set1_pd,
            _mm256_srli_epi64, _mm256_storeu_pd, _mm256_sub_pd, _mm256_unpackhi_pd,
            _mm256_unpacklo_pd,
        };
        let normal = &*TABLES;
        let two = _mm256_set1_epi64x(1024 << 52);
        let three = _mm256_set1_pd(3.0);
        let sign = _mm256_set1_pd(-0.0);
        let (mean4, sd4) = (_mm256_set1_pd(mean), _mm256_set1_pd(sd));
        let mut k = 0;
        while k < out.len() {
            if self.next == WORDS {
                self.refill();
            }
            let blocks = ((WORDS - self.next) / 4).min((out.len() - k) / 4);
            let mut partial = 0;
            for _ in 0..blocks {
                let w = &self.words[self.next..self.next + 4];
                // [x[i], x[i + 1]] of each word's layer i (x has 257 entries)
                let layer = |l: usize| normal.x[layer_of(w, l)..][..2].as_ptr();
                // SAFETY: `w` holds four words and each `layer` two f64;
                // a block is only run where `k + 4 <= out.len()`.
                let accepted = unsafe {
                    let bits = _mm256_loadu_si256(w.as_ptr().cast());
                    let u = _mm256_sub_pd(
                        _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 12), two)),
                        three,
                    );
                    // lanes 0 and 2, and 1 and 3, of the pairs
                    let even = _mm256_insertf128_pd::<1>(
                        _mm256_castpd128_pd256(_mm_loadu_pd(layer(0))),
                        _mm_loadu_pd(layer(2)),
                    );
                    let odd = _mm256_insertf128_pd::<1>(
                        _mm256_castpd128_pd256(_mm_loadu_pd(layer(1))),
                        _mm_loadu_pd(layer(3)),
                    );
                    let z = _mm256_mul_pd(u, _mm256_unpacklo_pd(even, odd));
                    let next_edge = _mm256_unpackhi_pd(even, odd);
                    let inside = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_andnot_pd(sign, z), next_edge);
                    let v = _mm256_add_pd(mean4, _mm256_mul_pd(sd4, z));
                    _mm256_storeu_pd(out.as_mut_ptr().add(k), v);
                    _mm256_movemask_pd(inside) as u32
                };
                // Whole blocks advance by a constant, so that no block
                // waits for the last one's result (the branch lets the CPU
                // run ahead); a block with a rejection keeps the words
                // before it and ends the run.
                if accepted != 0xf {
                    partial = accepted.trailing_ones() as usize;
                    break;
                }
                self.next += 4;
                k += 4;
            }
            self.next += partial;
            k += partial;
            if k < out.len() {
                out[k] = mean + sd * normal.draw(self);
                k += 1;
            }
        }
    }

    /// [`Lanes::fill_normal_avx2`] eight words at a time, the pairs still
    /// loaded one by one (AVX-512's gathers were no faster on the CPU
    /// measured), and the last fewer than eight words of the buffer or of
    /// `out` in one masked block instead of one scalar draw each. Stepping
    /// the lanes in registers inside the fill, so that no word went through
    /// the buffer, measured 0.90 to 0.95x of this (the layer bytes then
    /// have to leave a vector register, and every rejected word left the
    /// register loop and came back): the refill stays a separate loop.
    /// A two-pass fill (every candidate and acceptance mask of the buffered
    /// run first, branch-free, then the scalar draws at the rejected words
    /// and the later candidates moved down) measured 0.94x of this: a
    /// rejected word's cost is its scalar draw, which both pay, not the
    /// block loop's exit (BENCHMARKS.md, session 6).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn fill_normal_avx512(&mut self, mean: f64, sd: f64, out: &mut [f64]) {
        use std::arch::x86_64::{
            _mm512_add_pd, _mm512_loadu_si512, _mm512_mask_storeu_pd, _mm512_maskz_loadu_epi64,
            _mm512_mul_pd, _mm512_set1_pd, _mm512_storeu_pd,
        };
        let normal = &*TABLES;
        let (mean8, sd8) = (_mm512_set1_pd(mean), _mm512_set1_pd(sd));
        let mut k = 0;
        while k < out.len() {
            if self.next == WORDS {
                self.refill();
            }
            let run = (WORDS - self.next).min(out.len() - k);
            // the words kept before a rejected one, if there is one
            let (kept, rejected) = if run >= LANES {
                let mut rejected = None;
                // in a local, so that it stays in a register
                let mut next = self.next;
                for _ in 0..run / LANES {
                    let w: &[u64; LANES] = self.words[next..][..LANES].try_into().unwrap();
                    // SAFETY: `w` holds eight words, and a block is only
                    // run where `k + 8 <= out.len()`.
                    let accepted = unsafe {
                        let (z, accepted) =
                            fast_path_avx512(normal, _mm512_loadu_si512(w.as_ptr().cast()), |l| {
                                layer_of(w, l)
                            });
                        let v = _mm512_add_pd(mean8, _mm512_mul_pd(sd8, z));
                        _mm512_storeu_pd(out.as_mut_ptr().add(k), v);
                        accepted
                    };
                    // Whole blocks advance by a constant, so that no block
                    // waits for the last one's result; a block with a
                    // rejection keeps the words before it and ends the run.
                    if accepted != 0xff {
                        rejected = Some(accepted.trailing_ones() as usize);
                        break;
                    }
                    next += LANES;
                    k += LANES;
                }
                self.next = next;
                (rejected.unwrap_or(0), rejected.is_some())
            } else {
                // Fewer than eight words left in the buffer (a rejection
                // moved the blocks off the steps of eight) or to fill: one
                // block over those lanes only, the others zero words of
                // layer 0 (in the table), masked out of the store.
                let valid = (1u8 << run) - 1;
                // SAFETY: the masked load reads only the `run` words left
                // in `words` after `next`; the masked store writes only
                // lanes below `run <= out.len() - k`.
                let kept = unsafe {
                    let bits =
                        _mm512_maskz_loadu_epi64(valid, self.words[self.next..].as_ptr().cast());
                    let words = &self.words[self.next..];
                    let (z, accepted) = fast_path_avx512(normal, bits, |l| {
                        if l < run { layer_of(words, l) } else { 0 }
                    });
                    let kept = (accepted | !valid).trailing_ones().min(run as u32);
                    let v = _mm512_add_pd(mean8, _mm512_mul_pd(sd8, z));
                    _mm512_mask_storeu_pd(out.as_mut_ptr().add(k), ((1u16 << kept) - 1) as u8, v);
                    kept as usize
                };
                (kept, kept < run)
            };
            self.next += kept;
            k += kept;
            if rejected {
                out[k] = mean + sd * normal.draw(self);
                k += 1;
            }
        }
    }

    /// `out[i] = lo + width * u_i` for rand's 53-bit uniforms u_i in [0, 1)
    /// (`random::<f64>()`: the word's top 53 bits times 2^-53).
    pub fn fill_uniform(&mut self, lo: f64, width: f64, out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the CPU has AVX-512F and DQ, just checked.
            return unsafe { self.fill_uniform_avx512(lo, width, out) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, just checked.
            return unsafe { self.fill_uniform_avx2(lo, width, out) };
        }
        self.fill_uniform_in(lo, width, out)
    }

    /// [`Lanes::fill_uniform`] with every word stored by a refill and
    /// loaded again by the conversion, as before the AVX-512 path: the
    /// same values, and the benchmark's baseline for the register steps.
    pub fn fill_uniform_buffered(&mut self, lo: f64, width: f64, out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, just checked.
            return unsafe { self.fill_uniform_avx2(lo, width, out) };
        }
        self.fill_uniform_in(lo, width, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn fill_uniform_avx2(&mut self, lo: f64, width: f64, out: &mut [f64]) {
        self.fill_uniform_in(lo, width, out)
    }

    /// The buffered words first, then whole xoshiro steps of all eight
    /// lanes in registers, converted where they are made (the words a
    /// refill would have buffered, in the same order: no store and reload
    /// between them), then the last fewer than eight from a refill.
    /// DQ's 64-bit conversion is exact on the 53 bits, so the doubles are
    /// `unit`'s.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn fill_uniform_avx512(&mut self, lo: f64, width: f64, out: &mut [f64]) {
        use std::arch::x86_64::{
            _mm512_add_pd, _mm512_cvtepu64_pd, _mm512_loadu_si512, _mm512_mul_pd, _mm512_set1_pd,
            _mm512_srli_epi64, _mm512_storeu_pd, _mm512_storeu_si512,
        };
        let buffered = (WORDS - self.next).min(out.len());
        let (head, rest) = out.split_at_mut(buffered);
        self.fill_uniform_in(lo, width, head);
        let (body, tail) = rest.split_at_mut(rest.len() / LANES * LANES);
        if !body.is_empty() {
            let (lo8, width8) = (_mm512_set1_pd(lo), _mm512_set1_pd(width));
            let scale = _mm512_set1_pd(1.0 / 9_007_199_254_740_992.0);
            // SAFETY: loads and stores of eight u64 (rows of `state`) and
            // of eight f64 (a chunk of `body`).
            unsafe {
                let mut s = [0, 1, 2, 3].map(|r| _mm512_loadu_si512(self.state[r].as_ptr().cast()));
                for chunk in body.chunks_exact_mut(LANES) {
                    let bits = step_avx512(&mut s);
                    let u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64::<11>(bits)), scale);
                    _mm512_storeu_pd(
                        chunk.as_mut_ptr(),
                        _mm512_add_pd(lo8, _mm512_mul_pd(width8, u)),
                    );
                }
                for (r, v) in s.into_iter().enumerate() {
                    _mm512_storeu_si512(self.state[r].as_mut_ptr().cast(), v);
                }
            }
        }
        self.fill_uniform_in(lo, width, tail);
    }

    /// Whole runs of buffered words at a time, so that the conversion loop
    /// has no refill test inside it and vectorises: the path of a CPU
    /// without AVX2 (public so that the benchmark can time it on any CPU).
    #[inline(always)]
    pub fn fill_uniform_in(&mut self, lo: f64, width: f64, out: &mut [f64]) {
        let mut k = 0;
        while k < out.len() {
            if self.next == WORDS {
                self.refill();
            }
            let run = (out.len() - k).min(WORDS - self.next);
            let words = &self.words[self.next..self.next + run];
            for (x, &w) in out[k..k + run].iter_mut().zip(words) {
                *x = lo + width * unit(w);
            }
            self.next += run;
            k += run;
        }
    }
}

/// Word `l`'s layer, its low byte, read from memory as a byte: left to
/// itself the compiler took the bytes out of the vector register holding
/// the words, one shuffle each, and shuffles run on one port, where byte
/// loads use two. The volatile read only keeps the load a load.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn layer_of(words: &[u64], l: usize) -> usize {
    let word = &words[l];
    // SAFETY: the first byte of a live u64, its low byte on little-endian
    // x86-64 (the only target of the vector paths that call this).
    usize::from(unsafe { std::ptr::read_volatile((word as *const u64).cast::<u8>()) })
}

/// The ziggurat's fast path for eight words, `bits` in a register and
/// `layer(l)` word l's layer (its low byte, which the caller takes from
/// wherever it is cheapest): each word's candidate `u x[i]` and the mask
/// of those inside the next layer's edge `x[i + 1]`, accepted as they
/// stand.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn fast_path_avx512(
    normal: &Ziggurat,
    bits: std::arch::x86_64::__m512i,
    layer: impl Fn(usize) -> usize,
) -> (std::arch::x86_64::__m512d, u8) {
    use std::arch::x86_64::{
        _CMP_LT_OQ, _mm_loadu_pd, _mm256_castpd128_pd256, _mm256_insertf128_pd, _mm512_abs_pd,
        _mm512_castpd256_pd512, _mm512_castsi512_pd, _mm512_cmp_pd_mask, _mm512_insertf64x4,
        _mm512_mul_pd, _mm512_or_si512, _mm512_set1_epi64, _mm512_set1_pd, _mm512_srli_epi64,
        _mm512_sub_pd, _mm512_unpackhi_pd, _mm512_unpacklo_pd,
    };
    let u = _mm512_sub_pd(
        _mm512_castsi512_pd(_mm512_or_si512(
            _mm512_srli_epi64::<12>(bits),
            _mm512_set1_epi64(1024 << 52),
        )),
        _mm512_set1_pd(3.0),
    );
    // SAFETY: each pair is two f64 of `x` (257 entries, a layer at most 255).
    let pair = |l: usize| unsafe { _mm_loadu_pd(normal.x[layer(l)..][..2].as_ptr()) };
    let quad =
        |a: usize, b: usize| _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(pair(a)), pair(b));
    // lanes 0, 2, 4, 6 and 1, 3, 5, 7 of the pairs
    let even = _mm512_insertf64x4::<1>(_mm512_castpd256_pd512(quad(0, 2)), quad(4, 6));
    let odd = _mm512_insertf64x4::<1>(_mm512_castpd256_pd512(quad(1, 3)), quad(5, 7));
    let z = _mm512_mul_pd(u, _mm512_unpacklo_pd(even, odd));
    let inside = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(z), _mm512_unpackhi_pd(even, odd));
    (z, inside)
}

/// rand's unit uniform from a word, `(w >> 11) as f64 * 2^-53`, computed
/// without an integer-to-float conversion (AVX2 has none for 64 bits): the
/// 53 bits as a high part of 32 and a low part of 21, each placed in the
/// mantissa of 2^52 and the 2^52 subtracted, all exact, so the value is
/// the same double.
#[inline(always)]
fn unit(w: u64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    const TWO_21: f64 = 2_097_152.0;
    const TWO_MINUS_53: f64 = 1.0 / 9_007_199_254_740_992.0;
    let exponent = TWO_52.to_bits();
    let high = f64::from_bits((w >> 32) | exponent) - TWO_52;
    let low = f64::from_bits(((w >> 11) & 0x1f_ffff) | exponent) - TWO_52;
    (high * TWO_21 + low) * TWO_MINUS_53
}

/// Advances every lane `WORDS / LANES` steps, writing each step's words in
/// lane order: xoshiro256++ (Blackman and Vigna) on each lane. One lane at
/// a time, so its four state words stay in registers; the next lane's
/// chain is independent, and the CPU overlaps them as far as it can.
fn refill_in(state: &mut [[u64; LANES]; 4], words: &mut [u64; WORDS]) {
    for j in 0..LANES {
        let [mut s0, mut s1, mut s2, mut s3] = [state[0][j], state[1][j], state[2][j], state[3][j]];
        for step in words.chunks_exact_mut(LANES) {
            step[j] = s0.wrapping_add(s3).rotate_left(23).wrapping_add(s0);
            let t = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t;
            s3 = s3.rotate_left(45);
        }
        [state[0][j], state[1][j], state[2][j], state[3][j]] = [s0, s1, s2, s3];
    }
}

/// [`refill_in`] with each state word of four lanes in one register, two
/// such groups interleaved so that one's dependency chain runs while the
/// other's waits. Integer operations lane by lane: the same words.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn refill_avx2(state: &mut [[u64; LANES]; 4], words: &mut [u64; WORDS]) {
    use std::arch::x86_64::{
        _mm256_add_epi64, _mm256_loadu_si256, _mm256_or_si256, _mm256_setzero_si256,
        _mm256_slli_epi64, _mm256_srli_epi64, _mm256_storeu_si256, _mm256_xor_si256,
    };
    macro_rules! rotl {
        ($x:expr, $l:literal, $r:literal) => {
            _mm256_or_si256(_mm256_slli_epi64::<$l>($x), _mm256_srli_epi64::<$r>($x))
        };
    }
    // SAFETY: every load and store is of four u64 inside `state` (rows of
    // eight) or `words` (steps of eight, `WORDS` a multiple of eight).
    unsafe {
        let mut s = [[_mm256_setzero_si256(); 4]; 2];
        for (h, group) in s.iter_mut().enumerate() {
            for (k, v) in group.iter_mut().enumerate() {
                *v = _mm256_loadu_si256(state[k].as_ptr().add(4 * h).cast());
            }
        }
        for step in words.chunks_exact_mut(LANES) {
            for (h, [s0, s1, s2, s3]) in s.iter_mut().enumerate() {
                let out = _mm256_add_epi64(rotl!(_mm256_add_epi64(*s0, *s3), 23, 41), *s0);
                _mm256_storeu_si256(step.as_mut_ptr().add(4 * h).cast(), out);
                let t = _mm256_slli_epi64::<17>(*s1);
                *s2 = _mm256_xor_si256(*s2, *s0);
                *s3 = _mm256_xor_si256(*s3, *s1);
                *s1 = _mm256_xor_si256(*s1, *s2);
                *s0 = _mm256_xor_si256(*s0, *s3);
                *s2 = _mm256_xor_si256(*s2, t);
                *s3 = rotl!(*s3, 45, 19);
            }
        }
        for (h, group) in s.iter().enumerate() {
            for (k, v) in group.iter().enumerate() {
                _mm256_storeu_si256(state[k].as_mut_ptr().add(4 * h).cast(), *v);
            }
        }
    }
}

/// [`refill_in`] with all eight lanes of a state word in one AVX-512
/// register, whose rotate is one instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn refill_avx512(state: &mut [[u64; LANES]; 4], words: &mut [u64; WORDS]) {
    use std::arch::x86_64::{_mm512_loadu_si512, _mm512_storeu_si512};
    // SAFETY: every load and store is of eight u64: a row of `state`, or a
    // step of `words` (`WORDS` a multiple of eight).
    unsafe {
        let mut s = [0, 1, 2, 3].map(|k| _mm512_loadu_si512(state[k].as_ptr().cast()));
        for step in words.chunks_exact_mut(LANES) {
            _mm512_storeu_si512(step.as_mut_ptr().cast(), step_avx512(&mut s));
        }
        for (k, v) in s.into_iter().enumerate() {
            _mm512_storeu_si512(state[k].as_mut_ptr().cast(), v);
        }
    }
}

/// One xoshiro256++ step of all eight lanes, the four state words in four
/// registers (`s[k]` holds word k of every lane): the eight lanes' next
/// words, and the state advanced past them. The rotates are one
/// instruction each.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn step_avx512(s: &mut [std::arch::x86_64::__m512i; 4]) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::{
        _mm512_add_epi64, _mm512_rol_epi64, _mm512_slli_epi64, _mm512_xor_si512,
    };
    let [s0, s1, s2, s3] = s;
    let out = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(*s0, *s3)), *s0);
    let t = _mm512_slli_epi64::<17>(*s1);
    *s2 = _mm512_xor_si512(*s2, *s0);
    *s3 = _mm512_xor_si512(*s3, *s1);
    *s1 = _mm512_xor_si512(*s1, *s2);
    *s0 = _mm512_xor_si512(*s0, *s3);
    *s2 = _mm512_xor_si512(*s2, t);
    *s3 = _mm512_rol_epi64::<45>(*s3);
    out
}

/// The lanes' states and the place in the buffer; the 256 buffered words
/// are left out of the printout.
impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("state", &self.state)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// The word stream as a [`rand::Rng`], for every law without a vector fill.
impl TryRng for Lanes {
    type Error = Infallible;

    #[inline(always)]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        // The high half, as rand_xoshiro takes it: the low bits of the ++
        // scrambler are its weakest.
        Ok((self.word() >> 32) as u32)
    }

    #[inline(always)]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.word())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.word().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// Lane states from SplitMix64, as `StreamKey::lanes` takes them.
    fn seeded(seed: u64) -> Lanes {
        let mut sm = rand_xoshiro::SplitMix64::seed_from_u64(seed);
        Lanes::new(std::array::from_fn(|_| {
            std::array::from_fn(|_| sm.next_u64())
        }))
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn each_lane_is_rand_xoshiros_generator() {
        let mut sm = rand_xoshiro::SplitMix64::seed_from_u64(99);
        let states: [[u64; 4]; LANES] =
            std::array::from_fn(|_| std::array::from_fn(|_| sm.next_u64()));
        let mut lanes = Lanes::new(states);
        let mut singles: Vec<Xoshiro256PlusPlus> = states
            .iter()
            .map(|s| {
                let mut seed = [0u8; 32];
                for (b, w) in seed.chunks_exact_mut(8).zip(s) {
                    b.copy_from_slice(&w.to_le_bytes());
                }
                Xoshiro256PlusPlus::from_seed(seed)
            })
            .collect();
        // three refills' worth, so the state carries across refills
        for _ in 0..3 * WORDS / LANES {
            for single in &mut singles {
                assert_eq!(lanes.next_u64(), single.next_u64());
            }
        }
    }

    /// The refills this CPU can run, each against the baseline.
    #[test]
    fn the_baseline_and_vector_refills_agree_bit_for_bit() {
        let lanes = seeded(4);
        type Refill = fn(&mut [[u64; LANES]; 4], &mut [u64; WORDS]);
        let mut paths: Vec<(&str, Refill)> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, just checked.
                paths.push(("avx2", |s, w| unsafe { refill_avx2(s, w) }));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, just checked.
                paths.push(("avx512", |s, w| unsafe { refill_avx512(s, w) }));
            }
        }
        for (name, refill) in paths {
            let (mut a, mut b) = (lanes.state, lanes.state);
            let (mut wa, mut wb) = ([0; WORDS], [0; WORDS]);
            for _ in 0..4 {
                refill_in(&mut a, &mut wa);
                refill(&mut b, &mut wb);
                assert_eq!(wa, wb, "{name}");
                assert_eq!(a, b, "{name}");
            }
        }
    }

    /// Lengths around the vector width and the buffer, so blocks straddle
    /// refills and the scalar tail runs.
    const LENGTHS: [usize; 7] = [0, 1, 3, 4, 255, 257, 5000];

    #[test]
    fn the_normal_fill_is_the_scalar_ziggurat_on_the_same_words() {
        let normal = &*TABLES;
        for (seed, n) in LENGTHS.into_iter().enumerate() {
            let mut lanes = seeded(seed as u64);
            let mut reference = lanes.clone();
            let mut got = vec![0.0; n];
            lanes.fill_normal(0.25, 1.5, &mut got);
            let want: Vec<f64> = (0..n)
                .map(|_| 0.25 + 1.5 * normal.draw(&mut reference))
                .collect();
            assert_eq!(bits(&got), bits(&want), "{n}");
            // and the stream goes on from the same word
            assert_eq!(lanes.next_u64(), reference.next_u64());
        }
    }

    type Fill = fn(&mut Lanes, f64, f64, &mut [f64]);

    /// The vector normal fills this CPU can run.
    fn vector_normal_fills() -> Vec<(&'static str, Fill)> {
        let mut paths: Vec<(&str, Fill)> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, just checked.
                paths.push(("avx2", |l, m, s, o| unsafe { l.fill_normal_avx2(m, s, o) }));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, just checked.
                paths.push(("avx512", |l, m, s, o| unsafe {
                    l.fill_normal_avx512(m, s, o)
                }));
            }
        }
        paths
    }

    /// The word that puts a fast-path candidate in `layer` with uniform
    /// `u` in [-1, 1): `u + 3` in [2, 4) has its mantissa in the word's
    /// high 52 bits (as `layer_and_uniform` reads it).
    fn forced(layer: usize, u: f64) -> u64 {
        let mantissa = (u + 3.0).to_bits() & ((1u64 << 52) - 1);
        (mantissa << 12) | layer as u64
    }

    /// A word the fast path rejects, and what follows it: the tail (layer
    /// 0 with |u| near 1, beyond r = 3.65 in a box 3.91 wide), or a wedge
    /// (|u| near 1 in layers 1 to 255) whose next word, its uniform w,
    /// rejects it (w = 0: the threshold f[i+1] is above the density
    /// there, so the scalar code draws a whole new word) or accepts it
    /// (w near 1: the threshold near f[i] is below it) or is left random.
    fn plant(words: &mut [u64], at: usize, sm: &mut rand_xoshiro::SplitMix64) {
        let u = if sm.next_u64().is_multiple_of(2) {
            0.999_999
        } else {
            -0.999_999
        };
        let layer = if sm.next_u64().is_multiple_of(4) {
            0
        } else {
            1 + (sm.next_u64() % 255) as usize
        };
        words[at] = forced(layer, u);
        if at + 1 < words.len() {
            match sm.next_u64() % 3 {
                0 => words[at + 1] = 0,
                1 => words[at + 1] = u64::MAX,
                _ => {}
            }
        }
    }

    /// The forced words are what they claim: the scalar code leaves the
    /// fast path at each, and reads more than one word for it.
    #[test]
    fn planted_words_leave_the_fast_path() {
        let normal = &*TABLES;
        let mut sm = rand_xoshiro::SplitMix64::seed_from_u64(41);
        for _ in 0..200 {
            let mut lanes = seeded(sm.next_u64());
            lanes.refill();
            plant(&mut lanes.words, 0, &mut sm);
            let mut counted = Counted(&mut lanes, 0);
            normal.draw(&mut counted);
            assert!(counted.1 > 1, "{} words", counted.1);
        }
    }

    /// The vector fills against the scalar ziggurat on buffers where one word in eight is planted to leave the
    /// fast path, so that rejections come close together, at every place
    /// in a block, right after one another and among the words a wedge or
    /// the tail reads; every length from 1 to 600 (inside one block, ending
    /// mid-buffer, across two refills) from a random place in the buffer.
    #[test]
    fn fills_with_forced_wedges_and_tails_are_the_scalar_ziggurat() {
        let mut sm = rand_xoshiro::SplitMix64::seed_from_u64(59);
        let mut out = vec![0.0; 600];
        let mut want = vec![0.0; 600];
        for (name, fill) in vector_normal_fills() {
            for seed in 0..3 {
                for n in 1..=600 {
                    let mut lanes = seeded(1000 * seed + n as u64);
                    lanes.refill();
                    lanes.next = (sm.next_u64() % WORDS as u64) as usize;
                    for at in 0..WORDS {
                        if sm.next_u64() % 8 == 0 {
                            plant(&mut lanes.words, at, &mut sm);
                        }
                    }
                    let mut reference = lanes.clone();
                    fill(&mut lanes, 0.5, -2.0, &mut out[..n]);
                    reference.fill_normal_in(0.5, -2.0, &mut want[..n]);
                    assert_eq!(bits(&out[..n]), bits(&want[..n]), "{name}, {n}");
                    assert_eq!(lanes.next_u64(), reference.next_u64(), "{name}, {n}");
                }
            }
        }
    }

    /// Rejected words at the buffer's end: a wedge or the tail at the last
    /// word reads its uniforms from the next refill; a wedge accepted by
    /// the last word ends exactly at the buffer's end; a rejected wedge
    /// there draws its new word from the next refill. Fills of 1 to 24
    /// from each of the last 16 words, so the run ends before, at and
    /// after the rejected words.
    #[test]
    fn rejections_at_the_refill_boundary_are_the_scalar_ziggurat() {
        let normal = &*TABLES;
        let wedge = forced(7, 0.999_999);
        let tail = forced(0, -0.999_999);
        let ends: [&[u64]; 6] = [
            &[tail],
            &[wedge],
            &[wedge, u64::MAX],
            &[wedge, 0],
            &[wedge, 0, wedge],
            &[tail, wedge, 0, tail],
        ];
        let mut out = [0.0; 24];
        for (name, fill) in vector_normal_fills() {
            for (e, end) in ends.iter().enumerate() {
                for start in WORDS - 16..WORDS {
                    for n in 1..=24 {
                        let mut lanes = seeded(e as u64);
                        lanes.refill();
                        lanes.words[WORDS - end.len()..].copy_from_slice(end);
                        lanes.next = start;
                        let mut reference = lanes.clone();
                        fill(&mut lanes, 0.0, 1.0, &mut out[..n]);
                        for (i, &got) in out[..n].iter().enumerate() {
                            let want = normal.draw(&mut reference);
                            let at = format!("{name}, end {e}, start {start}, {n}: {i}");
                            assert_eq!(got.to_bits(), want.to_bits(), "{at}");
                        }
                        assert_eq!(lanes.next_u64(), reference.next_u64(), "{name}");
                    }
                }
            }
        }
    }

    /// The normal fills this CPU can run, each against the baseline, on
    /// enough draws that thousands of blocks hold a rejected word, and on
    /// lengths that end inside a block.
    #[test]
    fn the_baseline_and_vector_normal_fills_agree_bit_for_bit() {
        for (name, fill) in vector_normal_fills() {
            for n in [200_000, 13, 4099] {
                let lanes = seeded(17 + n as u64);
                let (mut a, mut b) = (lanes.clone(), lanes);
                let (mut va, mut vb) = (vec![0.0; n], vec![0.0; n]);
                fill(&mut a, -1.0, 0.5, &mut va);
                b.fill_normal_in(-1.0, 0.5, &mut vb);
                assert_eq!(bits(&va), bits(&vb), "{name}, {n}");
                // and the streams go on from the same word, across a
                // refill (the AVX-512 path leaves the buffer elsewhere)
                for _ in 0..2 * WORDS {
                    assert_eq!(a.next_u64(), b.next_u64(), "{name}, {n}");
                }
            }
        }
    }

    /// Fills of every length from 1 to 40 in a shuffled order, so that
    /// the AVX-512 path's register steps, its blocks over the buffer and
    /// its masked blocks of fewer than eight words meet rejections at
    /// every place in a step: the values and the words after them are the
    /// scalar ziggurat's.
    #[test]
    fn fills_of_every_short_length_are_the_scalar_ziggurat() {
        let normal = &*TABLES;
        let mut sm = rand_xoshiro::SplitMix64::seed_from_u64(23);
        let mut lanes = seeded(29);
        let mut reference = lanes.clone();
        let mut out = [0.0; 40];
        // about 40,000 draws: some 500 of them rejected by the fast path
        for _ in 0..2000 {
            let n = 1 + (sm.next_u64() % 40) as usize;
            lanes.fill_normal(0.5, 2.0, &mut out[..n]);
            for &got in &out[..n] {
                let want = 0.5 + 2.0 * normal.draw(&mut reference);
                assert_eq!(got.to_bits(), want.to_bits(), "length {n}");
            }
            if sm.next_u64() % 8 == 0 {
                // a word read between the fills, as another law would
                assert_eq!(lanes.next_u64(), reference.next_u64());
            }
        }
    }

    #[test]
    fn fills_in_pieces_are_one_fill() {
        let pieces = [1usize, 7, 4, 300, 2, 1000, 3];
        let total: usize = pieces.iter().sum();
        let mut whole = seeded(5);
        let mut parts = whole.clone();
        let (mut a, mut b) = (vec![0.0; total], vec![0.0; total]);
        whole.fill_normal(0.0, 1.0, &mut a);
        let mut at = 0;
        for p in pieces {
            parts.fill_normal(0.0, 1.0, &mut b[at..at + p]);
            at += p;
        }
        assert_eq!(bits(&a), bits(&b));
        whole.fill_uniform(-2.0, 3.0, &mut a);
        let mut at = 0;
        for p in pieces {
            parts.fill_uniform(-2.0, 3.0, &mut b[at..at + p]);
            at += p;
        }
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn the_uniform_fill_is_rands_random_f64() {
        for (seed, n) in LENGTHS.into_iter().enumerate() {
            let mut lanes = seeded(100 + seed as u64);
            let mut reference = lanes.clone();
            let mut got = vec![0.0; n];
            lanes.fill_uniform(-3.0, 4.5, &mut got);
            let want: Vec<f64> = (0..n)
                .map(|_| -3.0 + 4.5 * reference.random::<f64>())
                .collect();
            assert_eq!(bits(&got), bits(&want), "{n}");
            let mut plain = seeded(100 + seed as u64);
            let mut scalar = vec![0.0; n];
            plain.fill_uniform_in(-3.0, 4.5, &mut scalar);
            assert_eq!(bits(&scalar), bits(&want), "{n}");
            let mut buffered = seeded(100 + seed as u64);
            buffered.fill_uniform_buffered(-3.0, 4.5, &mut scalar);
            assert_eq!(bits(&scalar), bits(&want), "{n}");
            // and the streams go on from the same word, across a refill
            // (the AVX-512 path leaves the buffer elsewhere)
            for _ in 0..2 * WORDS {
                let next = reference.next_u64();
                assert_eq!(lanes.next_u64(), next, "{n}");
                assert_eq!(plain.next_u64(), next, "{n}");
                assert_eq!(buffered.next_u64(), next, "{n}");
            }
        }
    }

    #[test]
    fn the_unit_uniform_is_the_top_53_bits_exactly() {
        let scale = 1.0 / (1u64 << 53) as f64;
        let mut sm = rand_xoshiro::SplitMix64::seed_from_u64(3);
        let edges = [
            0,
            1,
            (1 << 11) - 1,
            1 << 11,
            1 << 32,
            u64::MAX,
            u64::MAX - 1,
        ];
        for w in edges.into_iter().chain((0..10_000).map(|_| sm.next_u64())) {
            assert_eq!(
                unit(w).to_bits(),
                ((w >> 11) as f64 * scale).to_bits(),
                "{w:#x}"
            );
        }
        assert!(unit(u64::MAX) < 1.0);
    }

    /// Counts the words a draw takes: one for the fast path, more when it
    /// went through a wedge or the tail.
    struct Counted<'a>(&'a mut Lanes, usize);

    impl TryRng for Counted<'_> {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok((self.try_next_u64()? >> 32) as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            self.1 += 1;
            Ok(self.0.next_u64())
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Infallible> {
            unreachable!("the ziggurat reads words")
        }
    }

    #[test]
    fn wedges_and_the_tail_are_reached_and_exact() {
        // 2^20 draws: the tail beyond r has probability 2 Q(r) = 2.6e-4 per
        // draw (about 270 expected) and a word misses the fast path with
        // probability about 1.2% (over 10,000 expected); both must give
        // the scalar ziggurat's values, draw by draw.
        let normal = &*TABLES;
        let n = 1 << 20;
        let mut lanes = seeded(11);
        let mut reference = lanes.clone();
        let mut got = vec![0.0; n];
        lanes.fill_normal(0.0, 1.0, &mut got);
        let (mut tail, mut wedge) = (0, 0);
        for &g in &got {
            let mut counted = Counted(&mut reference, 0);
            let want = normal.draw(&mut counted);
            assert_eq!(g.to_bits(), want.to_bits());
            if counted.1 > 1 {
                if want.abs() > super::super::ziggurat::R {
                    tail += 1;
                } else {
                    wedge += 1;
                }
            }
        }
        assert!(tail > 150, "{tail} draws reached the tail");
        assert!(wedge > 5_000, "{wedge} draws left the fast path");
    }
}
