//! Errors in the user's input, located in their source.
//!
//! Every stage that rejects input returns a [`Diag`]: a span in the string
//! it was given, what is wrong, and what would be valid. Stages do not know
//! which file a string came from; the caller that does wraps the `Diag` in
//! an [`InputError`] with the file's name, its text and the string's offset
//! in it, and rendering (line, column, the line itself and a caret) happens
//! once, at the edge, in [`InputError::render`].

use crate::lang::ast::Span;
use std::fmt::Write as _;

/// A problem in one input string.
#[derive(Clone, Debug, PartialEq)]
pub struct Diag {
    pub span: Span,
    pub message: String,
    /// What would be valid instead; may be empty.
    pub help: String,
}

impl Diag {
    pub fn new(span: Span, message: impl Into<String>, help: impl Into<String>) -> Diag {
        Diag {
            span,
            message: message.into(),
            help: help.into(),
        }
    }

    /// Moves the span by `offset` bytes: the string sat at that offset in a
    /// larger text.
    pub fn shifted(mut self, offset: usize) -> Diag {
        self.span = self.span.start + offset..self.span.end + offset;
        self
    }
}

/// A located error in a named input (a file, or a command-line argument).
#[derive(Clone, Debug, PartialEq)]
pub struct InputError {
    /// The file's path, or a name such as `<claim>` for an argument.
    pub origin: String,
    /// The whole text the span indexes.
    pub text: String,
    pub diag: Diag,
}

impl InputError {
    pub fn new(origin: impl Into<String>, text: impl Into<String>, diag: Diag) -> InputError {
        InputError {
            origin: origin.into(),
            text: text.into(),
            diag,
        }
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

    /// `origin:line:col: error: message`, the line, a caret under the span,
    /// and the help.
    pub fn render(&self) -> String {
        let (line, col) = self.line_col();
        let start = clamp_to_char(&self.text, self.diag.span.start);
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line_text = &self.text[line_start..line_end];
        let end = clamp_to_char(&self.text, self.diag.span.end.clamp(start, line_end));
        let width = self.text[start..end].chars().count().max(1);
        // A very long line (a generated file, a run of nesting) is shown as
        // a window around the caret, not as the whole line.
        let (line_text, caret_at, width) = window(line_text, col - 1, width);
        let gutter = line.to_string().len();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "error: {}\n{:gutter$}--> {}:{}:{}",
            self.diag.message, "", self.origin, line, col
        );
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line} | {line_text}");
        let _ = writeln!(
            out,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(caret_at),
            "^".repeat(width)
        );
        if !self.diag.help.is_empty() {
            let _ = writeln!(out, "{:gutter$} = help: {}", "", self.diag.help);
        }
        out
    }
}

/// The characters of a line shown around a caret: the whole line when it
/// is short, else `WINDOW` characters either side of the caret, marked as
/// cut with `...`. Returns (text, caret offset in characters, caret width).
fn window(line: &str, caret: usize, width: usize) -> (String, usize, usize) {
    const WINDOW: usize = 60;
    let count = line.chars().count();
    if count <= 3 * WINDOW {
        return (line.to_string(), caret, width);
    }
    let from = caret.saturating_sub(WINDOW);
    let to = (caret + width.min(WINDOW) + WINDOW).min(count);
    let mut shown: String = line.chars().skip(from).take(to - from).collect();
    let mut at = caret - from;
    if from > 0 {
        shown.insert_str(0, "...");
        at += 3;
    }
    if to < count {
        shown.push_str("...");
    }
    (shown, at, width.min(WINDOW))
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
}
