//! The claim language: syntax tree, built-in table, parser, printer and
//! symbolic derivative.
//!
//! Everything a user writes — claims, model blocks, `[functions]`, `--given`
//! and `--define` on the command line — goes through the four `parse_*`
//! entry points here, so that one lexer and one Pratt table decide what a
//! text means and every error has the same shape: a byte span, what is
//! wrong, and what would have been valid there. Spans are byte offsets into
//! the string handed in; the caller turns them into file, line and column.
//!
//! The printer (`Display` for [`ast::Expr`]) is the parser's inverse: it
//! writes the fewest parentheses that parse back to the same tree, so the
//! text shown in a report is the tree that was evaluated, not a paraphrase
//! of it. Derivatives (`relu'(y)`) are rewritten away by [`deriv`] before
//! evaluation, which is why the engines never see a prime.

pub mod arith;
pub mod ast;
pub mod builtin;
pub mod deriv;
mod lexer;
mod parser;
mod print;
pub mod suggest;

use std::fmt;

pub use ast::{BinOp, ClaimExpr, Expr, ExprKind, MomentOp, Relation, Span, Stmt};
pub use deriv::{DerivError, Functions, derivative, expand_primes, simplify};
pub use parser::{parse_claim, parse_expr, parse_function, parse_model};
pub use print::sexpr;

/// A syntax error: where, what is wrong, and what would be valid there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte range in the parsed string. For an unclosed bracket it is the
    /// opening bracket; for an unexpected end, the empty range at the end.
    pub span: Span,
    pub message: String,
    pub expected: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (expected {})", self.message, self.expected)
    }
}

impl std::error::Error for ParseError {}

/// A function defined in a file's `[functions]` table or with `--define`.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDef {
    /// `Some("f")` for the form `f(x, a) = body`; `None` for a bare body,
    /// whose name is the key it was defined under.
    pub name: Option<String>,
    /// The parameters in order; a bare body has the single parameter `x`.
    pub params: Vec<String>,
    pub body: Expr,
}
