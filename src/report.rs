//! Reports: the audit's results as terminal tables, markdown or json.
//!
//! Rendering is a pure function of the [`Report`]: no evaluation happens
//! here, and nothing here depends on timing or thread count, so the same
//! seed gives the same bytes. Tables are for people (one per claim or
//! derivation, then the attribution and a summary per file); json is for
//! machines and carries every number the tables round.

use crate::outcome::{Attribution, Checked, Entry, Report, Row};
use crate::requirement::{By, Decision};
use crate::verdict::{Evaluation, SideValue, Verdict};
use prettytable::{Cell, Table, format};
use serde_json::{Value, json};
use std::fmt::Write as _;
use unicode_width::UnicodeWidthStr;

/// How a report is written: for a terminal, for markdown, or for machines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Markdown,
    Json,
}

/// How numbers and tables are laid out for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Significant digits of a number (more where two sides that do not
    /// hold differ further down: see [`row_digits`]).
    pub digits: usize,
    /// Terminal tables as wide as their cells, every requirement in its own
    /// column; else they are kept within [`WIDTH`] columns.
    pub wide: bool,
}

/// Seven significant digits by default, enough to see a 0.05% deviation.
pub const DIGITS: usize = 7;
/// A double has 17 significant digits: two different ones differ by then.
pub const MAX_DIGITS: usize = 17;
/// The display columns a default terminal report keeps within.
pub const WIDTH: usize = 100;

impl Default for Layout {
    fn default() -> Layout {
        Layout {
            digits: DIGITS,
            wide: false,
        }
    }
}

pub fn render(report: &Report, fmt: Format) -> String {
    render_with(report, fmt, Layout::default())
}

/// [`render`] with other digits or full-width tables.
pub fn render_with(report: &Report, fmt: Format, layout: Layout) -> String {
    match fmt {
        Format::Table => text(report, false, layout),
        Format::Markdown => text(report, true, layout),
        Format::Json => {
            serde_json::to_string_pretty(&to_json(report)).expect("json of plain values") + "\n"
        }
    }
}

/// Seven significant digits, enough to see a 0.05% deviation.
pub fn num(x: f64) -> String {
    num_digits(x, DIGITS)
}

/// `x` to `digits` significant digits: plain decimals where it rounds to
/// between 1e-4 and 1e7, scientific outside.
pub fn num_digits(x: f64, digits: usize) -> String {
    written(x, digits, notation(x, digits))
}

/// How the numbers of one column are written: all plain, or all scientific
/// when one of them needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notation {
    Plain,
    Scientific,
}

/// The decimal exponent of `x` once rounded to `digits` significant digits:
/// 0.99999999 rounds to 1.000000, exponent 0, and is written with the
/// decimals of 1, not of 0.9999999.
fn exponent(x: f64, digits: usize) -> i32 {
    let s = format!("{:.*e}", digits.max(1) - 1, x);
    s.rsplit_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0)
}

fn notation(x: f64, digits: usize) -> Notation {
    if !x.is_finite() || x == 0.0 || (-4..7).contains(&exponent(x, digits)) {
        Notation::Plain
    } else {
        Notation::Scientific
    }
}

fn written(x: f64, digits: usize, notation: Notation) -> String {
    if x.is_nan() {
        return "—".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    if x.is_infinite() {
        return x.to_string();
    }
    let digits = digits.max(1);
    match notation {
        Notation::Plain => {
            let decimals = (digits as i32 - 1 - exponent(x, digits)).max(0) as usize;
            format!("{x:.decimals$}")
        }
        Notation::Scientific => format!("{:.*e}", digits - 1, x),
    }
}

fn short(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else if x.is_finite() {
        format!("{x:.1e}")
    } else {
        "∞".to_string()
    }
}

/// A bound in two significant digits, rounded up so that it still bounds.
fn short_up(x: f64) -> String {
    if !(x.is_finite() && x > 0.0) {
        return short(x);
    }
    let mut e = x.log10().floor() as i32;
    let mut m = (x / 10f64.powi(e) * 10.0).ceil() / 10.0;
    if m * 10f64.powi(e) < x {
        m += 0.1;
    }
    if m >= 10.0 {
        m /= 10.0;
        e += 1;
    }
    format!("{m:.1}e{e}")
}

/// A side as a report shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shown {
    Missing,
    /// Exact, and no further from zero than its error bound: all that is
    /// known is that the truth is within `bound` of 0.
    Zero {
        bound: f64,
    },
    Exact(f64),
    Sampled {
        value: f64,
        se: f64,
    },
}

fn shown(s: &Option<SideValue>) -> Shown {
    match s {
        None => Shown::Missing,
        Some(v) if v.exact() && v.value != 0.0 && v.value.abs() <= v.err => Shown::Zero {
            bound: v.value.abs() + v.err,
        },
        Some(v) if v.exact() => Shown::Exact(v.value),
        Some(v) => Shown::Sampled {
            value: v.value,
            se: v.err,
        },
    }
}

impl Shown {
    fn number(self) -> Option<f64> {
        match self {
            Shown::Exact(x) | Shown::Sampled { value: x, .. } => Some(x),
            Shown::Missing | Shown::Zero { .. } => None,
        }
    }

    fn cell(self, digits: usize, notation: Notation) -> String {
        match self {
            Shown::Missing => "—".to_string(),
            Shown::Zero { bound } => format!("0 (±{})", short_up(bound)),
            Shown::Exact(x) => written(x, digits, notation),
            Shown::Sampled { value, se } => {
                format!("{} ± {}", written(value, digits, notation), short(se))
            }
        }
    }
}

/// The digits a row's sides are shown to: `digits`, or, where the claim
/// does not hold and its sides differ, as many as it takes for them to
/// print differently (two sides that fail must not look equal).
fn row_digits(ev: &Evaluation, digits: usize) -> usize {
    if ev.verdict == Verdict::Holds {
        return digits;
    }
    match (shown(&ev.lhs).number(), shown(&ev.rhs).number()) {
        (Some(l), Some(r)) if l != r => (digits..=MAX_DIGITS)
            .find(|&d| num_digits(l, d) != num_digits(r, d))
            .unwrap_or(MAX_DIGITS),
        _ => digits,
    }
}

/// One notation for a column of (value, digits): scientific if any needs it.
fn column_notation(values: impl IntoIterator<Item = (Shown, usize)>) -> Notation {
    let scientific = values.into_iter().any(|(s, d)| {
        s.number()
            .is_some_and(|x| notation(x, d) == Notation::Scientific)
    });
    if scientific {
        Notation::Scientific
    } else {
        Notation::Plain
    }
}

/// Display columns of a line (box-drawing and marks are one, CJK two).
fn width(line: &str) -> usize {
    UnicodeWidthStr::width(line)
}

/// A line wrapped at spaces to [`WIDTH`] display columns; continuation
/// lines indented four more than the first. A word wider than the line
/// is left whole.
fn wrap(line: &str) -> String {
    let body = line.trim_start_matches(' ');
    let indent = line.len() - body.len();
    let mut out = String::new();
    let mut current = " ".repeat(indent);
    let mut empty = true;
    for word in body.split(' ') {
        if !empty && width(&current) + 1 + width(word) > WIDTH {
            out.push_str(current.trim_end());
            out.push('\n');
            current = " ".repeat(indent + 4);
            empty = true;
        }
        if !empty {
            current.push(' ');
        }
        current.push_str(word);
        empty = false;
    }
    out.push_str(current.trim_end());
    out.push('\n');
    out
}

/// Every line of `s` wrapped (see [`wrap`]).
fn wrap_all(s: &str) -> String {
    s.lines().map(wrap).collect()
}

/// User text (ids, claims, scenario names, notes) made literal in
/// markdown: every character that GitHub's markdown (tables, emphasis,
/// code, html, links, headings, math) could read as markup is
/// backslash-escaped.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        // `-` and `+` make a list only at the start of a line.
        let leading = i == 0 && matches!(c, '-' | '+');
        if leading
            || matches!(
                c,
                '\\' | '`' | '*' | '_' | '<' | '>' | '|' | '[' | ']' | '#' | '~' | '&' | '!' | '$'
            )
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
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

/// A column of a claim's table: its title and one cell per scenario.
struct Column {
    title: String,
    cells: Vec<String>,
}

/// The widest line of a drawn table, in display columns.
fn drawn_width(drawn: &str) -> usize {
    drawn.lines().map(width).max().unwrap_or(0)
}

/// A column moved below its table: one line, each distinct cell followed by
/// the scenarios it is in (`zero_mean(z): ✓ exact: E[z] in unit, wide;
/// ✗ exact: E[z] in shifted`).
fn below_line(column: &Column, scenarios: &[&str]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (cell, s) in column.cells.iter().zip(scenarios) {
        match groups.iter_mut().find(|(c, _)| c == cell) {
            Some((_, list)) => list.push(s),
            None => groups.push((cell, vec![s])),
        }
    }
    let said: Vec<String> = match groups.as_slice() {
        [(cell, _)] if scenarios.len() == 1 => vec![cell.to_string()],
        [(cell, _)] => vec![format!("{cell} in every scenario")],
        _ => groups
            .iter()
            .map(|(cell, list)| format!("{cell} in {}", list.join(", ")))
            .collect(),
    };
    format!("  {}: {}\n", column.title, said.join("; "))
}

/// A claim's table, and what was moved below it. In a terminal, unless
/// `--wide`, a table wider than [`WIDTH`] gives up its requirement columns
/// for one column of marks, the requirements' decisions going below it,
/// and then its method column.
fn claim_table(c: &Checked, markdown: bool, layout: Layout) -> (String, String) {
    let digits: Vec<usize> = c
        .rows
        .iter()
        .map(|r| row_digits(&r.evaluation, layout.digits))
        .collect();
    let side = |pick: fn(&Evaluation) -> &Option<SideValue>| -> Vec<String> {
        let shown: Vec<(Shown, usize)> = c
            .rows
            .iter()
            .zip(&digits)
            .map(|(r, &d)| (shown(pick(&r.evaluation)), d))
            .collect();
        let notation = column_notation(shown.iter().copied());
        shown.iter().map(|&(s, d)| s.cell(d, notation)).collect()
    };
    let column = |title: &str, cells: Vec<String>| Column {
        title: title.to_string(),
        cells,
    };
    let scenarios: Vec<&str> = c.rows.iter().map(|r| r.scenario.as_str()).collect();
    let lead = [
        column(
            "scenario",
            scenarios.iter().map(|s| s.to_string()).collect(),
        ),
        column("lhs", side(|e| &e.lhs)),
        column("rhs", side(|e| &e.rhs)),
        column("rel. dev.", c.rows.iter().map(deviation_cell).collect()),
    ];
    let method = column("method", c.rows.iter().map(method_cell).collect());
    let requirements: Vec<Column> = c
        .rows
        .first()
        .map(|first| {
            (0..first.requirements.len())
                .map(|i| {
                    column(
                        &first.requirements[i].0,
                        c.rows
                            .iter()
                            .map(|r| {
                                r.requirements
                                    .get(i)
                                    .map_or("—".into(), |(_, d)| decided_cell(d))
                            })
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let tail = [
        column("verdict", c.rows.iter().map(verdict_cell).collect()),
        column("expected", c.rows.iter().map(expected_cell).collect()),
    ];
    let draw = |columns: &[&Column]| -> String {
        let cell = |s: &String| if markdown { md_escape(s) } else { s.clone() };
        let titles: Vec<String> = columns.iter().map(|c| cell(&c.title)).collect();
        let rows: Vec<Vec<String>> = (0..c.rows.len())
            .map(|i| columns.iter().map(|c| cell(&c.cells[i])).collect())
            .collect();
        table(Style::lined(markdown), &titles, &rows)
    };
    let full: Vec<&Column> = lead
        .iter()
        .chain([&method])
        .chain(&requirements)
        .chain(&tail)
        .collect();
    let drawn = draw(&full);
    if markdown || layout.wide || drawn_width(&drawn) <= WIDTH {
        return (drawn, String::new());
    }
    let mut below = String::new();
    let mut keep: Vec<&Column> = lead.iter().chain([&method]).collect();
    let marks;
    if !requirements.is_empty() {
        marks = column(
            "requires",
            (0..c.rows.len())
                .map(|i| {
                    c.rows[i]
                        .requirements
                        .iter()
                        .map(|(_, d)| mark(d.met, d.by))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect(),
        );
        keep.push(&marks);
        for r in &requirements {
            below.push_str(&below_line(r, &scenarios));
        }
    }
    keep.extend(&tail);
    // Then, while it is still too wide, the columns whose cells are most
    // often alike go below, most alike first.
    for moved in ["method", "expected", "rel. dev."] {
        let drawn = draw(&keep);
        if drawn_width(&drawn) <= WIDTH {
            return (drawn, below);
        }
        if let Some(i) = keep.iter().position(|c| c.title == moved) {
            below.push_str(&below_line(keep[i], &scenarios));
            keep.remove(i);
        }
    }
    (draw(&keep), below)
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
        let _ = writeln!(out, "### {}: {}\n", md_escape(id), md_escape(says));
        if !cite.is_empty() {
            let _ = writeln!(out, "*{}*\n", md_escape(cite));
        }
    } else {
        out.push_str(&wrap(&format!("{id}: {says}")));
        if !cite.is_empty() {
            out.push_str(&wrap(&format!("  {cite}")));
        }
    }
    out
}

/// Counts over a set of results, for the summaries.
#[derive(Clone, Copy, Default)]
struct Tally {
    results: usize,
    contradicted: usize,
    defects: usize,
    undecided: usize,
}

impl Tally {
    fn add(&mut self, c: &Checked) {
        self.undecided += undecided(&c.rows);
        for r in &c.rows {
            self.results += 1;
            self.contradicted += usize::from(!r.as_expected);
            self.defects += r.evaluation.defects.len();
        }
    }

    /// `12 results, 12 as expected, 0 contradicted, 0 defects, 0
    /// undecided requirements`.
    fn said(&self) -> String {
        format!(
            "{} results, {} as expected, {} contradicted, {} defects, {} undecided requirements",
            self.results,
            self.results - self.contradicted,
            self.contradicted,
            self.defects,
            self.undecided
        )
    }
}

fn text(report: &Report, markdown: bool, layout: Layout) -> String {
    let mut out = String::new();
    let mut total = Tally::default();
    for f in &report.files {
        if markdown {
            let _ = writeln!(out, "## {}\n", md_escape(&f.name));
        } else {
            let _ = writeln!(out, "=== {} ===\n", f.name);
        }
        let mut tally = Tally::default();
        let mut claims = 0;
        for e in &f.entries {
            // Below each table: indented lines in a terminal, the same lines
            // as a nested list in markdown.
            let mut below = String::new();
            let all: Vec<&Checked> = match e {
                Entry::Claim(c) => {
                    out.push_str(&heading(&c.id, &c.says, &c.cite, markdown));
                    let (drawn, moved) = claim_table(c, markdown, layout);
                    out.push_str(&drawn);
                    below.push_str(&moved);
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
                    let _ = writeln!(
                        out,
                        "{}- {}",
                        "  ".repeat(depth.saturating_sub(1)),
                        md_escape(body)
                    );
                }
            } else {
                out.push_str(&wrap_all(&below));
            }
            out.push('\n');
            claims += 1;
            for c in all {
                tally.add(c);
            }
        }
        let summary = format!(
            "{}: {claims} claims and derivations, {}",
            f.name,
            tally.said()
        );
        if markdown {
            let _ = writeln!(out, "{}\n", md_escape(&summary));
        } else {
            out.push_str(&wrap(&summary));
            out.push('\n');
        }
        total.results += tally.results;
        total.contradicted += tally.contradicted;
        total.defects += tally.defects;
        total.undecided += tally.undecided;
    }
    let settings = format!(
        "seed {}, resolution {}%; {} statistical tests at family-wise false-failure rate 1e-6 (t = {:.2})",
        report.settings.seed,
        report.settings.resolution * 100.0,
        report.tests,
        report.critical,
    );
    let verdict = format!(
        "{}: {}",
        total.said(),
        if report.passed() {
            "AUDIT PASSED"
        } else {
            "AUDIT FAILED"
        }
    );
    if markdown {
        let _ = writeln!(out, "{settings}\n\n**{verdict}**");
    } else {
        out.push_str(&wrap(&settings));
        out.push_str(&wrap(&verdict));
    }
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
            let scenario = if markdown {
                md_escape(&row.scenario)
            } else {
                row.scenario.clone()
            };
            let mut cells = vec![scenario];
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

/// `initaudit check`: the answer to one question, not an audit — whether
/// the claim holds, fails, is undefined or inconclusive, with both sides,
/// how each was obtained, the requirements and the notes. Json is the
/// audit's, whose one result is the claim.
pub fn answer(report: &Report, fmt: Format, layout: Layout) -> String {
    let markdown = match fmt {
        Format::Json => return render(report, fmt),
        Format::Markdown => true,
        Format::Table => false,
    };
    let mut out = String::new();
    for (_, c) in report.checked() {
        for row in &c.rows {
            out.push_str(&answer_row(c, row, markdown, layout.digits));
        }
    }
    let settings = format!(
        "seed {}, resolution {}%, {} statistical test{} (critical t = {:.2})",
        report.settings.seed,
        report.settings.resolution * 100.0,
        report.tests,
        if report.tests == 1 { "" } else { "s" },
        report.critical
    );
    if markdown {
        let _ = writeln!(out, "\n{settings}");
    } else {
        out.push_str(&wrap(&settings));
    }
    out
}

fn answer_row(c: &Checked, row: &Row, markdown: bool, digits: usize) -> String {
    let ev = &row.evaluation;
    let digits = row_digits(ev, digits);
    let side = |s: &Option<SideValue>| -> (String, String) {
        let value = shown(s).cell(digits, notation_of(s, digits));
        let how = match s {
            None => "no value (see the notes)".to_string(),
            Some(v) => {
                let sampled = v
                    .sampled
                    .map(|(m, se)| format!("; sampled {} ± {}", num_digits(m, digits), short(se)))
                    .unwrap_or_default();
                if v.exact() {
                    format!("{}, error bound {}{sampled}", v.method, short(v.err))
                } else {
                    format!("{} from {} draws, ± standard error", v.method, ev.draws)
                }
            }
        };
        (value, how)
    };
    let mut lines: Vec<(String, String, String)> = vec![
        ("left side".into(), side(&ev.lhs).0, side(&ev.lhs).1),
        ("right side".into(), side(&ev.rhs).0, side(&ev.rhs).1),
    ];
    if !ev.deviation.is_nan() {
        lines.push((
            "rel. dev.".into(),
            deviation_cell(row),
            "(left - right) / |right|".into(),
        ));
    }
    let mut out = String::new();
    let verdict = ev.verdict.name();
    if markdown {
        let _ = writeln!(out, "**{}**: {verdict}\n", md_escape(&c.says));
        let rows: Vec<Vec<String>> = lines
            .iter()
            .map(|(a, b, c)| vec![md_escape(a), md_escape(b), md_escape(c)])
            .chain(row.requirements.iter().map(|(text, d)| {
                let name = format!("requires {text}");
                vec![
                    md_escape(&name),
                    md_escape(&decided_cell(d)),
                    md_escape(&d.why),
                ]
            }))
            .collect();
        let titles = ["".to_string(), "value".to_string(), "how".to_string()];
        out.push_str(&table(Style::lined(true), &titles, &rows));
        out.push('\n');
    } else {
        let _ = writeln!(out, "{}: {verdict}", c.says);
        let label = lines.iter().map(|l| width(&l.0)).max().unwrap_or(0);
        let value = lines.iter().map(|l| width(&l.1)).max().unwrap_or(0);
        for (a, b, c) in &lines {
            let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w - width(s)));
            out.push_str(&wrap(&format!(
                "  {}  {}  {c}",
                pad(a, label),
                pad(b, value)
            )));
        }
        for (text, d) in &row.requirements {
            out.push_str(&wrap(&format!(
                "  requires {text}: {} — {}",
                decided_cell(d),
                d.why
            )));
        }
    }
    let mut below = notes(c);
    if !ev.defects.is_empty() {
        below.push_str(
            "  a DEFECT is a disagreement of the exact and the sampled engine: a bug of the tool\n",
        );
    }
    for line in below.lines() {
        // One claim, one scenario: the scenario's name says nothing here.
        let line = line.replacen(&format!(" [{}]", row.scenario), "", 1);
        if markdown {
            let _ = writeln!(out, "- {}", md_escape(line.trim_start()));
        } else {
            out.push_str(&wrap(&line));
        }
    }
    out
}

/// The notation of one side on its own.
fn notation_of(s: &Option<SideValue>, digits: usize) -> Notation {
    column_notation([(shown(s), digits)])
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
        // Rounding up to the next power of ten takes that power's
        // decimals: one format for 1 however it was reached.
        assert_eq!(num(0.999_999_99), "1.000000");
        assert_eq!(num(-0.999_999_99), "-1.000000");
        assert_eq!(num(9_999_999.7), "1.000000e7");
        assert_eq!(num(0.000_099_999_999), "0.0001000000");
        assert_eq!(num_digits(0.398_942_280_401_432_7, 12), "0.398942280401");
        assert_eq!(num_digits(0.398_942_280_401_432_7, 3), "0.399");
    }

    #[test]
    fn a_column_has_one_notation() {
        let column = [(Shown::Exact(0.5), 7), (Shown::Exact(1.054_073e-16), 7)];
        let notation = column_notation(column);
        assert_eq!(notation, Notation::Scientific);
        assert_eq!(column[0].0.cell(7, notation), "5.000000e-1");
        let plain = [(Shown::Exact(0.5), 7), (Shown::Zero { bound: 1e-15 }, 7)];
        assert_eq!(column_notation(plain), Notation::Plain);
        assert_eq!(plain[1].0.cell(7, Notation::Plain), "0 (±1.0e-15)");
    }

    #[test]
    fn bounds_round_up() {
        assert_eq!(short_up(1.0e-15), "1.0e-15");
        assert_eq!(short_up(1.01e-15), "1.1e-15");
        assert_eq!(short_up(9.96e-15), "1.0e-14");
        assert_eq!(short_up(3.690_376e-51), "3.7e-51");
        // Whatever it prints is at least the bound.
        let mut x = 1.234_567e-20;
        while x < 1e20 {
            let back: f64 = short_up(x).parse().expect("a number");
            assert!(back >= x, "{x} as {}", short_up(x));
            x *= 1.37;
        }
    }

    #[test]
    fn wrapped_lines_fit() {
        let line = format!("  note [s]: {}", "word ".repeat(60));
        let wrapped = wrap(&line);
        assert!(wrapped.lines().all(|l| width(l) <= WIDTH), "{wrapped}");
        assert!(wrapped.lines().skip(1).all(|l| l.starts_with("      word")));
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>(),
            line.split_whitespace().collect::<Vec<_>>()
        );
        assert_eq!(wrap("  short line"), "  short line\n");
    }

    #[test]
    fn markdown_escape_leaves_no_markup() {
        assert_eq!(md_escape("<claim>"), "\\<claim\\>");
        assert_eq!(md_escape("a|b"), "a\\|b");
        assert_eq!(md_escape("-1 * x_2"), "\\-1 \\* x\\_2");
        assert_eq!(md_escape("E[y^2] = 1"), "E\\[y^2\\] = 1");
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
