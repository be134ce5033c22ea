//! Running: the plans evaluated, refused where they are over the budget,
//! and gathered into the report.
//!
//! Work is estimated before it is done: the whole run is refused before any
//! draw when its estimate is over the budget (`refuse_over_budget`); every
//! pilot runs; what the power calculations cannot afford refuses the run
//! (`refuse_unaffordable`); then the powered tests run. Networks are drawn
//! at their tables' draws, then extended (same streams) to the plug-in
//! size and, where that does not decide, the worst case of their series
//! claims' power calculations. Trials run in parallel and
//! are collected in order, so the output does not depend on the thread
//! count.

use super::load::{ClaimDef, File, Item};
use super::plan::{At, Planned, SeriesPlans, Site, plan_all, plan_series, prepare, select, settle};
use crate::diag::{Diag, InputError};
use crate::net;
use crate::outcome::{Checked, Entry, FileReport, Report, Row, attribution};
use crate::progress;
use crate::verdict::{BATCHES, Budget, Evaluation, Settings, Stage};
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
    let keep = select(files, &mut plans, selected);
    settle(&mut plans, settings, &budget);
    let evaluations = evaluate(files, &plans, &series_plans, selected, settings, &budget)?;
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

/// Every selected plan evaluated, in plan order: refused before any draw
/// when the estimate is over the budget, then the pilots, refused where the
/// powered tests cannot be afforded, then the powered tests; a trial that
/// met NaN or infinity is bad input.
fn evaluate(
    files: &[File],
    plans: &[Planned],
    series_plans: &SeriesPlans,
    selected: &dyn Fn(&str) -> bool,
    settings: &Settings,
    budget: &Budget,
) -> Result<Vec<Evaluation>, InputError> {
    let sites: Vec<Site> = plans.iter().map(|p| p.site(files)).collect();
    let networks = networks_used(files, series_plans, selected);
    refuse_over_budget(files, &sites, plans, &networks, settings)?;
    progress::phase("sampling: first looks", plans.len() as u64);
    let mut evaluations: Vec<Evaluation> = plans
        .par_iter()
        .map(|p| {
            let ev = p.trial().evaluate(&p.exact, settings, budget, Stage::Pilot);
            progress::advance(1);
            ev
        })
        .collect();
    refuse_unaffordable(&sites, &evaluations, &networks, settings)?;
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

/// Before any sampling: the run's estimated work (every pilot and
/// self-check within its share, every network at the draws its table asks
/// for) against the budget. Over it, the run is refused, naming the most
/// expensive piece.
fn refuse_over_budget(
    files: &[File],
    sites: &[Site],
    plans: &[Planned],
    networks: &[(usize, usize, f64)],
    settings: &Settings,
) -> Result<(), InputError> {
    let pilots: Vec<f64> = plans
        .par_iter()
        .map(|p| work::lane_seconds(p.trial().pilot_ops(settings)))
        .collect();
    let total: f64 = pilots.iter().sum::<f64>() + networks.iter().map(|n| n.2).sum::<f64>();
    if total <= settings.budget {
        return Ok(());
    }
    let summary = format!(
        "the run is estimated at {} of work on one core, over the budget of {}",
        work::human_seconds(total),
        work::human_seconds(settings.budget)
    );
    let biggest_net = networks.iter().max_by(|a, b| a.2.total_cmp(&b.2));
    let biggest_claim = pilots.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1));
    match (biggest_net, biggest_claim) {
        (Some(&(fi, ni, secs)), c) if c.is_none_or(|(_, s)| secs >= *s) => Err(network_error(
            &files[fi],
            &files[fi].networks[ni],
            secs,
            &summary,
        )),
        (_, Some((i, secs))) => Err(error_at(
            &sites[i],
            format!(
                "{summary}; the most expensive piece is this claim's self-check and first look, {}",
                work::human_seconds(*secs)
            ),
            BUDGET_HELP,
        )),
        _ => Ok(()),
    }
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
    let mut named: Vec<String> = looks
        .iter()
        .scan(0, |last, &(d, what)| {
            let grew = d > *last;
            *last = (*last).max(d);
            Some(grew.then(|| format!("{d} ({what})")))
        })
        .flatten()
        .collect();
    let last = named.pop()?;
    (!named.is_empty())
        .then(|| format!("drawn in looks of {} and {last} networks", named.join(", ")))
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
