//! Loading: a file's TOML into claims, derivations, scenarios and networks.
//!
//! The TOML is read into raw tables that remember where every string was;
//! then every expression is parsed and every model built, with errors
//! shifted from positions in the string to positions in the file. Loading
//! fails only on input, and every failure points at what to fix.

use crate::diag::{Diag, InputError};
use crate::lang::ast::{ClaimExpr, Expr, Relation, Span};
use crate::lang::suggest;
use crate::lang::{FunctionDef, Functions, parse_claim, parse_expr, parse_function, parse_model};
use crate::model::resolve::{Model, build, check_function_body, check_function_name};
use crate::net;
use crate::requirement::Requirement;
use crate::verdict::{Verdict, parse_within};
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
    pub(super) fn claims(&self) -> Vec<&ClaimDef> {
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

impl File {
    /// The file's networks, for `net::command`.
    pub fn network_file(&self) -> net::NetworkFile<'_> {
        net::NetworkFile {
            origin: &self.origin,
            text: &self.text,
            networks: &self.networks,
        }
    }
}

/// Where a TOML string's contents start, given the span of the token.
fn content_offset(text: &str, span: &Span) -> usize {
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
                    scenario_help(name, scenarios),
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
                        scenario_help(v.get_ref(), scenarios),
                    )))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// Two TOML mistakes serde reports in its own terms, explained in the
/// file's: a misspelt key (the keys valid in that table, led by the one
/// meant), and `[claim]` written for `[[claim]]`, which serde sees as a
/// table where an array of tables belongs. `found` is the text at `span`.
fn toml_mistake(message: &str, found: &str, span: &Span) -> Option<Diag> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`')?;
        // serde lists the valid keys in backticks: "expected one of `a`, `b`"
        // or "expected `a`".
        let keys: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        if keys.is_empty() {
            return None;
        }
        return Some(Diag::new(
            span.clone(),
            format!("unknown field `{key}`"),
            suggest::help(
                key,
                keys.iter().copied(),
                format!("keys here: {}", keys.join(", ")),
            ),
        ));
    }
    let header = found.trim();
    if message == "invalid type: map, expected a sequence"
        && header.starts_with('[')
        && !header.starts_with("[[")
    {
        let name = header.trim_start_matches('[').trim_end_matches(']').trim();
        return Some(Diag::new(
            span.clone(),
            format!("`[{name}]` is a single table, but `{name}` is a list"),
            format!("write `[[{name}]]`, with double brackets: each one starts a new entry"),
        ));
    }
    None
}

/// The file's scenarios, led by the one `name` most likely meant.
fn scenario_help(name: &str, scenarios: &[String]) -> String {
    suggest::help(
        name,
        scenarios.iter().map(String::as_str),
        format!("scenarios: {}", scenarios.join(", ")),
    )
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

/// Loads one file: the TOML, then its functions, scenarios, claims and
/// derivations (in file order), then its networks and series claims. Every
/// step fails only on input, at the place it points to.
pub fn load(origin: &str, text: &str) -> Result<File, InputError> {
    let l = Loader { origin, text };
    let raw = l.raw()?;
    let functions = l.functions(&raw.functions)?;
    let scenarios = l.scenarios(&raw.scenario, &functions)?;
    let names: Vec<String> = scenarios.iter().map(|(n, _, _)| n.clone()).collect();
    let mut ids = Ids::default();
    let mut items: Vec<(usize, Item)> = Vec::new();
    for c in &raw.claim {
        ids.check(&l, &c.get_ref().id)?;
        items.push((c.span().start, Item::Claim(l.claim(c.get_ref(), &names)?)));
    }
    for d in &raw.derivation {
        ids.check(&l, &d.get_ref().id)?;
        items.push((d.span().start, l.derivation(d.get_ref(), &names)?));
    }
    items.sort_by_key(|(at, _)| *at);
    let mut networks = l.networks(&raw.network, &functions)?;
    let series = l.series(&raw.series, &networks, &mut ids)?;
    net::series::mark_jacobians(&series, &mut networks);
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

/// The ids seen so far in a file: claims, derivations and series share one
/// namespace.
#[derive(Default)]
struct Ids(Vec<String>);

impl Ids {
    fn check(&mut self, l: &Loader, id: &Spanned<String>) -> Result<(), InputError> {
        if self.0.contains(id.get_ref()) {
            return Err(l.err(Diag::new(
                id.span(),
                format!("the id `{}` is used twice", id.get_ref()),
                "ids are unique within a file",
            )));
        }
        self.0.push(id.get_ref().clone());
        Ok(())
    }
}

impl Loader<'_> {
    /// The TOML into raw tables that remember where every string was.
    fn raw(&self) -> Result<RawFile, InputError> {
        toml::from_str(self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim();
            self.err(
                toml_mistake(message, self.text.get(span.clone()).unwrap_or(""), &span)
                    .unwrap_or_else(|| Diag::new(
                        span,
                        message.to_string(),
                        "top-level tables: [functions], [scenario.NAME] (model = \"...\"), [[claim]], [[derivation]] with [[derivation.step]], [network.NAME], [[series]]",
                    )),
            )
        })
    }

    /// The `[functions]` table: every definition parsed, then every body
    /// checked, since only once all are in can a body's calls be followed.
    fn functions(
        &self,
        raw: &BTreeMap<Spanned<String>, Spanned<String>>,
    ) -> Result<FunctionTable, InputError> {
        let mut functions = FunctionTable::default();
        for (name, v) in raw {
            check_function_name(name.get_ref())
                .map_err(|(message, help)| self.err(Diag::new(name.span(), message, help)))?;
            let def = parse_function(v.get_ref()).map_err(|e| self.at(v, e.into()))?;
            functions.insert(name.get_ref().clone(), def);
        }
        for (name, v) in raw {
            let def = functions.get(name.get_ref()).expect("inserted above");
            check_function_body(name.get_ref(), def, &functions).map_err(|d| self.at(v, d))?;
        }
        Ok(functions)
    }

    /// The `[scenario.NAME]` tables in file order: (name, about, model).
    fn scenarios(
        &self,
        raw: &BTreeMap<String, Spanned<RawScenario>>,
        functions: &FunctionTable,
    ) -> Result<Vec<(String, String, Model)>, InputError> {
        let mut in_order: Vec<(&String, &Spanned<RawScenario>)> = raw.iter().collect();
        in_order.sort_by_key(|(_, s)| s.span().start);
        in_order
            .into_iter()
            .map(|(name, s)| {
                let m = &s.get_ref().model;
                let stmts = parse_model(m.get_ref()).map_err(|e| self.at(m, e.into()))?;
                let model = build(name, &stmts, functions).map_err(|d| self.at(m, d))?;
                Ok((
                    name.clone(),
                    s.get_ref().about.clone().unwrap_or_default(),
                    model,
                ))
            })
            .collect()
    }

    /// A `[[claim]]`; `names` are the file's scenarios.
    fn claim(&self, r: &RawClaim, names: &[String]) -> Result<ClaimDef, InputError> {
        let claim = parse_claim(r.says.get_ref()).map_err(|e| self.at(&r.says, e.into()))?;
        let within = self.within(&r.within, &claim, &r.says)?;
        let says_at = content_offset(self.text, &r.says.span());
        Ok(ClaimDef {
            id: r.id.get_ref().clone(),
            cite: r.cite.clone().unwrap_or_default(),
            why: String::new(),
            requires: self.requirements(&r.requires)?,
            within,
            expect: self.expect(&r.expect, names)?,
            scenarios: self.scenario_list(&r.scenarios, names)?,
            span: says_at..r.says.span().end,
            lhs_at: says_at,
            rhs_at: says_at,
            claim,
        })
    }

    /// A `[[derivation]]`: each step a link from the expression before it,
    /// then the first-to-last claim under every requirement of the links.
    fn derivation(&self, r: &RawDerivation, names: &[String]) -> Result<Item, InputError> {
        if r.step.is_empty() {
            return Err(self.err(Diag::new(
                r.id.span(),
                "a derivation needs at least one [[derivation.step]]",
                "add a step with `to = \"...\"`",
            )));
        }
        let scenario_list = self.scenario_list(&r.scenarios, names)?;
        let mut prev = (self.expr(&r.start)?, &r.start);
        let first = prev.0.clone();
        let mut links = Vec::new();
        let mut all_requires: Vec<(Requirement, usize)> = Vec::new();
        for (i, s) in r.step.iter().enumerate() {
            let to = self.expr(&s.to)?;
            let link = self.link(r, i, (&prev.0, prev.1), &to, names, &scenario_list)?;
            for q in &link.requires {
                if !all_requires.iter().any(|a| a.0.text == q.0.text) {
                    all_requires.push(q.clone());
                }
            }
            links.push(link);
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
            expect: self.expect(&r.expect, names)?,
            scenarios: scenario_list,
            span: content_offset(self.text, &r.start.span())..r.start.span().end,
            lhs_at: content_offset(self.text, &r.start.span()),
            rhs_at: content_offset(self.text, &prev.1.span()),
        };
        Ok(Item::Derivation {
            id: r.id.get_ref().clone(),
            cite: r.cite.clone().unwrap_or_default(),
            links,
            overall,
        })
    }

    /// Step `i` of a derivation `r`: the claim `from = to` (`~=` with a
    /// band), in the derivation's scenarios.
    fn link(
        &self,
        r: &RawDerivation,
        i: usize,
        (from, from_text): (&Expr, &Spanned<String>),
        to: &Expr,
        names: &[String],
        scenarios: &Option<Vec<String>>,
    ) -> Result<ClaimDef, InputError> {
        let s = &r.step[i];
        let relation = if s.within.is_some() {
            Relation::Approx
        } else {
            Relation::Eq
        };
        let claim = ClaimExpr {
            lhs: from.clone(),
            relation,
            rhs: to.clone(),
            relation_span: 0..0,
        };
        let requires = self.requirements(&s.requires)?;
        Ok(ClaimDef {
            id: format!("{}#{}", r.id.get_ref(), i + 1),
            cite: r.cite.clone().unwrap_or_default(),
            why: s.why.clone().unwrap_or_default(),
            within: self.within(&s.within, &claim, &s.to)?,
            claim,
            requires,
            expect: self.expect(&s.expect, names)?,
            scenarios: scenarios.clone(),
            span: content_offset(self.text, &s.to.span())..s.to.span().end,
            lhs_at: content_offset(self.text, &from_text.span()),
            rhs_at: content_offset(self.text, &s.to.span()),
        })
    }

    fn requirements(
        &self,
        raw: &[Spanned<String>],
    ) -> Result<Vec<(Requirement, usize)>, InputError> {
        raw.iter().map(|q| self.requirement(q)).collect()
    }

    /// The `[network.NAME]` tables (see `net`), in file order.
    fn networks(
        &self,
        raw: &BTreeMap<String, Spanned<net::RawNetwork>>,
        functions: &FunctionTable,
    ) -> Result<Vec<net::Network>, InputError> {
        let at = |span: &Span| content_offset(self.text, span);
        let mut in_order: Vec<_> = raw.iter().collect();
        in_order.sort_by_key(|(_, n)| n.span().start);
        in_order
            .into_iter()
            .map(|(name, n)| net::load(name, n, &at, functions).map_err(|d| self.err(d)))
            .collect()
    }

    /// The `[[series]]` claims about the networks, in file order.
    fn series(
        &self,
        raw: &[Spanned<net::series::RawSeries>],
        networks: &[net::Network],
        ids: &mut Ids,
    ) -> Result<Vec<net::series::SeriesDef>, InputError> {
        let at = |span: &Span| content_offset(self.text, span);
        let names: Vec<String> = networks.iter().map(|n| n.name.clone()).collect();
        raw.iter()
            .map(|s| {
                ids.check(self, &s.get_ref().id)?;
                net::series::load(s, &at, &names).map_err(|d| self.err(d))
            })
            .collect()
    }
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
