//! The two matrix products of a draw with few inputs, in nalgebra's order
//! of operations and at the machine's vector width.
//!
//! With k <= 5 inputs a layer's products are k matrix-vector products: the
//! forward y = W x and the backward W^T dy. nalgebra computes both as
//! columns of W against each input (`gemv`: y = W[:,0] x_0, then
//! += W[:,j] x_j in order of j; `tr_mul_to`: one `dot` per column of W and
//! input, eight partial sums). Those orders fix the bits of every statistic,
//! so they are kept exactly, and only the loops around them change:
//!
//! - forward: W is drawn [`BLOCK`] columns at a time and each output is
//!   updated by the block's columns while it is in a register, instead of
//!   being loaded and stored once per column;
//! - both are compiled for the baseline x86-64 (two doubles a vector),
//!   with AVX2 (four) and with AVX-512 (eight), chosen at run time.
//!   Multiplications and additions stay separate (Rust never fuses them,
//!   and the intrinsic paths call them apart), so every path gives the
//!   same bits;
//! - with AVX-512 one register holds all eight partial sums of a `dot`, so
//!   W^T dy needs half AVX2's instructions and is then bound by reading W:
//!   a deep draw's weights (15 MiB for he-30) come from L3 in the backward
//!   pass. Two columns of W go through one pass against up to eight inputs
//!   (sixteen independent chains of additions, dy loaded once per two
//!   columns) while the next two columns are prefetched.

use crate::model::law::{Lanes, Law};

/// Columns of W drawn and applied together: the block (4 x 2 KiB at width
/// 256) stays in L1 while every input's output passes over it once.
pub const BLOCK: usize = 4;

/// Draws W (`rows` x `cols`, column-major, in the order one `Law::fill` of
/// the whole matrix takes its numbers) and computes y = W x for the k
/// columns of x (`cols` x k) into y (`rows` x k), each entry as
/// `W[i,0] x[0]` then `+= W[i,j] x[j]` in order of j: the arithmetic of
/// nalgebra's `gemv`.
pub fn forward_while_drawing(
    law: &Law,
    rng: &mut Lanes,
    rows: usize,
    w: &mut [f64],
    x: &[f64],
    y: &mut [f64],
) {
    let cols = w.len() / rows;
    for (block, ws) in w.chunks_mut(rows * BLOCK).enumerate() {
        law.fill_lanes(rng, ws);
        accumulate(rows, cols, block * BLOCK, ws, x, y);
    }
}

/// y[:, c] (+)= the block's columns times x[j0.., c], for every input c.
fn accumulate(rows: usize, cols: usize, j0: usize, ws: &[f64], x: &[f64], y: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512, just checked.
        return unsafe { accumulate_avx512(rows, cols, j0, ws, x, y) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, just checked.
        return unsafe { accumulate_avx2(rows, cols, j0, ws, x, y) };
    }
    accumulate_in(rows, cols, j0, ws, x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn accumulate_avx2(rows: usize, cols: usize, j0: usize, ws: &[f64], x: &[f64], y: &mut [f64]) {
    accumulate_in(rows, cols, j0, ws, x, y)
}

/// [`accumulate_in`] eight rows at a time, written with intrinsics: one
/// 8-lane register per output and W's four columns loaded once per eight
/// rows. Each lane does what the scalar loop does to its row, a
/// multiplication and then an addition, so the bits are the same; a block
/// narrower than [`BLOCK`] (the last, when the columns are not a multiple)
/// takes the plain loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn accumulate_avx512(rows: usize, cols: usize, j0: usize, ws: &[f64], x: &[f64], y: &mut [f64]) {
    use std::arch::x86_64::{
        _mm512_add_pd, _mm512_loadu_pd, _mm512_mul_pd, _mm512_set1_pd, _mm512_storeu_pd,
    };
    if ws.len() != rows * BLOCK {
        return accumulate_in(rows, cols, j0, ws, x, y);
    }
    let (w0, rest) = ws.split_at(rows);
    let (w1, rest) = rest.split_at(rows);
    let (w2, w3) = rest.split_at(rows);
    let first = j0 == 0;
    let whole = rows / 8 * 8;
    for (c, out) in y.chunks_exact_mut(rows).enumerate() {
        let xc = &x[c * cols + j0..c * cols + j0 + BLOCK];
        let [x0, x1, x2, x3] = [xc[0], xc[1], xc[2], xc[3]];
        let [v0, v1, v2, v3] = [x0, x1, x2, x3].map(|v| _mm512_set1_pd(v));
        for at in (0..whole).step_by(8) {
            // SAFETY: at + 8 <= rows, the length of `out` and of each
            // column.
            unsafe {
                let o = out.as_mut_ptr().add(at);
                let mut acc = _mm512_mul_pd(_mm512_loadu_pd(w0.as_ptr().add(at)), v0);
                if !first {
                    acc = _mm512_add_pd(_mm512_loadu_pd(o), acc);
                }
                acc = _mm512_add_pd(acc, _mm512_mul_pd(_mm512_loadu_pd(w1.as_ptr().add(at)), v1));
                acc = _mm512_add_pd(acc, _mm512_mul_pd(_mm512_loadu_pd(w2.as_ptr().add(at)), v2));
                acc = _mm512_add_pd(acc, _mm512_mul_pd(_mm512_loadu_pd(w3.as_ptr().add(at)), v3));
                _mm512_storeu_pd(o, acc);
            }
        }
        for i in whole..rows {
            let mut acc = if first {
                w0[i] * x0
            } else {
                out[i] + w0[i] * x0
            };
            acc += w1[i] * x1;
            acc += w2[i] * x2;
            out[i] = acc + w3[i] * x3;
        }
    }
}

#[inline(always)]
fn accumulate_in(rows: usize, cols: usize, j0: usize, ws: &[f64], x: &[f64], y: &mut [f64]) {
    let width = ws.len() / rows;
    for (c, out) in y.chunks_exact_mut(rows).enumerate() {
        let xc = &x[c * cols + j0..c * cols + j0 + width];
        if width == BLOCK {
            let (w0, rest) = ws.split_at(rows);
            let (w1, rest) = rest.split_at(rows);
            let (w2, w3) = rest.split_at(rows);
            let [x0, x1, x2, x3] = [xc[0], xc[1], xc[2], xc[3]];
            let first = j0 == 0;
            for ((((o, a), b), d), e) in out.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
                let mut acc = if first { a * x0 } else { *o + a * x0 };
                acc += b * x1;
                acc += d * x2;
                *o = acc + e * x3;
            }
        } else {
            for (jj, (column, xj)) in ws.chunks_exact(rows).zip(xc).enumerate() {
                if j0 + jj == 0 {
                    for (o, wv) in out.iter_mut().zip(column) {
                        *o = wv * xj;
                    }
                } else {
                    for (o, wv) in out.iter_mut().zip(column) {
                        *o += wv * xj;
                    }
                }
            }
        }
    }
}

/// back = W^T dy: W is `rows` x `cols`, dy `rows` x k, back `cols` x k,
/// all column-major; every entry is nalgebra's `dot` of a column of W and
/// one of dy (what `tr_mul_to` computes), bit for bit.
pub fn transpose_times(rows: usize, w: &[f64], dy: &[f64], back: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512, just checked.
        return unsafe { transpose_times_avx512(rows, w, dy, back) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, just checked.
        return unsafe { transpose_times_avx2(rows, w, dy, back) };
    }
    transpose_times_in(rows, w, dy, back)
}

/// [`transpose_times_in`] with the eight partial sums of each dot product
/// in two 4-lane registers, written with intrinsics: left to itself the
/// compiler vectorised across the four inputs instead, with a shuffle per
/// product. Each lane is one partial sum, updated by a multiplication and
/// then an addition as in the scalar loop, so the bits are the same.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn transpose_times_avx2(rows: usize, w: &[f64], dy: &[f64], back: &mut [f64]) {
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_setzero_pd, _mm256_storeu_pd,
    };
    let cols = w.len() / rows;
    let k = dy.len() / rows;
    let blocks = rows / 8;
    let mut c = 0;
    while c < k {
        let group = (k - c).min(4);
        for (j, a) in w.chunks_exact(rows).enumerate() {
            let mut lo: [__m256d; 4] = [_mm256_setzero_pd(); 4];
            let mut hi: [__m256d; 4] = [_mm256_setzero_pd(); 4];
            for i in 0..blocks {
                let x = &a[i * 8..i * 8 + 8];
                // SAFETY: `x` and each `y` hold eight values, read as two
                // unaligned groups of four.
                let (xl, xh) = unsafe {
                    (
                        _mm256_loadu_pd(x.as_ptr()),
                        _mm256_loadu_pd(x.as_ptr().add(4)),
                    )
                };
                for g in 0..group {
                    let start = (c + g) * rows + i * 8;
                    let y = &dy[start..start + 8];
                    let (yl, yh) = unsafe {
                        (
                            _mm256_loadu_pd(y.as_ptr()),
                            _mm256_loadu_pd(y.as_ptr().add(4)),
                        )
                    };
                    lo[g] = _mm256_add_pd(lo[g], _mm256_mul_pd(xl, yl));
                    hi[g] = _mm256_add_pd(hi[g], _mm256_mul_pd(xh, yh));
                }
            }
            for g in 0..group {
                let mut sums = [0.0f64; 8];
                // SAFETY: `sums` holds eight values.
                unsafe {
                    _mm256_storeu_pd(sums.as_mut_ptr(), lo[g]);
                    _mm256_storeu_pd(sums.as_mut_ptr().add(4), hi[g]);
                }
                let d = &dy[(c + g) * rows..(c + g + 1) * rows];
                back[(c + g) * cols + j] = combine(&sums, &a[blocks * 8..], &d[blocks * 8..]);
            }
        }
        c += group;
    }
}

/// [`transpose_times_in`] with all eight partial sums of a dot product in
/// one 8-lane register, written with intrinsics. Two columns of W pass
/// together against up to eight inputs, so each column of dy is loaded
/// once per two columns of W and a pass keeps up to sixteen independent
/// chains of additions (one per column and input) in flight, where one
/// column against four inputs would wait on the additions' latency. Each
/// lane is one partial sum, updated by a multiplication and then an
/// addition as in the scalar loop, so the bits are the same.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn transpose_times_avx512(rows: usize, w: &[f64], dy: &[f64], back: &mut [f64]) {
    let cols = w.len() / rows;
    let k = dy.len() / rows;
    let mut c = 0;
    while c < k {
        let group = (k - c).min(8);
        let d = &dy[c * rows..(c + group) * rows];
        let out = &mut back[c * cols..(c + group) * cols];
        match group {
            1 => columns_avx512::<1>(rows, w, d, out),
            2 => columns_avx512::<2>(rows, w, d, out),
            3 => columns_avx512::<3>(rows, w, d, out),
            4 => columns_avx512::<4>(rows, w, d, out),
            5 => columns_avx512::<5>(rows, w, d, out),
            6 => columns_avx512::<6>(rows, w, d, out),
            7 => columns_avx512::<7>(rows, w, d, out),
            _ => columns_avx512::<8>(rows, w, d, out),
        }
        c += group;
    }
}

/// `out` (`cols` x G) = W^T `dy` for G columns of dy: W's columns two at a
/// time, the last alone when their number is odd.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn columns_avx512<const G: usize>(rows: usize, w: &[f64], dy: &[f64], out: &mut [f64]) {
    let cols = w.len() / rows;
    let blocks = rows / 8;
    let mut j = 0;
    while j < cols {
        let pair = cols - j >= 2;
        // From column j to W's end: the pass reads the first one or two
        // columns and prefetches the next ones.
        let a = &w[j * rows..];
        if pair {
            let sums = partial_sums_avx512::<2, G>(rows, a, dy);
            for (jj, (s, column)) in sums.iter().zip(a.chunks_exact(rows)).enumerate() {
                finish(rows, blocks, s, column, dy, out, cols, j + jj);
            }
        } else {
            let sums = partial_sums_avx512::<1, G>(rows, a, dy);
            finish(rows, blocks, &sums[0], &a[..rows], dy, out, cols, j);
        }
        j += 2;
    }
}

/// Writes the dot products of one column of W with each of dy's columns
/// from their partial sums: nalgebra's combination and tail ([`combine`]).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn finish<const G: usize>(
    rows: usize,
    blocks: usize,
    sums: &[[f64; 8]; G],
    column: &[f64],
    dy: &[f64],
    out: &mut [f64],
    cols: usize,
    j: usize,
) {
    for (g, s) in sums.iter().enumerate() {
        let d = &dy[g * rows..(g + 1) * rows];
        out[g * cols + j] = combine(s, &column[blocks * 8..], &d[blocks * 8..]);
    }
}

/// The eight partial sums of the dot product of each of the first J
/// columns in `a` with each of the G columns in `dy` (all `rows` long),
/// over `rows / 8` blocks of eight: lane t of a register is partial sum t.
/// W is too large for L2 in a deep draw (he-30 holds 15 MiB of weights),
/// so its loads wait on L3 (a profile put three quarters of the loop's
/// time on the multiplications reading them): while one pass reads its
/// columns it prefetches the same lines of the next J columns, which
/// measured 7% less CPU for all of he-30 than leaving it to the hardware
/// (benches/products.rs and BENCHMARKS.md have the figures).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn partial_sums_avx512<const J: usize, const G: usize>(
    rows: usize,
    a: &[f64],
    dy: &[f64],
) -> [[[f64; 8]; G]; J] {
    use std::arch::x86_64::{
        __m512d, _MM_HINT_T0, _mm_prefetch, _mm512_add_pd, _mm512_loadu_pd, _mm512_mul_pd,
        _mm512_setzero_pd, _mm512_storeu_pd,
    };
    assert!(a.len() >= J * rows && dy.len() >= G * rows);
    let mut acc: [[__m512d; G]; J] = [[_mm512_setzero_pd(); G]; J];
    for at in (0..rows / 8 * 8).step_by(8) {
        for jj in 0..J {
            // The next J columns' line at this offset (past W's end a
            // prefetch is dropped, never a fault).
            let next = a.as_ptr().wrapping_add((J + jj) * rows + at);
            _mm_prefetch::<_MM_HINT_T0>(next.cast());
        }
        let mut ys = [_mm512_setzero_pd(); G];
        for (g, y) in ys.iter_mut().enumerate() {
            // SAFETY: g * rows + at + 8 <= G * rows <= dy.len(), asserted.
            *y = unsafe { _mm512_loadu_pd(dy.as_ptr().add(g * rows + at)) };
        }
        for (jj, sums) in acc.iter_mut().enumerate() {
            // SAFETY: jj * rows + at + 8 <= J * rows <= a.len(), asserted.
            let x = unsafe { _mm512_loadu_pd(a.as_ptr().add(jj * rows + at)) };
            for (s, y) in sums.iter_mut().zip(&ys) {
                *s = _mm512_add_pd(*s, _mm512_mul_pd(x, *y));
            }
        }
    }
    let mut sums = [[[0.0; 8]; G]; J];
    for (out, acc) in sums.iter_mut().zip(&acc) {
        for (o, s) in out.iter_mut().zip(acc) {
            // SAFETY: `o` holds eight values.
            unsafe { _mm512_storeu_pd(o.as_mut_ptr(), *s) };
        }
    }
    sums
}

#[inline(always)]
fn transpose_times_in(rows: usize, w: &[f64], dy: &[f64], back: &mut [f64]) {
    let cols = w.len() / rows;
    let k = dy.len() / rows;
    let column = |c: usize| &dy[c * rows..(c + 1) * rows];
    // Four inputs against each column of W at once: four dot products'
    // partial sums are independent chains of additions, where one dot's
    // eight wait on each other.
    let mut c = 0;
    while c + 4 <= k {
        let d = [column(c), column(c + 1), column(c + 2), column(c + 3)];
        for (j, a) in w.chunks_exact(rows).enumerate() {
            for (t, v) in dots(a, d).into_iter().enumerate() {
                back[(c + t) * cols + j] = v;
            }
        }
        c += 4;
    }
    for c in c..k {
        for (j, a) in w.chunks_exact(rows).enumerate() {
            back[c * cols + j] = dots(a, [column(c)])[0];
        }
    }
}

/// nalgebra 0.35's `dot` of `a` with each of `bs`: eight partial sums
/// over blocks of eight, combined as
/// (0 + (s0 + s4)) + (s1 + s5) + (s2 + s6) + (s3 + s7), then the
/// remaining products in order.
#[inline(always)]
fn dots<const K: usize>(a: &[f64], bs: [&[f64]; K]) -> [f64; K] {
    let mut s = [[0.0f64; 8]; K];
    let blocks = a.len() / 8;
    for i in 0..blocks {
        let x = &a[i * 8..i * 8 + 8];
        for (sb, b) in s.iter_mut().zip(&bs) {
            let y = &b[i * 8..i * 8 + 8];
            for t in 0..8 {
                sb[t] += x[t] * y[t];
            }
        }
    }
    let mut out = [0.0; K];
    for ((o, sb), b) in out.iter_mut().zip(&s).zip(&bs) {
        *o = combine(sb, &a[blocks * 8..], &b[blocks * 8..]);
    }
    out
}

/// The end of nalgebra's `dot`: the eight partial sums combined as
/// (0 + (s0 + s4)) + (s1 + s5) + (s2 + s6) + (s3 + s7), then the products
/// of the last `a.len() < 8` entries in order (also the end of every
/// entry of the Jacobian's Gram matrix, `jacobian::gram`).
#[inline(always)]
pub(super) fn combine(s: &[f64; 8], a: &[f64], b: &[f64]) -> f64 {
    let mut res = 0.0;
    res += s[0] + s[4];
    res += s[1] + s[5];
    res += s[2] + s[6];
    res += s[3] + s[7];
    for (x, y) in a.iter().zip(b) {
        res += x * y;
    }
    res
}

/// W^T dy's signature: `rows`, W, dy, back, as [`transpose_times`].
pub type Product = fn(usize, &[f64], &[f64], &mut [f64]);

/// Every W^T dy this CPU can run, by name: the baseline loop, AVX2 and
/// AVX-512 where present, and the dispatched one. The tests hold each to
/// nalgebra's bits; benches/products.rs times each.
pub fn transpose_paths() -> Vec<(&'static str, Product)> {
    let mut paths: Vec<(&'static str, Product)> =
        vec![("baseline", |r, w, d, b| transpose_times_in(r, w, d, b))];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, just checked.
            paths.push(("avx2", |r, w, d, b| unsafe {
                transpose_times_avx2(r, w, d, b)
            }));
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512, just checked.
            paths.push(("avx512", |r, w, d, b| unsafe {
                transpose_times_avx512(r, w, d, b)
            }));
        }
    }
    paths.push(("dispatched", transpose_times));
    paths
}

/// The forward block product's signature: `rows`, `cols`, the block's
/// first column j0, the block of W, x, y (see [`forward_while_drawing`]).
pub type BlockProduct = fn(usize, usize, usize, &[f64], &[f64], &mut [f64]);

/// Every forward block product this CPU can run, by name, as
/// [`transpose_paths`].
pub fn accumulate_paths() -> Vec<(&'static str, BlockProduct)> {
    let mut paths: Vec<(&'static str, BlockProduct)> = vec![("baseline", |r, c, j, w, x, y| {
        accumulate_in(r, c, j, w, x, y)
    })];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, just checked.
            paths.push(("avx2", |r, c, j, w, x, y| unsafe {
                accumulate_avx2(r, c, j, w, x, y)
            }));
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512, just checked.
            paths.push(("avx512", |r, c, j, w, x, y| unsafe {
                accumulate_avx512(r, c, j, w, x, y)
            }));
        }
    }
    paths.push(("dispatched", accumulate));
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn bits(m: &[f64]) -> Vec<u64> {
        m.iter().map(|v| v.to_bits()).collect()
    }

    /// Shapes whose rows are and are not multiples of 8 (the dot's
    /// blocks), whose columns are and are not multiples of [`BLOCK`] and
    /// of two (the AVX-512 pairs of columns), and whose inputs are and are
    /// not multiples of four and of eight; then every k from 1 to 11 at
    /// an odd size.
    fn shapes() -> Vec<(usize, usize, usize)> {
        let mut shapes = vec![
            (7, 9, 1),
            (16, 3, 4),
            (33, 17, 5),
            (256, 256, 4),
            (1, 6, 2),
            (64, 128, 3),
            (40, 9, 11),
            (8, 1, 8),
            (255, 31, 9),
            (130, 66, 16),
        ];
        shapes.extend((1..=11).map(|k| (29, 23, k)));
        shapes
    }

    #[test]
    fn transpose_times_is_nalgebras_tr_mul_to_bit_for_bit() {
        let law = Law::Normal { mean: 0.0, sd: 0.3 };
        for (rows, cols, k) in shapes() {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64((rows * 100 + k) as u64);
            let mut w = DMatrix::zeros(rows, cols);
            law.fill(&mut rng, w.as_mut_slice());
            let mut dy = DMatrix::zeros(rows, k);
            law.fill(&mut rng, dy.as_mut_slice());
            let mut want = DMatrix::zeros(cols, k);
            w.tr_mul_to(&dy, &mut want);
            for (path, product) in transpose_paths() {
                let mut got = DMatrix::from_element(cols, k, f64::NAN);
                product(rows, w.as_slice(), dy.as_slice(), got.as_mut_slice());
                assert_eq!(
                    bits(got.as_slice()),
                    bits(want.as_slice()),
                    "{path}: {rows}x{cols}, {k}"
                );
            }
        }
    }

    /// Every path against nalgebra's `gemv` order (`mul_to` below six
    /// inputs, and the same order written out above), including the
    /// narrow last block of columns.
    #[test]
    fn every_forward_block_product_is_nalgebras_bit_for_bit() {
        let law = Law::Normal { mean: 0.0, sd: 0.3 };
        for (rows, cols, k) in shapes() {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64((cols * 100 + k) as u64);
            let mut x = DMatrix::zeros(cols, k);
            law.fill(&mut rng, x.as_mut_slice());
            let mut w = DMatrix::zeros(rows, cols);
            law.fill(&mut rng, w.as_mut_slice());
            let want: Vec<f64> = if k <= 5 {
                let mut y = DMatrix::zeros(rows, k);
                w.mul_to(&x, &mut y);
                y.as_slice().to_vec()
            } else {
                (0..k)
                    .flat_map(|c| {
                        let (w, x) = (&w, &x);
                        (0..rows).map(move |i| {
                            (1..cols)
                                .fold(w[(i, 0)] * x[(0, c)], |acc, j| acc + w[(i, j)] * x[(j, c)])
                        })
                    })
                    .collect()
            };
            for (path, product) in accumulate_paths() {
                let mut y = vec![f64::NAN; rows * k];
                for (block, ws) in w.as_slice().chunks(rows * BLOCK).enumerate() {
                    product(rows, cols, block * BLOCK, ws, x.as_slice(), &mut y);
                }
                assert_eq!(bits(&y), bits(&want), "{path}: {rows}x{cols}, {k}");
            }
        }
    }
}
