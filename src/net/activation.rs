//! The activation of a network, compiled once for whole slices.
//!
//! A network's f and f' are random expressions of one variable, lowered
//! through the language so that a file-defined function means what it
//! means in claims. A draw applies them to every unit of every input of
//! every layer, so the tree is not walked per element: each node is
//! evaluated over a chunk of elements at a time, with the match on which
//! built-in or operator outside the element loop. relu, step and
//! leaky_relu then become branch-free loops the compiler vectorises, tanh
//! and erf call their function directly, and any other tree (a
//! `[functions]` body) takes the same path node by node.
//!
//! f' often contains f (tanh's is 1 - tanh(x)^2, sigmoid's
//! sigmoid(x) (1 - sigmoid(x))), and the forward pass has already computed
//! f at every unit, so the backward pass evaluates f' with those
//! occurrences read from f's values instead of recomputed: the same
//! function of the same input, so the same bits, without a second tanh
//! (libm's tanh and its expm1 were about 4% of tanh-1024's time, forward
//! and backward together).
//!
//! Every node applies the scalar operation [`Rv::eval_at`] applies
//! (`Builtin::eval`, `BinOp::apply`) to the same operands, so a slice gives
//! the bits the scalar evaluation gives, element by element (a NaN's sign
//! and payload aside, which Rust leaves unspecified).

use crate::lang::arith::BinOp;
use crate::lang::builtin::Builtin;
use crate::model::rv::{Rv, VarId};

/// Elements evaluated together: a chunk and one temporary per tree level
/// stay in L1.
const CHUNK: usize = 128;

/// Trees deeper than this are evaluated element by element: each level of
/// the chunked evaluation holds a chunk on the stack.
const DEEPEST: usize = 48;

/// The variable that stands for f's value in [`Activation::df_given`]:
/// the activation's own variable is the model's only one, `VarId(0)`.
const GIVEN: VarId = VarId(1);

/// The activation and its derivative.
#[derive(Clone, Debug)]
pub struct Activation {
    /// As written in the file.
    pub text: String,
    f: Rv,
    df: Rv,
    /// f' with every subtree equal to f read from [`GIVEN`] (f's value,
    /// which the forward pass computed), evaluated at [y, f(y)]; f' itself
    /// when it does not contain f.
    df_given: Rv,
}

impl Activation {
    pub fn new(text: String, f: Rv, df: Rv) -> Activation {
        let df_given = match f {
            // Reading x, or a constant, from memory saves nothing.
            Rv::Base(_) | Rv::Const(_) => df.clone(),
            _ => given(&df, &f),
        };
        Activation {
            text,
            f,
            df,
            df_given,
        }
    }

    /// Whether the backward pass reads f's values rather than
    /// recomputing f inside f'.
    pub fn reuses_values(&self) -> bool {
        self.df_given != self.df
    }

    /// f(v), by walking the tree: the reference the slices agree with.
    pub fn value(&self, v: f64) -> f64 {
        self.f.eval_at(&[v])
    }

    /// f'(v), as [`Activation::value`].
    pub fn derivative(&self, v: f64) -> f64 {
        self.df.eval_at(&[v])
    }

    /// f and f' as random expressions of base variable 0: what the exact
    /// engine integrates for the infinite-width limit.
    pub fn rvs(&self) -> (&Rv, &Rv) {
        (&self.f, &self.df)
    }

    /// xs = f(ys), element by element.
    pub fn apply(&self, ys: &[f64], xs: &mut [f64]) {
        over_slices(&self.f, ys, ys, xs);
    }

    /// ds = gs * f'(ys), element by element: the chain rule through the
    /// activation (gs the gradient with respect to f's output), with fys
    /// the f(ys) that [`Activation::apply`] computed.
    pub fn backward(&self, ys: &[f64], fys: &[f64], gs: &[f64], ds: &mut [f64]) {
        over_slices(&self.df_given, ys, fys, ds);
        for (d, g) in ds.iter_mut().zip(gs) {
            *d *= g;
        }
    }

    /// gs = gs * f'(ys), in place, fys as in [`Activation::backward`].
    pub fn backward_in_place(&self, ys: &[f64], fys: &[f64], gs: &mut [f64]) {
        let mut slope = [0.0; CHUNK];
        for ((y, fy), g) in ys
            .chunks(CHUNK)
            .zip(fys.chunks(CHUNK))
            .zip(gs.chunks_mut(CHUNK))
        {
            let slope = &mut slope[..y.len()];
            over_slices(&self.df_given, y, fy, slope);
            for (g, s) in g.iter_mut().zip(slope.iter()) {
                *g *= s;
            }
        }
    }
}

/// `df` with every subtree equal to `f` replaced by [`GIVEN`].
fn given(df: &Rv, f: &Rv) -> Rv {
    if df == f {
        return Rv::Base(GIVEN);
    }
    match df {
        Rv::Neg(a) => Rv::Neg(Box::new(given(a, f))),
        Rv::Bin(op, a, b) => Rv::Bin(*op, Box::new(given(a, f)), Box::new(given(b, f))),
        Rv::Call(b, args) => Rv::Call(*b, args.iter().map(|a| given(a, f)).collect()),
        other => other.clone(),
    }
}

/// `rv` at [y, fy] for every element of `ys` and `fys` (f's values, read
/// where `rv` has [`GIVEN`]).
fn over_slices(rv: &Rv, ys: &[f64], fys: &[f64], out: &mut [f64]) {
    assert_eq!(ys.len(), out.len(), "one output per input");
    assert_eq!(ys.len(), fys.len(), "one value of f per input");
    if depth(rv) > DEEPEST {
        for ((o, y), fy) in out.iter_mut().zip(ys).zip(fys) {
            *o = rv.eval_at(&[*y, *fy]);
        }
        return;
    }
    for ((y, fy), o) in ys
        .chunks(CHUNK)
        .zip(fys.chunks(CHUNK))
        .zip(out.chunks_mut(CHUNK))
    {
        chunk(rv, y, fy, o);
    }
}

/// The tree's depth, stopping once past [`DEEPEST`].
fn depth(rv: &Rv) -> usize {
    fn go(rv: &Rv, at: usize) -> usize {
        if at > DEEPEST {
            return at;
        }
        match rv {
            Rv::Neg(a) => go(a, at + 1),
            Rv::Bin(_, a, b) => go(a, at + 1).max(go(b, at + 1)),
            Rv::Call(_, args) => args.iter().map(|a| go(a, at + 1)).max().unwrap_or(at),
            _ => at,
        }
    }
    go(rv, 1)
}

/// `rv` at every element of `x` (at most [`CHUNK`]) into `out`, with
/// [`GIVEN`] read from `fx`.
fn chunk(rv: &Rv, x: &[f64], fx: &[f64], out: &mut [f64]) {
    match rv {
        Rv::Const(c) => out.fill(*c),
        Rv::Base(v) if *v == GIVEN => out.copy_from_slice(fx),
        Rv::Base(_) => out.copy_from_slice(x),
        Rv::Neg(a) => {
            chunk(a, x, fx, out);
            for o in out.iter_mut() {
                *o = -*o;
            }
        }
        Rv::Bin(op, a, b) => {
            chunk(a, x, fx, out);
            match &**b {
                Rv::Const(c) => binary_const(*op, out, *c),
                b => {
                    let mut t = [0.0; CHUNK];
                    let t = &mut t[..out.len()];
                    chunk(b, x, fx, t);
                    binary(*op, out, t);
                }
            }
        }
        Rv::Call(f, args) => match args.as_slice() {
            [a] => {
                chunk(a, x, fx, out);
                unary(*f, out);
            }
            [a, Rv::Const(c)] => {
                chunk(a, x, fx, out);
                call_const(*f, out, *c);
            }
            [a, b] => {
                chunk(a, x, fx, out);
                let mut t = [0.0; CHUNK];
                let t = &mut t[..out.len()];
                chunk(b, x, fx, t);
                for (o, s) in out.iter_mut().zip(t.iter()) {
                    *o = f.eval(&[*o, *s]);
                }
            }
            _ => unreachable!("built-ins take one or two arguments"),
        },
        // Not in an activation (it has no sums); `eval_at` gives NaN too.
        Rv::Sum(..) | Rv::IndexedSum(_) | Rv::Copy(_) => out.fill(f64::NAN),
    }
}

fn map(out: &mut [f64], f: impl Fn(f64) -> f64) {
    for o in out.iter_mut() {
        *o = f(*o);
    }
}

/// A one-argument built-in in place. Each listed built-in gets a loop of
/// its own, in which `Builtin::eval` is inlined for that one function and
/// its match folds away; the rest dispatch per element, still correctly.
fn unary(f: Builtin, out: &mut [f64]) {
    macro_rules! loops {
        ($($b:ident),*) => {
            match f {
                $(Builtin::$b => map(out, |v| Builtin::$b.eval(&[v])),)*
                _ => map(out, |v| f.eval(&[v])),
            }
        };
    }
    loops!(
        Relu,
        Step,
        Identity,
        Abs,
        Sign,
        Sqrt,
        Exp,
        Tanh,
        Erf,
        Sigmoid,
        Softplus,
        Hardtanh,
        Relu6,
        Softsign,
        Hardsigmoid,
        Hardswish,
        Gelu,
        Silu,
        NormCdf,
        NormPdf
    )
}

/// A two-argument built-in whose second argument is a constant, in place.
fn call_const(f: Builtin, out: &mut [f64], c: f64) {
    macro_rules! loops {
        ($($b:ident),*) => {
            match f {
                $(Builtin::$b => map(out, |v| Builtin::$b.eval(&[v, c])),)*
                _ => map(out, |v| f.eval(&[v, c])),
            }
        };
    }
    loops!(LeakyRelu, Prelu, Elu, Celu, Min, Max)
}

fn binary_const(op: BinOp, out: &mut [f64], c: f64) {
    match op {
        BinOp::Add => map(out, |v| BinOp::Add.apply(v, c)),
        BinOp::Sub => map(out, |v| BinOp::Sub.apply(v, c)),
        BinOp::Mul => map(out, |v| BinOp::Mul.apply(v, c)),
        BinOp::Div => map(out, |v| BinOp::Div.apply(v, c)),
        BinOp::Pow => map(out, |v| BinOp::Pow.apply(v, c)),
    }
}

fn binary(op: BinOp, out: &mut [f64], b: &[f64]) {
    let mut with = |g: fn(f64, f64) -> f64| {
        for (o, s) in out.iter_mut().zip(b) {
            *o = g(*o, *s);
        }
    };
    match op {
        BinOp::Add => with(|a, b| BinOp::Add.apply(a, b)),
        BinOp::Sub => with(|a, b| BinOp::Sub.apply(a, b)),
        BinOp::Mul => with(|a, b| BinOp::Mul.apply(a, b)),
        BinOp::Div => with(|a, b| BinOp::Div.apply(a, b)),
        BinOp::Pow => with(|a, b| BinOp::Pow.apply(a, b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rv::VarId;

    /// Inputs where implementations differ if they differ at all: zeros
    /// of both signs, infinities, NaN, subnormals, the kinks of the
    /// piecewise built-ins (0, ±1, ±3, 6) and their neighbours, and a
    /// grid.
    fn grid() -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 4.0,
            -f64::MIN_POSITIVE / 4.0,
            f64::from_bits(1),
            -f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            1e-300,
            -1e-300,
            700.0,
            -750.0,
        ];
        for k in [1.0f64, 3.0, 6.0] {
            for s in [-1.0, 1.0] {
                let x = s * k;
                v.extend([x, x.next_up(), x.next_down()]);
            }
        }
        v.extend((-400..=400).map(|i| f64::from(i) / 40.0));
        v
    }

    /// The first element whose bits differ, shown with its input. A NaN
    /// matches any NaN: Rust leaves the sign and payload of a NaN that
    /// arithmetic produces unspecified (LLVM may swap the operands of a
    /// product), and no output shows them.
    fn first_difference(ys: &[f64], got: &[f64], want: &[f64]) -> Option<String> {
        (0..ys.len())
            .find(|&i| {
                got[i].to_bits() != want[i].to_bits() && !(got[i].is_nan() && want[i].is_nan())
            })
            .map(|i| format!("at y = {:e}: {:e} against {:e}", ys[i], got[i], want[i]))
    }

    fn x() -> Rv {
        Rv::Base(VarId(0))
    }

    /// The slices agree with `eval_at` bit for bit, NaN's bits included.
    fn same_bits(f: &Rv, df: &Rv, what: &str) {
        let act = Activation::new(what.to_string(), f.clone(), df.clone());
        let ys = grid();
        // More elements than one chunk, so that chunk boundaries are met.
        let ys: Vec<f64> = ys.iter().chain(ys.iter()).copied().collect();
        let mut xs = vec![0.0; ys.len()];
        act.apply(&ys, &mut xs);
        let want: Vec<f64> = ys.iter().map(|&y| f.eval_at(&[y])).collect();
        assert_eq!(first_difference(&ys, &xs, &want), None, "{what}: f");
        let gs: Vec<f64> = (0..ys.len()).map(|i| 0.5 + i as f64 / 7.0).collect();
        let mut ds = vec![0.0; ys.len()];
        act.backward(&ys, &xs, &gs, &mut ds);
        let want: Vec<f64> = ys
            .iter()
            .zip(&gs)
            .map(|(&y, g)| g * df.eval_at(&[y]))
            .collect();
        assert_eq!(first_difference(&ys, &ds, &want), None, "{what}: g f'");
        let mut inplace = gs.clone();
        act.backward_in_place(&ys, &xs, &mut inplace);
        let want: Vec<f64> = ys
            .iter()
            .zip(&gs)
            .map(|(&y, g)| g * df.eval_at(&[y]))
            .collect();
        assert_eq!(
            first_difference(&ys, &inplace, &want),
            None,
            "{what}: g *= f'"
        );
    }

    /// Every built-in as an activation, lowered through the language as a
    /// network's is (its derivative tree included), with the second
    /// argument's default or a constant.
    #[test]
    fn every_built_in_over_slices_is_eval_at_bit_for_bit() {
        for b in Builtin::ALL {
            let text = if b.arity().1 == 2 {
                format!("{}(x, 0.3)", b.name())
            } else {
                format!("{}(x)", b.name())
            };
            let file = format!(
                "[network.t]\nwidths = [2, 2]\nactivation = {text:?}\nweight = \"Normal(0, 1)\"\n\
                 input = \"Normal(0, 1)\"\ninputs = 1\ndraws = 32\n"
            );
            let Ok(mut loaded) = crate::audit::load("t.toml", &file) else {
                // No derivative in the language (trigamma): not an
                // activation a network can have.
                assert_eq!(b, Builtin::Trigamma, "{text} does not load");
                continue;
            };
            let act = loaded.networks.remove(0).activation;
            let (f, df) = act.rvs();
            same_bits(f, df, &format!("{text}: {df:?}"));
            // The derivatives that contain f read its values, so the
            // comparison above ran that path.
            if matches!(b, Builtin::Tanh | Builtin::Sigmoid) {
                assert!(act.reuses_values(), "{text}: {df:?}");
            }
            if matches!(b, Builtin::Relu | Builtin::Identity) {
                assert!(!act.reuses_values(), "{text}: {df:?}");
            }
        }
    }

    /// Trees of every node kind: operators with constant and with
    /// variable right operands, negation, a built-in of an expression, a
    /// two-argument call with a variable second argument, and a tree deeper
    /// than the chunked path takes.
    #[test]
    fn expression_trees_over_slices_are_eval_at_bit_for_bit() {
        let call = |b, args| Rv::Call(b, args);
        let bin = |op, a, b| Rv::Bin(op, Box::new(a), Box::new(b));
        let trees = [
            bin(
                BinOp::Sub,
                Rv::Const(1.0),
                bin(BinOp::Pow, call(Builtin::Tanh, vec![x()]), Rv::Const(2.0)),
            ),
            Rv::Neg(Box::new(bin(
                BinOp::Div,
                x(),
                call(Builtin::Exp, vec![x()]),
            ))),
            call(
                Builtin::Max,
                vec![x(), bin(BinOp::Mul, x(), Rv::Const(0.1))],
            ),
            bin(BinOp::Pow, x(), x()),
            bin(BinOp::Add, x(), Rv::Const(-0.5)),
            (0..60).fold(x(), |t, _| bin(BinOp::Mul, t, Rv::Const(1.01))),
        ];
        for t in &trees {
            same_bits(t, t, &format!("{t:?}"));
        }
    }
}
