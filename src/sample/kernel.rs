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
//! A run of cheap element-wise instructions whose intermediate registers
//! nothing else reads (`relu(z)^2`, `-x^3 / 2`) is then fused into one
//! chain, so the lanes are loaded and stored once rather than once per
//! step; every step is its instruction's own operation, so fusing changes
//! no bit, and the work estimate still counts each step.
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
    /// Element-wise steps applied in turn to one register's lanes: what
    /// `fuse` makes of a run of the instructions above whose intermediate
    /// registers nothing else reads, so that the lanes are loaded and
    /// stored once instead of once per step.
    Chain(usize, Vec<Step>),
}

/// One lane operation of a [`Op::Chain`], each the instruction's own
/// arithmetic, so a chain's lanes have the bits of its steps run apart.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Neg,
    Square,
    Cube,
    Relu,
    /// `x op c`.
    Right(BinOp, f64),
    /// `c op x`.
    Left(BinOp, f64),
}

impl Step {
    #[inline(always)]
    fn apply(self, x: f64) -> f64 {
        match self {
            Step::Neg => -x,
            Step::Square => x * x,
            Step::Cube => x * x * x,
            // Builtin::Relu's own definition, so NaN maps the same way
            Step::Relu => x.max(0.0),
            Step::Right(op, c) => op.apply(x, c),
            Step::Left(op, c) => op.apply(c, x),
        }
    }

    /// The step on four lanes in one AVX register: the same IEEE
    /// operation as [`Step::apply`] on each lane (`max_pd(x, 0)` is the
    /// instruction the compiler makes of `x.max(0.0)`: 0 for NaN and for
    /// -0.0, as the lane loop of `Op::Relu` gives).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn apply_avx2(self, x: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m256d {
        use std::arch::x86_64::*;
        let c = |c: f64| _mm256_set1_pd(c);
        match self {
            Step::Neg => _mm256_xor_pd(x, c(-0.0)),
            Step::Square => _mm256_mul_pd(x, x),
            Step::Cube => _mm256_mul_pd(_mm256_mul_pd(x, x), x),
            Step::Relu => _mm256_max_pd(x, _mm256_setzero_pd()),
            Step::Right(BinOp::Add, k) => _mm256_add_pd(x, c(k)),
            Step::Right(BinOp::Sub, k) => _mm256_sub_pd(x, c(k)),
            Step::Right(BinOp::Mul, k) => _mm256_mul_pd(x, c(k)),
            Step::Right(BinOp::Div, k) => _mm256_div_pd(x, c(k)),
            Step::Left(BinOp::Add, k) => _mm256_add_pd(c(k), x),
            Step::Left(BinOp::Sub, k) => _mm256_sub_pd(c(k), x),
            Step::Left(BinOp::Mul, k) => _mm256_mul_pd(c(k), x),
            Step::Left(BinOp::Div, k) => _mm256_div_pd(c(k), x),
            Step::Right(BinOp::Pow, _) | Step::Left(BinOp::Pow, _) => {
                unreachable!("a power is never a step (`Op::as_chain`)")
            }
        }
    }
}

impl Op {
    /// The instruction as a chain of element-wise steps on one register,
    /// where it is one. A power with a constant base is left alone: it
    /// calls `pow`, whose cost no saved store would show.
    fn as_chain(&self) -> Option<(usize, Vec<Step>)> {
        let one = |a: usize, step| Some((a, vec![step]));
        match *self {
            Op::Neg(a) => one(a, Step::Neg),
            Op::Square(a) => one(a, Step::Square),
            Op::Cube(a) => one(a, Step::Cube),
            Op::Relu(a) => one(a, Step::Relu),
            Op::Binary(op, Operand::Reg(a), Operand::Const(c)) if op != BinOp::Pow => {
                one(a, Step::Right(op, c))
            }
            Op::Binary(op, Operand::Const(c), Operand::Reg(a)) if op != BinOp::Pow => {
                one(a, Step::Left(op, c))
            }
            Op::Chain(a, ref steps) => Some((a, steps.clone())),
            _ => None,
        }
    }

    /// Every register the instruction reads, a plate's body included.
    fn reads(&self, out: &mut Vec<usize>) {
        let operand = |o: &Operand, out: &mut Vec<usize>| {
            if let Operand::Reg(r) = o {
                out.push(*r)
            }
        };
        match self {
            Op::Splat(_) => {}
            Op::Neg(a)
            | Op::Square(a)
            | Op::Cube(a)
            | Op::Powi(a, _)
            | Op::Powf(a, _)
            | Op::Relu(a)
            | Op::Chain(a, _) => out.push(*a),
            Op::Binary(_, a, b) => {
                operand(a, out);
                operand(b, out);
            }
            Op::Call(_, args) => args.iter().for_each(|a| operand(a, out)),
            Op::Plate(p) => {
                for ins in &p.body.instrs {
                    ins.op.reads(out);
                }
                out.extend(p.sums.iter().map(|&(value, _)| value));
            }
        }
    }
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
        let roots: Vec<Root> = moments
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
        let mut top = top.into_block();
        let mut reads = Vec::new();
        for ins in &top.instrs {
            ins.op.reads(&mut reads);
        }
        for root in &roots {
            reads.extend([root.x, root.y]);
        }
        let mut uses = vec![0usize; regs];
        for r in reads {
            uses[r] += 1;
        }
        fuse(&mut top, &uses);
        Kernel {
            top,
            roots,
            registers: regs,
        }
    }

    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// Where each register lives, per chunk, in a register file that
    /// `chunks` chunks share: the `kept` registers (those read after the
    /// chunk has run) get a slot of their own in every chunk, after the
    /// others; every other register is one slot that each chunk overwrites.
    /// So several chunks can be run before their kept lanes are read while
    /// the file stays the size of one program plus the kept registers.
    pub fn chunk_slots(&self, kept: &[usize], chunks: usize) -> Vec<Vec<usize>> {
        (0..chunks)
            .map(|c| {
                (0..self.registers)
                    .map(|r| match kept.iter().position(|&k| k == r) {
                        Some(j) => self.registers + c * kept.len() + j,
                        None => r,
                    })
                    .collect()
            })
            .collect()
    }

    /// A zeroed register file for [`Kernel::run`] with slots laid out by
    /// [`Kernel::chunk_slots`].
    pub fn register_file(&self, kept: usize, chunks: usize) -> Vec<f64> {
        vec![0.0; (self.registers + kept * chunks) * LANES]
    }

    /// Draws `n <= LANES` lanes and evaluates every moment's expression on
    /// them, register `r` in slot `slots[r]`; the values are then in
    /// [`Kernel::lanes`].
    pub fn run(&self, regs: &mut [f64], slots: &[usize], rng: &mut Lanes, n: usize) {
        debug_assert!(n <= LANES);
        debug_assert_eq!(slots.len(), self.registers);
        run_block(&self.top, regs, slots, rng, n);
    }

    pub fn lanes<'a>(&self, regs: &'a [f64], slots: &[usize], reg: usize, n: usize) -> &'a [f64] {
        let at = slots[reg] * LANES;
        &regs[at..at + n]
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

/// Merges each element-wise instruction into the one instruction that
/// reads its register, where that register is read nowhere else (no other
/// instruction, no moment, no plate), recursively in plates' bodies. The
/// merged instruction runs where the reader ran, which its source register
/// reaches too: registers are written once per block run, before any read.
fn fuse(block: &mut Block, uses: &[usize]) {
    // the instruction index writing each register of this block
    let mut writer: HashMap<usize, usize> = HashMap::new();
    let mut gone = vec![false; block.instrs.len()];
    for i in 0..block.instrs.len() {
        if let Op::Plate(p) = &mut block.instrs[i].op {
            fuse(&mut p.body, uses);
            continue;
        }
        if let Some((src, steps)) = block.instrs[i].op.as_chain()
            && uses[src] == 1
            && let Some(&j) = writer.get(&src)
            && let Some((first, mut before)) = block.instrs[j].op.as_chain()
        {
            before.extend(steps);
            block.instrs[i].op = Op::Chain(first, before);
            gone[j] = true;
        }
        writer.insert(block.instrs[i].dst, i);
    }
    let mut gone = gone.into_iter();
    block.instrs.retain(|_| !gone.next().unwrap_or(false));
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
            // each step as the instruction it was
            Op::Chain(_, steps) => steps.len() as u64,
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
    /// Register -> slot of the file.
    slots: &'a [usize],
    dst: usize,
    n: usize,
}

impl<'a> Inputs<'a> {
    fn split(
        regs: &'a mut [f64],
        slots: &'a [usize],
        dst: usize,
        n: usize,
    ) -> (&'a mut [f64], Inputs<'a>) {
        let dst = slots[dst];
        let (below, rest) = regs.split_at_mut(dst * LANES);
        let (out, above) = rest.split_at_mut(LANES);
        (
            &mut out[..n],
            Inputs {
                below,
                above,
                slots,
                dst,
                n,
            },
        )
    }

    fn lanes(&self, r: usize) -> &'a [f64] {
        let r = self.slots[r];
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

fn run_block(block: &Block, regs: &mut [f64], slots: &[usize], rng: &mut Lanes, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, just checked.
        return unsafe { run_block_avx2(block, regs, slots, rng, n) };
    }
    run_block_in(block, regs, slots, rng, n)
}

/// [`run_block_in`] with four lanes to a register. No bit changes: the lane
/// loops are IEEE operations one lane at a time whatever the width (Rust
/// never fuses a multiply and an add on its own), and the calls are the
/// same functions.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_block_avx2(block: &Block, regs: &mut [f64], slots: &[usize], rng: &mut Lanes, n: usize) {
    run_block_in(block, regs, slots, rng, n)
}

#[inline(always)]
fn run_block_in(block: &Block, regs: &mut [f64], slots: &[usize], rng: &mut Lanes, n: usize) {
    for draw in &block.draws {
        match draw {
            Draw::Single(law, r) => {
                let at = slots[*r] * LANES;
                law.fill_lanes(rng, &mut regs[at..at + n])
            }
            Draw::Pair(pair, u, v) => {
                let (u, v) = two_registers(regs, slots[*u], slots[*v]);
                pair.fill_lanes(rng, &mut u[..n], &mut v[..n]);
            }
        }
    }
    for ins in &block.instrs {
        if let Op::Plate(plate) = &ins.op {
            run_plate(plate, regs, slots, rng, n);
            continue;
        }
        let (out, inputs) = Inputs::split(regs, slots, ins.dst, n);
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
            Op::Chain(a, steps) => chain(out, inputs.lanes(*a), steps),
            Op::Plate(_) => unreachable!("handled above"),
        }
    }
}

/// A chain's steps over the lanes, lane by lane.
fn chain(out: &mut [f64], x: &[f64], steps: &[Step]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, just checked.
        return unsafe { chain_avx2(out, x, steps) };
    }
    for (o, &x) in out.iter_mut().zip(x) {
        *o = steps.iter().fold(x, |v, step| step.apply(v));
    }
}

/// [`chain`] 32 lanes at a time, held in eight registers through
/// every step, so that a step costs its arithmetic and the lanes are
/// loaded and stored once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn chain_avx2(out: &mut [f64], x: &[f64], steps: &[Step]) {
    use std::arch::x86_64::*;
    const TILE: usize = 32;
    let n = out.len().min(x.len());
    let whole = n - n % TILE;
    for l in (0..whole).step_by(TILE) {
        // SAFETY: l + TILE <= whole <= both lengths.
        let mut t: [__m256d; TILE / 4] =
            std::array::from_fn(|k| unsafe { _mm256_loadu_pd(x.as_ptr().add(l + 4 * k)) });
        for step in steps {
            t = t.map(|v| step.apply_avx2(v));
        }
        for (k, v) in t.into_iter().enumerate() {
            // SAFETY: as for the loads.
            unsafe { _mm256_storeu_pd(out.as_mut_ptr().add(l + 4 * k), v) };
        }
    }
    for (o, &x) in out[whole..n].iter_mut().zip(&x[whole..n]) {
        *o = steps.iter().fold(x, |v, step| step.apply(v));
    }
}

/// The lanes of two distinct slots, both writable (a pair's components,
/// which a chunk layout may place apart).
fn two_registers(regs: &mut [f64], a: usize, b: usize) -> (&mut [f64], &mut [f64]) {
    debug_assert_ne!(a, b, "a pair's components have two registers");
    if a < b {
        let (low, high) = regs.split_at_mut(b * LANES);
        (&mut low[a * LANES..(a + 1) * LANES], &mut high[..LANES])
    } else {
        let (low, high) = regs.split_at_mut(a * LANES);
        (&mut high[..LANES], &mut low[b * LANES..(b + 1) * LANES])
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
fn run_plate(plate: &PlateOp, regs: &mut [f64], slots: &[usize], rng: &mut Lanes, n: usize) {
    for &(_, total) in &plate.sums {
        let at = slots[total] * LANES;
        regs[at..at + n].fill(0.0);
    }
    for _ in 0..plate.copies {
        run_block(&plate.body, regs, slots, rng, n);
        for &(value, total) in &plate.sums {
            let (out, inputs) = Inputs::split(regs, slots, total, n);
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
    use crate::model::law::Bivariate;
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
        let mut regs = k.register_file(0, 1);
        let slots = &k.chunk_slots(&[], 1)[0];
        let mut rng = crate::sample::StreamKey::new(7, &[]).lanes(0);
        k.run(&mut regs, slots, &mut rng, LANES);
        let lanes = |m: usize| k.lanes(&regs, slots, k.roots()[m].x, LANES);
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

    /// Element-wise runs whose intermediates nothing else reads become
    /// one chain each; a register a moment reads is not fused away. The
    /// chains' lanes are `Rv::eval_at`'s, bit for bit, with every register
    /// read through a chunk layout that moves the kept registers (a pair's
    /// components in two places), and the cost counts each step as the
    /// instruction it was.
    #[test]
    fn element_wise_runs_fuse_into_chains() {
        let (u, v) = (|| Rv::Base(VarId(0)), || Rv::Base(VarId(1)));
        let c = Rv::Const;
        let relu = |x: Rv| Rv::Call(Builtin::Relu, vec![x]);
        let moments = [
            Moment::E(u()),
            // relu, *3, -1, ^2: one chain of four steps
            Moment::E(Rv::bin(
                BinOp::Pow,
                Rv::bin(BinOp::Sub, Rv::bin(BinOp::Mul, relu(v()), c(3.0)), c(1.0)),
                c(2.0),
            )),
            // cube, negation, /2: a chain of three
            Moment::E(Rv::bin(
                BinOp::Div,
                Rv::Neg(Box::new(Rv::bin(BinOp::Pow, u(), c(3.0)))),
                c(2.0),
            )),
            // 1 / (0.5 + u): constants on the left, a chain of two
            Moment::E(Rv::bin(
                BinOp::Div,
                c(1.0),
                Rv::bin(BinOp::Add, c(0.5), u()),
            )),
            // relu(u) is a moment's and a square's: two instructions
            Moment::E(relu(u())),
            Moment::Var(Rv::bin(BinOp::Pow, relu(u()), c(2.0))),
        ];
        let scenario = Scenario {
            name: "pair".into(),
            bases: (0..2)
                .map(|i| BaseVar {
                    name: format!("v{i}"),
                    source: 0,
                    component: i,
                })
                .collect(),
            sources: vec![Source::Bivariate(Bivariate {
                sd_u: 1.0,
                sd_v: 2.0,
                rho: 0.5,
            })],
        };
        let k = Kernel::compile(&scenario, &moments);
        let chains: Vec<usize> = k
            .top
            .instrs
            .iter()
            .filter_map(|i| match &i.op {
                Op::Chain(_, steps) => Some(steps.len()),
                _ => None,
            })
            .collect();
        assert_eq!(chains, [4, 3, 2]);
        // relu(u) and its square stay apart, its square read by a moment
        assert_eq!(k.top.instrs.len(), 5);
        // 2 draws, 4 + 3 + 2 steps, relu and square, 6 accumulations
        assert_eq!(k.cost_per_draw(), 2 + 9 + 2 + 6);

        let kept: Vec<usize> = k.roots().iter().map(|r| r.x).collect();
        let slots = &k.chunk_slots(&kept, 3)[2];
        assert_ne!(slots[0], 0, "u, a moment's, has moved");
        assert_eq!(slots[1], 1, "v has not");
        let mut regs = k.register_file(kept.len(), 3);
        let mut rng = crate::sample::StreamKey::new(11, &[]).lanes(0);
        k.run(&mut regs, slots, &mut rng, LANES - 3);
        let lanes = |r: usize| k.lanes(&regs, slots, r, LANES - 3);
        let (us, vs) = (lanes(0), lanes(1));
        for (m, root) in k.roots().iter().enumerate() {
            let e = match &moments[m] {
                Moment::E(e) | Moment::Var(e) => e,
                Moment::Cov(..) => unreachable!(),
            };
            for ((got, &x), &y) in lanes(root.x).iter().zip(us).zip(vs) {
                assert_eq!(got.to_bits(), e.eval_at(&[x, y]).to_bits(), "moment {m}");
            }
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
