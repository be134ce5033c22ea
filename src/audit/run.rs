//! Running: the plans evaluated, refused where they are over the budget,
//! and gathered into the report.
//!
//! Work is estimated before it is done: the whole run is refused before any
//! draw when its estimate is over the budget (`refuse_over_budget`); the
//! self-check's shared samples are drawn, one per scenario (`plan::pool`),
//! and the claims the exact engine decides are checked against them; every
//! other pilot runs; what the power calculations cannot afford refuses the run
//! (`refuse_unaffordable`); then the powered tests run. Networks are drawn
//! at their tables' draws, then extended (same streams) to the plug-in
//! size and, where that does not decide, the worst case of their series
//! claims' power calculations. Trials run in parallel and
//! are collected in order, so the output does not depend on the thread
//! count.

use super::load::{ClaimDef, File, Item};
use super::plan::{
    At, Planned, SeriesPlans, Shared, Site, plan_all, plan_series, pool, prepare, select, settle,
};
use crate::diag::{Diag, InputError};
use crate::net;
use crate::outcome::{Checked, Entry, FileReport, Report, Row, attribution};
use crate::progress;
use crate::verdict::{BATCHES, Budget, Drawn, Evaluation, Settings, Stage};
use crate::work;
use rayon::prelude::*;
use std::iter::Peekable;

/// Plans and runs every claim of the files.
pub fn run(files: &[File], settings: &Settings) -> Result<Report, InputError> {
    run_selected(files, settings, &|_| true)
}

/// Plans every claim of the files but evaluates only those whose id (or
/// whose derivation's id) `selected` accepts. Planning everything keeps the
/// test budget, and so every verdict, the same as in the whole audit.
pub fn run_selected(
    files: &[File],
    settings: &Settings,
    selected: &dyn Fn(&str) -> bool,
) -> Result<Report, InputError> {
    refuse_empty(files)?;
    let _progress = progress::run();
    let mut plans = plan_all(files, settings.seed)?;
    let series_plans = plan_series(files)?;
    check_memory(files, &series_plans, selected)?;
    let budget = prepare(&mut plans, &series_plans);
    let pools = pool(files, &mut plans, settings);
    let keep = select(files, &mut plans, selected);
    settle(&mut plans, settings, &budget);
    let run = Run {
        files,
        plans: &plans,
        pools: &pools,
        settings,
        budget: &budget,
    };
    let evaluations = evaluate(&run, &series_plans, selected)?;
    let mut results = plans.into_iter().zip(evaluations).peekable();
    let mut files_out = Vec::new();
    for (fi, ((f, keep), series)) in files.iter().zip(&keep).zip(&series_plans).enumerate() {
        let mut entries = checked_items(fi, f, keep, &mut results);
        entries.extend(check_series(f, series, settings, budget.tests, selected)?);
        files_out.push(FileReport {
            name: f.name.clone(),
            entries,
        });
    }
    Ok(Report {
        files: files_out,
        settings: *settings,
        tests: budget.tests,
        critical: budget.critical,
    })
}

/// A file with nothing to check is refused: passing an audit of nothing
/// would read as a proof of something.
fn refuse_empty(files: &[File]) -> Result<(), InputError> {
    let Some(f) = files
        .iter()
        .find(|f| f.items.is_empty() && f.series.is_empty())
    else {
        return Ok(());
    };
    Err(InputError::new(
        &f.origin,
        &f.text,
        Diag::new(
            0..0,
            "nothing to check: this file has no [[claim]], [[derivation]] or [[series]]",
            "add a [[claim]] with `id` and `says`, or audit the files that hold the claims",
        ),
    ))
}

/// What a run evaluates: the files, their selected plans, the
/// self-check's pools (over every plan, selected or not), the settings and
/// the test budget.
struct Run<'a> {
    files: &'a [File],
    plans: &'a [Planned],
    pools: &'a [Shared],
    settings: &'a Settings,
    budget: &'a Budget,
}

impl Run<'_> {
    /// Which pools a selected plan reads: only those are drawn, each whole.
    fn pools_used(&self) -> Vec<bool> {
        let mut used = vec![false; self.pools.len()];
        for (k, _) in self.plans.iter().filter_map(|p| p.pooled.as_ref()) {
            used[*k] = true;
        }
        used
    }

    /// CPU-seconds of one core pool `k`'s first look is estimated at:
    /// exactly what drawing it costs.
    fn pool_seconds(&self, k: usize) -> f64 {
        let s = &self.pools[k];
        work::lane_seconds((s.per_batch * BATCHES as u64) as f64 * s.cost_per_draw as f64)
    }
}

/// Every selected plan evaluated, in plan order: refused before any draw
/// when the estimate is over the budget; the pools the selected plans read
/// drawn, and the claims the exact engine decides checked against them;
/// the other pilots, refused where the powered tests cannot be afforded,
/// then the powered tests; a trial that met NaN or infinity is bad input.
fn evaluate(
    run: &Run,
    series_plans: &SeriesPlans,
    selected: &dyn Fn(&str) -> bool,
) -> Result<Vec<Evaluation>, InputError> {
    let (plans, settings, budget) = (run.plans, run.settings, run.budget);
    let sites: Vec<Site> = plans.iter().map(|p| p.site(run.files)).collect();
    let networks = networks_used(run.files, series_plans, selected);
    let used = run.pools_used();
    refuse_over_budget(run, &sites, &used, &networks)?;
    let drawn = draw_pools(run, &used);
    let mut evaluations = first_looks(run, &drawn);
    let pools_spent: f64 = drawn.iter().flatten().map(Drawn::spent_seconds).sum();
    refuse_unaffordable(&sites, &evaluations, pools_spent, &networks, settings)?;
    let powered: Vec<(usize, u64)> = evaluations
        .iter()
        .enumerate()
        .filter_map(|(i, ev)| ev.need.map(|n| (i, n)))
        .collect();
    progress::phase("sampling: powered tests", powered.len() as u64);
    let again: Vec<Evaluation> = powered
        .par_iter()
        .map(|&(i, n)| {
            let p = &plans[i];
            let ev = p
                .trial()
                .evaluate(&p.exact, settings, budget, Stage::Powered(n));
            progress::advance(1);
            ev
        })
        .collect();
    for ((i, _), ev) in powered.iter().zip(again) {
        evaluations[*i] = ev;
    }
    reject_ill_posed(&sites, &evaluations)?;
    Ok(evaluations)
}

/// The pools the selected plans read, drawn (in parallel, each on its own
/// stream, so in any order); `None` for the others.
fn draw_pools(run: &Run, used: &[bool]) -> Vec<Option<Drawn>> {
    let count = used.iter().filter(|u| **u).count();
    progress::phase("sampling: shared self-checks", count as u64);
    run.pools
        .par_iter()
        .zip(used)
        .map(|(s, &used)| {
            used.then(|| {
                let drawn = s.pool.draw(&s.scenario, s.per_batch);
                progress::advance(1);
                drawn
            })
        })
        .collect()
}

/// Every selected plan's first evaluation, in plan order: against its pool
/// where it has one, else its own pilot. A pool whose draws met a
/// non-finite value in another claim's moment leaves a claim to its own
/// sample.
fn first_looks(run: &Run, drawn: &[Option<Drawn>]) -> Vec<Evaluation> {
    let (settings, budget) = (run.settings, run.budget);
    progress::phase("sampling: first looks", run.plans.len() as u64);
    run.plans
        .par_iter()
        .map(|p| {
            let trial = p.trial();
            let pooled = p.pooled.as_ref().and_then(|(k, columns)| {
                let drawn = drawn[*k].as_ref()?;
                trial.pooled(&p.exact, settings, budget, drawn, columns)
            });
            let ev =
                pooled.unwrap_or_else(|| trial.evaluate(&p.exact, settings, budget, Stage::Pilot));
            progress::advance(1);
            ev
        })
        .collect()
}

/// The entries of file `fi`'s selected items (`keep`), their rows taken
/// from the front of `results`.
fn checked_items(
    fi: usize,
    f: &File,
    keep: &[bool],
    results: &mut Peekable<impl Iterator<Item = (Planned, Evaluation)>>,
) -> Vec<Entry> {
    f.items
        .iter()
        .enumerate()
        .filter(|(ii, _)| keep[*ii])
        .map(|(ii, item)| {
            let checked = item
                .claims()
                .into_iter()
                .enumerate()
                .map(|(ci, def)| {
                    let at = At {
                        file: fi,
                        item: ii,
                        claim: ci,
                    };
                    checked(def, rows(at, results))
                })
                .collect();
            entry(item, checked)
        })
        .collect()
}

fn error_at(site: &Site, message: String, help: &str) -> InputError {
    let (f, def, scenario) = site;
    InputError::new(
        &f.origin,
        &f.text,
        Diag::new(
            def.span.clone(),
            format!("in scenario `{scenario}`: {message}"),
            help,
        ),
    )
}

/// A claim that produces NaN or infinity is not well posed where it was
/// evaluated: that is bad input, reported at the claim.
fn reject_ill_posed(sites: &[Site], evaluations: &[Evaluation]) -> Result<(), InputError> {
    for (site, ev) in sites.iter().zip(evaluations) {
        if let Some(what) = &ev.non_finite {
            return Err(error_at(
                site,
                what.clone(),
                "keep every function inside its domain for every value the \
                 variables can take (log and sqrt of positives, no division by zero)",
            ));
        }
    }
    Ok(())
}

const BUDGET_HELP: &str = "raise --budget (CPU-seconds of one core) or --max-samples, widen \
     --resolution (or the claim's `within`), or make the claim cheaper (smaller sums, fewer scenarios)";

/// The networks the selected series claims simulate, per file, with the
/// work their draws are estimated at (seconds of one core).
fn networks_used(
    files: &[File],
    series_plans: &SeriesPlans,
    selected: &dyn Fn(&str) -> bool,
) -> Vec<(usize, usize, f64)> {
    let mut out = Vec::new();
    for (fi, (f, plans)) in files.iter().zip(series_plans).enumerate() {
        for (ni, n) in f.networks.iter().enumerate() {
            let used = f
                .series
                .iter()
                .zip(plans)
                .any(|(s, p)| selected(&s.id) && p.iter().any(|p| p.network == ni));
            if used {
                out.push((fi, ni, n.seconds()));
            }
        }
    }
    out
}

/// Before any sampling: the run's estimated work (every pool the selected
/// plans read, once; every other pilot and self-check within its share;
/// every network at the draws its table asks for) against the budget.
/// Over it, the run is refused, naming the most expensive piece.
fn refuse_over_budget(
    run: &Run,
    sites: &[Site],
    used: &[bool],
    networks: &[(usize, usize, f64)],
) -> Result<(), InputError> {
    let (files, settings) = (run.files, run.settings);
    let pieces = pieces(run, used);
    let total = pieces.iter().map(|p| p.1).sum::<f64>() + networks.iter().map(|n| n.2).sum::<f64>();
    if total <= settings.budget {
        return Ok(());
    }
    let summary = format!(
        "the run is estimated at {} of work on one core, over the budget of {}",
        work::human_seconds(total),
        work::human_seconds(settings.budget)
    );
    let biggest_net = networks.iter().max_by(|a, b| a.2.total_cmp(&b.2));
    let biggest_claim = pieces.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    match (biggest_net, biggest_claim) {
        (Some(&(fi, ni, secs)), c) if c.is_none_or(|(_, s, _)| secs >= *s) => Err(network_error(
            &files[fi],
            &files[fi].networks[ni],
            secs,
            &summary,
        )),
        (_, Some(&(i, secs, pool))) => {
            let what = match pool {
                None => "this claim's self-check and first look".to_string(),
                Some(k) => format!(
                    "the self-check sample this scenario's {} exactly decided claims share",
                    run.pools[k].trials
                ),
            };
            Err(error_at(
                &sites[i],
                format!(
                    "{summary}; the most expensive piece is {what}, {}",
                    work::human_seconds(secs)
                ),
                BUDGET_HELP,
            ))
        }
        _ => Ok(()),
    }
}

/// The claims' work estimated before any draw, piece by piece in
/// CPU-seconds of one core, each with the plan it is reported at: each
/// unpooled plan's pilot and self-check (`Trial::pilot_ops`, a bound on
/// what its pilot spends), and each pool the selected plans read, once
/// (exactly what its draws then cost), at the first selected plan that
/// reads it.
fn pieces(run: &Run, used: &[bool]) -> Vec<(usize, f64, Option<usize>)> {
    let pilots: Vec<(usize, f64, Option<usize>)> = run
        .plans
        .par_iter()
        .enumerate()
        .filter(|(_, p)| p.pooled.is_none())
        .map(|(i, p)| {
            (
                i,
                work::lane_seconds(p.trial().pilot_ops(run.settings)),
                None,
            )
        })
        .collect();
    let pools = (0..run.pools.len()).filter(|&k| used[k]).filter_map(|k| {
        let first = run
            .plans
            .iter()
            .position(|p| p.pooled.as_ref().is_some_and(|c| c.0 == k))?;
        Some((first, run.pool_seconds(k), Some(k)))
    });
    pilots.into_iter().chain(pools).collect()
}

/// A network over the budget, pointed at its table.
pub fn network_error(f: &File, n: &net::Network, secs: f64, summary: &str) -> InputError {
    let header = format!("[network.{}]", n.name);
    let at = f.text.find(&header).unwrap_or(0);
    let end = if f.text.len() >= at + header.len() {
        at + header.len()
    } else {
        at
    };
    InputError::new(
        &f.origin,
        &f.text,
        Diag::new(
            at..end,
            format!(
                "{summary}; network `{}` alone is {} ({} draws)",
                n.name,
                work::human_seconds(secs),
                n.draws
            ),
            "raise --budget (CPU-seconds of one core), or give the network fewer `draws`, \
             `inputs` or smaller widths",
        ),
    )
}

/// After the pilots: a test that cannot be afforded at all, or the powered
/// tests together over what is left of the budget, refuse the run before
/// the powered sampling starts.
fn refuse_unaffordable(
    sites: &[Site],
    evaluations: &[Evaluation],
    pools_spent: f64,
    networks: &[(usize, usize, f64)],
    settings: &Settings,
) -> Result<(), InputError> {
    for (site, ev) in sites.iter().zip(evaluations) {
        if let Some(why) = &ev.refused {
            return Err(error_at(
                site,
                format!("cannot be decided within the budget: {why}"),
                BUDGET_HELP,
            ));
        }
    }
    let spent: f64 = evaluations
        .iter()
        .map(Evaluation::spent_seconds)
        .sum::<f64>()
        + pools_spent
        + networks.iter().map(|n| n.2).sum::<f64>();
    let needs: Vec<f64> = evaluations.iter().map(Evaluation::needed_seconds).collect();
    let total = spent + needs.iter().sum::<f64>();
    if total <= settings.budget {
        return Ok(());
    }
    let Some((i, secs)) = needs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) else {
        return Ok(());
    };
    let ev = &evaluations[i];
    Err(error_at(
        &sites[i],
        format!(
            "the sampled tests need {} of work on one core in all, over the budget of {}; this \
             one needs {} draws ({}) to be decided except with the run's error rate",
            work::human_seconds(total),
            work::human_seconds(settings.budget),
            ev.need.unwrap_or(0) * BATCHES as u64,
            work::human_seconds(*secs)
        ),
        BUDGET_HELP,
    ))
}

/// The rows of one claim: the evaluated plans at `at`, taken from the
/// front of `results` (which is in plan order).
fn rows(at: At, results: &mut Peekable<impl Iterator<Item = (Planned, Evaluation)>>) -> Vec<Row> {
    std::iter::from_fn(|| results.next_if(|(p, _)| p.at == at))
        .map(|(p, evaluation)| Row {
            as_expected: p.expected.is_none_or(|v| v == evaluation.verdict),
            scenario: p.scenario_name,
            requirements: p.requirements,
            evaluation,
            expected: p.expected,
            pinned: p.pinned,
        })
        .collect()
}

/// A claim of the file, checked: its rows and their attribution.
fn checked(def: &ClaimDef, rows: Vec<Row>) -> Checked {
    Checked {
        id: def.id.clone(),
        cite: def.cite.clone(),
        why: def.why.clone(),
        says: format!("{}", def.claim),
        relation: def.claim.relation,
        on_networks: false,
        attribution: attribution(&rows),
        rows,
    }
}

/// An item's report entry from its claims, checked (in `Item::claims`
/// order).
fn entry(item: &Item, mut checked: Vec<Checked>) -> Entry {
    match item {
        Item::Claim(_) => Entry::Claim(checked.remove(0)),
        Item::Derivation { id, cite, .. } => {
            let overall = checked.pop().expect("a derivation has its overall claim");
            Entry::Derivation {
                id: id.clone(),
                cite: cite.clone(),
                links: checked,
                overall,
            }
        }
    }
}

/// Simulates the networks a file's series claims use (each once, at the
/// draws their tables ask for: the pilot), and where a layer is undecided
/// extends its network to the plug-in size and, where one still is, to
/// the worst case; the whole run is refused up front when the worst cases
/// are over the budget. Then checks the claims at the draws each network
/// ended with.
fn check_series(
    f: &File,
    plans: &[Vec<net::series::Planned>],
    settings: &Settings,
    tests: u64,
    selected: &dyn Fn(&str) -> bool,
) -> Result<Vec<Entry>, InputError> {
    let chosen: Vec<bool> = f.series.iter().map(|s| selected(&s.id)).collect();
    let claims = || {
        f.series
            .iter()
            .zip(plans)
            .zip(&chosen)
            .filter(|(_, c)| **c)
            .map(|(sp, _)| sp)
    };
    // One network at a time (its draws run in parallel), so that the draws
    // in flight are those one network's memory plan allowed for.
    let mut stats: Vec<Option<net::simulate::Stats>> = f
        .networks
        .iter()
        .zip(used_networks(f, plans, selected))
        .map(|(n, used)| {
            used.then(|| net::simulate::simulate(n, net::key(n, settings.seed)))
                .transpose()
                .map_err(|d| InputError::new(&f.origin, &f.text, d))
        })
        .collect::<Result<_, _>>()?;
    let none = net::series::Extension {
        plug_in: 0.0,
        worst: 0.0,
    };
    let mut need = vec![none; f.networks.len()];
    for (s, p) in claims() {
        for (i, e) in net::series::draws_needed(s, p, &stats, settings, tests) {
            need[i].plug_in = need[i].plug_in.max(e.plug_in);
            need[i].worst = need[i].worst.max(e.worst);
        }
    }
    let cost: Vec<f64> = f
        .networks
        .iter()
        .zip(&need)
        .map(|(n, e)| n.seconds() / n.draws as f64 * e.worst.max(n.draws as f64))
        .collect();
    let total: f64 = cost.iter().sum();
    if let Some((i, _)) = need
        .iter()
        .enumerate()
        .filter(|(_, e)| e.worst > 0.0)
        .find(|_| total > settings.budget)
    {
        let n = &f.networks[i];
        return Err(network_error(
            f,
            n,
            cost[i],
            &format!(
                "its series claims need {} draws to be decided except with the run's error rate \
                 (a power calculation on the {} drawn), {} for this file's networks in all, \
                 over the budget of {}",
                need[i].worst,
                n.draws,
                work::human_seconds(total),
                work::human_seconds(settings.budget)
            ),
        ));
    }
    let extend = |stats: &mut [Option<net::simulate::Stats>], i: usize, to: f64| {
        let n = &f.networks[i];
        match stats[i].as_mut() {
            Some(st) if to > st.draws() as f64 => {
                net::simulate::extend(n, net::key(n, settings.seed), st, to as usize)
                    .map_err(|d| InputError::new(&f.origin, &f.text, d))
            }
            _ => Ok(()),
        }
    };
    // The plug-in look, then the worst case where a layer is undecided
    // still (each a look counted in the run's tests, `Planned::tests`).
    let grown: Vec<usize> = (0..need.len()).filter(|&i| need[i].worst > 0.0).collect();
    // Each network's looks, in draws, with what each was.
    let mut looks: Vec<Vec<(usize, &str)>> = f
        .networks
        .iter()
        .map(|n| vec![(n.draws, "the table's")])
        .collect();
    for &i in &grown {
        extend(&mut stats, i, need[i].plug_in)?;
        let what = if need[i].plug_in < need[i].worst {
            "plug-in"
        } else {
            "worst case"
        };
        looks[i].push((need[i].plug_in as usize, what));
    }
    let mut still = vec![false; need.len()];
    for (s, p) in claims() {
        for i in net::series::undecided(s, p, &stats, settings, tests) {
            still[i] = true;
        }
    }
    for &i in grown.iter().filter(|&&i| still[i]) {
        extend(&mut stats, i, need[i].worst)?;
        looks[i].push((need[i].worst as usize, "worst case"));
    }
    Ok(claims()
        .map(|(s, p)| {
            let mut checked = net::series::check(s, p, &f.networks, &stats, settings, tests);
            for (row, planned) in checked.rows.iter_mut().zip(p) {
                if let Some(note) = looks_note(&looks[planned.network]) {
                    row.evaluation.notes.push(note);
                }
            }
            Entry::Claim(checked)
        })
        .collect())
}

/// "drawn in looks of 256 (the table's), 744 (plug-in) and 5127 (worst
/// case) networks" for a network that was extended; nothing for one drawn
/// once. The last look is where every layer was decided (or the most
/// the power calculation asked for).
fn looks_note(looks: &[(usize, &str)]) -> Option<String> {
    let grown: Vec<(u64, &str)> = looks
        .iter()
        .scan(0, |last, &(d, what)| {
            let grew = d > *last;
            *last = (*last).max(d);
            Some(grew.then_some((d as u64, what)))
        })
        .flatten()
        .collect();
    work::looks_text(&grown).map(|looks| format!("drawn in looks of {looks} networks"))
}

/// Which of a file's networks the selected series claims draw.
fn used_networks(
    f: &File,
    plans: &[Vec<net::series::Planned>],
    selected: &dyn Fn(&str) -> bool,
) -> Vec<bool> {
    (0..f.networks.len())
        .map(|i| {
            f.series
                .iter()
                .zip(plans)
                .filter(|(s, _)| selected(&s.id))
                .flat_map(|(_, p)| p)
                .any(|p| p.network == i)
        })
        .collect()
}

/// Refuses, before any work, a network the machine's memory cannot hold.
fn check_memory(
    files: &[File],
    series_plans: &SeriesPlans,
    selected: &dyn Fn(&str) -> bool,
) -> Result<(), InputError> {
    let available = crate::memory::available();
    for (f, plans) in files.iter().zip(series_plans) {
        for (n, used) in f.networks.iter().zip(used_networks(f, plans, selected)) {
            if used {
                n.draws_at_once(available)
                    .map_err(|d| InputError::new(&f.origin, &f.text, d))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // The work estimate of a run with pools against what its first looks
    // then spend, on a file whose claims share their scenarios' moments.

    use super::*;
    use crate::audit::load::load;
    use crate::verdict::Verdict;

    /// Two scenarios; in `unit` three claims share E[y^2] and Var[y], and a
    /// fourth's sum of 4096 terms costs more than a share on its own (over
    /// 4096 lane operations a draw against the 1907 that fit 131072 draws
    /// in one second of 2.5e8), so it takes a smaller first look on its
    /// own stream; in `wide` one claim. E[relu(y)^2] = Var[y]/2 for a
    /// symmetric y.
    const SHARED: &str = r#"
[scenario.unit]
model = "y ~ Normal(0, 1)"

[scenario.wide]
model = "y ~ Normal(0, 2)"

[[claim]]
id = "half"
in = ["unit", "wide"]
says = "E[relu(y)^2] = Var[y] / 2"

[[claim]]
id = "second"
in = ["unit"]
says = "E[y^2] = Var[y]"

[[claim]]
id = "unit-variance"
in = ["unit"]
says = "Var[y] = 1"

[[claim]]
id = "big-sum"
in = ["unit"]
says = "E[sum(4096, y^2)] = 4096"
"#;

    #[test]
    fn a_pooled_runs_estimate_is_what_it_spends() {
        let files = vec![load("shared.toml", SHARED).expect("loads")];
        let settings = Settings::default();
        let mut plans = plan_all(&files, settings.seed).expect("plans");
        let series = plan_series(&files).expect("no series");
        let budget = prepare(&mut plans, &series);
        let pools = pool(&files, &mut plans, &settings);
        let pooled = |id: &str, scenario: &str| {
            let p = plans
                .iter()
                .find(|p| p.site(&files).1.id == id && p.scenario_name == scenario)
                .expect("planned");
            p.pooled.as_ref().map(|(k, _)| *k)
        };
        // One pool for `unit`; the expensive claim keeps its own sample,
        // and so does the one claim of `wide`: a pool needs two.
        assert_eq!(pools.len(), 1);
        assert_eq!(pooled("half", "unit"), Some(0));
        assert_eq!(pooled("second", "unit"), Some(0));
        assert_eq!(pooled("unit-variance", "unit"), Some(0));
        assert_eq!(pooled("big-sum", "unit"), None);
        assert_eq!(pooled("half", "wide"), None);
        assert_eq!(pools[0].trials, 3);
        let run = Run {
            files: &files,
            plans: &plans,
            pools: &pools,
            settings: &settings,
            budget: &budget,
        };
        let used = run.pools_used();
        let pieces = pieces(&run, &used);
        let drawn = draw_pools(&run, &used);
        let evaluations = first_looks(&run, &drawn);
        // Each pool is estimated at exactly what its draws cost: the same
        // draws times the same cost, by the same arithmetic.
        for (k, d) in drawn.iter().enumerate() {
            let d = d.as_ref().expect("every pool is read");
            assert!(d.sample.is_ok());
            let estimated = pieces.iter().find(|p| p.2 == Some(k)).expect("a piece").1;
            assert_eq!(estimated, d.spent_seconds(), "pool {k}");
        }
        // An unpooled claim's pilot is its estimate where a whole first
        // look fits in its share; the one over its share at 131072 draws
        // is estimated at the share and takes the draws that fit in it.
        for (i, ev) in evaluations.iter().enumerate() {
            let spent = ev.spent_seconds();
            if plans[i].pooled.is_some() {
                assert_eq!(spent, 0.0, "counted by its pool");
            } else {
                let piece = pieces.iter().find(|p| p.0 == i && p.2.is_none());
                let estimated = piece.expect("a piece").1;
                if plans[i].site(&files).1.id == "big-sum" {
                    assert!(ev.draws < 131_072, "a smaller first look: {ev:?}");
                    assert!(spent <= estimated && spent > 0.0, "{spent} {estimated}");
                } else {
                    assert_eq!(ev.draws, 131_072);
                    assert_eq!(spent, estimated);
                }
            }
            assert!(ev.defects.is_empty(), "{ev:?}");
            assert_eq!(ev.verdict, Verdict::Holds, "{ev:?}");
        }
        // Sharing saves work: the pools cost less than their claims'
        // pilots would on streams of their own.
        let alone: f64 = plans
            .iter()
            .filter(|p| p.pooled.is_some())
            .map(|p| work::lane_seconds(p.trial().pilot_ops(&settings)))
            .sum();
        let shared: f64 = drawn.iter().flatten().map(Drawn::spent_seconds).sum();
        assert!(shared < alone, "{shared} {alone}");
    }

    /// Over a budget that one pool fits but the run does not, the refusal
    /// names a pool, counted once, at the first claim that reads it. The
    /// claims of SHARED without its expensive one, in both scenarios.
    #[test]
    fn a_refusal_names_a_pool_as_one_piece() {
        let text = SHARED.replace("in = [\"unit\"]", "in = [\"unit\", \"wide\"]");
        let text = &text[..text.find("[[claim]]\nid = \"big-sum\"").expect("big-sum")];
        let files = vec![load("shared.toml", text).expect("loads")];
        let settings = Settings::default();
        let mut plans = plan_all(&files, settings.seed).expect("plans");
        let series = plan_series(&files).expect("no series");
        let budget = prepare(&mut plans, &series);
        let pools = pool(&files, &mut plans, &settings);
        assert_eq!(pools.len(), 2);
        assert!(plans.iter().all(|p| p.pooled.is_some()));
        let run = Run {
            files: &files,
            plans: &plans,
            pools: &pools,
            settings: &settings,
            budget: &budget,
        };
        let used = run.pools_used();
        let sites: Vec<Site> = plans.iter().map(|p| p.site(&files)).collect();
        let one = run.pool_seconds(0);
        assert_eq!(one, run.pool_seconds(1), "the same moments in each");
        // The pools are formed at the default share; the refusal is asked
        // of a budget that holds one pool and a half.
        let tight = Settings {
            budget: 1.5 * one,
            ..settings
        };
        let over = Run {
            settings: &tight,
            ..run
        };
        let err = refuse_over_budget(&over, &sites, &used, &[]).expect_err("over the budget");
        let shown = err.render();
        assert!(
            shown.contains(
                "the most expensive piece is the self-check sample this scenario's 3 exactly \
                 decided claims share"
            ),
            "{shown}"
        );
        assert!(shown.contains("in scenario `wide`"), "{shown}");
        assert!(refuse_over_budget(&run, &sites, &used, &[]).is_ok());
    }
}
