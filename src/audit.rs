//! Audit files: loading, planning and running the claims of `derivations/`.
//!
//! A file is read in three passes, each of which can only fail on input:
//!
//! 1. **load**: TOML into raw tables that remember where every string was,
//!    then every expression parsed, with errors shifted to file positions;
//! 2. **plan**: each claim, and each link of each derivation, is resolved in
//!    every scenario it applies to, its requirements decided, and its
//!    moments evaluated exactly; the number of statistical tests is counted
//!    here, over the whole run, so that the family-wise rate can be shared;
//! 3. **run**: every planned trial is evaluated (in parallel, collected in
//!    order, so the output does not depend on the thread count), and its
//!    verdict compared with what the file expects.
//!
//! A claim is expected to hold in every scenario where its requirements are
//! met; an `expect` entry pins a verdict for a scenario. The attribution of
//! each requirement looks at scenarios that violate only that requirement.

use crate::diag::{Diag, InputError};
use crate::exact::Outcome;
use crate::lang::ast::{ClaimExpr, Expr, ExprKind, Relation, Span};
use crate::lang::{FunctionDef, Functions, parse_claim, parse_expr, parse_function, parse_model};
use crate::model::resolve::{Model, build, check_function_body, check_function_name};
use crate::model::rv::{Moment, Side};
use crate::net;
use crate::requirement::{Decision, Requirement, decide};
use crate::sample::StreamKey;
use crate::verdict::{BATCHES, Budget, Evaluation, Settings, Stage, Trial, Verdict};
use crate::work;
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Functions defined in a file's `[functions]` table.
#[derive(Clone, Debug, Default)]
pub struct FunctionTable(Vec<(String, FunctionDef)>);

impl FunctionTable {
    pub fn insert(&mut self, name: String, def: FunctionDef) {
        self.0.push((name, def));
    }
}

impl Functions for FunctionTable {
    fn get(&self, name: &str) -> Option<&FunctionDef> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, d)| d)
    }

    fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    functions: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    scenario: BTreeMap<String, Spanned<RawScenario>>,
    #[serde(default)]
    claim: Vec<Spanned<RawClaim>>,
    #[serde(default)]
    derivation: Vec<Spanned<RawDerivation>>,
    #[serde(default)]
    network: BTreeMap<String, Spanned<net::RawNetwork>>,
    #[serde(default)]
    series: Vec<Spanned<net::series::RawSeries>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    model: Spanned<String>,
    #[serde(default)]
    about: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaim {
    id: Spanned<String>,
    #[serde(default)]
    cite: Option<String>,
    says: Spanned<String>,
    #[serde(default)]
    requires: Vec<Spanned<String>>,
    #[serde(default)]
    within: Option<Spanned<String>>,
    #[serde(default)]
    expect: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "in")]
    scenarios: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDerivation {
    id: Spanned<String>,
    #[serde(default)]
    cite: Option<String>,
    start: Spanned<String>,
    #[serde(default)]
    expect: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "in")]
    scenarios: Option<Vec<Spanned<String>>>,
    step: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    to: Spanned<String>,
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    requires: Vec<Spanned<String>>,
    #[serde(default)]
    within: Option<Spanned<String>>,
    #[serde(default)]
    expect: BTreeMap<String, Spanned<String>>,
}

/// A claim ready to plan: its sides, requirements and expectations.
#[derive(Clone, Debug)]
pub struct ClaimDef {
    pub id: String,
    pub cite: String,
    /// The derivation step's reason, if this is a link.
    pub why: String,
    pub claim: ClaimExpr,
    /// Each requirement with the file offset its text starts at.
    pub requires: Vec<(Requirement, usize)>,
    pub within: Option<(f64, bool)>,
    /// Pinned verdicts by scenario name.
    pub expect: Vec<(String, Verdict)>,
    /// Scenario names, or None for "every scenario that defines its names".
    pub scenarios: Option<Vec<String>>,
    /// Where to point errors about the claim as a whole.
    pub span: Span,
    /// File offsets of the texts the two sides were parsed from (they differ
    /// for a derivation's links).
    pub lhs_at: usize,
    pub rhs_at: usize,
}

#[derive(Clone, Debug)]
pub enum Item {
    Claim(ClaimDef),
    /// A chain: its links, then the first-to-last claim.
    Derivation {
        id: String,
        cite: String,
        links: Vec<ClaimDef>,
        overall: ClaimDef,
    },
}

impl Item {
    pub fn id(&self) -> &str {
        match self {
            Item::Claim(c) => &c.id,
            Item::Derivation { id, .. } => id,
        }
    }

    /// The claims to evaluate: the claim, or every link then first = last.
    fn claims(&self) -> Vec<&ClaimDef> {
        match self {
            Item::Claim(c) => vec![c],
            Item::Derivation { links, overall, .. } => {
                links.iter().chain(std::iter::once(overall)).collect()
            }
        }
    }
}

/// A loaded file.
pub struct File {
    /// The path as the user typed it: where errors point.
    pub origin: String,
    /// What the file is: its name within the folder it was audited from
    /// (see [`identity`]). Streams are keyed by it and reports print it, so
    /// neither depends on how the path was spelled or where the run started.
    pub name: String,
    pub text: String,
    pub functions: FunctionTable,
    pub scenarios: Vec<(String, String, Model)>,
    pub items: Vec<Item>,
    /// `[network.NAME]` tables, in file order.
    pub networks: Vec<net::Network>,
    /// `[[series]]` claims about the networks.
    pub series: Vec<net::series::SeriesDef>,
}

/// Where a TOML string's contents start, given the span of the token.
pub(crate) fn content_offset(text: &str, span: &Span) -> usize {
    let tok = &text[span.start.min(text.len())..];
    let mut off = span.start;
    if tok.starts_with("\"\"\"") || tok.starts_with("'''") {
        off += 3;
        if text[off..].starts_with("\r\n") {
            off += 2;
        } else if text[off..].starts_with('\n') {
            off += 1;
        }
    } else if tok.starts_with('"') || tok.starts_with('\'') {
        off += 1;
    }
    off
}

struct Loader<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Loader<'_> {
    fn err(&self, diag: Diag) -> InputError {
        InputError::new(self.origin, self.text, diag)
    }

    /// Shifts a diagnostic about the contents of a string value to the file.
    fn at(&self, value: &Spanned<String>, diag: Diag) -> InputError {
        self.err(diag.shifted(content_offset(self.text, &value.span())))
    }

    fn expr(&self, v: &Spanned<String>) -> Result<Expr, InputError> {
        parse_expr(v.get_ref()).map_err(|e| self.at(v, e.into()))
    }

    fn requirement(&self, v: &Spanned<String>) -> Result<(Requirement, usize), InputError> {
        let e = self.expr(v)?;
        let r = Requirement::from_expr(v.get_ref(), &e).map_err(|d| self.at(v, d))?;
        Ok((r, content_offset(self.text, &v.span())))
    }

    fn within(
        &self,
        v: &Option<Spanned<String>>,
        claim: &ClaimExpr,
        at: &Spanned<String>,
    ) -> Result<Option<(f64, bool)>, InputError> {
        let band = match v {
            None => None,
            Some(w) => Some(parse_within(w.get_ref()).map_err(|m| {
                self.err(Diag::new(
                    w.span(),
                    m,
                    "a percentage such as \"2%\" or an absolute number such as \"0.01\"",
                ))
            })?),
        };
        match (claim.relation, band) {
            (Relation::Approx, None) => Err(self.at(
                at,
                Diag::new(
                    claim.relation_span.clone(),
                    "`~=` needs a `within` band",
                    "add within = \"2%\" (relative to the right side) or within = \"0.01\" (absolute)",
                ),
            )),
            (r, Some(_)) if r != Relation::Approx => Err(self.err(Diag::new(
                v.as_ref().map_or(at.span(), |w| w.span()),
                "`within` applies only to an approximate claim",
                "write the relation as `~=`, or remove `within`",
            ))),
            (_, b) => Ok(b),
        }
    }

    fn expect(
        &self,
        raw: &BTreeMap<String, Spanned<String>>,
        scenarios: &[String],
    ) -> Result<Vec<(String, Verdict)>, InputError> {
        let mut out = Vec::new();
        for (name, v) in raw {
            if !scenarios.contains(name) {
                return Err(self.err(Diag::new(
                    v.span(),
                    format!("`expect` names `{name}`, which is not a scenario of this file"),
                    format!("scenarios: {}", scenarios.join(", ")),
                )));
            }
            let verdict = match v.get_ref().as_str() {
                "holds" => Verdict::Holds,
                "fails" => Verdict::Fails,
                "undefined" => Verdict::Undefined,
                other => {
                    return Err(self.err(Diag::new(
                        v.span(),
                        format!("unknown verdict `{other}`"),
                        "\"holds\", \"fails\" or \"undefined\"",
                    )));
                }
            };
            out.push((name.clone(), verdict));
        }
        Ok(out)
    }

    fn scenario_list(
        &self,
        raw: &Option<Vec<Spanned<String>>>,
        scenarios: &[String],
    ) -> Result<Option<Vec<String>>, InputError> {
        let Some(list) = raw else { return Ok(None) };
        list.iter()
            .map(|v| {
                if scenarios.contains(v.get_ref()) {
                    Ok(v.get_ref().clone())
                } else {
                    Err(self.err(Diag::new(
                        v.span(),
                        format!("no scenario `{}` in this file", v.get_ref()),
                        format!("scenarios: {}", scenarios.join(", ")),
                    )))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// Parses `"2%"` as (0.02, relative) and `"0.01"` as (0.01, absolute).
pub fn parse_within(s: &str) -> Result<(f64, bool), String> {
    let s = s.trim();
    let (num, rel) = match s.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (s, false),
    };
    match num.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(if rel { (x / 100.0, true) } else { (x, false) }),
        _ => Err(format!("`{s}` is not a band")),
    }
}

/// A file's identity from its path: the last component, which is its name
/// relative to the audited root (folders are read one level deep, and a
/// file given by itself is its own root). `x.toml`, `./x.toml` and
/// `/abs/x.toml` are one file; so are `derivations/he2015.toml` from the
/// crate and the absolute path the test harness uses.
pub fn identity(origin: &str) -> String {
    Path::new(origin)
        .file_name()
        .map_or_else(|| origin.to_string(), |n| n.to_string_lossy().into_owned())
}

/// Loads one file.
pub fn load(origin: &str, text: &str) -> Result<File, InputError> {
    let l = Loader { origin, text };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        l.err(Diag::new(
            e.span().unwrap_or(0..0),
            e.message().trim().to_string(),
            "top-level tables: [functions], [scenario.NAME] (model = \"...\"), [[claim]], [[derivation]] with [[derivation.step]], [network.NAME], [[series]]",
        ))
    })?;
    let mut functions = FunctionTable::default();
    for (name, v) in &raw.functions {
        check_function_name(name.get_ref())
            .map_err(|(message, help)| l.err(Diag::new(name.span(), message, help)))?;
        let def = parse_function(v.get_ref()).map_err(|e| l.at(v, e.into()))?;
        functions.insert(name.get_ref().clone(), def);
    }
    // Only once all are in can a body's calls be followed.
    for (name, v) in &raw.functions {
        let def = functions.get(name.get_ref()).expect("inserted above");
        check_function_body(name.get_ref(), def, &functions).map_err(|d| l.at(v, d))?;
    }
    let mut raw_scenarios: Vec<(&String, &Spanned<RawScenario>)> = raw.scenario.iter().collect();
    raw_scenarios.sort_by_key(|(_, s)| s.span().start);
    let mut scenarios = Vec::new();
    for (name, s) in raw_scenarios {
        let m = &s.get_ref().model;
        let stmts = parse_model(m.get_ref()).map_err(|e| l.at(m, e.into()))?;
        let model = build(name, &stmts, &functions).map_err(|d| l.at(m, d))?;
        scenarios.push((
            name.clone(),
            s.get_ref().about.clone().unwrap_or_default(),
            model,
        ));
    }
    let names: Vec<String> = scenarios.iter().map(|(n, _, _)| n.clone()).collect();

    let mut items: Vec<(usize, Item)> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let mut check_id = |id: &Spanned<String>| {
        if ids.contains(id.get_ref()) {
            return Err(l.err(Diag::new(
                id.span(),
                format!("the id `{}` is used twice", id.get_ref()),
                "ids are unique within a file",
            )));
        }
        ids.push(id.get_ref().clone());
        Ok(())
    };
    for c in &raw.claim {
        let r = c.get_ref();
        check_id(&r.id)?;
        let claim = parse_claim(r.says.get_ref()).map_err(|e| l.at(&r.says, e.into()))?;
        let within = l.within(&r.within, &claim, &r.says)?;
        items.push((
            c.span().start,
            Item::Claim(ClaimDef {
                id: r.id.get_ref().clone(),
                cite: r.cite.clone().unwrap_or_default(),
                why: String::new(),
                requires: r
                    .requires
                    .iter()
                    .map(|q| l.requirement(q))
                    .collect::<Result<_, _>>()?,
                within,
                expect: l.expect(&r.expect, &names)?,
                scenarios: l.scenario_list(&r.scenarios, &names)?,
                span: content_offset(text, &r.says.span())..r.says.span().end,
                lhs_at: content_offset(text, &r.says.span()),
                rhs_at: content_offset(text, &r.says.span()),
                claim,
            }),
        ));
    }
    for d in &raw.derivation {
        let r = d.get_ref();
        check_id(&r.id)?;
        if r.step.is_empty() {
            return Err(l.err(Diag::new(
                r.id.span(),
                "a derivation needs at least one [[derivation.step]]",
                "add a step with `to = \"...\"`",
            )));
        }
        let scenario_list = l.scenario_list(&r.scenarios, &names)?;
        let mut prev = (l.expr(&r.start)?, &r.start);
        let first = prev.0.clone();
        let mut links = Vec::new();
        let mut all_requires: Vec<(Requirement, usize)> = Vec::new();
        for (i, s) in r.step.iter().enumerate() {
            let to = l.expr(&s.to)?;
            let relation = if s.within.is_some() {
                Relation::Approx
            } else {
                Relation::Eq
            };
            let claim = ClaimExpr {
                lhs: prev.0.clone(),
                relation,
                rhs: to.clone(),
                relation_span: 0..0,
            };
            let requires: Vec<(Requirement, usize)> = s
                .requires
                .iter()
                .map(|q| l.requirement(q))
                .collect::<Result<_, _>>()?;
            for q in &requires {
                if !all_requires.iter().any(|a| a.0.text == q.0.text) {
                    all_requires.push(q.clone());
                }
            }
            links.push(ClaimDef {
                id: format!("{}#{}", r.id.get_ref(), i + 1),
                cite: r.cite.clone().unwrap_or_default(),
                why: s.why.clone().unwrap_or_default(),
                within: l.within(&s.within, &claim, &s.to)?,
                claim,
                requires,
                expect: l.expect(&s.expect, &names)?,
                scenarios: scenario_list.clone(),
                span: content_offset(text, &s.to.span())..s.to.span().end,
                lhs_at: content_offset(text, &prev.1.span()),
                rhs_at: content_offset(text, &s.to.span()),
            });
            prev = (to, &s.to);
        }
        let overall = ClaimDef {
            id: r.id.get_ref().clone(),
            cite: r.cite.clone().unwrap_or_default(),
            why: "first = last".to_string(),
            claim: ClaimExpr {
                lhs: first,
                relation: Relation::Eq,
                rhs: prev.0.clone(),
                relation_span: 0..0,
            },
            requires: all_requires,
            within: None,
            expect: l.expect(&r.expect, &names)?,
            scenarios: scenario_list,
            span: content_offset(text, &r.start.span())..r.start.span().end,
            lhs_at: content_offset(text, &r.start.span()),
            rhs_at: content_offset(text, &prev.1.span()),
        };
        items.push((
            d.span().start,
            Item::Derivation {
                id: r.id.get_ref().clone(),
                cite: r.cite.clone().unwrap_or_default(),
                links,
                overall,
            },
        ));
    }
    items.sort_by_key(|(at, _)| *at);
    let (networks, series) = load_networks(&l, &raw, &functions, &mut check_id)?;
    Ok(File {
        origin: origin.to_string(),
        name: identity(origin),
        text: text.to_string(),
        functions,
        scenarios,
        items: items.into_iter().map(|(_, i)| i).collect(),
        networks,
        series,
    })
}

/// The `[network.NAME]` tables and `[[series]]` claims of a file (see
/// `net`): networks in file order, claims in file order after them.
fn load_networks(
    l: &Loader,
    raw: &RawFile,
    functions: &FunctionTable,
    check_id: &mut dyn FnMut(&Spanned<String>) -> Result<(), InputError>,
) -> Result<(Vec<net::Network>, Vec<net::series::SeriesDef>), InputError> {
    let at = |span: &Span| content_offset(l.text, span);
    let mut raw_networks: Vec<_> = raw.network.iter().collect();
    raw_networks.sort_by_key(|(_, n)| n.span().start);
    let networks = raw_networks
        .into_iter()
        .map(|(name, n)| net::load(name, n, &at, functions).map_err(|d| l.err(d)))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = networks.iter().map(|n| n.name.clone()).collect();
    let mut series = Vec::new();
    for s in &raw.series {
        check_id(&s.get_ref().id)?;
        series.push(net::series::load(s, &at, &names).map_err(|d| l.err(d))?);
    }
    Ok((networks, series))
}

/// Every `.toml` file under the paths, sorted, so runs are reproducible.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            entries.sort();
            out.extend(entries);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

/// Reads and loads a file from disk.
pub fn load_path(path: &Path) -> Result<File, InputError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        InputError::new(
            &origin,
            "",
            Diag::new(0..0, format!("cannot read the file: {e}"), ""),
        )
    })?;
    load(&origin, &text)
}

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

/// A checked claim: its rows and its attribution.
#[derive(Clone, Debug)]
pub struct Checked {
    pub id: String,
    pub cite: String,
    pub why: String,
    pub says: String,
    pub relation: Relation,
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
    /// The file's identity ([`File::name`]), not its path as typed.
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

/// A claim's planned trials, one per scenario, by scenario name.
type ScenarioPlans = Vec<(String, Planned)>;

/// A file's plans: per item, per claim of the item (a derivation has
/// several), per scenario.
type FilePlans = Vec<Vec<ScenarioPlans>>;

/// One planned trial: everything needed to evaluate, owned.
struct Planned {
    scenario: crate::model::Scenario,
    moments: Vec<Moment>,
    lhs: Side,
    rhs: Side,
    relation: Relation,
    within: Option<(f64, bool)>,
    key: StreamKey,
    exact: Vec<Outcome>,
    requirements: Vec<(String, Decision)>,
    /// The stream of each requirement's sampled test: keyed by file,
    /// scenario and requirement, not claim, so that one requirement in one
    /// scenario is decided the same way for every claim that names it.
    requirement_keys: Vec<StreamKey>,
    expected: Option<Verdict>,
    pinned: bool,
}

/// Free names of an expression (not functions, not constants).
fn free_names(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Name(n) => {
            if n != "pi" && n != "e" && !out.contains(n) {
                out.push(n.clone());
            }
        }
        ExprKind::Num(_) => {}
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

fn plan_claim(
    file: &File,
    def: &ClaimDef,
    seed: u64,
) -> Result<Vec<(String, Planned)>, InputError> {
    let err = |d: Diag| InputError::new(&file.origin, &file.text, d);
    let mut names = Vec::new();
    free_names(&def.claim.lhs, &mut names);
    free_names(&def.claim.rhs, &mut names);
    for (r, _) in &def.requires {
        r.args.iter().for_each(|a| free_names(a, &mut names));
    }
    let chosen: Vec<&(String, String, Model)> = match &def.scenarios {
        Some(list) => file
            .scenarios
            .iter()
            .filter(|(n, _, _)| list.contains(n))
            .collect(),
        None => file
            .scenarios
            .iter()
            .filter(|(_, _, m)| names.iter().all(|n| m.defines(n)))
            .collect(),
    };
    if chosen.is_empty() {
        let missing = names
            .iter()
            .find(|n| !file.scenarios.iter().any(|(_, _, m)| m.defines(n)))
            .cloned()
            .unwrap_or_default();
        if !names.is_empty() || !file.scenarios.is_empty() {
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
    }
    let mut out = Vec::new();
    for (name, _, model) in chosen {
        let in_scenario = |d: Diag, at: usize| {
            let d = d.shifted(at);
            err(Diag::new(
                d.span,
                format!("in scenario `{name}`: {}", d.message),
                d.help,
            ))
        };
        let mut moments = Vec::new();
        let lhs = model
            .side(&def.claim.lhs, &file.functions, &mut moments)
            .map_err(|d| in_scenario(d, def.lhs_at))?;
        let rhs = model
            .side(&def.claim.rhs, &file.functions, &mut moments)
            .map_err(|d| in_scenario(d, def.rhs_at))?;
        let mut requirements = Vec::new();
        let mut requirement_keys = Vec::new();
        for (r, at) in &def.requires {
            let d = decide(r, model, &file.functions).map_err(|d| in_scenario(d, *at))?;
            requirements.push((r.text.clone(), d));
            requirement_keys.push(StreamKey::new(seed, &[&file.name, name, &r.text]));
        }
        let pinned = def.expect.iter().find(|(s, _)| s == name).map(|(_, v)| *v);
        let expected = pinned.or_else(|| {
            requirements
                .iter()
                .all(|(_, d)| d.met)
                .then_some(Verdict::Holds)
        });
        out.push((
            name.clone(),
            Planned {
                scenario: model.scenario.clone(),
                moments,
                lhs,
                rhs,
                relation: def.claim.relation,
                within: def.within,
                key: StreamKey::new(seed, &[&file.name, &def.id, name]),
                exact: Vec::new(),
                requirements,
                requirement_keys,
                expected,
                pinned: pinned.is_some(),
            },
        ));
    }
    if out.is_empty() {
        // No names at all and no scenarios: a claim about numbers.
        let model = build("-", &[], &file.functions).map_err(err)?;
        let mut moments = Vec::new();
        let lhs = model
            .side(&def.claim.lhs, &file.functions, &mut moments)
            .map_err(|d| err(d.shifted(def.lhs_at)))?;
        let rhs = model
            .side(&def.claim.rhs, &file.functions, &mut moments)
            .map_err(|d| err(d.shifted(def.rhs_at)))?;
        let pinned = def.expect.first().map(|(_, v)| *v);
        out.push((
            "-".to_string(),
            Planned {
                scenario: model.scenario,
                moments,
                lhs,
                rhs,
                relation: def.claim.relation,
                within: def.within,
                key: StreamKey::new(seed, &[&file.name, &def.id, "-"]),
                exact: Vec::new(),
                requirements: Vec::new(),
                requirement_keys: Vec::new(),
                expected: pinned.or(Some(Verdict::Holds)),
                pinned: pinned.is_some(),
            },
        ));
    }
    Ok(out)
}

fn attribution(rows: &[Row]) -> Vec<(String, Attribution)> {
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
    if let Some(f) = files
        .iter()
        .find(|f| f.items.is_empty() && f.series.is_empty())
    {
        // Passing an audit of nothing would read as a proof of something.
        return Err(InputError::new(
            &f.origin,
            &f.text,
            Diag::new(
                0..0,
                "nothing to check: this file has no [[claim]], [[derivation]] or [[series]]",
                "add a [[claim]] with `id` and `says`, or audit the files that hold the claims",
            ),
        ));
    }
    let mut plans = plan_all(files, settings.seed)?;
    let series_plans = plan_series(files)?;
    check_memory(files, &series_plans, selected)?;
    let budget = prepare(&mut plans, &series_plans, settings);
    let keep = select(files, &mut plans, selected);
    let sites = sites(files, &plans);
    let flat = flatten(&plans);
    let networks = networks_used(files, &series_plans, selected);
    refuse_over_budget(files, &sites, &flat, &networks, settings)?;
    let mut evaluations: Vec<Evaluation> = flat
        .par_iter()
        .map(|p| trial_of(p).evaluate(&p.exact, settings, &budget, Stage::Pilot))
        .collect();
    refuse_unaffordable(&sites, &evaluations, &networks, settings)?;
    let powered: Vec<(usize, u64)> = evaluations
        .iter()
        .enumerate()
        .filter_map(|(i, ev)| ev.need.map(|n| (i, n)))
        .collect();
    let again: Vec<Evaluation> = powered
        .par_iter()
        .map(|&(i, n)| {
            trial_of(flat[i]).evaluate(&flat[i].exact, settings, &budget, Stage::Powered(n))
        })
        .collect();
    for ((i, _), ev) in powered.iter().zip(again) {
        evaluations[*i] = ev;
    }
    reject_ill_posed(&sites, &evaluations)?;

    let mut evals = evaluations.into_iter();
    let mut files_out = Vec::new();
    for (((f, per_item), keep), series) in files.iter().zip(plans).zip(&keep).zip(&series_plans) {
        let mut entries: Vec<Entry> = f
            .items
            .iter()
            .zip(per_item)
            .zip(keep)
            .filter(|(_, keep)| **keep)
            .map(|((item, defs_plans), _)| entry(item, defs_plans, &mut evals))
            .collect();
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

/// Resolves every claim of every file in every scenario it applies to, so
/// that bad input is reported before any time is spent.
fn plan_all(files: &[File], seed: u64) -> Result<Vec<FilePlans>, InputError> {
    files
        .iter()
        .map(|f| {
            f.items
                .iter()
                .map(|item| {
                    item.claims()
                        .iter()
                        .map(|d| plan_claim(f, d, seed))
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect()
        })
        .collect()
}

fn flatten(plans: &[FilePlans]) -> Vec<&Planned> {
    plans
        .iter()
        .flatten()
        .flatten()
        .flatten()
        .map(|(_, p)| p)
        .collect()
}

/// Evaluates every moment exactly, counts the run's statistical tests into
/// its budget, then settles the requirements that need sampled tests (they
/// are in the count) and sets each claim's expectation from them.
fn prepare(
    plans: &mut [FilePlans],
    series_plans: &[Vec<Vec<net::series::Planned>>],
    settings: &Settings,
) -> Budget {
    let mut flat: Vec<&mut Planned> = plans
        .iter_mut()
        .flatten()
        .flatten()
        .flatten()
        .map(|(_, p)| p)
        .collect();
    flat.par_iter_mut().for_each(|p| {
        let trial = trial_of(p);
        p.exact = trial.exact_moments();
    });
    let claims: u64 = flat
        .iter()
        .map(|p| Budget::tests_for(p.moments.len(), Trial::needs_sampling(&p.exact)))
        .sum();
    let series: u64 = series_plans
        .iter()
        .flatten()
        .flatten()
        .map(net::series::Planned::tests)
        .sum();
    let requirements: u64 = flat
        .iter()
        .flat_map(|p| &p.requirements)
        .filter_map(|(_, d)| d.pending.as_ref().map(|t| t.tests()))
        .sum();
    let budget = Budget::new(claims + series + requirements);
    flat.par_iter_mut().for_each(|p| {
        for ((_, d), key) in p.requirements.iter_mut().zip(&p.requirement_keys) {
            if let Some(test) = d.pending.take() {
                *d = test.settle(&p.scenario, *key, budget.critical, settings.resolution);
            }
        }
        if !p.pinned {
            p.expected = p
                .requirements
                .iter()
                .all(|(_, d)| d.met)
                .then_some(Verdict::Holds);
        }
    });
    budget
}

/// Which items to evaluate; the plans of the others are dropped (the test
/// budget was counted over all of them already).
fn select(
    files: &[File],
    plans: &mut [FilePlans],
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
    for (per_item, keep) in plans.iter_mut().zip(&keep) {
        for (item_plans, keep) in per_item.iter_mut().zip(keep) {
            if !keep {
                item_plans.clear();
            }
        }
    }
    keep
}

/// Where each planned trial came from, in the order of [`flatten`]: its
/// file, claim and scenario, for errors that point at the claim.
type Site<'a> = (&'a File, &'a ClaimDef, &'a str);

fn sites<'a>(files: &'a [File], plans: &'a [FilePlans]) -> Vec<Site<'a>> {
    let mut out = Vec::new();
    for (f, per_item) in files.iter().zip(plans) {
        for (item, defs_plans) in f.items.iter().zip(per_item) {
            // An item that was not selected has no plans left: zip skips it.
            for (def, planned) in item.claims().into_iter().zip(defs_plans) {
                for (scenario, _) in planned {
                    out.push((f, def, scenario.as_str()));
                }
            }
        }
    }
    out
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
    series_plans: &[Vec<Vec<net::series::Planned>>],
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
    flat: &[&Planned],
    networks: &[(usize, usize, f64)],
    settings: &Settings,
) -> Result<(), InputError> {
    let pilots: Vec<f64> = flat
        .par_iter()
        .map(|p| work::lane_seconds(trial_of(p).pilot_ops(settings)))
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
        .map(|e| work::lane_seconds(e.draws as f64 * e.cost_per_draw as f64))
        .sum::<f64>()
        + networks.iter().map(|n| n.2).sum::<f64>();
    let needs: Vec<f64> = evaluations
        .iter()
        .map(|e| {
            e.need.map_or(0.0, |n| {
                work::lane_seconds((n * BATCHES as u64) as f64 * e.cost_per_draw as f64)
            })
        })
        .collect();
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

/// An item's report entry from its plans and their evaluations (taken in
/// plan order).
fn entry(
    item: &Item,
    defs_plans: Vec<ScenarioPlans>,
    evals: &mut impl Iterator<Item = Evaluation>,
) -> Entry {
    let mut checked: Vec<Checked> = item
        .claims()
        .iter()
        .zip(defs_plans)
        .map(|(def, planned)| {
            let rows: Vec<Row> = planned
                .into_iter()
                .map(|(scenario, p)| {
                    let evaluation = evals.next().expect("one evaluation per plan");
                    let as_expected = p.expected.is_none_or(|v| v == evaluation.verdict);
                    Row {
                        scenario,
                        requirements: p.requirements,
                        evaluation,
                        expected: p.expected,
                        pinned: p.pinned,
                        as_expected,
                    }
                })
                .collect();
            Checked {
                id: def.id.clone(),
                cite: def.cite.clone(),
                why: def.why.clone(),
                says: format!("{}", def.claim),
                relation: def.claim.relation,
                attribution: attribution(&rows),
                rows,
            }
        })
        .collect();
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

/// Every series claim of every file compiled against its networks, so that
/// bad input is reported before anything is simulated and the claims' tests
/// are counted in the run's budget.
fn plan_series(files: &[File]) -> Result<Vec<Vec<Vec<net::series::Planned>>>, InputError> {
    files
        .iter()
        .map(|f| {
            f.series
                .iter()
                .map(|s| {
                    net::series::plan(s, &f.networks)
                        .map_err(|d| InputError::new(&f.origin, &f.text, d))
                })
                .collect()
        })
        .collect()
}

/// Simulates the networks a file's series claims use (each once, at the
/// draws their tables ask for), extends each to the draws the power
/// calculation asks for (refused over the budget), and checks the claims.
fn check_series(
    f: &File,
    plans: &[Vec<net::series::Planned>],
    settings: &Settings,
    tests: u64,
    selected: &dyn Fn(&str) -> bool,
) -> Result<Vec<Entry>, InputError> {
    let chosen: Vec<bool> = f.series.iter().map(|s| selected(&s.id)).collect();
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
    let mut need = vec![0.0f64; f.networks.len()];
    for ((s, p), _) in f.series.iter().zip(plans).zip(&chosen).filter(|(_, c)| **c) {
        for (i, n) in net::series::draws_needed(s, p, &stats, settings, tests) {
            need[i] = need[i].max(n);
        }
    }
    let cost: Vec<f64> = f
        .networks
        .iter()
        .zip(&need)
        .map(|(n, &d)| n.seconds() / n.draws as f64 * d.max(n.draws as f64))
        .collect();
    let total: f64 = cost.iter().sum();
    if let Some((i, _)) = need
        .iter()
        .enumerate()
        .filter(|(_, d)| **d > 0.0)
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
                need[i],
                n.draws,
                work::human_seconds(total),
                work::human_seconds(settings.budget)
            ),
        ));
    }
    let grown: Vec<(usize, usize)> = need
        .iter()
        .enumerate()
        .filter(|(_, d)| **d > 0.0)
        .map(|(i, d)| (i, *d as usize))
        .collect();
    for (i, to) in grown {
        let n = &f.networks[i];
        if let Some(st) = stats[i].as_mut() {
            net::simulate::extend(n, net::key(n, settings.seed), st, to)
                .map_err(|d| InputError::new(&f.origin, &f.text, d))?;
        }
    }
    Ok(f.series
        .iter()
        .zip(plans)
        .zip(chosen)
        .filter(|(_, chosen)| *chosen)
        .map(|((s, p), _)| {
            Entry::Claim(net::series::check(
                s,
                p,
                &f.networks,
                &stats,
                settings,
                tests,
            ))
        })
        .collect())
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
    series_plans: &[Vec<Vec<net::series::Planned>>],
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

fn trial_of(p: &Planned) -> Trial<'_> {
    Trial {
        scenario: &p.scenario,
        moments: &p.moments,
        lhs: &p.lhs,
        rhs: &p.rhs,
        relation: p.relation,
        within: p.within,
        key: p.key,
    }
}

/// Adds a `--define` (text `text`, shown as `origin`) to `table`: a name
/// that is a built-in's, or already defined, is an error, not a definition
/// that would be silently passed over.
pub fn define(
    table: &mut FunctionTable,
    origin: &str,
    text: &str,
    name: String,
    def: FunctionDef,
) -> Result<(), InputError> {
    let at = text.find(name.as_str()).unwrap_or(0);
    let span = at..at + name.len();
    check_function_name(&name).map_err(|(message, help)| {
        InputError::new(origin, text, Diag::new(span.clone(), message, help))
    })?;
    if table.get(&name).is_some() {
        return Err(InputError::new(
            origin,
            text,
            Diag::new(
                span,
                format!("`{name}` is already defined"),
                "define each function once, or give this one another name",
            ),
        ));
    }
    table.insert(name, def);
    Ok(())
}

/// Checks every `--define` once all are in `table` (see
/// [`check_function_body`]); `texts[i]` is the text of definition i + 1.
pub fn check_defined(table: &FunctionTable, texts: &[String]) -> Result<(), InputError> {
    for (i, text) in texts.iter().enumerate() {
        let Ok(def) = parse_function(text) else {
            continue;
        };
        let Some(name) = def.name.as_deref() else {
            continue;
        };
        check_function_body(name, &def, table)
            .map_err(|d| InputError::new(format!("--define #{}", i + 1), text, d))?;
    }
    Ok(())
}

/// The ad hoc file behind `initaudit check CLAIM --given STATEMENTS`.
pub fn adhoc(
    claim: &str,
    given: &str,
    requires: &[String],
    functions: &[String],
    within: Option<&str>,
) -> Result<File, InputError> {
    let mut table = FunctionTable::default();
    for (i, f) in functions.iter().enumerate() {
        let origin = format!("--define #{}", i + 1);
        let def = parse_function(f).map_err(|e| InputError::new(&origin, f, e.into()))?;
        let Some(name) = def.name.clone() else {
            return Err(InputError::new(
                &origin,
                f,
                Diag::new(
                    0..f.len(),
                    "a definition needs a name",
                    "write it as f(x) = ...",
                ),
            ));
        };
        define(&mut table, &origin, f, name, def)?;
    }
    check_defined(&table, functions)?;
    let stmts = parse_model(given).map_err(|e| InputError::new("--given", given, e.into()))?;
    let model = build("given", &stmts, &table).map_err(|d| InputError::new("--given", given, d))?;
    let parsed = parse_claim(claim).map_err(|e| InputError::new("<claim>", claim, e.into()))?;
    let band = within
        .map(|w| {
            parse_within(w).map_err(|m| {
                InputError::new(
                    "--within",
                    w,
                    Diag::new(
                        0..w.len(),
                        m,
                        "a percentage such as 2% or an absolute number",
                    ),
                )
            })
        })
        .transpose()?;
    if (parsed.relation == Relation::Approx) != band.is_some() {
        return Err(InputError::new(
            "<claim>",
            claim,
            Diag::new(
                parsed.relation_span.clone(),
                "`~=` goes with --within, and --within with `~=`",
                "e.g. 'E[tanh(y)^2] ~= 0.39' --within 1%",
            ),
        ));
    }
    let reqs = requires
        .iter()
        .map(|r| {
            let e = parse_expr(r).map_err(|e| InputError::new("--requires", r, e.into()))?;
            Requirement::from_expr(r, &e).map_err(|d| InputError::new("--requires", r, d))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(File {
        origin: "<claim>".to_string(),
        name: "<claim>".to_string(),
        text: claim.to_string(),
        functions: table,
        scenarios: vec![("given".to_string(), String::new(), model)],
        items: vec![Item::Claim(ClaimDef {
            id: "check".to_string(),
            cite: String::new(),
            why: String::new(),
            span: 0..claim.len(),
            claim: parsed,
            requires: reqs.into_iter().map(|r| (r, 0)).collect(),
            within: band,
            expect: Vec::new(),
            scenarios: Some(vec!["given".to_string()]),
            lhs_at: 0,
            rhs_at: 0,
        })],
        networks: Vec::new(),
        series: Vec::new(),
    })
}
