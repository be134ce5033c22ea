//! Errors in the user's input, located in their source.
//!
//! Every stage that rejects input returns a [`Diag`]: a span in the string
//! it was given, what is wrong, and what would be valid. Stages do not know
//! which file a string came from; the caller that does wraps the `Diag` in
//! an [`InputError`] with the file's name, its text and the string's offset
//! in it, and rendering (line, column, the line itself and a caret) happens
//! once, at the edge, in [`InputError::render`].
//!
//! Three things a bare span cannot say are carried alongside it:
//! - an error met inside a defined function's body (`Diag::inner`) is found
//!   at the call, whose text the resolver has, but belongs in the body;
//!   whoever knows where the bodies were written ([`InputError::located`])
//!   points at the body and adds the call as a `note:` with its own place,
//!   as rustc does for a macro's expansion;
//! - independent errors of one run travel together (`InputError::more`),
//!   so that a user fixes a file in one pass rather than one error a run;
//!   at most [`SHOWN`] are printed, then how many more there are;
//! - the caret is measured in display columns, not characters: a tab is
//!   shown as [`TAB`] spaces (and counted so), a wide character (CJK,
//!   emoji) as two columns, per Unicode's East Asian Width through
//!   `unicode-width`, so the caret sits under what it names in a terminal.

use crate::lang::ast::Span;
use std::fmt::Write as _;
use std::sync::Arc;
use unicode_width::UnicodeWidthChar;

/// The most errors one run prints; the rest are counted.
pub const SHOWN: usize = 20;

/// The columns a tab is shown as, in the line under which the caret sits.
const TAB: usize = 4;

/// A problem in one input string.
#[derive(Clone, Debug, PartialEq)]
pub struct Diag {
    pub span: Span,
    pub message: String,
    /// What would be valid instead; may be empty.
    pub help: String,
    /// When the problem is in the body of a function called at `span`: the
    /// function's name and the problem, its span in the body's text.
    pub inner: Option<Box<(String, Diag)>>,
}

impl Diag {
    pub fn new(span: Span, message: impl Into<String>, help: impl Into<String>) -> Diag {
        Diag {
            span,
            message: message.into(),
            help: help.into(),
            inner: None,
        }
    }

    /// A problem `inner` in the body of `func`, reported at its call `span`
    /// (as "in FUNC: ..." where nothing knows where the body is).
    pub fn in_body(span: Span, func: &str, inner: Diag) -> Diag {
        Diag {
            span,
            message: format!("in {func}: {}", inner.message),
            help: inner.help.clone(),
            inner: Some(Box::new((func.to_string(), inner))),
        }
    }

    /// Moves the span by `offset` bytes: the string sat at that offset in a
    /// larger text. A body's span is in the body's text, and stays.
    pub fn shifted(mut self, offset: usize) -> Diag {
        self.span = self.span.start + offset..self.span.end + offset;
        self
    }

    /// The same problem with `prefix` in front of its message (such as
    /// "in scenario `unit`: "), its place and body kept.
    pub fn prefixed(mut self, prefix: &str) -> Diag {
        self.message.insert_str(0, prefix);
        self
    }
}

/// Where a defined function's body was written: the input's name, its
/// text, and the offset of the definition's string in it.
pub struct Body {
    pub origin: String,
    pub text: String,
    pub at: usize,
}

/// A located error in a named input (a file, or a command-line argument).
#[derive(Clone, Debug, PartialEq)]
pub struct InputError {
    /// The file's path, or a name such as `<claim>` for an argument.
    pub origin: String,
    /// The whole text the span indexes (shared: the errors of one file,
    /// and their notes, all hold its text).
    pub text: Arc<str>,
    pub diag: Diag,
    /// Notes and further errors, boxed since most errors have none and an
    /// error travels by value through every `Result` of the loader.
    related: Option<Box<Related>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Related {
    /// Places that explain this error (the call of a function whose body
    /// is at fault), each rendered as a `note:` under it.
    notes: Vec<InputError>,
    /// Further errors of the same run, independent of this one.
    more: Vec<InputError>,
}

impl InputError {
    pub fn new(origin: impl Into<String>, text: impl Into<String>, diag: Diag) -> InputError {
        InputError {
            origin: origin.into(),
            text: Arc::from(text.into()),
            diag,
            related: None,
        }
    }

    /// The notes under this error.
    pub fn notes(&self) -> &[InputError] {
        self.related.as_ref().map_or(&[], |r| &r.notes)
    }

    /// The errors after this one.
    fn more(&self) -> &[InputError] {
        self.related.as_ref().map_or(&[], |r| &r.more)
    }

    fn related(&mut self) -> &mut Related {
        self.related.get_or_insert_with(Box::default)
    }

    /// This error and those after it, each on its own.
    pub fn split(mut self) -> Vec<InputError> {
        let more = self
            .related
            .as_mut()
            .map(|r| std::mem::take(&mut r.more))
            .unwrap_or_default();
        std::iter::once(self).chain(more).collect()
    }

    /// Like [`InputError::new`], but a problem in a function's body points
    /// at the body when `bodies` knows where it was written, with the call
    /// as a note (and a call inside another body the same way, outwards).
    pub fn located(
        origin: impl Into<String>,
        text: impl Into<String>,
        diag: Diag,
        bodies: &dyn Fn(&str) -> Option<Body>,
    ) -> InputError {
        let (origin, text) = (origin.into(), text.into());
        let Some((func, body)) = diag.inner.as_deref() else {
            return InputError::new(origin, text, diag);
        };
        let Some(b) = bodies(func) else {
            return InputError::new(origin, text, diag);
        };
        // The call's context ("in scenario `unit`: ") applies to the body
        // too; the body pointed into is named once, by the innermost call.
        let tail = format!("in {func}: {}", body.message);
        let context = diag.message.strip_suffix(&tail).unwrap_or("");
        let mut e = InputError::located(b.origin, b.text, body.clone().shifted(b.at), bodies);
        let named = if e.notes().is_empty() {
            format!("in the body of `{func}`: ")
        } else {
            String::new()
        };
        e.diag.message.insert_str(0, &format!("{context}{named}"));
        let call = Diag::new(diag.span, format!("`{func}` is called here"), "");
        e.related().notes.push(InputError::new(origin, text, call));
        e
    }

    /// Gathers errors into one, in the order given; None when there are none.
    pub fn all(errors: impl IntoIterator<Item = InputError>) -> Option<InputError> {
        let mut all = errors.into_iter().flat_map(InputError::split);
        let mut first = all.next()?;
        let more: Vec<InputError> = all.collect();
        if !more.is_empty() {
            first.related().more.extend(more);
        }
        Some(first)
    }

    /// How many errors this one stands for: itself and those after it.
    pub fn count(&self) -> usize {
        1 + self.more().len()
    }

    /// 1-based line and column (in characters) of the span's start.
    pub fn line_col(&self) -> (usize, usize) {
        let start = clamp_to_char(&self.text, self.diag.span.start);
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..start].chars().count() + 1;
        (line, col)
    }

    /// Every error: `error: message`, `--> origin:line:col`, the line, a
    /// caret under the span, the help, and its notes; errors after the
    /// first are separated by a blank line, at most [`SHOWN`] of them, and
    /// a run of several ends with how many there were.
    pub fn render(&self) -> String {
        let mut out = self.render_one("error");
        for e in self.more().iter().take(SHOWN - 1) {
            out.push('\n');
            out.push_str(&e.render_one("error"));
        }
        let n = self.count();
        if n > SHOWN {
            let _ = writeln!(out, "\nerror: {n} errors; the first {SHOWN} are shown");
        } else if n > 1 {
            let _ = writeln!(out, "\nerror: {n} errors");
        }
        out
    }

    /// One error (or note, per `label`) with its notes.
    fn render_one(&self, label: &str) -> String {
        let (line, col) = self.line_col();
        let start = clamp_to_char(&self.text, self.diag.span.start);
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let end = clamp_to_char(&self.text, self.diag.span.end.clamp(start, line_end));
        let chars: Vec<char> = self.text[line_start..line_end].chars().collect();
        let caret = self.text[line_start..start].chars().count();
        let width = self.text[start..end].chars().count().max(1);
        // A very long line (a generated file, a run of nesting) is shown as
        // a window around the caret, not as the whole line.
        let (shown, caret, width) = window(&chars, caret, width);
        let (line_text, pad, carets) = columns(&shown, caret, width);
        let gutter = line.to_string().len();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{label}: {}\n{:gutter$}--> {}:{}:{}",
            self.diag.message, "", self.origin, line, col
        );
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line} | {line_text}");
        let _ = writeln!(
            out,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(pad),
            "^".repeat(carets)
        );
        if !self.diag.help.is_empty() {
            let _ = writeln!(out, "{:gutter$} = help: {}", "", self.diag.help);
        }
        for n in self.notes() {
            out.push_str(&n.render_one("note"));
        }
        out
    }
}

/// The characters of a line shown around a caret: the whole line when it
/// is short, else `WINDOW` characters either side of the caret, marked as
/// cut with `...`. Returns (characters, caret offset in characters, caret
/// width in characters).
fn window(line: &[char], caret: usize, width: usize) -> (Vec<char>, usize, usize) {
    const WINDOW: usize = 60;
    let count = line.len();
    if count <= 3 * WINDOW {
        return (line.to_vec(), caret, width);
    }
    let from = caret.saturating_sub(WINDOW);
    let to = (caret + width.min(WINDOW) + WINDOW).min(count);
    let mut shown: Vec<char> = line[from..to].to_vec();
    let mut at = caret - from;
    if from > 0 {
        shown.splice(0..0, "...".chars());
        at += 3;
    }
    if to < count {
        shown.extend("...".chars());
    }
    (shown, at, width.min(WINDOW))
}

/// The line as shown (tabs expanded to [`TAB`] spaces) and the caret's
/// place and length in display columns: a wide character is two columns, a
/// zero-width one none. A span that covers only zero-width characters still
/// gets one caret.
fn columns(line: &[char], caret: usize, width: usize) -> (String, usize, usize) {
    let cols = |c: char| {
        if c == '\t' {
            TAB
        } else {
            c.width().unwrap_or(0)
        }
    };
    let shown: String = line
        .iter()
        .map(|&c| {
            if c == '\t' {
                " ".repeat(TAB)
            } else {
                c.to_string()
            }
        })
        .collect();
    let caret = caret.min(line.len());
    let end = (caret + width).min(line.len());
    let pad = line[..caret].iter().map(|&c| cols(c)).sum();
    let carets: usize = line[caret..end].iter().map(|&c| cols(c)).sum();
    (shown, pad, carets.max(1))
}

fn clamp_to_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for InputError {}

impl From<crate::lang::ParseError> for Diag {
    fn from(e: crate::lang::ParseError) -> Diag {
        Diag::new(e.span, e.message, format!("expected {}", e.expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_column_and_caret() {
        let text = "a = 1\ny ~ Normal(0, -1)\n";
        let span = 17..19;
        let e = InputError::new(
            "f.toml",
            text,
            Diag::new(span, "sd must be > 0", "a positive number"),
        );
        assert_eq!(e.line_col(), (2, 12));
        assert_eq!(
            e.render(),
            "error: sd must be > 0\n --> f.toml:2:12\n  |\n2 | y ~ Normal(0, -1)\n  |            ^^\n  = help: a positive number\n"
        );
    }

    #[test]
    fn a_long_line_is_shown_as_a_window_around_the_caret() {
        let text = format!("x = {}]{}", "[".repeat(5000), "]".repeat(5000));
        let at = 4 + 5000;
        let e = InputError::new("deep.toml", &text, Diag::new(at..at + 1, "too deep", ""));
        assert_eq!(e.line_col(), (1, 5005));
        let shown = format!("...{}]{}...", "[".repeat(60), "]".repeat(60));
        assert_eq!(
            e.render(),
            format!(
                "error: too deep\n --> deep.toml:1:5005\n  |\n1 | {shown}\n  | {}^\n",
                " ".repeat(63)
            )
        );
    }

    #[test]
    fn span_past_the_end_points_at_the_end() {
        let e = InputError::new("<claim>", "E[x", Diag::new(3..3, "unclosed", ""));
        assert_eq!(e.line_col(), (1, 4));
        assert!(e.render().contains("1 | E[x\n  |    ^\n"));
    }

    /// The caret under a span after a tab and a wide character, and over a
    /// span holding both: a tab is shown as four spaces and counts four
    /// columns, `中` and `🙂` are two columns each (East Asian Width "W"),
    /// whatever their length in bytes or characters.
    #[test]
    fn the_caret_counts_display_columns() {
        // Before the span: a tab (4), `中` (2), `=` and a space (2).
        let text = "\t中= x\n";
        let e = InputError::new("f", text, Diag::new(6..7, "here", ""));
        assert_eq!(e.line_col(), (1, 5), "the column counts characters");
        assert!(
            e.render().contains("1 |     中= x\n  |         ^\n"),
            "{}",
            e.render()
        );
        // Inside the span: a tab, `🙂` and `b` are 4 + 2 + 1 columns.
        let text = "a\t🙂b c";
        let start = 1;
        let end = text.find(' ').expect("a space");
        let e = InputError::new("f", text, Diag::new(start..end, "here", ""));
        assert!(
            e.render().contains("1 | a    🙂b c\n  |  ^^^^^^^\n"),
            "{}",
            e.render()
        );
    }

    /// A zero-width character (a combining accent) adds no column; a span
    /// of nothing but one still gets a caret.
    #[test]
    fn zero_width_characters_take_no_column() {
        let text = "e\u{301}x";
        let x = text.find('x').expect("x");
        let e = InputError::new("f", text, Diag::new(x..x + 1, "here", ""));
        assert!(e.render().ends_with("  |  ^\n"), "{}", e.render());
        let e = InputError::new("f", text, Diag::new(1..x, "accent", ""));
        assert!(e.render().ends_with("  |  ^\n"), "{}", e.render());
    }

    #[test]
    fn several_errors_are_rendered_in_order_then_counted() {
        let text = "a\nb\nc\n";
        let at = |i: usize, m: &str| InputError::new("f", text, Diag::new(i..i + 1, m, ""));
        let e = InputError::all([at(0, "one"), at(2, "two"), at(4, "three")]).expect("errors");
        assert_eq!(e.count(), 3);
        assert_eq!(
            e.render(),
            "error: one\n --> f:1:1\n  |\n1 | a\n  | ^\n\n\
             error: two\n --> f:2:1\n  |\n2 | b\n  | ^\n\n\
             error: three\n --> f:3:1\n  |\n3 | c\n  | ^\n\n\
             error: 3 errors\n"
        );
        assert!(InputError::all(Vec::new()).is_none());
    }

    #[test]
    fn past_the_limit_errors_are_counted_not_shown() {
        let text = "x".repeat(30);
        let e = InputError::all(
            (0..SHOWN + 3).map(|i| InputError::new("f", &text, Diag::new(i..i + 1, "bad", ""))),
        )
        .expect("errors");
        let out = e.render();
        assert_eq!(out.matches("error: bad").count(), SHOWN, "{out}");
        assert!(out.contains(" --> f:1:20\n"), "{out}");
        assert!(!out.contains(" --> f:1:21\n"), "{out}");
        assert!(
            out.ends_with(&format!(
                "\nerror: {} errors; the first {SHOWN} are shown\n",
                SHOWN + 3
            )),
            "{out}"
        );
    }

    /// A problem met in a function's body, found at a call: where the body
    /// is known, the error points into it and the call is a note, with the
    /// call's context kept; nested calls give one note per call, outwards.
    #[test]
    fn an_error_in_a_body_points_at_the_body_with_the_call_as_a_note() {
        let file = "f = \"x + z\"\ng = \"f(x)\"\nsays = \"E[g(y)]\"\n";
        let z_in_f = Diag::new(4..5, "unknown name `z`", "names: x");
        let f_in_g = Diag::in_body(0..1, "f", z_in_f);
        let g_in_says = Diag::in_body(2..3, "g", f_in_g).shifted(file.find("E[").unwrap());
        let d = g_in_says.prefixed("in scenario `u`: ");
        assert_eq!(d.message, "in scenario `u`: in g: in f: unknown name `z`");
        let bodies = |name: &str| {
            let key = format!("{name} = \"");
            file.find(&key).map(|i| Body {
                origin: "f.toml".to_string(),
                text: file.to_string(),
                at: i + key.len(),
            })
        };
        let e = InputError::located("f.toml", file, d.clone(), &bodies);
        assert_eq!(
            e.render(),
            "error: in scenario `u`: in the body of `f`: unknown name `z`\n --> f.toml:1:10\n  |\n1 | f = \"x + z\"\n  |          ^\n  = help: names: x\n\
             note: `f` is called here\n --> f.toml:2:6\n  |\n2 | g = \"f(x)\"\n  |      ^\n\
             note: `g` is called here\n --> f.toml:3:11\n  |\n3 | says = \"E[g(y)]\"\n  |           ^\n"
        );
        // Where no body is known, the error stays at the call.
        let e = InputError::located("f.toml", file, d, &|_: &str| None);
        assert!(e.notes().is_empty());
        assert_eq!(e.line_col(), (3, 11));
    }
}
