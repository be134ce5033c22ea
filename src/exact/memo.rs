//! Quadratures remembered across claims.
//!
//! An audit asks the same integral many times: `E[relu(y)^2]` under
//! `Normal(0, 1)` is a step of several claims in several files, a
//! requirement's test function integrates what a claim's side already
//! did, and a variance and a covariance that share a factor repeat their
//! centred integrals. Measured on the shipped audit (everything but
//! networks.toml), more than half of the quadrature time went to integrals
//! already computed once in the same run (BENCHMARKS.md, session 6).
//!
//! A quadrature is a pure function of what [`Key`] holds: the expression
//! (its constants to the bit, its base variables by index), for each base
//! variable it mentions its name (which messages quote), its component
//! and the law of its source, which of them share a source, and the
//! engine's tolerance and work cap. Nothing else of the scenario is read:
//! the integrand writes only those variables, and existence, which reads
//! the whole scenario, is decided before the memo is consulted. So a
//! remembered answer is the bits a fresh one would be, whichever claim,
//! file or thread asked first, and output does not depend on the order of
//! evaluation or the number of threads.
//!
//! The memo is bounded: past [`CAPACITY`] answers it starts afresh, so a
//! long `meanfield --plot` cannot grow it without limit.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

use super::quad::{Quad, QuadError};
use super::{Engine, Method, NoExact};
use crate::model::rv::{Rv, VarId};

/// What one quadrature returns.
pub(super) type Answer = Result<(Result<Quad, QuadError>, Method), NoExact>;

/// Answers kept before the memo is emptied: a few hundred distinct
/// integrals make up the whole shipped audit; a key is a few hundred bytes.
const CAPACITY: usize = 1 << 14;

/// Everything a quadrature's answer depends on, written out: `Debug` of an
/// `f64` is the shortest string that reads back to the same bits, so two
/// keys are equal exactly when the integrals are the same.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Key(String);

impl Key {
    /// The key of `E[expr]` in `engine`'s scenario, `vars` the base
    /// variables `expr` mentions (sorted) and `sources` theirs (sorted,
    /// each once).
    pub(super) fn new(engine: &Engine, expr: &Rv, vars: &[VarId], sources: &[usize]) -> Key {
        let scenario = engine.scenario;
        let mut key = String::with_capacity(256);
        // Writing to a String cannot fail.
        let _ = write!(
            key,
            "{:?}|{:?}|{}|{expr:?}",
            engine.tol.rel, engine.tol.abs, engine.work_cap
        );
        for v in vars {
            let base = &scenario.bases[v.0];
            let slot = sources.iter().position(|s| *s == base.source);
            let _ = write!(
                key,
                "|{}:{:?}={}.{}",
                v.0,
                base.name,
                slot.unwrap_or(usize::MAX),
                base.component
            );
        }
        for s in sources {
            let _ = write!(key, "|{:?}", scenario.sources[*s]);
        }
        Key(key)
    }
}

fn memo() -> &'static Mutex<HashMap<Key, Answer>> {
    static MEMO: OnceLock<Mutex<HashMap<Key, Answer>>> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The answer remembered under `key`, or `compute`'s, remembered. The lock
/// is not held while computing: two threads asking the same new integral
/// at once both compute it, and store the same bits.
pub(super) fn remembered(key: Key, compute: impl FnOnce() -> Answer) -> Answer {
    if let Some(answer) = lock().get(&key) {
        return answer.clone();
    }
    let answer = compute();
    let mut memo = lock();
    if memo.len() >= CAPACITY {
        memo.clear();
    }
    memo.insert(key, answer.clone());
    answer
}

/// The memo, even after a panic elsewhere poisoned it: its entries are
/// only ever whole answers, inserted after they were computed.
fn lock() -> std::sync::MutexGuard<'static, HashMap<Key, Answer>> {
    memo()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
