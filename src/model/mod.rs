//! Scenarios: named model blocks of parameters, base variables and derived
//! variables, and the assumption predicates decided on them.

pub mod copies;
pub mod law;
pub mod rv;

use law::{Bivariate, Law};

/// Where a base variable's draws come from. Distinct sources are
/// independent; the two components of a `Bivariate` are not.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Single(Law),
    Bivariate(Bivariate),
}

#[derive(Clone, Debug, PartialEq)]
pub struct BaseVar {
    pub name: String,
    /// Index into [`Scenario::sources`].
    pub source: usize,
    /// 0, or 1 for the second variable of a pair.
    pub component: usize,
}

/// A resolved scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub bases: Vec<BaseVar>,
    pub sources: Vec<Source>,
}
pub mod resolve;
