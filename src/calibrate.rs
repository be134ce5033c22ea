//! Calibration: how often the run's verdicts are wrong, measured.
//!
//! The test budget promises that a run reaches a wrong outcome (a true
//! claim that "fails" or ends "inconclusive", an exact value the self-check
//! calls a defect) with probability at most 1e-6, and that a sampled claim
//! off by more than the resolution "fails". Both are claims about
//! frequencies, so this module counts them: true claims of every kind the
//! engine decides differently (one variable, products, sums, correlated
//! pairs, sampled-only claims, network series), each with its own
//! parameters and seed, and sampled-only claims made wrong by a known
//! relative error. `cargo run --release --example calibrate` writes
//! docs/CALIBRATION.md from it; a small run is part of `cargo test`.

use crate::audit;
use crate::outcome::Report;
use crate::verdict::{Settings, Verdict};
use std::fmt::Write;

/// One kind of true claim: a generator of (claim, given, within) from an
/// index, whose truth is known in closed form.
pub struct Kind {
    pub name: &'static str,
    pub how: &'static str,
    make: fn(usize) -> Case,
}

/// A claim to check with `initaudit check`, and whether it is true.
pub struct Case {
    pub claim: String,
    pub given: String,
    pub within: Option<String>,
    /// A network file to audit instead (`claim` and `given` unused).
    pub file: Option<String>,
}

fn case(claim: String, given: String) -> Case {
    Case {
        claim,
        given,
        within: None,
        file: None,
    }
}

/// A scale in [0.5, 2) from an index, so every claim has other numbers.
fn scale(i: usize) -> f64 {
    0.5 + 1.5 * ((i * 37 % 101) as f64 / 101.0)
}

/// The kinds of true claims counted.
pub fn kinds() -> Vec<Kind> {
    vec![
        Kind {
            name: "one variable",
            how: "exact (closed form), self-checked",
            make: |i| {
                let s = scale(i);
                case(
                    format!("E[relu(y)^2] = {s}^2/2"),
                    format!("y ~ Normal(0, {s})"),
                )
            },
        },
        Kind {
            name: "products",
            how: "exact (independence rules), self-checked",
            make: |i| {
                let (a, b) = (scale(i), scale(i + 17));
                case(
                    "Var[w*relu(y)] = Var[w]*E[relu(y)^2]".to_string(),
                    format!("w ~ Normal(0, {a}); y ~ Laplace(0, {b})"),
                )
            },
        },
        Kind {
            name: "sums",
            how: "exact (sum rules), self-checked",
            make: |i| {
                let n = 2 + i % 63;
                case(
                    format!("Var[sum({n}, w*relu(y))] = {n}*Var[w]*E[relu(y)^2]"),
                    format!("w ~ Normal(0, {}); y ~ Normal(0, 1)", scale(i)),
                )
            },
        },
        Kind {
            name: "correlated pairs",
            how: "exact (bivariate closed form), self-checked",
            make: |i| {
                let rho = -0.9 + 1.8 * ((i * 53 % 97) as f64 / 96.0);
                case(
                    format!(
                        "E[relu(u)*relu(v)] = (sqrt(1 - ({rho})^2) + (pi - acos({rho}))*({rho}))/(2*pi)"
                    ),
                    format!("u, v ~ BivariateNormal(1, 1, {rho})"),
                )
            },
        },
        Kind {
            name: "sampled only",
            how: "sampled test (no exact form), power-calculated size",
            make: |i| sampled_only(i, 0.0),
        },
        Kind {
            name: "network series",
            how: "series test over independent networks, power-calculated draws",
            make: |i| Case {
                claim: String::new(),
                given: String::new(),
                within: None,
                file: Some(format!(
                    "[network.n]\ndepth = 3\nwidth = {}\nactivation = \"relu\"\n\
                     weight = \"Normal(0, sqrt(2/fan_in))\"\ninput = \"Normal(0, 1)\"\n\
                     inputs = 32\ndraws = 64\n\n[[series]]\nid = \"he.flat\"\n\
                     says = \"E[x(l)^2] ~= E[x(l-1)^2]\"\nwithin = \"10%\"\nlayers = \"1..L\"\n",
                    32 + 8 * (i % 5)
                )),
            },
        },
    ]
}

/// E[relu(a + b + c)] = sqrt(3/(2 pi)) s for a, b, c ~ N(0, s): no exact
/// form (three variables jointly), so sampling decides; `error` makes the
/// right side wrong by that relative amount.
pub fn sampled_only(i: usize, error: f64) -> Case {
    let s = scale(i);
    case(
        format!("E[relu(a + b + c)] = {}*sqrt(3/(2*pi))*{s}", 1.0 + error),
        format!("a ~ Normal(0, {s}); b ~ Normal(0, {s}); c ~ Normal(0, {s})"),
    )
}

/// What a set of runs came to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub runs: usize,
    pub holds: usize,
    pub fails: usize,
    pub inconclusive: usize,
    pub undefined: usize,
    pub defects: usize,
    /// Runs refused (exit 2): work beyond the budget.
    pub refused: usize,
    /// Draws summed over the runs' rows.
    pub draws: u64,
}

impl Tally {
    /// Outcomes other than "holds" without a defect, on true claims.
    pub fn wrong(&self) -> usize {
        self.runs - self.holds + self.defects
    }

    fn add(&mut self, report: Result<Report, String>) {
        self.runs += 1;
        let report = match report {
            Ok(r) => r,
            Err(_) => {
                self.refused += 1;
                return;
            }
        };
        let rows: Vec<_> = report.checked().flat_map(|(_, c)| c.rows.iter()).collect();
        // A run holds when every row holds; the first other verdict counts.
        let verdict = rows
            .iter()
            .map(|r| r.evaluation.verdict)
            .find(|v| *v != Verdict::Holds)
            .unwrap_or(Verdict::Holds);
        match verdict {
            Verdict::Holds => self.holds += 1,
            Verdict::Fails => self.fails += 1,
            Verdict::Inconclusive => self.inconclusive += 1,
            Verdict::Undefined => self.undefined += 1,
        }
        if rows.iter().any(|r| !r.evaluation.defects.is_empty()) {
            self.defects += 1;
        }
        self.draws += rows.iter().map(|r| r.evaluation.draws).sum::<u64>();
    }
}

/// Runs one case at one seed.
pub fn run_case(c: &Case, seed: u64, resolution: f64) -> Result<Report, String> {
    let settings = Settings {
        seed,
        resolution,
        ..Settings::default()
    };
    let file = match &c.file {
        Some(text) => audit::load("calibration.toml", text),
        None => audit::adhoc(&c.claim, &c.given, &[], &[], c.within.as_deref()),
    }
    .map_err(|e| e.render())?;
    audit::run(&[file], &settings).map_err(|e| e.render())
}

/// `count` true claims of one kind, with seeds `first_seed..`.
pub fn true_claims(kind: &Kind, count: usize, first_seed: u64) -> Tally {
    let mut t = Tally::default();
    for i in 0..count {
        t.add(run_case(&(kind.make)(i), first_seed + i as u64, 0.005));
    }
    t
}

/// `count` sampled-only claims wrong by `error` (relative), at the default
/// resolution, with seeds `first_seed..`.
pub fn power(error: f64, count: usize, first_seed: u64) -> Tally {
    let mut t = Tally::default();
    for i in 0..count {
        t.add(run_case(
            &sampled_only(i, error),
            first_seed + i as u64,
            0.005,
        ));
    }
    t
}

/// The shipped files at seeds `seeds`: per seed, the expectations
/// contradicted and the defects.
pub fn shipped(files: &[audit::File], seeds: std::ops::Range<u64>) -> Vec<(u64, usize, usize)> {
    seeds
        .map(|seed| {
            let settings = Settings {
                seed,
                ..Settings::default()
            };
            match audit::run(files, &settings) {
                Ok(r) => {
                    let rows: Vec<_> = r.checked().flat_map(|(_, c)| c.rows.iter()).collect();
                    (
                        seed,
                        rows.iter().filter(|r| !r.as_expected).count(),
                        rows.iter()
                            .filter(|r| !r.evaluation.defects.is_empty())
                            .count(),
                    )
                }
                Err(_) => (seed, usize::MAX, 0),
            }
        })
        .collect()
}

/// The markdown table of true-claim tallies.
pub fn true_table(rows: &[(&Kind, Tally)]) -> String {
    let mut out = String::from(
        "| kind | decided by | claims | holds | fails | inconclusive | defects | refused | draws |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let mut total = Tally::default();
    for (k, t) in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            k.name, k.how, t.runs, t.holds, t.fails, t.inconclusive, t.defects, t.refused, t.draws
        );
        total.runs += t.runs;
        total.holds += t.holds;
        total.fails += t.fails;
        total.inconclusive += t.inconclusive;
        total.defects += t.defects;
        total.refused += t.refused;
        total.draws += t.draws;
    }
    let _ = writeln!(
        out,
        "| **all** | | **{}** | **{}** | **{}** | **{}** | **{}** | **{}** | {} |",
        total.runs,
        total.holds,
        total.fails,
        total.inconclusive,
        total.defects,
        total.refused,
        total.draws
    );
    out
}

/// The markdown table of power against relative error.
pub fn power_table(rows: &[(f64, Tally)]) -> String {
    let mut out = String::from(
        "| relative error | claims | fails (power) | holds | inconclusive | refused |\n\
         |---|---|---|---|---|---|\n",
    );
    for (e, t) in rows {
        let _ = writeln!(
            out,
            "| {}% | {} | {} ({:.1}%) | {} | {} | {} |",
            e * 100.0,
            t.runs,
            t.fails,
            100.0 * t.fails as f64 / t.runs.max(1) as f64,
            t.holds,
            t.inconclusive,
            t.refused
        );
    }
    out
}
