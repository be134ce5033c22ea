//! Copies of base variables, made explicit: the bridge from an indexed sum
//! to expressions the engines already understand.
//!
//! In `sum(i in n, T)` each copy of a variable follows the variable's law
//! and is independent of every other copy and of the variable itself (a
//! pair's copy is a pair). Naming a copy as a new base variable of a
//! widened scenario turns a statement about copies into an ordinary
//! expression over independent sources, so the existence rules and the
//! exact engine need no second set of rules for them: they see the same
//! mathematics, written out. A copy is named by its tag (`i=3`, or a block
//! of the exact rule's partition), so the same tag gives the same copy
//! wherever it is asked for: that is how two sums over one index share
//! their copies.

use super::rv::{Rv, VarId};
use super::{BaseVar, Scenario};

/// A scenario widened by copies of its base variables.
pub struct Copier {
    pub scenario: Scenario,
    /// (tag, original source) -> the copy's source.
    sources: Vec<((String, usize), usize)>,
}

impl Copier {
    pub fn new(scenario: &Scenario) -> Copier {
        Copier {
            scenario: scenario.clone(),
            sources: Vec::new(),
        }
    }

    /// The copy of `v` under `tag`, made on first request. A pair is
    /// copied as a pair: both components of one copy share one new source.
    fn copy_of(&mut self, v: VarId, tag: &str) -> VarId {
        let base = self.scenario.bases[v.0].clone();
        let key = (tag.to_string(), base.source);
        let source = match self.sources.iter().find(|(k, _)| *k == key) {
            Some((_, s)) => *s,
            None => {
                let s = self.scenario.sources.len();
                let law = self.scenario.sources[base.source].clone();
                self.scenario.sources.push(law);
                self.sources.push((key, s));
                s
            }
        };
        let name = format!("{}[{tag}]", base.name);
        if let Some(i) = self
            .scenario
            .bases
            .iter()
            .position(|b| b.source == source && b.component == base.component)
        {
            return VarId(i);
        }
        self.scenario.bases.push(BaseVar {
            name,
            source,
            component: base.component,
        });
        VarId(self.scenario.bases.len() - 1)
    }

    /// `body` with every [`Rv::Copy`] replaced by that variable's copy
    /// under `tag`; shared variables stay as they are.
    pub fn substitute(&mut self, body: &Rv, tag: &str) -> Rv {
        match body {
            Rv::Copy(v) => Rv::Base(self.copy_of(*v, tag)),
            _ => {
                let mut out = body.clone();
                for c in out.children_mut() {
                    *c = self.substitute(c, tag);
                }
                out
            }
        }
    }

    /// `x` with every indexed sum written out as the sum of its copies,
    /// copy `k` of index `i` tagged `i=k` (so sums over one index share
    /// them), or `None` when the copies would exceed `cap` in all.
    pub fn unfold(&mut self, x: &Rv, cap: u64) -> Option<Rv> {
        let mut plates = Vec::new();
        x.plates(&mut plates);
        if plates.iter().map(|p| p.count).sum::<u64>() > cap {
            return None;
        }
        Some(self.unfold_in(x))
    }

    fn unfold_in(&mut self, x: &Rv) -> Rv {
        match x {
            Rv::IndexedSum(s) => {
                let terms: Vec<Rv> = (1..=s.plate.count)
                    .map(|k| {
                        let tag = format!("{}={k}", s.plate.index);
                        self.substitute(&s.body, &tag)
                    })
                    .collect();
                balanced_sum(terms)
            }
            _ => {
                let mut out = x.clone();
                for c in out.children_mut() {
                    *c = self.unfold_in(c);
                }
                out
            }
        }
    }
}

/// The sum of `terms` as a balanced tree, so that depth grows like the
/// logarithm of their number (the analyses recurse on depth).
fn balanced_sum(mut terms: Vec<Rv>) -> Rv {
    if terms.len() == 1 {
        return terms.pop().expect("one term");
    }
    let right = terms.split_off(terms.len() / 2);
    Rv::bin(
        crate::lang::arith::BinOp::Add,
        balanced_sum(terms),
        balanced_sum(right),
    )
}
