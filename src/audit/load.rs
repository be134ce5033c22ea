//! Loading: a file's TOML into claims, derivations, scenarios and networks.
//!
//! The TOML is read into raw tables that remember where every string was;
//! then every expression is parsed and every model built, with errors
//! shifted from positions in the string to positions in the file. Loading
//! fails only on input, and every failure points at what to fix.

use crate::diag::{Body, Diag, InputError};
use crate::lang::ast::{ClaimExpr, Expr, Relation, Span};
use crate::lang::suggest;
use crate::lang::{FunctionDef, Functions, parse_claim, parse_expr, parse_function, parse_model};
use crate::model::resolve::{Model, build, check_function_body, check_function_name};
use crate::net;
use crate::requirement::Requirement;
use crate::verdict::{Verdict, parse_within};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// The help for a TOML error outside any table.
const TOP_HELP: &str = "top-level tables: [functions], [scenario.NAME] (model = \"...\"), [[claim]], [[derivation]] with [[derivation.step]], [network.NAME], [[series]]";

/// Functions defined in a file's `[functions]` table (or by `--define`),
/// each with where its definition was written, so that an error met in a
/// body can point at the body.
#[derive(Clone, Debug, Default)]
pub struct FunctionTable(Vec<(String, FunctionDef, Written)>);

/// Where a definition's text is.
#[derive(Clone, Debug)]
pub enum Written {
    /// At this offset of the file being loaded.
    InFile(usize),
    /// In another input: its name, its text, and the offset in it (a
    /// `--define`, a `--functions` file).
    Elsewhere {
        origin: String,
        text: String,
        at: usize,
    },
}

impl FunctionTable {
    pub fn insert(&mut self, name: String, def: FunctionDef, written: Written) {
        self.0.push((name, def, written));
    }

    /// Where each body was written, for [`InputError::located`]; `origin`
    /// and `text` are the file that [`Written::InFile`] offsets are in.
    pub fn bodies<'a>(&'a self, origin: &'a str, text: &'a str) -> impl Fn(&str) -> Option<Body> {
        move |name: &str| {
            let (_, _, written) = self.0.iter().find(|(n, _, _)| n == name)?;
            Some(match written {
                Written::InFile(at) => Body {
                    origin: origin.to_string(),
                    text: text.to_string(),
                    at: *at,
                },
                Written::Elsewhere { origin, text, at } => Body {
                    origin: origin.clone(),
                    text: text.clone(),
                    at: *at,
                },
            })
        }
    }

    /// Where `name`'s definition was written, as seen from another input
    /// (`file` is the one this table was loaded from).
    pub fn written(&self, name: &str, file: &File) -> Option<Written> {
        let (_, _, w) = self.0.iter().find(|(n, _, _)| n == name)?;
        Some(match w {
            Written::InFile(at) => Written::Elsewhere {
                origin: file.origin.clone(),
                text: file.text.clone(),
                at: *at,
            },
            w => w.clone(),
        })
    }
}

impl Functions for FunctionTable {
    fn get(&self, name: &str) -> Option<&FunctionDef> {
        self.0.iter().find(|(n, _, _)| n == name).map(|(_, d, _)| d)
    }

    fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _, _)| n.as_str()).collect()
    }
}

/// A file's top-level tables, each entry read on its own (see
/// [`Loader::raw`]).
#[derive(Default)]
struct RawFile {
    functions: BTreeMap<Spanned<String>, Spanned<String>>,
    scenario: BTreeMap<String, Spanned<RawScenario>>,
    claim: Vec<Spanned<RawClaim>>,
    derivation: Vec<Spanned<RawDerivation>>,
    network: BTreeMap<String, Spanned<net::RawNetwork>>,
    series: Vec<Spanned<net::series::RawSeries>>,
}

/// The top-level tables, each with what it holds: the help for an error
/// inside it, so that help names what is valid where the error is.
const TABLES: [(&str, &str); 6] = [
    (
        "functions",
        "[functions] holds definitions: name = \"body in x\" or name = \"f(x, a) = body\"",
    ),
    (
        "scenario",
        "a [scenario.NAME] holds model = \"...\" and about = \"...\"",
    ),
    (
        "claim",
        "a [[claim]] holds id, cite, says, requires = [\"...\"], within, expect = { SCENARIO = \"holds\" }, in = [\"SCENARIO\"]",
    ),
    (
        "derivation",
        "a [[derivation]] holds id, cite, start, expect, in, and [[derivation.step]]s with to, why, requires, within, expect",
    ),
    (
        "network",
        "a [network.NAME] holds about, widths or depth and width, activation, weight, bias, input, inputs, draws, seed",
    ),
    (
        "series",
        "a [[series]] holds id, cite, says, layers, within, expect = { NETWORK = \"holds\" }, in = [\"NETWORK\"]",
    ),
];

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
///
/// Every entry (function, scenario, claim, derivation, network, series) is
/// loaded on its own, and the errors of all of them are reported together,
/// in file order. When some failed, the rest of the file is resolved as
/// well (what `plan` would do), so that an error in one claim does not
/// hide an error in another; errors that only follow from an entry that
/// already failed (a call of a function whose definition is broken, a
/// claim whose scenario is) are left out, since fixing that entry fixes
/// them.
pub fn load(origin: &str, text: &str) -> Result<File, InputError> {
    let l = Loader { origin, text };
    let mut errors = Vec::new();
    let raw = l.raw(&mut errors)?;
    let (functions, broken_functions) = l.functions(&raw.functions, &mut errors);
    let scenarios = l.scenarios(&raw.scenario, &functions, &mut errors);
    let mut names: Vec<(&String, usize)> = raw
        .scenario
        .iter()
        .map(|(n, s)| (n, s.span().start))
        .collect();
    names.sort_by_key(|(_, at)| *at);
    let names: Vec<String> = names.into_iter().map(|(n, _)| n.clone()).collect();
    let mut ids = Ids::default();
    let mut items: Vec<(usize, Item)> = Vec::new();
    for c in &raw.claim {
        ids.check(&l, &c.get_ref().id, &mut errors);
        match l.claim(c.get_ref(), &names) {
            Ok(claim) => items.push((c.span().start, Item::Claim(claim))),
            Err(e) => errors.push(e),
        }
    }
    for d in &raw.derivation {
        ids.check(&l, &d.get_ref().id, &mut errors);
        match l.derivation(d.get_ref(), &names) {
            Ok(item) => items.push((d.span().start, item)),
            Err(e) => errors.push(e),
        }
    }
    items.sort_by_key(|(at, _)| *at);
    let mut networks = l.networks(&raw.network, &functions, &mut errors);
    let series = l.series(&raw.series, &raw.network, &mut ids, &mut errors);
    net::series::mark_needs(&series, &mut networks);
    let file = File {
        origin: origin.to_string(),
        name: identity(origin),
        text: text.to_string(),
        functions,
        scenarios,
        items: items.into_iter().map(|(_, i)| i).collect(),
        networks,
        series,
    };
    if errors.is_empty() {
        return Ok(file);
    }
    let broken_scenarios = file.scenarios.len() < raw.scenario.len();
    let broken_networks = file.networks.len() < raw.network.len();
    let follows = |e: &InputError| {
        let m = &e.diag.message;
        broken_functions
            .iter()
            .any(|f| m.contains(&format!("unknown function `{f}`")))
            || (broken_scenarios
                && (m.starts_with("no scenario of this file defines")
                    || m.contains("is a claim about numbers")))
    };
    errors.extend(
        super::plan::resolution_errors(&file, !broken_networks)
            .into_iter()
            .filter(|e| !follows(e)),
    );
    Err(in_file_order(errors).expect("errors is not empty"))
}

/// Byte offsets of the lines that open a table (`[x]` or `[[x]]`), outside
/// multi-line strings (`"""` and `'''`, which a table's text may hold).
fn table_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut open: Option<&str> = None;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if open.is_none() && is_header(line) {
            starts.push(at);
        }
        for quote in ["\"\"\"", "'''"] {
            if open.is_none_or(|q| q == quote) && line.matches(quote).count() % 2 == 1 {
                open = if open.is_some() { None } else { Some(quote) };
            }
        }
        at += line.len();
    }
    starts
}

/// Whether a line is a table header: `[key.path]` or `[[key.path]]`, then
/// nothing but a comment. A line of a multi-line array (`[1, 2],`) is not.
fn is_header(line: &str) -> bool {
    let line = line.trim();
    let Some(rest) = line.strip_prefix('[') else {
        return false;
    };
    let (close, rest) = match rest.strip_prefix('[') {
        Some(rest) => ("]]", rest),
        None => ("]", rest),
    };
    let Some(end) = rest.find(close) else {
        return false;
    };
    let (key, after) = (&rest[..end], rest[end + close.len()..].trim_start());
    let key_char = |c: char| c.is_alphanumeric() || "_-. \"'".contains(c);
    !key.trim().is_empty()
        && key.chars().all(key_char)
        && (after.is_empty() || after.starts_with('#'))
}

/// Errors of one file in the order of their places, one per place (a
/// function's body met from several claims is one error).
fn in_file_order(mut errors: Vec<InputError>) -> Option<InputError> {
    errors.sort_by_key(|e| e.diag.span.start);
    let mut seen = Vec::new();
    errors.retain(|e| {
        let place = (e.origin.clone(), e.diag.span.clone());
        let new = !seen.contains(&place);
        seen.push(place);
        new
    });
    InputError::all(errors)
}

/// The ids seen so far in a file: claims, derivations and series share one
/// namespace.
#[derive(Default)]
struct Ids(Vec<String>);

impl Ids {
    fn check(&mut self, l: &Loader, id: &Spanned<String>, errors: &mut Vec<InputError>) {
        if self.0.contains(id.get_ref()) {
            errors.push(l.err(Diag::new(
                id.span(),
                format!("the id `{}` is used twice", id.get_ref()),
                "ids are unique within a file",
            )));
        }
        self.0.push(id.get_ref().clone());
    }
}

impl Loader<'_> {
    /// A TOML error where serde put it, explained in the file's terms
    /// where [`toml_mistake`] knows the mistake, else with `help`.
    fn toml_error(&self, e: &toml::de::Error, help: &str) -> InputError {
        self.toml_error_after(e, 0, help)
    }

    /// [`Loader::toml_error`] for an error of the text from byte `offset`.
    fn toml_error_after(&self, e: &toml::de::Error, offset: usize, help: &str) -> InputError {
        let span = e
            .span()
            .map_or(offset..offset, |s| s.start + offset..s.end + offset);
        let message = e.message().trim();
        self.err(
            toml_mistake(message, self.text.get(span.clone()).unwrap_or(""), &span)
                .unwrap_or_else(|| Diag::new(span, message.to_string(), help)),
        )
    }

    /// The syntax errors of a file that has one. What is read after the
    /// first cannot be trusted as part of the whole, but each table after
    /// the one that error is in is complete on its own: parsed as a
    /// document by itself, its first error, if any, is its own. One error
    /// per table, then: the parser's own recovery is not trusted further,
    /// since past an unclosed bracket it reports echoes of the first error.
    /// `parsed` is the whole parse's error, the head should the recovering
    /// parse find none before it.
    fn syntax_errors(&self, parsed: toml::de::Error) -> InputError {
        let first = |text: &str| {
            let (_, errors) = DeTable::parse_recoverable(text);
            errors
                .into_iter()
                .min_by_key(|e| e.span().map_or(usize::MAX, |s| s.start))
        };
        let head = first(self.text)
            .filter(|e| e.span().map(|s| s.start) <= parsed.span().map(|s| s.start))
            .unwrap_or(parsed);
        let starts = table_starts(self.text);
        let after = starts.partition_point(|&s| s <= head.span().map_or(0, |s| s.start));
        let later = starts[after..]
            .iter()
            .enumerate()
            .filter_map(|(i, &start)| {
                let end = starts
                    .get(after + i + 1)
                    .copied()
                    .unwrap_or(self.text.len());
                first(&self.text[start..end]).map(|e| self.toml_error_after(&e, start, TOP_HELP))
            });
        InputError::all(std::iter::once(self.toml_error(&head, TOP_HELP)).chain(later))
            .expect("one error at least")
    }

    /// The TOML into raw tables that remember where every string was. A
    /// syntax error stops the file ([`Loader::syntax_errors`]); without
    /// one, every entry of every table is read on its own, so that a
    /// mistake in one claim does not hide one in another.
    fn raw(&self, errors: &mut Vec<InputError>) -> Result<RawFile, InputError> {
        let top = DeTable::parse(self.text).map_err(|e| self.syntax_errors(e))?;
        let mut raw = RawFile::default();
        for (key, value) in top.into_inner() {
            let name = key.get_ref().as_ref();
            let Some((_, help)) = TABLES.iter().find(|(t, _)| *t == name) else {
                let tables: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
                errors.push(self.err(Diag::new(
                    key.span(),
                    format!("unknown field `{name}`"),
                    suggest::help(
                        name,
                        tables.iter().copied(),
                        format!("keys here: {}", tables.join(", ")),
                    ),
                )));
                continue;
            };
            match name {
                "functions" => raw.functions = self.whole(value, help, errors).unwrap_or_default(),
                "scenario" => raw.scenario = self.entries(value, help, errors),
                "claim" => raw.claim = self.list(value, help, errors),
                "derivation" => raw.derivation = self.list(value, help, errors),
                "network" => raw.network = self.entries(value, help, errors),
                _ => raw.series = self.list(value, help, errors),
            }
        }
        Ok(raw)
    }

    /// A value read as a `T`, or its error recorded.
    fn whole<T: DeserializeOwned>(
        &self,
        value: Spanned<DeValue>,
        help: &str,
        errors: &mut Vec<InputError>,
    ) -> Option<T> {
        T::deserialize(ValueDeserializer::from(value))
            .map_err(|e| errors.push(self.toml_error(&e, help)))
            .ok()
    }

    /// An array of tables read entry by entry; anything else is read whole,
    /// for serde's error (`[claim]` for `[[claim]]` among them).
    fn list<T: DeserializeOwned>(
        &self,
        value: Spanned<DeValue>,
        help: &str,
        errors: &mut Vec<InputError>,
    ) -> Vec<T> {
        match value.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|v| self.whole(v.clone(), help, errors))
                .collect(),
            _ => self.whole(value, help, errors).unwrap_or_default(),
        }
    }

    /// A table of named tables read entry by entry; anything else is read
    /// whole, for serde's error.
    fn entries<T: DeserializeOwned>(
        &self,
        value: Spanned<DeValue>,
        help: &str,
        errors: &mut Vec<InputError>,
    ) -> BTreeMap<String, T> {
        match value.get_ref() {
            DeValue::Table(entries) => entries
                .iter()
                .filter_map(|(k, v)| {
                    Some((
                        k.get_ref().to_string(),
                        self.whole(v.clone(), help, errors)?,
                    ))
                })
                .collect(),
            _ => self.whole(value, help, errors).unwrap_or_default(),
        }
    }

    /// The `[functions]` table: every definition parsed, then every body
    /// checked, since only once all are in can a body's calls be followed.
    /// A definition with an error is left out of the table, and named in
    /// the list returned with it.
    fn functions(
        &self,
        raw: &BTreeMap<Spanned<String>, Spanned<String>>,
        errors: &mut Vec<InputError>,
    ) -> (FunctionTable, Vec<String>) {
        let mut functions = FunctionTable::default();
        let mut broken = Vec::new();
        for (name, v) in raw {
            let def = check_function_name(name.get_ref())
                .map_err(|(message, help)| self.err(Diag::new(name.span(), message, help)))
                .and_then(|()| parse_function(v.get_ref()).map_err(|e| self.at(v, e.into())));
            match def {
                Ok(def) => functions.insert(
                    name.get_ref().clone(),
                    def,
                    Written::InFile(content_offset(self.text, &v.span())),
                ),
                Err(e) => {
                    errors.push(e);
                    broken.push(name.get_ref().clone());
                }
            }
        }
        for (name, v) in raw {
            let Some(def) = functions.get(name.get_ref()) else {
                continue;
            };
            if let Err(d) = check_function_body(name.get_ref(), def, &functions) {
                errors.push(self.at(v, d));
                broken.push(name.get_ref().clone());
            }
        }
        functions.0.retain(|(n, _, _)| !broken.contains(n));
        (functions, broken)
    }

    /// The `[scenario.NAME]` tables in file order: (name, about, model);
    /// one with an error is left out.
    fn scenarios(
        &self,
        raw: &BTreeMap<String, Spanned<RawScenario>>,
        functions: &FunctionTable,
        errors: &mut Vec<InputError>,
    ) -> Vec<(String, String, Model)> {
        let mut in_order: Vec<(&String, &Spanned<RawScenario>)> = raw.iter().collect();
        in_order.sort_by_key(|(_, s)| s.span().start);
        let bodies = functions.bodies(self.origin, self.text);
        in_order
            .into_iter()
            .filter_map(|(name, s)| {
                let m = &s.get_ref().model;
                let model = parse_model(m.get_ref())
                    .map_err(|e| self.at(m, e.into()))
                    .and_then(|stmts| {
                        build(name, &stmts, functions).map_err(|d| {
                            let d = d.shifted(content_offset(self.text, &m.span()));
                            InputError::located(self.origin, self.text, d, &bodies)
                        })
                    });
                match model {
                    Ok(model) => Some((
                        name.clone(),
                        s.get_ref().about.clone().unwrap_or_default(),
                        model,
                    )),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                }
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

    /// The `[network.NAME]` tables (see `net`), in file order; one with
    /// an error is left out.
    fn networks(
        &self,
        raw: &BTreeMap<String, Spanned<net::RawNetwork>>,
        functions: &FunctionTable,
        errors: &mut Vec<InputError>,
    ) -> Vec<net::Network> {
        let at = |span: &Span| content_offset(self.text, span);
        let mut in_order: Vec<_> = raw.iter().collect();
        in_order.sort_by_key(|(_, n)| n.span().start);
        in_order
            .into_iter()
            .filter_map(|(name, n)| {
                net::load(name, n, &at, functions)
                    .map_err(|d| errors.push(self.err(d)))
                    .ok()
            })
            .collect()
    }

    /// The `[[series]]` claims about the networks (every network the file
    /// names, loaded or not), in file order.
    fn series(
        &self,
        raw: &[Spanned<net::series::RawSeries>],
        networks: &BTreeMap<String, Spanned<net::RawNetwork>>,
        ids: &mut Ids,
        errors: &mut Vec<InputError>,
    ) -> Vec<net::series::SeriesDef> {
        let at = |span: &Span| content_offset(self.text, span);
        let mut in_order: Vec<_> = networks.iter().collect();
        in_order.sort_by_key(|(_, n)| n.span().start);
        let names: Vec<String> = in_order.into_iter().map(|(n, _)| n.clone()).collect();
        raw.iter()
            .filter_map(|s| {
                ids.check(self, &s.get_ref().id, errors);
                net::series::load(s, &at, &names)
                    .map_err(|d| errors.push(self.err(d)))
                    .ok()
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
    table.insert(
        name,
        def,
        Written::Elsewhere {
            origin: origin.to_string(),
            text: text.to_string(),
            at: 0,
        },
    );
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
    let model = build("given", &stmts, &table)
        .map_err(|d| InputError::located("--given", given, d, &table.bodies("--given", given)))?;
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
