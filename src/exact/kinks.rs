//! Where a random expression stops being smooth in one variable, so that
//! quadrature can split there.
//!
//! Gauss–Kronrod rules converge fast only on smooth pieces. A kink (relu at
//! 0) or a jump (step at 0) inside an interval is still integrated correctly
//! by bisection, but slowly, and the error estimate is at its least reliable
//! there. Splitting at the exact point instead turns every piece smooth.
//!
//! The built-in table says where each function is not smooth as a condition
//! on its arguments (`Kinks::At(ks)`: first argument equal to some `k`;
//! `Kinks::WhereEqual`: first two arguments equal). This module turns those
//! conditions into points in the variable of integration by solving
//! `arg(x) = k`, with the other base variables held fixed. Beyond the table,
//! a division contributes the zeros of its denominator and a power with a
//! non-integer or negative exponent the zeros of its base: poles and
//! branch points are not smooth either, and an integrable singularity is
//! only resolved when it sits at the end of a piece.
//!
//! The argument is almost always affine in the variable (`relu(w*x + b)`),
//! so affinity is recognised structurally and its root computed in closed
//! form, exactly up to one rounding. Anything else is scanned on a grid over
//! the part of the range where the law has its mass (an infinite end is
//! replaced by centre ± 60 spreads, far beyond any mass an expectation can
//! see) and every sign change is bisected to the last bit. Two roots closer
//! than a grid cell (0.03 spreads near the centre) can be missed; that costs
//! convergence speed, never correctness, as quadrature still bisects toward
//! any kink it was not told about.

use crate::lang::arith::BinOp;
use crate::lang::builtin::Kinks;
use crate::model::rv::{Rv, VarId};

/// How far out the grid scan goes, in spreads, for an infinite end.
const WINDOW_SPREADS: f64 = 60.0;
/// Cells across the whole window.
const COARSE_CELLS: usize = 1024;
/// Extra cells across centre ± DENSE_SPREADS, where kinks matter most.
const DENSE_CELLS: usize = 512;
const DENSE_SPREADS: f64 = 8.0;

/// Points in `(lo, hi)` where `rv` is not smooth as a function of `var`
/// (other base variables fixed at `env[i]` for `VarId(i)`, unused entries
/// ignored): every call whose `Builtin::kinks()` is `At(ks)` contributes
/// the roots of `arg0(x) = k` for each `k`; `WhereEqual` the roots of
/// `arg0(x) − arg1(x) = 0`. Sorted, deduplicated. `hint` is the law's
/// `(centre, spread)`, used to bound the scan of non-affine arguments.
pub fn kinks(rv: &Rv, var: VarId, env: &[f64], lo: f64, hi: f64, hint: (f64, f64)) -> Vec<f64> {
    kinks_and_work(rv, var, env, lo, hi, hint).0
}

/// [`kinks`], with the work it took: expression nodes evaluated while
/// scanning and bisecting, so that a caller who calls it once per outer
/// node of a nested quadrature can charge it to that quadrature's budget.
pub fn kinks_and_work(
    rv: &Rv,
    var: VarId,
    env: &[f64],
    lo: f64,
    hi: f64,
    hint: (f64, f64),
) -> (Vec<f64>, u64) {
    // A variable the caller gave no value for reads as NaN: it yields no
    // kinks rather than an out-of-bounds panic.
    let mut mentioned = vec![var];
    rv.bases(&mut mentioned);
    let needed = mentioned.iter().map(|v| v.0 + 1).max().unwrap_or(0);
    let mut env = env.to_vec();
    if env.len() < needed {
        env.resize(needed, f64::NAN);
    }
    let mut cx = Solver {
        var,
        env,
        lo,
        hi,
        hint,
        scan: None,
        out: Vec::new(),
        work: 0,
    };
    cx.walk(rv);
    let mut out = cx.out;
    out.sort_by(f64::total_cmp);
    out.dedup_by(|b, a| (*b - *a).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs()));
    (out, cx.work)
}

/// The grid for non-affine arguments.
struct Scan {
    grid: Vec<f64>,
}

impl Scan {
    fn new(lo: f64, hi: f64, hint: (f64, f64)) -> Scan {
        let (c, s) = hint;
        let c = if c.is_finite() { c } else { 0.0 };
        let s = if s.is_finite() && s > 0.0 { s } else { 1.0 };
        let left = if lo.is_finite() {
            lo
        } else {
            c - WINDOW_SPREADS * s
        };
        let right = if hi.is_finite() {
            hi
        } else {
            c + WINDOW_SPREADS * s
        };
        let mut grid = Vec::new();
        if left.is_nan() || right.is_nan() || left >= right {
            return Scan { grid };
        }
        let mut uniform = |a: f64, b: f64, n: usize| {
            for i in 0..=n {
                grid.push(a + (b - a) * (i as f64 / n as f64));
            }
        };
        uniform(left, right, COARSE_CELLS);
        let (dl, dr) = (
            (c - DENSE_SPREADS * s).max(left),
            (c + DENSE_SPREADS * s).min(right),
        );
        if dl < dr {
            uniform(dl, dr, DENSE_CELLS);
        }
        grid.sort_by(f64::total_cmp);
        grid.dedup();
        Scan { grid }
    }
}

struct Solver {
    var: VarId,
    env: Vec<f64>,
    lo: f64,
    hi: f64,
    hint: (f64, f64),
    /// Built on the first non-affine argument: most expressions have none,
    /// and the grid's 1500 points would cost more than the rest together.
    scan: Option<Scan>,
    out: Vec<f64>,
    /// Expression nodes evaluated so far.
    work: u64,
}

impl Solver {
    fn walk(&mut self, rv: &Rv) {
        // A sum's copies are fresh variables: it has no kinks in `var`.
        if matches!(rv, Rv::Sum(..)) {
            return;
        }
        for c in rv.children() {
            self.walk(c);
        }
        match rv {
            Rv::Bin(BinOp::Div, _, b) => self.roots(b, None, 0.0),
            Rv::Bin(BinOp::Pow, a, b) => {
                let smooth = match self.affine(b) {
                    Some((0.0, e)) => e >= 0.0 && e == e.trunc(),
                    _ => false,
                };
                if !smooth {
                    self.roots(a, None, 0.0);
                }
            }
            Rv::Call(f, args) => match (f.kinks(), args.as_slice()) {
                (Kinks::At(ks), [a0, ..]) => {
                    for &k in ks {
                        self.roots(a0, None, k);
                    }
                }
                (Kinks::WhereEqual, [a0, a1, ..]) => self.roots(a0, Some(a1), 0.0),
                _ => {}
            },
            _ => {}
        }
    }

    /// `rv` as `slope · x + intercept` in `var`, when it visibly is.
    fn affine(&self, rv: &Rv) -> Option<(f64, f64)> {
        if rv.contains_sum() {
            return None;
        }
        let mut bases = Vec::new();
        rv.bases(&mut bases);
        if !bases.contains(&self.var) {
            return Some((0.0, rv.eval_at(&self.env)));
        }
        match rv {
            Rv::Base(_) => Some((1.0, 0.0)),
            Rv::Neg(a) => self.affine(a).map(|(m, c)| (-m, -c)),
            Rv::Bin(BinOp::Add, a, b) => {
                let ((m1, c1), (m2, c2)) = (self.affine(a)?, self.affine(b)?);
                Some((m1 + m2, c1 + c2))
            }
            Rv::Bin(BinOp::Sub, a, b) => {
                let ((m1, c1), (m2, c2)) = (self.affine(a)?, self.affine(b)?);
                Some((m1 - m2, c1 - c2))
            }
            Rv::Bin(BinOp::Mul, a, b) => {
                let ((m1, c1), (m2, c2)) = (self.affine(a)?, self.affine(b)?);
                if m1 == 0.0 {
                    Some((c1 * m2, c1 * c2))
                } else if m2 == 0.0 {
                    Some((m1 * c2, c1 * c2))
                } else {
                    None
                }
            }
            Rv::Bin(BinOp::Div, a, b) => {
                let ((m1, c1), (m2, c2)) = (self.affine(a)?, self.affine(b)?);
                (m2 == 0.0 && c2 != 0.0).then(|| (m1 / c2, c1 / c2))
            }
            Rv::Bin(BinOp::Pow, a, b) => match self.affine(b)? {
                (0.0, 1.0) => self.affine(a),
                _ => None,
            },
            Rv::Call(crate::lang::builtin::Builtin::Identity, args) => self.affine(args.first()?),
            _ => None,
        }
    }

    /// Records the points in `(lo, hi)` where `a(x) − b(x) = k`.
    fn roots(&mut self, a: &Rv, b: Option<&Rv>, k: f64) {
        let lin = match b {
            None => self.affine(a),
            Some(b) => match (self.affine(a), self.affine(b)) {
                (Some((m1, c1)), Some((m2, c2))) => Some((m1 - m2, c1 - c2)),
                _ => None,
            },
        };
        if let Some((m, c)) = lin {
            // A constant argument either never or always meets k: no kink
            // in x either way.
            if m != 0.0 && m.is_finite() {
                self.push((k - c) / m);
            }
            return;
        }
        let nodes = (a.nodes_up_to(usize::MAX) + b.map_or(0, |b| b.nodes_up_to(usize::MAX))) as u64;
        let h = |s: &mut Solver, x: f64| -> f64 {
            s.work = s.work.saturating_add(nodes);
            s.env[s.var.0] = x;
            let va = a.eval_at(&s.env);
            let vb = b.map_or(0.0, |b| b.eval_at(&s.env));
            va - vb - k
        };
        let grid = match self.scan.take() {
            Some(scan) => scan.grid,
            None => Scan::new(self.lo, self.hi, self.hint).grid,
        };
        let values: Vec<f64> = grid.iter().map(|&x| h(self, x)).collect();
        for i in 0..grid.len() {
            let (x0, h0) = (grid[i], values[i]);
            if h0 == 0.0 {
                self.push(x0);
                continue;
            }
            let Some((&x1, &h1)) = grid.get(i + 1).zip(values.get(i + 1)) else {
                continue;
            };
            if h0.is_finite() && h1.is_finite() && h1 != 0.0 && (h0 < 0.0) != (h1 < 0.0) {
                let r = self.bisect(&h, x0, h0, x1);
                self.push(r);
            }
        }
        self.scan = Some(Scan { grid });
    }

    /// A sign change of `h` in `[a, b]`, narrowed until the bracket cannot
    /// shrink.
    fn bisect(
        &mut self,
        h: &dyn Fn(&mut Solver, f64) -> f64,
        mut a: f64,
        ha: f64,
        mut b: f64,
    ) -> f64 {
        let neg_a = ha < 0.0;
        loop {
            let m = 0.5 * (a + b);
            if m <= a || m >= b || (b - a) <= f64::MIN_POSITIVE {
                return m;
            }
            let hm = h(self, m);
            if hm == 0.0 {
                return m;
            }
            if (hm < 0.0) == neg_a {
                a = m;
            } else {
                b = m;
            }
        }
    }

    fn push(&mut self, x: f64) {
        if x.is_finite() && x > self.lo && x < self.hi {
            self.out.push(x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::builtin::Builtin;

    const X: VarId = VarId(0);
    const INF: f64 = f64::INFINITY;

    fn x() -> Rv {
        Rv::Base(X)
    }
    fn c(v: f64) -> Rv {
        Rv::Const(v)
    }
    fn call(f: Builtin, args: Vec<Rv>) -> Rv {
        Rv::Call(f, args)
    }
    fn bx(r: Rv) -> Box<Rv> {
        Box::new(r)
    }
    fn all(rv: &Rv) -> Vec<f64> {
        kinks(rv, X, &[0.0, 0.0], -INF, INF, (0.0, 1.0))
    }
    fn close(got: &[f64], want: &[f64]) -> bool {
        got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| (g - w).abs() <= 4.0 * f64::EPSILON * w.abs().max(1e-300))
    }

    #[test]
    fn affine_argument_is_solved_exactly() {
        // relu(2x - 1): 0.5
        let rv = call(
            Builtin::Relu,
            vec![Rv::Bin(
                BinOp::Sub,
                bx(Rv::bin(BinOp::Mul, c(2.0), x())),
                bx(c(1.0)),
            )],
        );
        assert_eq!(all(&rv), vec![0.5]);
        // hardtanh(x): -1 and 1
        let rv = call(Builtin::Hardtanh, vec![x()]);
        assert_eq!(all(&rv), vec![-1.0, 1.0]);
        // relu(x - y) with y = 0.7 held fixed: at x = 0.7.
        let rv = call(
            Builtin::Relu,
            vec![Rv::bin(BinOp::Sub, x(), Rv::Base(VarId(1)))],
        );
        assert_eq!(kinks(&rv, X, &[0.0, 0.7], -INF, INF, (0.0, 1.0)), vec![0.7]);
        // A kink in a variable other than x is none of x's business.
        assert!(kinks(&rv, VarId(1), &[0.3, 0.0], -INF, INF, (0.0, 1.0)) == vec![0.3]);
        let only_y = call(Builtin::Relu, vec![Rv::Base(VarId(1))]);
        assert!(all(&only_y).is_empty());
        // A variable missing from env gives nothing, not a panic.
        let far = call(
            Builtin::Relu,
            vec![Rv::bin(BinOp::Sub, x(), Rv::Base(VarId(7)))],
        );
        assert!(all(&far).is_empty());
    }

    #[test]
    fn non_affine_arguments_are_scanned_and_bisected() {
        // min(x, x^2): x = x^2 at 0 and 1.
        let sq = Rv::bin(BinOp::Pow, x(), c(2.0));
        let rv = call(Builtin::Min, vec![x(), sq.clone()]);
        let got = all(&rv);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].abs() <= 1e-300 && (got[1] - 1.0).abs() <= 2.0 * f64::EPSILON,
            "{got:?}"
        );
        // relu(x^2 - 2): ±sqrt(2), bisected to the last bit.
        let rv = call(Builtin::Relu, vec![Rv::bin(BinOp::Sub, sq, c(2.0))]);
        assert!(
            close(&all(&rv), &[-2f64.sqrt(), 2f64.sqrt()]),
            "{:?}",
            all(&rv)
        );
        // Nested: relu(tanh(x) - 0.5) at atanh(0.5), plus nothing from tanh.
        let rv = call(
            Builtin::Relu,
            vec![Rv::Bin(
                BinOp::Sub,
                bx(call(Builtin::Tanh, vec![x()])),
                bx(c(0.5)),
            )],
        );
        assert!(close(&all(&rv), &[0.5f64.atanh()]), "{:?}", all(&rv));
    }

    #[test]
    fn smooth_expressions_have_none() {
        for rv in [
            call(Builtin::Tanh, vec![x()]),
            Rv::Bin(
                BinOp::Mul,
                bx(call(Builtin::Gelu, vec![x()])),
                bx(Rv::bin(BinOp::Pow, x(), c(3.0))),
            ),
            call(Builtin::Exp, vec![Rv::Neg(bx(x()))]),
            Rv::Sum(4, bx(call(Builtin::Relu, vec![x()]))),
        ] {
            assert!(all(&rv).is_empty(), "{rv:?}");
        }
    }

    #[test]
    fn restricted_to_the_open_range_sorted_and_deduplicated() {
        // relu(x) * step(x) * abs(2x): the same kink three times over.
        let rv = Rv::Bin(
            BinOp::Mul,
            bx(Rv::Bin(
                BinOp::Mul,
                bx(call(Builtin::Relu, vec![x()])),
                bx(call(Builtin::Step, vec![x()])),
            )),
            bx(call(Builtin::Abs, vec![Rv::bin(BinOp::Mul, c(2.0), x())])),
        );
        assert_eq!(all(&rv), vec![0.0]);
        // hardtanh on (-1, 5): -1 is an end, not an interior point.
        let rv = call(Builtin::Hardtanh, vec![x()]);
        assert_eq!(kinks(&rv, X, &[0.0], -1.0, 5.0, (2.0, 1.0)), vec![1.0]);
        // Nested kinks in both orders come out sorted.
        let rv = call(
            Builtin::Relu,
            vec![Rv::Bin(
                BinOp::Sub,
                bx(call(Builtin::Relu, vec![x()])),
                bx(c(1.0)),
            )],
        );
        assert!(close(&all(&rv), &[0.0, 1.0]), "{:?}", all(&rv));
    }

    #[test]
    fn poles_and_branch_points_split_too() {
        // 1/(x - 2) and sqrt-like powers |x+1|^0.5 are not smooth at 2 and -1.
        let rv = Rv::Bin(BinOp::Div, bx(c(1.0)), bx(Rv::bin(BinOp::Sub, x(), c(2.0))));
        assert_eq!(all(&rv), vec![2.0]);
        let rv = Rv::Bin(
            BinOp::Pow,
            bx(call(Builtin::Abs, vec![Rv::bin(BinOp::Add, x(), c(1.0))])),
            bx(c(0.5)),
        );
        assert_eq!(all(&rv), vec![-1.0]);
    }
}
