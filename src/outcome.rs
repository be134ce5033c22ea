//! Outcomes: what a run found, claim by claim and scenario by scenario.
//!
//! These are the types the run produces and the report reads. They sit
//! below both: `audit` (the ordinary claims) and `net` (the series claims
//! about networks) build them, `report` renders them, and none of the three
//! needs another to name them. A series claim's rows are the same `Row`s as
//! an ordinary claim's, one per network instead of one per scenario, so
//! tables, json and pass/fail need nothing of their own.

use crate::lang::ast::Relation;
use crate::requirement::Decision;
use crate::verdict::{Evaluation, Settings, Verdict};

/// One claim (or link) in one scenario, after evaluation.
#[derive(Clone, Debug)]
pub struct Row {
    pub scenario: String,
    pub requirements: Vec<(String, Decision)>,
    pub evaluation: Evaluation,
    pub expected: Option<Verdict>,
    /// The expectation was pinned by `expect` rather than implied.
    pub pinned: bool,
    pub as_expected: bool,
}

/// How much a requirement mattered.
#[derive(Clone, Debug, PartialEq)]
pub enum Attribution {
    /// A scenario that violates only this requirement makes the claim fail.
    LoadBearing(String),
    /// Scenarios that violate only it still hold.
    NotNeeded(String),
    /// Such scenarios were tried but gave no decided verdict.
    Inconclusive,
    /// No scenario violates only this requirement.
    NeverTried,
}

/// Each requirement's attribution from a claim's rows: what the scenarios
/// that violate only that requirement say.
pub fn attribution(rows: &[Row]) -> Vec<(String, Attribution)> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    first
        .requirements
        .iter()
        .enumerate()
        .map(|(i, (text, _))| {
            let only: Vec<&Row> = rows
                .iter()
                .filter(|r| {
                    !r.requirements[i].1.met
                        && r.requirements
                            .iter()
                            .enumerate()
                            .all(|(j, (_, d))| j == i || d.met)
                })
                .collect();
            let a = if let Some(r) = only.iter().find(|r| r.evaluation.verdict == Verdict::Fails) {
                Attribution::LoadBearing(r.scenario.clone())
            } else if let Some(r) = only.iter().find(|r| r.evaluation.verdict == Verdict::Holds) {
                Attribution::NotNeeded(r.scenario.clone())
            } else if only.is_empty() {
                Attribution::NeverTried
            } else {
                Attribution::Inconclusive
            };
            (text.clone(), a)
        })
        .collect()
}

/// A checked claim: its rows and its attribution.
#[derive(Clone, Debug)]
pub struct Checked {
    pub id: String,
    pub cite: String,
    pub why: String,
    pub says: String,
    pub relation: Relation,
    /// A series claim: its rows are networks, not scenarios.
    pub on_networks: bool,
    pub rows: Vec<Row>,
    pub attribution: Vec<(String, Attribution)>,
}

#[derive(Clone, Debug)]
pub enum Entry {
    Claim(Checked),
    Derivation {
        id: String,
        cite: String,
        links: Vec<Checked>,
        overall: Checked,
    },
}

#[derive(Clone, Debug)]
pub struct FileReport {
    /// The file's identity (its name within the folder it was audited
    /// from), not its path as typed.
    pub name: String,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub files: Vec<FileReport>,
    pub settings: Settings,
    pub tests: u64,
    pub critical: f64,
}

impl Report {
    pub fn checked(&self) -> impl Iterator<Item = (&str, &Checked)> {
        self.files.iter().flat_map(|f| {
            f.entries.iter().flat_map(move |e| {
                let v: Vec<&Checked> = match e {
                    Entry::Claim(c) => vec![c],
                    Entry::Derivation { links, overall, .. } => {
                        links.iter().chain(std::iter::once(overall)).collect()
                    }
                };
                v.into_iter().map(move |c| (f.name.as_str(), c))
            })
        })
    }

    /// Every expectation met and no defect.
    pub fn passed(&self) -> bool {
        self.checked().all(|(_, c)| {
            c.rows
                .iter()
                .all(|r| r.as_expected && r.evaluation.defects.is_empty())
        })
    }
}
