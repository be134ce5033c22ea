//! A moment's expression as a sum of monomials over *atoms* (base
//! variables, calls, sums of copies): the form in which the engine splits
//! each product into independent groups.
//!
//! Expansion stops at [`MAX_MONOMIALS`]: past it, a product of sums has
//! grown beyond what rounding would leave of it, and the engine evaluates
//! the expression whole instead.

use crate::lang::arith::BinOp;
use crate::model::rv::Rv;

/// How far apart in size a product's factors may be before expanding it
/// would lose everything to rounding; past this many monomials the engine
/// gives up on expansion.
pub(super) const MAX_MONOMIALS: usize = 4096;

/// An atom raised to a power inside a monomial.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Factor {
    pub(super) atom: Rv,
    pub(super) power: u32,
}

/// `coef * prod(atom^power)`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Monomial {
    pub(super) coef: f64,
    pub(super) factors: Vec<Factor>,
}

impl Monomial {
    pub(super) fn constant(c: f64) -> Monomial {
        Monomial {
            coef: c,
            factors: Vec::new(),
        }
    }

    pub(super) fn times(&self, o: &Monomial) -> Monomial {
        let mut factors = self.factors.clone();
        for f in &o.factors {
            match factors.iter_mut().find(|g| g.atom == f.atom) {
                Some(g) => g.power += f.power,
                None => factors.push(f.clone()),
            }
        }
        Monomial {
            coef: self.coef * o.coef,
            factors,
        }
    }
}

/// Expands `x` into monomials over atoms, or `None` past [`MAX_MONOMIALS`].
pub(super) fn expand(x: &Rv) -> Option<Vec<Monomial>> {
    let atom = |a: &Rv| {
        Some(vec![Monomial {
            coef: 1.0,
            factors: vec![Factor {
                atom: a.clone(),
                power: 1,
            }],
        }])
    };
    match x {
        Rv::Const(c) => Some(vec![Monomial::constant(*c)]),
        Rv::Neg(a) => Some(
            expand(a)?
                .into_iter()
                .map(|m| Monomial { coef: -m.coef, ..m })
                .collect(),
        ),
        Rv::Bin(BinOp::Add, a, b) => {
            let mut v = expand(a)?;
            v.extend(expand(b)?);
            (v.len() <= MAX_MONOMIALS).then_some(v)
        }
        Rv::Bin(BinOp::Sub, a, b) => {
            let mut v = expand(a)?;
            v.extend(expand(&Rv::Neg(b.clone()))?);
            (v.len() <= MAX_MONOMIALS).then_some(v)
        }
        Rv::Bin(BinOp::Mul, a, b) => product(&expand(a)?, &expand(b)?),
        Rv::Bin(BinOp::Div, a, b) => match **b {
            Rv::Const(c) => expand(&Rv::Bin(
                BinOp::Mul,
                a.clone(),
                Box::new(Rv::Const(1.0 / c)),
            )),
            _ => product(
                &expand(a)?,
                &atom(&Rv::Bin(BinOp::Div, Box::new(Rv::Const(1.0)), b.clone()))?,
            ),
        },
        Rv::Bin(BinOp::Pow, a, b) => match **b {
            Rv::Const(k) if k == k.trunc() && (0.0..=16.0).contains(&k) => {
                let base = expand(a)?;
                if base.len() == 1 {
                    // One monomial: raise each factor, no blow-up.
                    let m = &base[0];
                    let k = k as u32;
                    return Some(vec![Monomial {
                        coef: m.coef.powi(k as i32),
                        factors: m
                            .factors
                            .iter()
                            .filter(|_| k > 0)
                            .map(|f| Factor {
                                atom: f.atom.clone(),
                                power: f.power * k,
                            })
                            .collect(),
                    }]);
                }
                let mut acc = vec![Monomial::constant(1.0)];
                for _ in 0..k as u32 {
                    acc = product(&acc, &base)?;
                }
                Some(acc)
            }
            _ => atom(x),
        },
        Rv::Base(_) | Rv::Call(..) | Rv::Sum(..) | Rv::IndexedSum(_) | Rv::Copy(_) => atom(x),
    }
}

pub(super) fn product(a: &[Monomial], b: &[Monomial]) -> Option<Vec<Monomial>> {
    if a.len() * b.len() > MAX_MONOMIALS {
        return None;
    }
    Some(
        a.iter()
            .flat_map(|m| b.iter().map(|n| m.times(n)))
            .collect(),
    )
}

pub(super) fn product_rv(group: &[Factor]) -> Rv {
    group
        .iter()
        .map(|f| {
            if f.power == 1 {
                f.atom.clone()
            } else {
                Rv::Bin(
                    BinOp::Pow,
                    Box::new(f.atom.clone()),
                    Box::new(Rv::Const(f.power as f64)),
                )
            }
        })
        .reduce(|a, b| Rv::bin(BinOp::Mul, a, b))
        .unwrap_or(Rv::Const(1.0))
}
