//! Planning: every claim of every file resolved in every scenario it
//! applies to, before anything is sampled.
//!
//! Planning is where bad input is found (a name no scenario defines, a
//! side that does not resolve), so that no time is spent before it is
//! reported; it is also where the run's statistical tests are counted, over
//! every claim, so that the family-wise rate is shared by all of them.
//! The plans are one vector in run order (file, item, claim of the item,
//! scenario); each remembers where it came from by index.
//!
//! Planning also groups the trials the exact engine decides into the
//! self-check's shared samples, one per file and scenario ([`pool`],
//! `verdict::Pool`), over every plan before a selection drops any, so that
//! a claim's sampled numbers do not depend on which claims run beside it.

use super::load::{ClaimDef, File};
use crate::diag::{Diag, InputError};
use crate::exact::Outcome;
use crate::lang::ast::{Expr, ExprKind, Relation};
use crate::model::Scenario;
use crate::model::resolve::{Model, build};
use crate::model::rv::{Moment, Side};
use crate::net;
use crate::progress;
use crate::requirement::{Decision, decide};
use crate::sample::StreamKey;
use crate::verdict::{Budget, Pool, Settings, Trial, Verdict, pooled_draws};
use rayon::prelude::*;

/// Where a planned trial comes from: its file, the file's item, and the
/// claim within the item (in the order of `Item::claims`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct At {
    pub file: usize,
    pub item: usize,
    pub claim: usize,
}

/// One planned trial: everything needed to evaluate, owned.
pub(super) struct Planned {
    pub at: At,
    /// The scenario's name, or "-" for a claim about numbers.
    pub scenario_name: String,
    pub scenario: Scenario,
    pub moments: Vec<Moment>,
    pub lhs: Side,
    pub rhs: Side,
    pub relation: Relation,
    pub within: Option<(f64, bool)>,
    pub key: StreamKey,
    pub exact: Vec<Outcome>,
    pub requirements: Vec<(String, Decision)>,
    /// The stream of each requirement's sampled test: keyed by file,
    /// scenario and requirement, not claim, so that one requirement in one
    /// scenario is decided the same way for every claim that names it.
    pub requirement_keys: Vec<StreamKey>,
    pub expected: Option<Verdict>,
    pub pinned: bool,
    /// Where the trial's self-check reads its scenario's shared sample: the
    /// index of its [`Shared`] pool and its moments' columns there; `None`
    /// where the trial samples on its own stream.
    pub pooled: Option<(usize, Vec<usize>)>,
}

/// One scenario's shared sample for the self-check: the pool of its
/// file's trials there that the exact engine decides, and its size.
pub(super) struct Shared {
    pub scenario: Scenario,
    pub pool: Pool,
    /// Draws per batch: a first look's, as a trial of its own would take.
    pub per_batch: u64,
    pub cost_per_draw: u64,
    /// How many trials read it, selected or not.
    pub trials: usize,
}

impl Planned {
    pub fn trial(&self) -> Trial<'_> {
        Trial {
            scenario: &self.scenario,
            moments: &self.moments,
            lhs: &self.lhs,
            rhs: &self.rhs,
            relation: self.relation,
            within: self.within,
            key: self.key,
        }
    }

    /// Where the trial came from, for errors that point at its claim.
    pub fn site<'a>(&'a self, files: &'a [File]) -> Site<'a> {
        let f = &files[self.at.file];
        let def = f.items[self.at.item].claims()[self.at.claim];
        (f, def, &self.scenario_name)
    }
}

/// A planned trial's file, claim and scenario name.
pub(super) type Site<'a> = (&'a File, &'a ClaimDef, &'a str);

/// The series claims' plans: per file, per `[[series]]`, per network.
pub(super) type SeriesPlans = Vec<Vec<Vec<net::series::Planned>>>;

/// Free names of an expression (not functions, not constants).
fn free_names(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Name(n) => {
            if n != "pi" && n != "e" && !out.contains(n) {
                out.push(n.clone());
            }
        }
        ExprKind::Num(_) => {}
        // `x[i]` names `x`; the index is bound by its sum.
        ExprKind::Subscript { name, .. } => {
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        ExprKind::IndexedSum { count, body, .. } => {
            free_names(count, out);
            free_names(body, out);
        }
        ExprKind::Neg(a) => free_names(a, out),
        ExprKind::Binary(_, a, b) | ExprKind::Sum(a, b) => {
            free_names(a, out);
            free_names(b, out);
        }
        ExprKind::Call { args, .. } | ExprKind::Moment(_, args) => {
            args.iter().for_each(|a| free_names(a, out))
        }
    }
}

/// A claim's trials, one per scenario it applies to: the scenarios it
/// lists, or else every scenario that defines its names. A claim with no
/// names in a file with no scenarios is about numbers, and is planned once,
/// in an empty model named "-".
fn plan_claim(file: &File, at: At, def: &ClaimDef, seed: u64) -> Result<Vec<Planned>, InputError> {
    let bodies = file.functions.bodies(&file.origin, &file.text);
    let err = |d: Diag| InputError::located(&file.origin, &file.text, d, &bodies);
    let mut names = Vec::new();
    free_names(&def.claim.lhs, &mut names);
    free_names(&def.claim.rhs, &mut names);
    for (r, _) in &def.requires {
        r.args.iter().for_each(|a| free_names(a, &mut names));
    }
    let mut chosen: Vec<(&str, &Model)> = file
        .scenarios
        .iter()
        .filter(|(n, _, m)| match &def.scenarios {
            Some(list) => list.contains(n),
            None => names.iter().all(|n| m.defines(n)),
        })
        .map(|(n, _, m)| (n.as_str(), m))
        .collect();
    let about_numbers = chosen.is_empty();
    let numbers;
    if about_numbers {
        if !names.is_empty() || !file.scenarios.is_empty() {
            let missing = names
                .iter()
                .find(|n| !file.scenarios.iter().any(|(_, _, m)| m.defines(n)))
                .cloned()
                .unwrap_or_default();
            return Err(err(Diag::new(
                def.span.clone(),
                format!(
                    "no scenario of this file defines every name `{}` uses{}",
                    def.id,
                    if missing.is_empty() {
                        String::new()
                    } else {
                        format!(" (`{missing}` is defined nowhere)")
                    }
                ),
                "define the names in a [scenario.NAME] model, or list scenarios with `in`",
            )));
        }
        // Its requirements' arguments name nothing, and there is no
        // scenario to decide them in: refused, not ignored.
        if let Some((r, at)) = def.requires.first() {
            return Err(err(Diag::new(
                *at..*at + r.text.len(),
                format!(
                    "`{}` is a claim about numbers: no scenario to decide `{}` in",
                    def.id, r.text
                ),
                "leave out `requires`, or state the claim over variables of a [scenario.NAME] model",
            )));
        }
        numbers = build("-", &[], &file.functions).map_err(err)?;
        chosen.push(("-", &numbers));
    }
    let requires = &def.requires;
    chosen
        .into_iter()
        .map(|(name, model)| {
            let located = |d: Diag, at: usize| {
                let d = d.shifted(at);
                if about_numbers {
                    return err(d);
                }
                err(d.prefixed(&format!("in scenario `{name}`: ")))
            };
            let mut moments = Vec::new();
            let lhs = model
                .side(&def.claim.lhs, &file.functions, &mut moments)
                .map_err(|d| located(d, def.lhs_at))?;
            let rhs = model
                .side(&def.claim.rhs, &file.functions, &mut moments)
                .map_err(|d| located(d, def.rhs_at))?;
            let mut requirements = Vec::new();
            let mut requirement_keys = Vec::new();
            for (r, at) in requires {
                let d = decide(r, model, &file.functions).map_err(|d| located(d, *at))?;
                requirements.push((r.text.clone(), d));
                requirement_keys.push(StreamKey::new(seed, &[&file.name, name, &r.text]));
            }
            let pinned = def.expect.iter().find(|(s, _)| s == name).map(|(_, v)| *v);
            Ok(Planned {
                at,
                scenario_name: name.to_string(),
                scenario: model.scenario.clone(),
                moments,
                lhs,
                rhs,
                relation: def.claim.relation,
                within: def.within,
                key: StreamKey::new(seed, &[&file.name, &def.id, name]),
                exact: Vec::new(),
                expected: pinned.or_else(|| expected(&requirements)),
                requirements,
                requirement_keys,
                pinned: pinned.is_some(),
                pooled: None,
            })
        })
        .collect()
}

/// What a claim is expected to do where nothing is pinned: hold where every
/// requirement is met, and nothing otherwise.
fn expected(requirements: &[(String, Decision)]) -> Option<Verdict> {
    requirements
        .iter()
        .all(|(_, d)| d.met)
        .then_some(Verdict::Holds)
}

/// Resolves every claim of every file in every scenario it applies to, so
/// that bad input is reported before any time is spent: every claim's
/// error, not only the first.
pub(super) fn plan_all(files: &[File], seed: u64) -> Result<Vec<Planned>, InputError> {
    let mut claims = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        for (ii, item) in f.items.iter().enumerate() {
            for (ci, def) in item.claims().into_iter().enumerate() {
                let at = At {
                    file: fi,
                    item: ii,
                    claim: ci,
                };
                claims.push((f, at, def));
            }
        }
    }
    // Deciding requirements can take quadrature: in parallel, collected in
    // file order.
    let planned: Vec<_> = claims
        .into_par_iter()
        .map(|(f, at, def)| plan_claim(f, at, def, seed))
        .collect();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in planned {
        match p {
            Ok(p) => out.extend(p),
            Err(e) => errors.push(e),
        }
    }
    match InputError::all(errors) {
        None => Ok(out),
        Some(e) => Err(e),
    }
}

/// Every series claim of every file compiled against its networks, so that
/// bad input is reported before anything is simulated and the claims' tests
/// are counted in the run's budget.
pub(super) fn plan_series(files: &[File]) -> Result<SeriesPlans, InputError> {
    let mut errors = Vec::new();
    let plans = files
        .iter()
        .map(|f| {
            // A claim with `limit(...)` predicts by quadrature through the
            // layers: the claims in parallel, kept in file order.
            let planned: Vec<_> = f
                .series
                .par_iter()
                .map(|s| net::series::plan(s, &f.networks))
                .collect();
            planned
                .into_iter()
                .filter_map(|p| {
                    p.map_err(|d| errors.push(InputError::new(&f.origin, &f.text, d)))
                        .ok()
                })
                .collect()
        })
        .collect();
    match InputError::all(errors) {
        None => Ok(plans),
        Some(e) => Err(e),
    }
}

/// The errors planning would find in a file that failed to load, in what
/// of it did load: its claims in its scenarios, and its series claims when
/// `series` (every network loaded, so that a missing one is not blamed on
/// the claim).
pub(super) fn resolution_errors(file: &File, series: bool) -> Vec<InputError> {
    let files = std::slice::from_ref(file);
    let mut errors: Vec<InputError> = plan_all(files, 0).err().into_iter().collect();
    if series {
        errors.extend(plan_series(files).err());
    }
    errors.into_iter().flat_map(InputError::split).collect()
}

/// Evaluates every moment exactly and counts the run's statistical tests
/// into its budget: over every plan, selected or not, so that a selection
/// (`explain`) shares the whole run's budget and so its verdicts.
pub(super) fn prepare(plans: &mut [Planned], series_plans: &SeriesPlans) -> Budget {
    progress::phase("exact: every claim's moments", plans.len() as u64);
    plans.par_iter_mut().for_each(|p| {
        p.exact = p.trial().exact_moments();
        progress::advance(1);
    });
    let claims: u64 = plans
        .iter()
        .map(|p| Budget::tests_for(p.moments.len(), Trial::needs_sampling(&p.exact)))
        .sum();
    let series: u64 = series_plans
        .iter()
        .flatten()
        .flatten()
        .map(net::series::Planned::tests)
        .sum();
    let requirements: u64 = plans
        .iter()
        .flat_map(|p| &p.requirements)
        .filter_map(|(_, d)| d.pending.as_ref().map(|t| t.tests()))
        .sum();
    Budget::new(claims + series + requirements)
}

/// Groups the trials that the exact engine decides by file and scenario
/// (its name in the file, and the resolved scenario equal) into the
/// self-check's shared samples, and sets each member's `pooled`. Run over
/// every plan, selected or not, so that a pool is its scenario's whole
/// (and the same) in `explain` as in the audit. Where a pool's first look
/// would be over one test's share, its most expensive trials (by their own
/// moments' cost) leave it, one at a time, and keep samples of their own.
/// A pool needs two trials: one alone keeps its own stream, which is then
/// its scenario's sample all the same (and `check`'s answer the bytes it
/// always had).
pub(super) fn pool(files: &[File], plans: &mut [Planned], settings: &Settings) -> Vec<Shared> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        if !Trial::decided_exactly(&p.exact) {
            continue;
        }
        let same = |q: &Planned| {
            q.at.file == p.at.file && q.scenario_name == p.scenario_name && q.scenario == p.scenario
        };
        match groups.iter_mut().find(|g| same(&plans[g[0]])) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    // Compiling a pool's kernel to cost it: the groups in parallel, kept
    // in plan order.
    let fitted: Vec<Option<(Shared, Columns)>> = groups
        .par_iter()
        .map(|members| {
            let first = &plans[members[0]];
            let key = StreamKey::new(
                settings.seed,
                &[
                    &files[first.at.file].name,
                    &first.scenario_name,
                    "self-check",
                    "pool",
                ],
            );
            fit(plans, members, key, settings)
        })
        .collect();
    let mut shared = Vec::new();
    for (pool, columns) in fitted.into_iter().flatten() {
        for (i, c) in columns {
            plans[i].pooled = Some((shared.len(), c));
        }
        shared.push(pool);
    }
    shared
}

/// A pool's members: each one's plan index, and its moments' columns in
/// the pool.
type Columns = Vec<(usize, Vec<usize>)>;

/// The pool of `members` (plan indices in one scenario) whose first look
/// fits in one share, with each kept member's columns; the most expensive
/// members on their own leave first. `None` when fewer than two fit.
fn fit(
    plans: &[Planned],
    members: &[usize],
    key: StreamKey,
    settings: &Settings,
) -> Option<(Shared, Columns)> {
    let scenario = &plans[members[0]].scenario;
    let union = |kept: &[usize]| {
        let mut pool = Pool::new(key);
        let columns: Columns = kept
            .iter()
            .map(|&i| (i, pool.join(&plans[i].moments)))
            .collect();
        (pool, columns)
    };
    let mut kept = members.to_vec();
    let mut own: Option<Vec<u64>> = None;
    while kept.len() >= 2 {
        let (pool, columns) = union(&kept);
        let cost_per_draw = pool.cost_per_draw(scenario);
        if let Some(per_batch) = pooled_draws(cost_per_draw, settings) {
            let shared = Shared {
                scenario: scenario.clone(),
                pool,
                per_batch,
                cost_per_draw,
                trials: kept.len(),
            };
            return Some((shared, columns));
        }
        let own = own.get_or_insert_with(|| {
            members
                .iter()
                .map(|&i| union(&[i]).0.cost_per_draw(scenario))
                .collect()
        });
        // The most expensive member leaves (the last of equals), with its
        // cost, so that indices into `kept` and `own` stay together.
        let worst = (0..kept.len()).max_by_key(|&k| own[k])?;
        kept.remove(worst);
        own.remove(worst);
    }
    None
}

/// Settles the requirements that need sampled tests (they are in the
/// budget's count) and sets each claim's expectation from them. Only the
/// selected plans are settled: each test's stream is keyed by its file,
/// scenario and requirement, so its outcome does not depend on which others
/// run, and `explain` pays for the claim it shows, not the whole audit.
pub(super) fn settle(plans: &mut [Planned], settings: &Settings, budget: &Budget) {
    progress::phase("sampling: requirements", plans.len() as u64);
    plans.par_iter_mut().for_each(|p| {
        for ((_, d), key) in p.requirements.iter_mut().zip(&p.requirement_keys) {
            if let Some(test) = d.pending.take() {
                *d = test.settle(&p.scenario, *key, budget.critical, settings.resolution);
            }
        }
        if !p.pinned {
            p.expected = expected(&p.requirements);
        }
        progress::advance(1);
    });
}

/// Which items to evaluate, per file and item; the plans of the others are
/// dropped (the test budget was counted over all of them already).
pub(super) fn select(
    files: &[File],
    plans: &mut Vec<Planned>,
    selected: &dyn Fn(&str) -> bool,
) -> Vec<Vec<bool>> {
    let keep: Vec<Vec<bool>> = files
        .iter()
        .map(|f| {
            f.items
                .iter()
                .map(|i| i.claims().iter().any(|c| selected(&c.id)) || selected(i.id()))
                .collect()
        })
        .collect();
    plans.retain(|p| keep[p.at.file][p.at.item]);
    keep
}
