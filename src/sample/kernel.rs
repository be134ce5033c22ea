//! The batch kernel: resolved random expressions compiled to a flat
//! register program that evaluates `LANES` draws per instruction.
//!
//! Walking an `Rv` tree once per draw would pay a branch, a pointer chase
//! and a recursion for every node of every draw, and would keep the
//! compiler from vectorising anything. Here the trees are compiled once:
//! every distinct node becomes one instruction writing one register of
//! `LANES` values, so the dispatch `match` is paid once per chunk and the
//! inner loops are plain slice arithmetic that the compiler vectorises.
//!
//! Nodes are hash-consed per scope, across all the moments of a sampler:
//! `E[relu(y)]` and `Var[relu(y)]` compute `relu(y)` once per chunk, and
//! because they read the same draws their difference carries only the
//! variance of the difference (common random numbers). Constant subtrees
//! are folded at compile time with the same functions the lanes would use,
//! so folding never changes a value.
//!
//! `sum(n, T)` opens a new scope: its body has its own base draws, refilled
//! for each of the `n` copies, because a copy's variables are fresh and
//! independent of every variable outside it. Two identical `sum` nodes in
//! one scope are one node: resolution inlines a derived variable
//! `s = sum(n, T)` wherever `s` is named, so `s * s` must be the square of
//! one sum, not the product of two independent ones.
//!
//! `sum(i in n, T)` opens one scope per plate (index and count), shared by
//! every sum over it: per copy its draws are refilled once and each sum
//! adds its body, so sums over one index read the same copies. Its shared
//! variables are drawn in the enclosing scope, once per draw.

use std::collections::{BTreeMap, HashMap};

use crate::lang::arith::{BinOp, is_small_integer};
use crate::lang::builtin::Builtin;
use crate::model::law::{Bivariate, Lanes, Law};
use crate::model::rv::{IndexedSum, Moment, Plate, Rv};
use crate::model::{Scenario, Source};

use super::accum::Kind;

/// Draws per chunk. 256 lanes keep a register at 2 KiB, so a program of a
/// few dozen nodes stays in L1/L2, while the per-chunk dispatch is
/// amortised over enough lanes to be negligible.
pub(crate) const LANES: usize = 256;

/// An instruction's input: a register or a constant folded at compile time.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Operand {
    Reg(usize),
    Const(f64),
}

#[derive(Clone, Debug)]
enum Op {
    /// A constant broadcast, only where a moment's expression is constant.
    Splat(f64),
    Neg(usize),
    /// `BinOp::apply` lane by lane (a power here has a random exponent; a
    /// constant one compiles to the instructions below).
    Binary(BinOp, Operand, Operand),
    Square(usize),
    Cube(usize),
    Powi(usize, i32),
    Powf(usize, f64),
    Relu(usize),
    Call(Builtin, Vec<Operand>),
    Plate(Box<PlateOp>),
}

/// Every indexed sum over one plate, run together: per copy the body's
/// draws are refilled once and each sum adds its body's value, so the sums
/// read the same copies. Shared variables are the enclosing block's
/// registers, drawn once per draw. A plain `sum(n, T)` is a plate of its
/// own with one sum and nothing shared.
#[derive(Clone, Debug)]
struct PlateOp {
    copies: u64,
    body: Block,
    /// (body value register, the sum's register) per sum.
    sums: Vec<(usize, usize)>,
}

#[derive(Clone, Debug)]
struct Instr {
    dst: usize,
    op: Op,
}

/// One source filled into its registers at the start of a block.
#[derive(Clone, Debug)]
enum Draw {
    Single(Law, usize),
    Pair(Bivariate, usize, usize),
}

/// Straight-line code with the draws it needs.
#[derive(Clone, Debug, Default)]
struct Block {
    draws: Vec<Draw>,
    instrs: Vec<Instr>,
}

/// Where a moment reads its lanes after a chunk has run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Root {
    pub kind: Kind,
    pub x: usize,
    /// Equal to `x` except for a covariance.
    pub y: usize,
}

/// A compiled set of moments over one scenario.
#[derive(Clone, Debug)]
pub(crate) struct Kernel {
    top: Block,
    roots: Vec<Root>,
    registers: usize,
}

impl Kernel {
    pub fn compile(scenario: &Scenario, moments: &[Moment]) -> Kernel {
        let mut regs = 0;
        let mut top = Scope::default();
        let roots = moments
            .iter()
            .map(|m| {
                let mut root = |rv: &Rv| {
                    let v = top.compile(rv, scenario, &mut regs);
                    top.materialise(v, &mut regs)
                };
                match m {
                    Moment::E(a) => {
                        let x = root(a);
                        Root {
                            kind: Kind::Mean,
                            x,
                            y: x,
                        }
                    }
                    Moment::Var(a) => {
                        let x = root(a);
                        Root {
                            kind: Kind::Variance,
                            x,
                            y: x,
                        }
                    }
                    Moment::Cov(a, b) => {
                        let x = root(a);
                        let y = root(b);
                        Root {
                            kind: Kind::Covariance,
                            x,
                            y,
                        }
                    }
                }
            })
            .collect();
        Kernel {
            top: top.into_block(),
            roots,
            registers: regs,
        }
    }

    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// A zeroed register file for [`Kernel::run`].
    pub fn register_file(&self) -> Vec<f64> {
        vec![0.0; self.registers * LANES]
    }

    /// Draws `n <= LANES` lanes and evaluates every moment's expression on
    /// them; the values are then in [`Kernel::lanes`].
    pub fn run(&self, regs: &mut [f64], rng: &mut Lanes, n: usize) {
        debug_assert!(n <= LANES);
        run_block(&self.top, regs, rng, n);
    }

    pub fn lanes<'a>(&self, regs: &'a [f64], reg: usize, n: usize) -> &'a [f64] {
        &regs[reg * LANES..reg * LANES + n]
    }

    /// Lane operations per draw, a `sum`'s body counted once per copy.
    pub fn cost_per_draw(&self) -> u64 {
        let accumulate = self
            .roots
            .iter()
            .map(|r| if r.kind == Kind::Covariance { 2 } else { 1 })
            .sum::<u64>();
        block_cost(&self.top).saturating_add(accumulate)
    }
}

fn block_cost(block: &Block) -> u64 {
    let draws: u64 = block
        .draws
        .iter()
        .map(|d| match d {
            Draw::Single(..) => 1,
            Draw::Pair(..) => 2,
        })
        .sum();
    block.instrs.iter().fold(draws, |acc, ins| {
        let c = match &ins.op {
            // zeroing the totals, then per copy the body and the adds
            Op::Plate(p) => {
                let sums = p.sums.len() as u64;
                p.copies
                    .saturating_mul(block_cost(&p.body).saturating_add(sums))
                    .saturating_add(sums)
            }
            _ => 1,
        };
        acc.saturating_add(c)
    })
}

/// Hash-cons key of a node within one scope; constants by their bits so
/// that `-0.0` and `0.0` stay distinct.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Splat(u64),
    Neg(usize),
    Binary(BinOp, KeyOperand, KeyOperand),
    Pow(usize, u64),
    Call(Builtin, Vec<KeyOperand>),
    /// A sum by its copy count and the printed body: `Rv` holds floats and
    /// so has no `Hash`, while `Debug` prints every float so that it reads
    /// back to the same bits.
    Sum(u64, String),
    /// An indexed sum by its plate and printed body.
    IndexedSum(Plate, String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyOperand {
    Reg(usize),
    Const(u64),
}

impl From<Operand> for KeyOperand {
    fn from(o: Operand) -> KeyOperand {
        match o {
            Operand::Reg(r) => KeyOperand::Reg(r),
            Operand::Const(c) => KeyOperand::Const(c.to_bits()),
        }
    }
}

#[derive(Default)]
struct Scope {
    memo: HashMap<Key, usize>,
    /// Per source index, its draw; ordered so fills consume the stream in
    /// source order.
    draws: BTreeMap<usize, Draw>,
    instrs: Vec<Instr>,
    /// In a plate's body: base variable -> the enclosing block's register
    /// holding its one shared value.
    shared: HashMap<usize, usize>,
    /// The plates opened in this scope, in order of first use.
    plates: Vec<PlateBuild>,
}

/// A plate being compiled: its body's scope, shared by every sum over it.
struct PlateBuild {
    plate: Plate,
    /// Its instruction, once a sum over it has a random body.
    instr: Option<usize>,
    inner: Scope,
    sums: Vec<(usize, usize)>,
}

impl Scope {
    fn into_block(mut self) -> Block {
        for p in std::mem::take(&mut self.plates) {
            if let Some(i) = p.instr {
                self.instrs[i].op = Op::Plate(Box::new(PlateOp {
                    copies: p.plate.count,
                    body: p.inner.into_block(),
                    sums: p.sums,
                }));
            }
        }
        Block {
            draws: self.draws.into_values().collect(),
            instrs: self.instrs,
        }
    }

    fn emit(&mut self, key: Key, op: Op, regs: &mut usize) -> usize {
        if let Some(&r) = self.memo.get(&key) {
            return r;
        }
        let dst = *regs;
        *regs += 1;
        self.instrs.push(Instr { dst, op });
        self.memo.insert(key, dst);
        dst
    }

    fn materialise(&mut self, v: Operand, regs: &mut usize) -> usize {
        match v {
            Operand::Reg(r) => r,
            Operand::Const(c) => self.emit(Key::Splat(c.to_bits()), Op::Splat(c), regs),
        }
    }

    /// The register holding base variable `var` in this scope, adding its
    /// source's draw on first mention. A pair always fills both components.
    fn base(&mut self, scenario: &Scenario, var: usize, regs: &mut usize) -> usize {
        let base = &scenario.bases[var];
        let draw = self.draws.entry(base.source).or_insert_with(|| {
            let first = *regs;
            match &scenario.sources[base.source] {
                Source::Single(law) => {
                    *regs += 1;
                    Draw::Single(law.clone(), first)
                }
                Source::Bivariate(pair) => {
                    *regs += 2;
                    Draw::Pair(*pair, first, first + 1)
                }
            }
        });
        match (draw, base.component) {
            (Draw::Single(_, r), _) | (Draw::Pair(_, r, _), 0) => *r,
            (Draw::Pair(_, _, r), _) => *r,
        }
    }

    fn compile(&mut self, rv: &Rv, scenario: &Scenario, regs: &mut usize) -> Operand {
        match rv {
            Rv::Const(c) => Operand::Const(*c),
            Rv::Base(v) => match self.shared.get(&v.0) {
                Some(&r) => Operand::Reg(r),
                None => Operand::Reg(self.base(scenario, v.0, regs)),
            },
            // Only in a plate's body (resolution's guarantee), whose scope
            // refills it per copy.
            Rv::Copy(v) => Operand::Reg(self.base(scenario, v.0, regs)),
            Rv::IndexedSum(s) => self.indexed_sum(s, scenario, regs),
            Rv::Neg(a) => match self.compile(a, scenario, regs) {
                Operand::Const(c) => Operand::Const(-c),
                Operand::Reg(r) => Operand::Reg(self.emit(Key::Neg(r), Op::Neg(r), regs)),
            },
            Rv::Bin(op, a, b) => {
                let a = self.compile(a, scenario, regs);
                let b = self.compile(b, scenario, regs);
                match (op, a, b) {
                    (BinOp::Pow, Operand::Reg(r), Operand::Const(e)) => self.power(r, e, regs),
                    _ => self.binary_operands(*op, a, b, regs),
                }
            }
            Rv::Call(f, args) => {
                let vals: Vec<Operand> = args
                    .iter()
                    .map(|a| self.compile(a, scenario, regs))
                    .collect();
                self.call(*f, vals, regs)
            }
            Rv::Sum(copies, body) => {
                let key = Key::Sum(*copies, format!("{body:?}"));
                if let Some(&r) = self.memo.get(&key) {
                    return Operand::Reg(r);
                }
                let mut inner = Scope::default();
                match inner.compile(body, scenario, regs) {
                    // a body without random parts has no draws to repeat
                    Operand::Const(c) => Operand::Const(c * *copies as f64),
                    Operand::Reg(result) => {
                        // the instruction's register, the one `emit` gives
                        let total = *regs;
                        let op = Op::Plate(Box::new(PlateOp {
                            copies: *copies,
                            body: inner.into_block(),
                            sums: vec![(result, total)],
                        }));
                        Operand::Reg(self.emit(key, op, regs))
                    }
                }
            }
        }
    }

    /// `sum(i in n, T)`: its body compiled into its plate's scope, its
    /// shared variables drawn in this one.
    fn indexed_sum(&mut self, s: &IndexedSum, scenario: &Scenario, regs: &mut usize) -> Operand {
        let key = Key::IndexedSum(s.plate.clone(), format!("{:?}", s.body));
        if let Some(&r) = self.memo.get(&key) {
            return Operand::Reg(r);
        }
        let mut shared = Vec::new();
        s.body.bases(&mut shared);
        let shared: Vec<(usize, usize)> = shared
            .iter()
            .map(|v| (v.0, self.base(scenario, v.0, regs)))
            .collect();
        let at = match self.plates.iter().position(|p| p.plate == s.plate) {
            Some(at) => at,
            None => {
                self.plates.push(PlateBuild {
                    plate: s.plate.clone(),
                    instr: None,
                    inner: Scope::default(),
                    sums: Vec::new(),
                });
                self.plates.len() - 1
            }
        };
        let mut inner = std::mem::take(&mut self.plates[at].inner);
        inner.shared.extend(shared);
        let value = inner.compile(&s.body, scenario, regs);
        self.plates[at].inner = inner;
        let Operand::Reg(value) = value else {
            // a body without random parts has no draws to repeat
            let Operand::Const(c) = value else {
                unreachable!()
            };
            return Operand::Const(c * s.plate.count as f64);
        };
        let total = *regs;
        *regs += 1;
        self.plates[at].sums.push((value, total));
        if self.plates[at].instr.is_none() {
            // the plate's instruction, filled in by `into_block`
            self.instrs.push(Instr {
                dst: total,
                op: Op::Splat(0.0),
            });
            self.plates[at].instr = Some(self.instrs.len() - 1);
        }
        self.memo.insert(key, total);
        Operand::Reg(total)
    }

    fn binary_operands(&mut self, op: BinOp, a: Operand, b: Operand, regs: &mut usize) -> Operand {
        if let (Operand::Const(x), Operand::Const(y)) = (a, b) {
            return Operand::Const(op.apply(x, y));
        }
        // IEEE addition and multiplication commute exactly, so `a+b` and
        // `b+a` may share a register.
        let (ka, kb) = (KeyOperand::from(a), KeyOperand::from(b));
        let key = match op {
            BinOp::Add | BinOp::Mul if kb < ka => Key::Binary(op, kb, ka),
            _ => Key::Binary(op, ka, kb),
        };
        Operand::Reg(self.emit(key, Op::Binary(op, a, b), regs))
    }

    /// `x^e` for a constant `e`, with `arith::pow`'s meaning: integer
    /// exponents up to 64 by multiplication, others by `powf`.
    fn power(&mut self, r: usize, e: f64, regs: &mut usize) -> Operand {
        let key = Key::Pow(r, e.to_bits());
        let op = if is_small_integer(e) {
            match e as i32 {
                // x.powi(0) is 1 even for NaN and infinities
                0 => return Operand::Const(1.0),
                1 => return Operand::Reg(r),
                2 => Op::Square(r),
                3 => Op::Cube(r),
                i => Op::Powi(r, i),
            }
        } else {
            Op::Powf(r, e)
        };
        Operand::Reg(self.emit(key, op, regs))
    }

    fn call(&mut self, f: Builtin, args: Vec<Operand>, regs: &mut usize) -> Operand {
        if let Some(consts) = args
            .iter()
            .map(|a| match a {
                Operand::Const(c) => Some(*c),
                Operand::Reg(_) => None,
            })
            .collect::<Option<Vec<f64>>>()
        {
            return Operand::Const(f.eval(&consts));
        }
        let key = Key::Call(f, args.iter().copied().map(KeyOperand::from).collect());
        let op = match (f, args.as_slice()) {
            (Builtin::Identity, [a]) => return *a,
            (Builtin::Relu, [Operand::Reg(r)]) => Op::Relu(*r),
            _ => Op::Call(f, args),
        };
        Operand::Reg(self.emit(key, op, regs))
    }
}

/// The register file split around the one register being written, so that
/// it can be written while the others are read.
struct Inputs<'a> {
    below: &'a [f64],
    above: &'a [f64],
    dst: usize,
    n: usize,
}

impl<'a> Inputs<'a> {
    fn split(regs: &'a mut [f64], dst: usize, n: usize) -> (&'a mut [f64], Inputs<'a>) {
        let (below, rest) = regs.split_at_mut(dst * LANES);
        let (out, above) = rest.split_at_mut(LANES);
        (
            &mut out[..n],
            Inputs {
                below,
                above,
                dst,
                n,
            },
        )
    }

    fn lanes(&self, r: usize) -> &'a [f64] {
        debug_assert_ne!(r, self.dst, "an instruction reads its own output");
        let (regs, at) = if r < self.dst {
            (self.below, r * LANES)
        } else {
            (self.above, (r - self.dst - 1) * LANES)
        };
        &regs[at..at + self.n]
    }
}

#[inline(always)]
fn unary(out: &mut [f64], x: &[f64], f: impl Fn(f64) -> f64) {
    for (o, &a) in out.iter_mut().zip(x) {
        *o = f(a);
    }
}

#[inline(always)]
fn binary(out: &mut [f64], a: Operand, b: Operand, inputs: &Inputs, f: impl Fn(f64, f64) -> f64) {
    match (a, b) {
        (Operand::Reg(a), Operand::Reg(b)) => {
            let (a, b) = (inputs.lanes(a), inputs.lanes(b));
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
        }
        (Operand::Reg(a), Operand::Const(y)) => unary(out, inputs.lanes(a), |x| f(x, y)),
        (Operand::Const(x), Operand::Reg(b)) => unary(out, inputs.lanes(b), |y| f(x, y)),
        (Operand::Const(x), Operand::Const(y)) => out.fill(f(x, y)),
    }
}

fn run_block(block: &Block, regs: &mut [f64], rng: &mut Lanes, n: usize) {
    for draw in &block.draws {
        match draw {
            Draw::Single(law, r) => law.fill_lanes(rng, &mut regs[r * LANES..r * LANES + n]),
            Draw::Pair(pair, u, v) => {
                // the two components have adjacent registers, u first
                debug_assert_eq!(*v, u + 1);
                let (u, v) = regs[u * LANES..(u + 2) * LANES].split_at_mut(LANES);
                pair.fill(rng, &mut u[..n], &mut v[..n]);
            }
        }
    }
    for ins in &block.instrs {
        if let Op::Plate(plate) = &ins.op {
            run_plate(plate, regs, rng, n);
            continue;
        }
        let (out, inputs) = Inputs::split(regs, ins.dst, n);
        match &ins.op {
            Op::Splat(c) => out.fill(*c),
            Op::Neg(a) => unary(out, inputs.lanes(*a), |x| -x),
            // One loop per operator, each with `apply` inlined for its
            // constant operator: a match inside the lane loop would not
            // vectorise.
            Op::Binary(op, a, b) => match op {
                BinOp::Add => binary(out, *a, *b, &inputs, |x, y| BinOp::Add.apply(x, y)),
                BinOp::Sub => binary(out, *a, *b, &inputs, |x, y| BinOp::Sub.apply(x, y)),
                BinOp::Mul => binary(out, *a, *b, &inputs, |x, y| BinOp::Mul.apply(x, y)),
                BinOp::Div => binary(out, *a, *b, &inputs, |x, y| BinOp::Div.apply(x, y)),
                BinOp::Pow => binary(out, *a, *b, &inputs, |x, y| BinOp::Pow.apply(x, y)),
            },
            Op::Square(a) => unary(out, inputs.lanes(*a), |x| x * x),
            Op::Cube(a) => unary(out, inputs.lanes(*a), |x| x * x * x),
            Op::Powi(a, i) => unary(out, inputs.lanes(*a), |x| x.powi(*i)),
            Op::Powf(a, e) => unary(out, inputs.lanes(*a), |x| x.powf(*e)),
            // Builtin::Relu's own definition, so NaN maps the same way
            Op::Relu(a) => unary(out, inputs.lanes(*a), |x| x.max(0.0)),
            Op::Call(f, args) => match args.as_slice() {
                [Operand::Reg(a)] => call_unary(*f, out, inputs.lanes(*a)),
                [a, b] => call_binary(*f, out, *a, *b, &inputs),
                _ => unreachable!("built-ins take one or two arguments"),
            },
            Op::Plate(_) => unreachable!("handled above"),
        }
    }
}

/// A one-argument built-in over the lanes. The cheap ones get a loop of
/// their own, in which `Builtin::eval` is inlined for that one function and
/// its `match` folds away: dispatching per lane cost more than the
/// function (a profile of he2015.toml put a tenth of the run in `eval`).
/// The function evaluated is `eval` itself, so every bit is as before.
fn call_unary(f: Builtin, out: &mut [f64], x: &[f64]) {
    macro_rules! lanes_of {
        ($($b:ident),*) => {
            match f {
                $(Builtin::$b => unary(out, x, |v| Builtin::$b.eval(&[v])),)*
                _ => unary(out, x, |v| f.eval(&[v])),
            }
        };
    }
    lanes_of!(
        Sqrt,
        Abs,
        Sign,
        Step,
        Identity,
        Hardtanh,
        Relu6,
        Hardswish,
        Hardsigmoid,
        Softsign
    )
}

/// A two-argument built-in over the lanes, the cheap ones inlined as in
/// [`call_unary`].
fn call_binary(f: Builtin, out: &mut [f64], a: Operand, b: Operand, inputs: &Inputs) {
    macro_rules! lanes_of {
        ($($b:ident),*) => {
            match f {
                $(Builtin::$b => binary(out, a, b, inputs, |x, y| Builtin::$b.eval(&[x, y])),)*
                _ => binary(out, a, b, inputs, |x, y| f.eval(&[x, y])),
            }
        };
    }
    lanes_of!(LeakyRelu, Prelu, Min, Max)
}

/// The plate's copies: per copy one refill of the body's draws, and every
/// sum over the plate adds its body's value lane by lane.
fn run_plate(plate: &PlateOp, regs: &mut [f64], rng: &mut Lanes, n: usize) {
    for &(_, total) in &plate.sums {
        regs[total * LANES..total * LANES + n].fill(0.0);
    }
    for _ in 0..plate.copies {
        run_block(&plate.body, regs, rng, n);
        for &(value, total) in &plate.sums {
            let (out, inputs) = Inputs::split(regs, total, n);
            for (o, &x) in out.iter_mut().zip(inputs.lanes(value)) {
                *o += x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BaseVar;
    use crate::model::rv::VarId;

    /// A scenario whose laws are never sampled: these tests look only at
    /// the compiled program.
    fn scenario(n: usize) -> Scenario {
        Scenario {
            name: "t".into(),
            bases: (0..n)
                .map(|i| BaseVar {
                    name: format!("v{i}"),
                    source: i,
                    component: 0,
                })
                .collect(),
            sources: (0..n)
                .map(|_| Source::Single(Law::Normal { mean: 0.0, sd: 1.0 }))
                .collect(),
        }
    }

    fn b(i: usize) -> Box<Rv> {
        Box::new(Rv::Base(VarId(i)))
    }

    fn relu_of(i: usize) -> Box<Rv> {
        Box::new(Rv::Call(Builtin::Relu, vec![Rv::Base(VarId(i))]))
    }

    fn count_instrs(block: &Block) -> usize {
        block
            .instrs
            .iter()
            .map(|i| match &i.op {
                Op::Plate(p) => 1 + count_instrs(&p.body),
                _ => 1,
            })
            .sum()
    }

    #[test]
    fn shared_subexpressions_compile_once() {
        let sq = Rv::Bin(BinOp::Pow, relu_of(0), Box::new(Rv::Const(2.0)));
        let moments = [
            Moment::E(sq.clone()),
            Moment::Var(sq.clone()),
            Moment::Cov(*relu_of(0), Rv::Bin(BinOp::Mul, relu_of(0), b(0))),
            Moment::E(Rv::Bin(BinOp::Add, relu_of(0), b(0))),
            Moment::E(Rv::Bin(BinOp::Add, b(0), relu_of(0))),
        ];
        let k = Kernel::compile(&scenario(1), &moments);
        // relu, square, relu*z, relu+z: four instructions, one draw
        assert_eq!(count_instrs(&k.top), 4);
        assert_eq!(k.top.draws.len(), 1);
        assert_eq!(k.roots[0].x, k.roots[1].x);
        assert_eq!(k.roots[3].x, k.roots[4].x);
    }

    #[test]
    fn constants_fold_with_the_lane_functions() {
        // sqrt(2/512) * z: the factor folds to one constant operand
        let factor = Rv::Call(
            Builtin::Sqrt,
            vec![Rv::Bin(
                BinOp::Div,
                Box::new(Rv::Const(2.0)),
                Box::new(Rv::Const(512.0)),
            )],
        );
        let k = Kernel::compile(
            &scenario(1),
            &[Moment::E(Rv::Bin(BinOp::Mul, Box::new(factor), b(0)))],
        );
        assert_eq!(k.top.instrs.len(), 1);
        match &k.top.instrs[0].op {
            Op::Binary(BinOp::Mul, Operand::Const(c), Operand::Reg(_)) => {
                assert_eq!(*c, (2.0f64 / 512.0).sqrt());
            }
            other => panic!("unexpected {other:?}"),
        }
        // a constant moment is broadcast into a register
        let k = Kernel::compile(&scenario(0), &[Moment::Var(Rv::Const(3.0))]);
        assert!(matches!(k.top.instrs[0].op, Op::Splat(3.0)));
    }

    #[test]
    fn sums_scope_their_draws_and_count_their_cost() {
        // E[z + sum(16, w*relu(z))]: the body's z is a fresh copy, so it is
        // drawn inside the sum, separately from the outer z
        let body = Rv::Bin(BinOp::Mul, b(1), relu_of(0));
        let s = Rv::Sum(16, Box::new(body));
        let k = Kernel::compile(
            &scenario(2),
            &[Moment::E(Rv::Bin(BinOp::Add, b(0), Box::new(s.clone())))],
        );
        assert_eq!(k.top.draws.len(), 1);
        let sum = k
            .top
            .instrs
            .iter()
            .find_map(|i| match &i.op {
                Op::Plate(s) => Some(s),
                _ => None,
            })
            .expect("a sum instruction");
        assert_eq!(sum.body.draws.len(), 2);
        assert_eq!(sum.body.instrs.len(), 2);
        // top: 1 draw + add + sum(1 + 16 * (2 draws + 2 instrs + 1 add)) + 1 accumulate
        assert_eq!(k.cost_per_draw(), 1 + 1 + (1 + 16 * (2 + 2 + 1)) + 1);
        // the same sum named twice is one variable
        let k = Kernel::compile(
            &scenario(2),
            &[Moment::E(Rv::Bin(
                BinOp::Mul,
                Box::new(s.clone()),
                Box::new(s),
            ))],
        );
        let sums = k
            .top
            .instrs
            .iter()
            .filter(|i| matches!(i.op, Op::Plate(_)))
            .count();
        assert_eq!(sums, 1);
    }

    /// The specialised powers (square, cube, powi, powf) and the random
    /// exponent's lane loop compute `BinOp::Pow.apply`, bit for bit.
    #[test]
    fn lanes_compute_the_cores_powers() {
        let exps = [2.0, 3.0, 7.0, -2.0, 0.5, 2.5];
        let mut moments = vec![Moment::E(Rv::Base(VarId(0)))];
        moments
            .extend(exps.map(|e| Moment::E(Rv::bin(BinOp::Pow, Rv::Base(VarId(0)), Rv::Const(e)))));
        // z^w with w random: the Binary instruction's loop
        moments.push(Moment::E(Rv::bin(
            BinOp::Pow,
            Rv::Base(VarId(0)),
            Rv::Base(VarId(1)),
        )));
        moments.push(Moment::E(Rv::Base(VarId(1))));
        let k = Kernel::compile(&scenario(2), &moments);
        let mut regs = k.register_file();
        let mut rng = crate::sample::StreamKey::new(7, &[]).lanes(0);
        k.run(&mut regs, &mut rng, LANES);
        let lanes = |m: usize| k.lanes(&regs, k.roots()[m].x, LANES);
        let z = lanes(0);
        for (i, e) in exps.iter().enumerate() {
            for (got, x) in lanes(i + 1).iter().zip(z) {
                assert_eq!(got.to_bits(), BinOp::Pow.apply(*x, *e).to_bits(), "{x}^{e}");
            }
        }
        let w = lanes(exps.len() + 2);
        for ((got, x), y) in lanes(exps.len() + 1).iter().zip(z).zip(w) {
            assert_eq!(got.to_bits(), BinOp::Pow.apply(*x, *y).to_bits(), "{x}^{y}");
        }
    }

    #[test]
    fn powers_follow_arith_pow() {
        let p = |e: f64| Rv::Bin(BinOp::Pow, b(0), Box::new(Rv::Const(e)));
        let k = Kernel::compile(
            &scenario(1),
            &[p(0.0), p(1.0), p(2.0), p(3.0), p(-2.0), p(0.5)].map(Moment::E),
        );
        let ops: Vec<String> = k.top.instrs.iter().map(|i| format!("{:?}", i.op)).collect();
        // x^0 and x^1 need no instruction beyond the splat of 1
        assert_eq!(ops.len(), 5, "{ops:?}");
        assert!(ops[0].starts_with("Splat(1.0)"));
        assert!(ops[1].starts_with("Square"));
        assert!(ops[2].starts_with("Cube"));
        assert!(ops[3].starts_with("Powi(0, -2)"));
        assert!(ops[4].starts_with("Powf(0, 0.5)"));
    }
}
