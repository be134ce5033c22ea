//! Turns source text into tokens with byte spans.
//!
//! The lexer is deliberately dumb about grammar: it never decides what a
//! name means (`E` is a keyword only before `[`, `e` is a constant only to
//! resolution) and it never joins a number with a following name. So `2x`
//! lexes as `2` then `x`, and the parser, which knows an operator was due,
//! can say "implicit multiplication is not supported" instead of the lexer
//! saying something vaguer. The one exception is a number's exponent: `2e3`
//! is one token, because a digit after the `e` leaves no other reading.
//!
//! Newlines matter only in model blocks, where they end statements; the
//! other entry points treat them as blanks so that a claim may span lines
//! of a TOML multi-line string. Comments (`#` to end of line) are blanks
//! everywhere, which lets a claim carry a trailing remark too.

use super::ParseError;
use super::ast::Span;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    /// A name with the primes written directly after it: `relu'` is
    /// `Ident { name: "relu", primes: 1 }`.
    Ident {
        name: String,
        primes: u32,
    },
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Semi,
    /// `=`
    Eq,
    /// `~=`
    Approx,
    /// `~`
    Tilde,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    Newline,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Num(_) => "a number".to_string(),
            Tok::Ident { name, primes } => {
                format!("the name `{}{}`", name, "'".repeat(*primes as usize))
            }
            Tok::Newline => "the end of the line".to_string(),
            Tok::Eof => "the end of the input".to_string(),
            other => format!("`{}`", other.symbol()),
        }
    }

    /// The source spelling of a punctuation token.
    pub(crate) fn symbol(&self) -> &'static str {
        match self {
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Caret => "^",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Eq => "=",
            Tok::Approx => "~=",
            Tok::Tilde => "~",
            Tok::Le => "<=",
            Tok::Ge => ">=",
            Tok::Num(_) | Tok::Ident { .. } | Tok::Newline | Tok::Eof => "",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub span: Span,
}

fn error(span: Span, message: impl Into<String>, expected: impl Into<String>) -> ParseError {
    ParseError {
        span,
        message: message.into(),
        expected: expected.into(),
    }
}

const VALID_START: &str = "a number, a name, an operator (`+ - * / ^`), a bracket, `,`, or a relation (`=`, `~=`, `<=`, `>=`)";

/// Lexes all of `src`; the last token is always `Eof` with an empty span at
/// the end. With `newlines` false, line breaks are blanks.
pub(crate) fn lex(src: &str, newlines: bool) -> Result<Vec<Token>, ParseError> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = |kind: Tok| Token {
            kind,
            span: start..start + 1,
        };
        match c {
            b'\n' => {
                if newlines {
                    toks.push(single(Tok::Newline));
                }
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'0'..=b'9' => {
                let (tok, end) = lex_number(src, start)?;
                toks.push(tok);
                i = end;
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let (tok, end) = lex_number(src, start)?;
                toks.push(tok);
                i = end;
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let name = src[start..i].to_string();
                let mut primes = 0;
                while i < bytes.len() && bytes[i] == b'\'' {
                    primes += 1;
                    i += 1;
                }
                toks.push(Token {
                    kind: Tok::Ident { name, primes },
                    span: start..i,
                });
            }
            b'\'' => {
                return Err(error(
                    start..start + 1,
                    "a prime `'` must follow a function name directly",
                    "a derivative written as `relu'(y)` or `tanh''(x)`",
                ));
            }
            b'+' => {
                toks.push(single(Tok::Plus));
                i += 1;
            }
            b'-' => {
                toks.push(single(Tok::Minus));
                i += 1;
            }
            b'*' => {
                if bytes.get(i + 1) == Some(&b'*') {
                    return Err(error(
                        start..start + 2,
                        "`**` is not an operator",
                        "`^` for a power, as in `x^2`",
                    ));
                }
                toks.push(single(Tok::Star));
                i += 1;
            }
            b'/' => {
                toks.push(single(Tok::Slash));
                i += 1;
            }
            b'^' => {
                toks.push(single(Tok::Caret));
                i += 1;
            }
            b'(' => {
                toks.push(single(Tok::LParen));
                i += 1;
            }
            b')' => {
                toks.push(single(Tok::RParen));
                i += 1;
            }
            b'[' => {
                toks.push(single(Tok::LBracket));
                i += 1;
            }
            b']' => {
                toks.push(single(Tok::RBracket));
                i += 1;
            }
            b',' => {
                toks.push(single(Tok::Comma));
                i += 1;
            }
            b';' => {
                toks.push(single(Tok::Semi));
                i += 1;
            }
            b'=' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    return Err(error(
                        start..start + 2,
                        "`==` is not a relation",
                        "`=` for an identity",
                    ));
                }
                toks.push(single(Tok::Eq));
                i += 1;
            }
            b'~' | b'<' | b'>' => {
                let followed_by_eq = bytes.get(i + 1) == Some(&b'=');
                let kind = match (c, followed_by_eq) {
                    (b'~', true) => Tok::Approx,
                    (b'~', false) => Tok::Tilde,
                    (b'<', true) => Tok::Le,
                    (b'>', true) => Tok::Ge,
                    _ => {
                        return Err(error(
                            start..start + 1,
                            format!("`{}` is not a relation", c as char),
                            "a relation: `=`, `~=`, `<=` or `>=`",
                        ));
                    }
                };
                let len = if followed_by_eq { 2 } else { 1 };
                toks.push(Token {
                    kind,
                    span: start..start + len,
                });
                i += len;
            }
            _ => {
                let ch = src[start..].chars().next().unwrap_or('\u{fffd}');
                return Err(error(
                    start..start + ch.len_utf8(),
                    format!("unexpected character `{ch}`"),
                    VALID_START,
                ));
            }
        }
    }
    toks.push(Token {
        kind: Tok::Eof,
        span: src.len()..src.len(),
    });
    Ok(toks)
}

/// Lexes `digits [. digits] [e [+-] digits]` (or `.digits ...`) from
/// `start`. An `e` is taken as an exponent only when digits follow, so `2e`
/// and `2*e` stay a number next to the constant `e`.
fn lex_number(src: &str, start: usize) -> Result<(Token, usize), ParseError> {
    let bytes = src.as_bytes();
    let digits = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = digits(start);
    if bytes.get(i) == Some(&b'.') {
        i = digits(i + 1);
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            i = digits(j);
        }
    }
    let text = &src[start..i];
    let value: f64 = text.parse().map_err(|_| {
        error(
            start..i,
            format!("`{text}` is not a number"),
            "a number such as `2`, `0.5`, `.5` or `1e-3`",
        )
    })?;
    if !value.is_finite() {
        return Err(error(
            start..i,
            format!("the number `{text}` is too large"),
            "a number below about 1.8e308",
        ));
    }
    Ok((
        Token {
            kind: Tok::Num(value),
            span: start..i,
        },
        i,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src, true)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn ident(name: &str, primes: u32) -> Tok {
        Tok::Ident {
            name: name.to_string(),
            primes,
        }
    }

    #[test]
    fn numbers_and_the_constant_e() {
        assert_eq!(kinds("2e3"), vec![Tok::Num(2000.0), Tok::Eof]);
        assert_eq!(kinds("1e-3"), vec![Tok::Num(0.001), Tok::Eof]);
        assert_eq!(kinds(".5"), vec![Tok::Num(0.5), Tok::Eof]);
        assert_eq!(kinds("2e"), vec![Tok::Num(2.0), ident("e", 0), Tok::Eof]);
        assert_eq!(
            kinds("2e+x"),
            vec![
                Tok::Num(2.0),
                ident("e", 0),
                Tok::Plus,
                ident("x", 0),
                Tok::Eof
            ]
        );
        assert_eq!(
            kinds("2*e"),
            vec![Tok::Num(2.0), Tok::Star, ident("e", 0), Tok::Eof]
        );
        // the shortest decimal of the smallest subnormal reads back exactly
        assert_eq!(kinds("5e-324"), vec![Tok::Num(5e-324), Tok::Eof]);
    }

    #[test]
    fn primes_relations_comments_and_lines() {
        assert_eq!(
            kinds("tanh''(x) ~= y # note\n;"),
            vec![
                ident("tanh", 2),
                Tok::LParen,
                ident("x", 0),
                Tok::RParen,
                Tok::Approx,
                ident("y", 0),
                Tok::Newline,
                Tok::Semi,
                Tok::Eof
            ]
        );
        let toks = lex("a <= b\nc", false).unwrap();
        assert_eq!(toks[1].kind, Tok::Le);
        assert_eq!(toks[1].span, 2..4);
        assert_eq!(toks.len(), 5);
        assert_eq!(toks[4].span, 8..8);
    }

    #[test]
    fn bad_characters_point_at_themselves() {
        let err = lex("x + é", false).unwrap_err();
        assert_eq!(err.span, 4..6);
        assert_eq!(err.message, "unexpected character `é`");
        assert_eq!(lex("1e999", false).unwrap_err().span, 0..5);
        assert_eq!(lex("x < y", false).unwrap_err().span, 2..3);
    }
}
