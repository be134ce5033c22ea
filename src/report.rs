//! Reports: the audit's results as terminal tables, markdown or json.
//!
//! Rendering is a pure function of the [`Report`]: no evaluation happens
//! here, and nothing here depends on timing or thread count, so the same
//! seed gives the same bytes. Tables are for people (one per claim or
//! derivation, then the attribution and a summary per file); json is for
//! machines and carries every number the tables round.

use crate::outcome::{Attribution, Checked, Entry, Report, Row};
use crate::requirement::{By, Decision};
use crate::verdict::{SideValue, Verdict};
use prettytable::{Cell, Table, format};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// How a report is written: for a terminal, for markdown, or for machines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Markdown,
    Json,
}

pub fn render(report: &Report, fmt: Format) -> String {
    match fmt {
        Format::Table => text(report, false),
        Format::Markdown => text(report, true),
        Format::Json => {
            serde_json::to_string_pretty(&to_json(report)).expect("json of plain values") + "\n"
        }
    }
}

/// Seven significant digits, enough to see a 0.05% deviation.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        return "—".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let mag = x.abs().log10().floor() as i32;
    if (-4..7).contains(&mag) {
        let decimals = (6 - mag).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.6e}")
    }
}

fn short(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1e}")
    } else {
        "∞".to_string()
    }
}

fn side_cell(s: &Option<SideValue>) -> String {
    match s {
        None => "—".to_string(),
        Some(v) if v.exact() => num(v.value),
        Some(v) => format!("{} ± {}", num(v.value), short(v.err)),
    }
}

fn method_cell(row: &Row) -> String {
    let ev = &row.evaluation;
    let mut parts: Vec<&str> = Vec::new();
    for s in [&ev.lhs, &ev.rhs].into_iter().flatten() {
        let m = s.method.name();
        if !parts.contains(&m) {
            parts.push(m);
        }
    }
    let mut out = if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join(" / ")
    };
    let sampled = [&ev.lhs, &ev.rhs].into_iter().flatten().any(|s| !s.exact());
    if sampled {
        let _ = write!(out, ", n={}", ev.draws);
        if ev.capped {
            out.push_str(" (cap)");
        }
    }
    out
}

fn mark(met: bool, by: By) -> &'static str {
    match (met, by) {
        (_, By::Undecided) => "?",
        (true, _) => "✓",
        (false, _) => "✗",
    }
}

/// How a requirement was decided, and by which rule: `✓ structure:
/// iid-exchange`, `✗ exact: E[y^3]`.
fn decided_cell(d: &Decision) -> String {
    let mut s = format!("{} {}", mark(d.met, d.by), d.by.name());
    if !d.rule.is_empty() {
        let _ = write!(s, ": {}", d.rule);
    }
    s
}

/// Requirements left undecided in these results.
fn undecided<'a>(rows: impl IntoIterator<Item = &'a Row>) -> usize {
    rows.into_iter()
        .flat_map(|r| &r.requirements)
        .filter(|(_, d)| d.by == By::Undecided)
        .count()
}

fn verdict_cell(row: &Row) -> String {
    let v = row.evaluation.verdict.name();
    let mut s = if row.evaluation.verdict == Verdict::Fails {
        v.to_uppercase()
    } else {
        v.to_string()
    };
    if !row.evaluation.defects.is_empty() {
        s.push_str(" DEFECT");
    }
    s
}

fn expected_cell(row: &Row) -> String {
    match row.expected {
        None => "—".to_string(),
        Some(v) => {
            let mut s = v.name().to_string();
            if row.pinned {
                s.push_str(" (pinned)");
            }
            if !row.as_expected {
                s = format!("✗ {s}: CONTRADICTED");
            }
            s
        }
    }
}

fn deviation_cell(row: &Row) -> String {
    let d = row.evaluation.deviation;
    if d.is_nan() {
        "—".to_string()
    } else if d == 0.0 {
        "0".to_string()
    } else {
        format!("{d:+.2e}")
    }
}

/// How a table is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Box-drawing lines around the table.
    Boxed,
    /// Pipes: a markdown table.
    Markdown,
    /// No lines: columns two spaces apart, no space at the ends of lines.
    Plain,
}

/// What sets the titles off from the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The frame's own line (`├──┼──┤`, markdown's `|---|`).
    Line,
    /// A row of dashes as wide as each column.
    Dashes,
    Nothing,
}

/// How a table is drawn: every table of the tool goes through [`table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub frame: Frame,
    pub rule: Rule,
    /// Cells right-aligned (numbers in columns), else left-aligned.
    pub right: bool,
}

impl Style {
    /// The audit's tables: boxed in a terminal, markdown's own otherwise.
    pub fn lined(markdown: bool) -> Style {
        Style {
            frame: if markdown {
                Frame::Markdown
            } else {
                Frame::Boxed
            },
            rule: Rule::Line,
            right: false,
        }
    }
}

/// A table of `titles` over `rows`, drawn by prettytable in `style`.
pub fn table(style: Style, titles: &[String], rows: &[Vec<String>]) -> String {
    let align = if style.right {
        format::Alignment::RIGHT
    } else {
        format::Alignment::LEFT
    };
    // `Row::new`, not `collect`: a row collected from cells keeps only
    // their text, not their alignment.
    let cells =
        |r: &[String]| prettytable::Row::new(r.iter().map(|s| Cell::new_align(s, align)).collect());
    let mut t = Table::new();
    t.set_format(table_format(style));
    t.set_titles(cells(titles));
    if style.rule == Rule::Dashes {
        let dashes: Vec<String> = (0..titles.len())
            .map(|i| {
                let widest = rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .chain([&titles[i]])
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0);
                "-".repeat(widest)
            })
            .collect();
        t.add_row(cells(&dashes));
    }
    for r in rows {
        t.add_row(cells(r));
    }
    let drawn = t.to_string();
    if style.frame != Frame::Plain {
        return drawn;
    }
    drawn
        .lines()
        .map(|l| l.trim_end().to_string() + "\n")
        .collect()
}

fn table_format(style: Style) -> format::TableFormat {
    use format::LinePosition::{Bottom, Title, Top};
    let line = format::LineSeparator::new;
    // (column separator, border, left padding, the line under the titles,
    // the lines above and below the table)
    let (column, border, left, title, ends) = match style.frame {
        Frame::Markdown => ('|', Some('|'), 1, line('-', '|', '|', '|'), None),
        // Box lines around the table and under the titles only: a line
        // between every row doubles the height for nothing.
        Frame::Boxed => (
            '│',
            Some('│'),
            1,
            line('─', '┼', '├', '┤'),
            Some((line('─', '┬', '┌', '┐'), line('─', '┴', '└', '┘'))),
        ),
        // One space of padding and one of separator: two between columns.
        Frame::Plain => (' ', None, 0, line('-', ' ', ' ', ' '), None),
    };
    let mut b = format::FormatBuilder::new()
        .column_separator(column)
        .padding(left, 1);
    if let Some(c) = border {
        b = b.borders(c);
    }
    if let Some((above, below)) = ends {
        b = b.separator(Top, above).separator(Bottom, below);
    }
    if style.rule == Rule::Line {
        b = b.separator(Title, title);
    }
    b.build()
}

fn claim_table(c: &Checked, markdown: bool) -> String {
    let mut titles: Vec<String> = ["scenario", "lhs", "rhs", "rel. dev.", "method"]
        .map(String::from)
        .to_vec();
    if let Some(r) = c.rows.first() {
        titles.extend(r.requirements.iter().map(|(t, _)| t.clone()));
    }
    titles.extend(["verdict", "expected"].map(String::from));
    let rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|row| {
            let mut cells = vec![
                row.scenario.clone(),
                side_cell(&row.evaluation.lhs),
                side_cell(&row.evaluation.rhs),
                deviation_cell(row),
                method_cell(row),
            ];
            cells.extend(row.requirements.iter().map(|(_, d)| decided_cell(d)));
            cells.push(verdict_cell(row));
            cells.push(expected_cell(row));
            cells
        })
        .collect();
    table(Style::lined(markdown), &titles, &rows)
}

fn notes(c: &Checked) -> String {
    let mut out = String::new();
    for row in &c.rows {
        for n in &row.evaluation.notes {
            let _ = writeln!(out, "  note [{}]: {n}", row.scenario);
        }
        for d in &row.evaluation.defects {
            let _ = writeln!(
                out,
                "  DEFECT [{}]: {} exact {} but sampled {} ± {} — the engines disagree",
                row.scenario,
                d.moment,
                num(d.exact),
                num(d.sampled),
                short(d.se)
            );
        }
    }
    out
}

fn attribution(c: &Checked) -> String {
    let mut out = String::new();
    for (req, a) in &c.attribution {
        let s = match a {
            Attribution::LoadBearing(s) => {
                format!("load-bearing: fails in `{s}`, which violates only it")
            }
            Attribution::NotNeeded(s) => {
                format!("not needed in what was tried: holds in `{s}`, which violates only it")
            }
            Attribution::Inconclusive => "tried, but inconclusive".to_string(),
            Attribution::NeverTried => "never tried: no scenario violates only it".to_string(),
        };
        let _ = writeln!(out, "  {req}: {s}");
    }
    out
}

fn heading(id: &str, says: &str, cite: &str, markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "### `{id}`: `{says}`\n");
        if !cite.is_empty() {
            let _ = writeln!(out, "*{cite}*\n");
        }
    } else {
        let _ = writeln!(out, "{id}: {says}");
        if !cite.is_empty() {
            let _ = writeln!(out, "  {cite}");
        }
    }
    out
}

fn text(report: &Report, markdown: bool) -> String {
    let mut out = String::new();
    for f in &report.files {
        if markdown {
            let _ = writeln!(out, "## {}\n", f.name);
        } else {
            let _ = writeln!(out, "=== {} ===\n", f.name);
        }
        let (mut results, mut contradicted, mut defects, mut claims, mut open) = (0, 0, 0, 0, 0);
        for e in &f.entries {
            // Below each table: indented lines in a terminal, the same lines
            // as a nested list in markdown.
            let mut below = String::new();
            let all: Vec<&Checked> = match e {
                Entry::Claim(c) => {
                    out.push_str(&heading(&c.id, &c.says, &c.cite, markdown));
                    out.push_str(&claim_table(c, markdown));
                    below.push_str(&notes(c));
                    if !c.attribution.is_empty() {
                        below.push_str("  attribution:\n");
                        below.push_str(&attribution(c));
                    }
                    vec![c]
                }
                Entry::Derivation {
                    id,
                    cite,
                    links,
                    overall,
                } => {
                    out.push_str(&heading(id, &overall.says, cite, markdown));
                    out.push_str(&derivation_table(links, overall, markdown));
                    for (i, l) in links.iter().enumerate() {
                        let _ = writeln!(below, "  step {}: {}   — {}", i + 1, l.says, l.why);
                        below.push_str(&notes(l));
                        for line in attribution(l).lines() {
                            let _ = writeln!(below, "    {}", line.trim_start());
                        }
                    }
                    below.push_str(&notes(overall));
                    links.iter().chain(std::iter::once(overall)).collect()
                }
            };
            if markdown {
                out.push('\n');
                for line in below.lines() {
                    let body = line.trim_start();
                    let depth = (line.len() - body.len()) / 2;
                    let _ = writeln!(out, "{}- {body}", "  ".repeat(depth.saturating_sub(1)));
                }
            } else {
                out.push_str(&below);
            }
            out.push('\n');
            claims += 1;
            for c in all {
                open += undecided(&c.rows);
                for r in &c.rows {
                    results += 1;
                    contradicted += usize::from(!r.as_expected);
                    defects += r.evaluation.defects.len();
                }
            }
        }
        let _ = writeln!(
            out,
            "{}: {claims} claims and derivations, {results} results, {} as expected, {contradicted} contradicted, {defects} defects, {open} undecided requirements\n",
            f.name,
            results - contradicted
        );
    }
    let _ = writeln!(
        out,
        "seed {}, resolution {}%, {} statistical tests at family-wise false-failure rate 1e-6 (critical t = {:.2}); {} undecided requirements; {}",
        report.settings.seed,
        report.settings.resolution * 100.0,
        report.tests,
        report.critical,
        undecided(report.checked().flat_map(|(_, c)| &c.rows)),
        if report.passed() {
            "AUDIT PASSED"
        } else {
            "AUDIT FAILED"
        }
    );
    out
}

fn derivation_table(links: &[Checked], overall: &Checked, markdown: bool) -> String {
    let mut titles = vec!["scenario".to_string()];
    titles.extend((1..=links.len()).map(|i| format!("step {i}")));
    titles.push("first = last".to_string());
    let rows: Vec<Vec<String>> = overall
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut cells = vec![row.scenario.clone()];
            for l in links.iter().chain(std::iter::once(overall)) {
                let r = l.rows.get(i).filter(|r| r.scenario == row.scenario);
                cells.push(r.map_or("—".to_string(), step_mark));
            }
            cells
        })
        .collect();
    let mut s = table(Style::lined(markdown), &titles, &rows);
    if markdown {
        // A line right under a markdown table would be read as a row.
        s.push('\n');
    }
    s.push_str(
        "  ✓ holds  ✗ fails  ? inconclusive  U undefined; (!) contradicts the expectation\n",
    );
    s
}

fn step_mark(r: &Row) -> String {
    let m = match r.evaluation.verdict {
        Verdict::Holds => "✓",
        Verdict::Fails => "✗",
        Verdict::Inconclusive => "?",
        Verdict::Undefined => "U",
    };
    let dev = if r.evaluation.deviation.is_nan() || r.evaluation.verdict == Verdict::Holds {
        String::new()
    } else {
        format!(" {:+.1e}", r.evaluation.deviation)
    };
    let flag = if r.as_expected && r.evaluation.defects.is_empty() {
        ""
    } else {
        " (!)"
    };
    format!("{m}{dev}{flag}")
}

fn side_json(s: &Option<SideValue>) -> Value {
    match s {
        None => Value::Null,
        Some(v) => json!({
            "value": finite(v.value),
            "se": if v.exact() { Value::Null } else { finite(v.err) },
            "err": if v.exact() { finite(v.err) } else { Value::Null },
            "exact": v.exact(),
            "method": snake(v.method.name()),
            "sampled": v.sampled.map(|(m, se)| json!({"value": finite(m), "se": finite(se)})),
        }),
    }
}

fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// The version of every command's json (docs/JSON.md): raised when a field
/// is removed, renamed, or changes its type or meaning, so that a reader
/// can refuse what it does not understand; new fields leave it alone.
pub const SCHEMA_VERSION: u64 = 1;

/// An enumerated value as json spells it: snake_case, as the keys are
/// (`load-bearing` and `closed form` are `load_bearing`, `closed_form`).
pub fn snake(name: &str) -> String {
    name.replace([' ', '-'], "_")
}

fn to_json(report: &Report) -> Value {
    let results: Vec<Value> = report
        .checked()
        .flat_map(|(file, c)| {
            c.rows.iter().map(move |r| {
                json!({
                    "id": c.id,
                    "file": file,
                    "cite": c.cite,
                    "says": c.says,
                    // A series claim's rows are networks: named as such.
                    "scenario": (!c.on_networks).then_some(&r.scenario),
                    "network": c.on_networks.then_some(&r.scenario),
                    "relation": c.relation.symbol(),
                    "lhs": side_json(&r.evaluation.lhs),
                    "rhs": side_json(&r.evaluation.rhs),
                    "deviation": finite(r.evaluation.deviation),
                    "verdict": r.evaluation.verdict.name(),
                    "draws": r.evaluation.draws,
                    "capped": r.evaluation.capped,
                    "requirements": r.requirements.iter().map(|(p, d)| json!({
                        "predicate": p, "met": d.met, "by": d.by.name(), "rule": d.rule, "why": d.why,
                    })).collect::<Vec<_>>(),
                    "expected": r.expected.map(|v| v.name()),
                    "pinned": r.pinned,
                    "as_expected": r.as_expected,
                    "defects": r.evaluation.defects.iter().map(|d| json!({
                        "moment": d.moment, "exact": finite(d.exact), "sampled": finite(d.sampled), "se": finite(d.se),
                    })).collect::<Vec<_>>(),
                    "notes": r.evaluation.notes,
                })
            })
        })
        .collect();
    let attributions: Vec<Value> = report
        .checked()
        .flat_map(|(file, c)| {
            c.attribution.iter().map(move |(req, a)| {
                let (status, scenario) = match a {
                    Attribution::LoadBearing(s) => ("load_bearing", Some(s)),
                    Attribution::NotNeeded(s) => ("not_needed", Some(s)),
                    Attribution::Inconclusive => ("inconclusive", None),
                    Attribution::NeverTried => ("never_tried", None),
                };
                json!({"id": c.id, "file": file, "requirement": req, "status": status, "scenario": scenario})
            })
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "seed": report.settings.seed,
        "resolution": report.settings.resolution,
        "tests": report.tests,
        "critical_t": report.critical,
        "passed": report.passed(),
        "undecided": undecided(report.checked().flat_map(|(_, c)| &c.rows)),
        "results": results,
        "attribution": attributions,
    })
}

/// `initaudit explain ID`: everything about one claim, derivation or step,
/// scenario by scenario — requirements and how each was decided, both sides
/// with method and error, the verdict and what was expected. `None` when no
/// claim in the report has that id.
pub fn explain(report: &Report, id: &str, fmt: Format) -> Option<String> {
    let mut found: Vec<(&str, &Checked)> = report
        .checked()
        .filter(|(_, c)| c.id == id || c.id.strip_prefix(id).is_some_and(|r| r.starts_with('#')))
        .collect();
    if found.is_empty() {
        return None;
    }
    if fmt == Format::Json {
        let mut v = to_json(report);
        let keep = |r: &Value| found.iter().any(|(_, c)| r["id"] == c.id.as_str());
        for key in ["results", "attribution"] {
            if let Some(list) = v[key].as_array_mut() {
                list.retain(keep);
            }
        }
        return Some(serde_json::to_string_pretty(&v).expect("json of plain values") + "\n");
    }
    // A derivation's overall claim shares its id: show it last, after its steps.
    found.sort_by_key(|(_, c)| c.id == id && !c.why.is_empty() && c.why == "first = last");
    let mut out = String::new();
    for (file, c) in found {
        out.push_str(&explain_one(file, c));
        out.push('\n');
    }
    Some(out)
}

fn explain_one(file: &str, c: &Checked) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", c.id, c.says);
    if !c.cite.is_empty() {
        let _ = writeln!(out, "  cite: {}", c.cite);
    }
    if !c.why.is_empty() {
        let _ = writeln!(out, "  why:  {}", c.why);
    }
    let _ = writeln!(out, "  file: {file}");
    for row in &c.rows {
        let ev = &row.evaluation;
        let _ = writeln!(out, "\n  scenario `{}`", row.scenario);
        if !row.requirements.is_empty() {
            let _ = writeln!(out, "    requirements:");
            for (text, d) in &row.requirements {
                let status = match (d.met, d.by) {
                    (_, By::Undecided) => "undecided, counted as not met",
                    (true, _) => "met",
                    (false, _) => "not met",
                };
                let rule = match d.by {
                    By::Structure => format!(" [lemma {}]", d.rule),
                    By::Exact | By::Sampled => format!(" [test {}]", d.rule),
                    By::Undecided => String::new(),
                };
                let _ = writeln!(
                    out,
                    "      {text}: {status} — by {}: {}{rule}",
                    d.by.name(),
                    d.why
                );
            }
        }
        for (name, side) in [("lhs", &ev.lhs), ("rhs", &ev.rhs)] {
            let _ = writeln!(out, "    {name}: {}", side_detail(side));
        }
        if !ev.deviation.is_nan() {
            let _ = writeln!(out, "    relative deviation: {}", deviation_cell(row));
        }
        if ev.draws > 0 {
            let _ = writeln!(
                out,
                "    draws: {}{}",
                ev.draws,
                if ev.capped {
                    " (the cap was reached)"
                } else {
                    ""
                }
            );
        }
        let expected = match (row.expected, row.pinned) {
            (None, _) => "nothing expected (a requirement is not met)".to_string(),
            (Some(v), true) => format!("{} (pinned by the file)", v.name()),
            (Some(v), false) => format!("{} (every requirement is met)", v.name()),
        };
        let _ = writeln!(
            out,
            "    verdict: {}; expected: {expected}{}",
            ev.verdict.name(),
            if row.as_expected {
                ""
            } else {
                " — CONTRADICTED"
            }
        );
        for n in &ev.notes {
            let _ = writeln!(out, "    note: {n}");
        }
        for d in &ev.defects {
            let _ = writeln!(
                out,
                "    DEFECT: {} exact {} but sampled {} ± {}",
                d.moment,
                num(d.exact),
                num(d.sampled),
                short(d.se)
            );
        }
    }
    if !c.attribution.is_empty() {
        let _ = writeln!(out, "\n  attribution:");
        for line in attribution(c).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

fn side_detail(side: &Option<SideValue>) -> String {
    let Some(s) = side else {
        return "no value (see the notes)".to_string();
    };
    let sampled = s
        .sampled
        .map(|(v, se)| format!("; sampled {} ± {}", num(v), short(se)))
        .unwrap_or_default();
    if s.exact() {
        format!(
            "{}  {}, error bound {}{sampled}",
            num(s.value),
            s.method,
            short(s.err)
        )
    } else {
        format!(
            "{} ± {} (standard error)  {}",
            num(s.value),
            short(s.err),
            s.method
        )
    }
}

#[cfg(test)]
mod tests {
    // Number formatting against its promise (seven significant digits,
    // plain or scientific by magnitude); the reports of whole runs are
    // tested in tests/report.rs.

    use super::*;

    #[test]
    fn num_formats() {
        assert_eq!(num(f64::NAN), "—");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.0), "1.000000");
        assert_eq!(num(0.5), "0.5000000");
        assert_eq!(num(-0.398_942_280_401_432_7), "-0.3989423");
        assert_eq!(num(123_456.7), "123456.7");
        assert_eq!(num(1_234_567.0), "1234567");
        assert_eq!(num(1e7), "1.000000e7");
        assert_eq!(num(2.5e-4), "0.0002500000");
        assert_eq!(num(9.99e-5), "9.990000e-5");
        assert_eq!(num(f64::INFINITY), "inf");
    }

    #[test]
    fn num_keeps_seven_significant_digits() {
        // Over magnitudes from 1e-12 to 1e12, in both signs: the printed
        // number parses back to within half a unit of the seventh digit.
        let mut x = 1.234_567_891_234e-12_f64;
        while x < 1e12 {
            for v in [x, -x, x * 9.876_543_21] {
                let s = num(v);
                let back: f64 = s.parse().unwrap_or_else(|_| panic!("{s} parses"));
                assert!(
                    (back - v).abs() <= 5.000_001e-7 * v.abs(),
                    "{v} printed as {s}"
                );
            }
            x *= 3.7;
        }
    }
}
