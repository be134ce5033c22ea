//! A Pratt parser for expressions, claims, model blocks and function
//! definitions.
//!
//! Precedence lives in one table ([`infix_bp`] and [`PREFIX_NEG_BP`]), in
//! the manner of matklad's minipratt, and the printer reads the same table
//! to decide where parentheses are needed; the two cannot drift apart. The
//! table encodes the conventions of the papers being audited: `-x^2` is
//! `-(x^2)` because `^` binds tighter than a prefix minus, `2^-1` is legal
//! because a prefix minus may start any operand, and `2^3^4` is `2^(3^4)`.
//!
//! Errors stop at the first problem (a claim is one line; there is nothing
//! to recover for). Each says what was found and what would be valid, and
//! an unclosed bracket points at the bracket that was opened, since that is
//! where the fix goes. Nesting is bounded so that no input can overflow the
//! stack of this or any later recursive pass.

use super::ast::{BinOp, ClaimExpr, Expr, ExprKind, MomentOp, Relation, Span, Stmt};
use super::lexer::{Tok, Token, lex};
use super::{FunctionDef, ParseError};

/// Left and right binding powers of the infix operators. Left-associative
/// operators bind tighter on the right; `^` is right-associative.
pub(crate) fn infix_bp(op: BinOp) -> (u8, u8) {
    match op {
        BinOp::Add | BinOp::Sub => (1, 2),
        BinOp::Mul | BinOp::Div => (3, 4),
        BinOp::Pow => (8, 7),
    }
}

/// Right binding power of prefix minus: above `*` so `-a*b` is `(-a)*b`,
/// below `^` so `-x^2` is `-(x^2)`.
pub(crate) const PREFIX_NEG_BP: u8 = 5;

/// Deepest nesting accepted, in syntax-tree levels. Far beyond any formula
/// in a paper, far below what recursion on an 8 MiB stack survives.
const MAX_DEPTH: usize = 200;

const EXPR_START: &str =
    "an expression: a number, a name, `(`, `-`, `E[`, `Var[`, `Cov[`, or a call such as `relu(y)`";
const AFTER_OPERAND: &str = "an operator (`+`, `-`, `*`, `/`, `^`)";
const END_OF_STATEMENT: &str = "a new line or `;` to end the statement";
const RELATIONS: &str = "a relation: `=`, `~=`, `<=` or `>=`";

fn error(span: Span, message: impl Into<String>, expected: impl Into<String>) -> ParseError {
    ParseError {
        span,
        message: message.into(),
        expected: expected.into(),
    }
}

fn infix_op(tok: &Tok) -> Option<BinOp> {
    match tok {
        Tok::Plus => Some(BinOp::Add),
        Tok::Minus => Some(BinOp::Sub),
        Tok::Star => Some(BinOp::Mul),
        Tok::Slash => Some(BinOp::Div),
        Tok::Caret => Some(BinOp::Pow),
        _ => None,
    }
}

fn relation(tok: &Tok) -> Option<Relation> {
    match tok {
        Tok::Eq => Some(Relation::Eq),
        Tok::Approx => Some(Relation::Approx),
        Tok::Le => Some(Relation::Le),
        Tok::Ge => Some(Relation::Ge),
        _ => None,
    }
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, newlines: bool) -> Result<Parser<'s>, ParseError> {
        Ok(Parser {
            src,
            toks: lex(src, newlines)?,
            pos: 0,
        })
    }

    /// The next token; at the end, the final `Eof` again and again.
    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn bump(&mut self) -> Token {
        let tok = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    fn at_end_of_statement(&self) -> bool {
        matches!(self.peek().kind, Tok::Eof | Tok::Newline | Tok::Semi)
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        Ok(self.expr_bp(0, 0)?.0)
    }

    /// Parses an expression whose operators bind at least `min_bp`.
    /// `nesting` counts recursion; the returned depth is the tree's.
    fn expr_bp(&mut self, min_bp: u8, nesting: usize) -> Result<(Expr, usize), ParseError> {
        if nesting > MAX_DEPTH {
            return Err(error(
                self.peek().span.clone(),
                format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
                "a shallower expression; name a part of it in the model",
            ));
        }
        let (mut lhs, mut depth) = self.operand(nesting)?;
        loop {
            let tok = self.peek().clone();
            let op = match infix_op(&tok.kind) {
                Some(op) => op,
                None => match tok.kind {
                    Tok::Num(_) | Tok::Ident { .. } | Tok::LParen | Tok::LBracket => {
                        return Err(self.implicit_multiplication(&tok));
                    }
                    _ => break,
                },
            };
            let (l_bp, r_bp) = infix_bp(op);
            if l_bp < min_bp {
                break;
            }
            self.bump();
            let (rhs, rhs_depth) = self.expr_bp(r_bp, nesting + 1)?;
            depth = depth.max(rhs_depth) + 1;
            if depth > MAX_DEPTH {
                return Err(error(
                    tok.span,
                    format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
                    "a shorter expression; name a part of it in the model",
                ));
            }
            let span = lhs.span.start..rhs.span.end;
            lhs = Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span);
        }
        Ok((lhs, depth))
    }

    fn implicit_multiplication(&self, next: &Token) -> ParseError {
        let prev = &self.toks[self.pos - 1];
        let prev_text = &self.src[prev.span.clone()];
        let next_text = &self.src[next.span.clone()];
        let operand = |k: &Tok| matches!(k, Tok::Num(_) | Tok::Ident { .. });
        let fix = if operand(&prev.kind) && operand(&next.kind) {
            format!("write `{prev_text}*{next_text}`")
        } else {
            "write `*` explicitly".to_string()
        };
        let mut message = format!(
            "missing operator before {}: implicit multiplication is not supported, {fix}",
            next.kind.describe()
        );
        let exponent_typo = matches!(prev.kind, Tok::Num(_))
            && prev.span.end == next.span.start
            && next_text.starts_with(['e', 'E']);
        if exponent_typo {
            message
                .push_str(" (a number in exponent notation needs digits after `e`, as in `2e3`)");
        }
        error(next.span.clone(), message, AFTER_OPERAND)
    }

    /// A number, name, call, moment, parenthesised expression or prefix
    /// minus: anything that can start an operand.
    fn operand(&mut self, nesting: usize) -> Result<(Expr, usize), ParseError> {
        let tok = self.bump();
        match tok.kind {
            Tok::Num(v) => Ok((Expr::new(ExprKind::Num(v), tok.span), 1)),
            Tok::Minus => {
                let (inner, depth) = self.expr_bp(PREFIX_NEG_BP, nesting + 1)?;
                let span = tok.span.start..inner.span.end;
                Ok((Expr::new(ExprKind::Neg(Box::new(inner)), span), depth + 1))
            }
            Tok::LParen => {
                let (mut inner, depth) = self.expr_bp(0, nesting + 1)?;
                let close = self.close(&tok, Tok::RParen, false)?;
                inner.span = tok.span.start..close.end;
                Ok((inner, depth))
            }
            Tok::Ident { name, primes } => self.named(name, primes, tok.span, nesting),
            Tok::RParen | Tok::RBracket => Err(error(
                tok.span,
                format!(
                    "unexpected {}: there is no expression before it",
                    tok.kind.describe()
                ),
                EXPR_START,
            )),
            Tok::Eof | Tok::Newline => Err(error(
                tok.span,
                format!("an expression is missing before {}", tok.kind.describe()),
                EXPR_START,
            )),
            Tok::Plus => Err(error(
                tok.span,
                "unexpected `+`: there is no unary plus",
                EXPR_START,
            )),
            _ => Err(error(
                tok.span,
                format!("unexpected {}", tok.kind.describe()),
                EXPR_START,
            )),
        }
    }

    /// What follows a name: `E[...]`, a call, or nothing (a plain name).
    fn named(
        &mut self,
        name: String,
        primes: u32,
        span: Span,
        nesting: usize,
    ) -> Result<(Expr, usize), ParseError> {
        let moment = match name.as_str() {
            "E" => Some(MomentOp::E),
            "Var" => Some(MomentOp::Var),
            "Cov" => Some(MomentOp::Cov),
            _ => None,
        };
        match self.peek().kind {
            Tok::LBracket => {
                let Some(op) = moment else {
                    return self.subscript(name, primes, span);
                };
                if primes > 0 {
                    return Err(error(
                        span,
                        format!("`{name}` is not a function and cannot take a derivative"),
                        format!("`{name}[...]`"),
                    ));
                }
                let open = self.bump();
                let (args, depth) = self.list(&open, Tok::RBracket, nesting)?;
                let whole = span.start..self.toks[self.pos - 1].span.end;
                let (want, form) = match op {
                    MomentOp::Cov => (2, "two arguments: `Cov[X, Y]`"),
                    MomentOp::E => (1, "one argument: `E[X]`"),
                    MomentOp::Var => (1, "one argument: `Var[X]`"),
                };
                if args.len() != want {
                    return Err(error(
                        whole,
                        format!("`{name}` takes {form}, but {} were given", args.len()),
                        form,
                    ));
                }
                Ok((Expr::new(ExprKind::Moment(op, args), whole), depth + 1))
            }
            Tok::LParen if name == "sum" && primes == 0 && self.at_index() => {
                self.indexed_sum(span, nesting)
            }
            Tok::LParen => {
                let open = self.bump();
                let (mut args, depth) = self.list(&open, Tok::RParen, nesting)?;
                let whole = span.start..self.toks[self.pos - 1].span.end;
                if name == "sum" {
                    if primes > 0 {
                        return Err(error(
                            span,
                            "`sum(n, T)` cannot take a derivative",
                            "`sum(n, T)`",
                        ));
                    }
                    if args.len() != 2 {
                        return Err(error(
                            whole,
                            format!("`sum` takes two arguments, but {} were given", args.len()),
                            "`sum(n, T)`: the sum of n independent copies of T",
                        ));
                    }
                    let body = args.pop().expect("two arguments");
                    let count = args.pop().expect("two arguments");
                    let kind = ExprKind::Sum(Box::new(count), Box::new(body));
                    return Ok((Expr::new(kind, whole), depth + 1));
                }
                let func_span = span.start..span.end - primes as usize;
                let kind = ExprKind::Call {
                    func: name,
                    func_span,
                    primes,
                    args,
                };
                Ok((Expr::new(kind, whole), depth + 1))
            }
            _ if primes > 0 => Err(error(
                span.end..span.end,
                format!(
                    "a derivative `{name}{}` must be called with arguments",
                    "'".repeat(primes as usize)
                ),
                format!("`(`, as in `{name}{}(x)`", "'".repeat(primes as usize)),
            )),
            _ => Ok((Expr::new(ExprKind::Name(name), span), 1)),
        }
    }

    /// Whether `(` is followed by `NAME in`: the head of `sum(i in n, T)`.
    fn at_index(&self) -> bool {
        matches!(
            (
                self.toks.get(self.pos + 1).map(|t| &t.kind),
                self.toks.get(self.pos + 2).map(|t| &t.kind),
            ),
            (Some(Tok::Ident { primes: 0, .. }), Some(Tok::Ident { name, primes: 0 })) if name == "in"
        )
    }

    /// `sum(i in n, T)`, at its `(`.
    fn indexed_sum(&mut self, head: Span, nesting: usize) -> Result<(Expr, usize), ParseError> {
        let open = self.bump();
        let index_tok = self.bump();
        let Tok::Ident { name: index, .. } = index_tok.kind else {
            unreachable!("at_index saw a name")
        };
        self.bump(); // `in`
        let (count, count_depth) = self.expr_bp(0, nesting + 1)?;
        if self.peek().kind != Tok::Comma {
            if matches!(self.peek().kind, Tok::RParen) {
                return Err(error(
                    self.peek().span.clone(),
                    format!("`sum({index} in n, T)` needs a body after the count"),
                    format!("`,` and the body, as in `sum({index} in n, w[{index}]*x[{index}])`"),
                ));
            }
            self.close(&open, Tok::RParen, true)?;
        }
        self.bump();
        let (body, body_depth) = self.expr_bp(0, nesting + 1)?;
        if self.peek().kind == Tok::Comma {
            return Err(error(
                self.peek().span.clone(),
                "`sum` takes an index, a count and a body, but more were given",
                format!("`)`, as in `sum({index} in n, T)`"),
            ));
        }
        let close = self.close(&open, Tok::RParen, true)?;
        let kind = ExprKind::IndexedSum {
            index,
            index_span: index_tok.span,
            count: Box::new(count),
            body: Box::new(body),
        };
        let depth = count_depth.max(body_depth) + 1;
        Ok((Expr::new(kind, head.start..close.end), depth))
    }

    /// `x[i]`, at its `[`: a copy of a variable, indexed by a name.
    fn subscript(
        &mut self,
        name: String,
        primes: u32,
        span: Span,
    ) -> Result<(Expr, usize), ParseError> {
        let open = self.peek().clone();
        let index = self.toks.get(self.pos + 1).map(|t| t.kind.clone());
        let shut = self.toks.get(self.pos + 2).map(|t| t.kind.clone());
        match (index, shut) {
            (
                Some(Tok::Ident {
                    name: index,
                    primes: 0,
                }),
                Some(Tok::RBracket),
            ) if primes == 0 => {
                self.bump();
                let index_span = self.bump().span;
                let close = self.bump().span;
                let kind = ExprKind::Subscript {
                    name,
                    index,
                    index_span,
                };
                Ok((Expr::new(kind, span.start..close.end), 1))
            }
            _ => Err(error(
                open.span,
                format!(
                    "`[` cannot follow `{name}`: square brackets belong to `E`, `Var` and `Cov`, or hold the index of a copy, as in `x[i]`"
                ),
                "`(` for a call, an operator, or `[i]` inside `sum(i in n, T)`",
            )),
        }
    }

    /// Comma-separated expressions up to `close`, after `open` was taken.
    fn list(
        &mut self,
        open: &Token,
        close: Tok,
        nesting: usize,
    ) -> Result<(Vec<Expr>, usize), ParseError> {
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek().kind == close {
            self.bump();
            return Ok((args, depth));
        }
        loop {
            let (arg, d) = self.expr_bp(0, nesting + 1)?;
            depth = depth.max(d);
            args.push(arg);
            if self.peek().kind == Tok::Comma {
                self.bump();
                continue;
            }
            self.close(open, close, true)?;
            return Ok((args, depth));
        }
    }

    /// Takes the bracket closing `open`, or explains why it is not there.
    fn close(&mut self, open: &Token, close: Tok, in_list: bool) -> Result<Span, ParseError> {
        let tok = self.peek().clone();
        if tok.kind == close {
            self.bump();
            return Ok(tok.span);
        }
        let o = open.kind.symbol();
        let c = close.symbol();
        let expected = if in_list {
            format!("`,`, `{c}` or an operator")
        } else {
            format!("`{c}` or an operator")
        };
        match tok.kind {
            Tok::Eof | Tok::Newline => Err(error(
                open.span.clone(),
                format!("unbalanced bracket: this `{o}` is never closed"),
                format!("`{c}` before {}", tok.kind.describe()),
            )),
            Tok::RParen | Tok::RBracket => Err(error(
                tok.span,
                format!(
                    "mismatched bracket: `{}` cannot close `{o}`",
                    tok.kind.symbol()
                ),
                format!("`{c}`"),
            )),
            _ => Err(error(
                tok.span,
                format!("unexpected {} inside `{o}...{c}`", tok.kind.describe()),
                expected,
            )),
        }
    }

    /// Reports whatever stands where the input should have ended.
    fn trailing(&self, expected: &str) -> ParseError {
        let tok = self.peek();
        let message = match &tok.kind {
            Tok::RParen | Tok::RBracket => format!(
                "unbalanced bracket: this `{}` has no opening bracket",
                tok.kind.symbol()
            ),
            Tok::Comma => "unexpected `,` outside a call or `Cov[...]`".to_string(),
            k if relation(k).is_some() => format!(
                "unexpected `{}`: a relation belongs in a claim, not in an expression",
                k.symbol()
            ),
            k => format!("unexpected {}", k.describe()),
        };
        error(tok.span.clone(), message, expected)
    }

    fn expect_eof(&self, expected: &str) -> Result<(), ParseError> {
        if self.peek().kind == Tok::Eof {
            Ok(())
        } else {
            Err(self.trailing(expected))
        }
    }

    fn claim(&mut self) -> Result<ClaimExpr, ParseError> {
        let lhs = self.expr()?;
        let tok = self.peek().clone();
        let Some(rel) = relation(&tok.kind) else {
            return Err(match tok.kind {
                Tok::Eof => error(
                    tok.span,
                    "a claim needs a relation between its two sides",
                    RELATIONS,
                ),
                Tok::Tilde => error(
                    tok.span,
                    "`~` draws a variable in a model; an approximate claim is written `~=`",
                    RELATIONS,
                ),
                _ => self.trailing(RELATIONS),
            });
        };
        self.bump();
        let rhs = self.expr()?;
        if let Some(second) = relation(&self.peek().kind) {
            return Err(error(
                self.peek().span.clone(),
                format!(
                    "a claim has exactly one relation; this `{}` is a second one",
                    second.symbol()
                ),
                "the end of the claim; split a chain into a derivation",
            ));
        }
        self.expect_eof(AFTER_OPERAND)?;
        Ok(ClaimExpr {
            lhs,
            relation: rel,
            rhs,
            relation_span: tok.span,
        })
    }

    fn statement(&mut self) -> Result<Stmt, ParseError> {
        let first = self.bump();
        let Tok::Ident { name, primes } = first.kind else {
            return Err(error(
                first.span,
                format!("a statement cannot start with {}", first.kind.describe()),
                "a name being defined (`n = 512`) or drawn (`w ~ Normal(0, 1)`)",
            ));
        };
        if primes > 0 {
            return Err(error(
                first.span,
                "a prime marks a derivative and cannot be part of a defined name",
                "a plain name",
            ));
        }
        let mut names = vec![(name, first.span)];
        while self.peek().kind == Tok::Comma {
            self.bump();
            let tok = self.bump();
            match tok.kind {
                Tok::Ident { name, primes: 0 } => names.push((name, tok.span)),
                other => {
                    return Err(error(
                        tok.span,
                        format!("unexpected {} in a list of drawn names", other.describe()),
                        "a name, as in `u, v ~ BivariateNormal(1, 1, 0.5)`",
                    ));
                }
            }
        }
        let tok = self.bump();
        match tok.kind {
            Tok::Eq if names.len() == 1 => {
                let value = self.expr()?;
                let (name, name_span) = names.pop().expect("one name");
                Ok(Stmt::Define {
                    name,
                    name_span,
                    value,
                })
            }
            Tok::Tilde => self.draw(names),
            Tok::Eq => Err(error(
                tok.span,
                "only one name can be defined with `=`",
                "`~` to draw a pair, as in `u, v ~ BivariateNormal(1, 1, 0.5)`",
            )),
            other => Err(error(
                tok.span,
                format!("unexpected {} after the name", other.describe()),
                "`=` to define it or `~` to draw it from a law",
            )),
        }
    }

    fn draw(&mut self, names: Vec<(String, Span)>) -> Result<Stmt, ParseError> {
        let tok = self.bump();
        let Tok::Ident {
            name: law,
            primes: 0,
        } = tok.kind
        else {
            return Err(error(
                tok.span,
                format!("expected a law after `~`, found {}", tok.kind.describe()),
                "a law with its parameters, such as `Normal(0, 1)`",
            ));
        };
        let open = self.bump();
        if open.kind != Tok::LParen {
            return Err(error(
                open.span,
                format!("the law `{law}` needs its parameters"),
                format!("`(`, as in `{law}(0, 1)`"),
            ));
        }
        let (args, _) = self.list(&open, Tok::RParen, 0)?;
        let span = tok.span.start..self.toks[self.pos - 1].span.end;
        Ok(Stmt::Draw {
            names,
            law,
            law_span: tok.span,
            args,
            span,
        })
    }

    fn model(&mut self) -> Result<Vec<Stmt>, ParseError> {
        let mut stmts = Vec::new();
        loop {
            while matches!(self.peek().kind, Tok::Newline | Tok::Semi) {
                self.bump();
            }
            if self.peek().kind == Tok::Eof {
                return Ok(stmts);
            }
            stmts.push(self.statement()?);
            if !self.at_end_of_statement() {
                return Err(match self.peek().kind {
                    Tok::RParen | Tok::RBracket => self.trailing(END_OF_STATEMENT),
                    ref other => error(
                        self.peek().span.clone(),
                        format!("unexpected {} after the statement", other.describe()),
                        END_OF_STATEMENT,
                    ),
                });
            }
        }
    }

    fn function(&mut self) -> Result<FunctionDef, ParseError> {
        if !self.toks.iter().any(|t| t.kind == Tok::Eq) {
            let body = self.expr()?;
            self.expect_eof(AFTER_OPERAND)?;
            return Ok(FunctionDef {
                name: None,
                params: vec!["x".to_string()],
                body,
            });
        }
        let full_form = "a definition such as `f(x, a) = x * tanh(a*x)`";
        let tok = self.bump();
        let Tok::Ident { name, primes: 0 } = tok.kind else {
            return Err(error(
                tok.span,
                format!(
                    "expected the function's name, found {}",
                    tok.kind.describe()
                ),
                full_form,
            ));
        };
        let open = self.bump();
        if open.kind != Tok::LParen {
            return Err(error(
                open.span,
                format!("expected the parameter list of `{name}`"),
                format!("`(`, as in `{name}(x) = ...`"),
            ));
        }
        let mut params: Vec<String> = Vec::new();
        loop {
            let tok = self.bump();
            match tok.kind {
                Tok::Ident { name: p, primes: 0 } => {
                    if params.contains(&p) {
                        return Err(error(
                            tok.span,
                            format!("the parameter `{p}` is named twice"),
                            "distinct parameter names",
                        ));
                    }
                    params.push(p);
                }
                Tok::Eof => {
                    return Err(error(
                        open.span,
                        "unbalanced bracket: this `(` is never closed",
                        "`)` after the parameters",
                    ));
                }
                other => {
                    return Err(error(
                        tok.span,
                        format!(
                            "a parameter must be a plain name, found {}",
                            other.describe()
                        ),
                        full_form,
                    ));
                }
            }
            let sep = self.bump();
            match sep.kind {
                Tok::Comma => continue,
                Tok::RParen => break,
                other => {
                    return Err(error(
                        sep.span,
                        format!("unexpected {} in the parameter list", other.describe()),
                        "`,` or `)`",
                    ));
                }
            }
        }
        let eq = self.bump();
        if eq.kind != Tok::Eq {
            return Err(error(
                eq.span,
                format!(
                    "expected `=` after `{name}(...)`, found {}",
                    eq.kind.describe()
                ),
                full_form,
            ));
        }
        let body = self.expr()?;
        self.expect_eof(AFTER_OPERAND)?;
        Ok(FunctionDef {
            name: Some(name),
            params,
            body,
        })
    }
}

/// Parses one expression, such as a side of a claim or a law parameter.
pub fn parse_expr(src: &str) -> Result<Expr, ParseError> {
    let mut p = Parser::new(src, false)?;
    let e = p.expr()?;
    p.expect_eof(AFTER_OPERAND)?;
    Ok(e)
}

/// Parses `lhs REL rhs` with exactly one relation.
pub fn parse_claim(src: &str) -> Result<ClaimExpr, ParseError> {
    Parser::new(src, false)?.claim()
}

/// Parses a model block (also `--given`): statements separated by new
/// lines or `;`, comments from `#`. A statement ends at its line, so a
/// bracket left open at the end of a line is reported there.
pub fn parse_model(src: &str) -> Result<Vec<Stmt>, ParseError> {
    Parser::new(src, true)?.model()
}

/// Parses a function definition: `f(x, a) = body`, or a bare body in the
/// single parameter `x`.
pub fn parse_function(src: &str) -> Result<FunctionDef, ParseError> {
    Parser::new(src, false)?.function()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::sexpr;

    /// Each line: input, then the tree it must parse to.
    #[test]
    fn expressions() {
        let table = [
            ("1", "1"),
            ("1 + 2*3^-x", "(+ 1 (* 2 (^ 3 (neg x))))"),
            ("a - b - c", "(- (- a b) c)"),
            ("a-(b-c)", "(- a (- b c))"),
            ("a/b/c", "(/ (/ a b) c)"),
            ("a/(b*c)", "(/ a (* b c))"),
            ("2^3^4", "(^ 2 (^ 3 4))"),
            ("(2^3)^4", "(^ (^ 2 3) 4)"),
            ("-x^2", "(neg (^ x 2))"),
            ("-(2)^2", "(neg (^ 2 2))"),
            ("(-2)^2", "(^ (neg 2) 2)"),
            ("--x", "(neg (neg x))"),
            ("-a*b", "(* (neg a) b)"),
            ("a*-b", "(* a (neg b))"),
            ("a - -b", "(- a (neg b))"),
            ("2^-1", "(^ 2 (neg 1))"),
            ("2^-x^2", "(^ 2 (neg (^ x 2)))"),
            ("2^-1*3", "(* (^ 2 (neg 1)) 3)"),
            ("2e3", "2e3"),
            ("2500", "2500"),
            ("1e-300", "1e-300"),
            ("2*e", "(* 2 e)"),
            (".5 + 0.001", "(+ 0.5 1e-3)"),
            ("pi", "pi"),
            ("relu'(y)", "(relu' y)"),
            ("tanh''(2*x)", "(tanh'' (* 2 x))"),
            ("leaky_relu(x, 0.2)", "(leaky_relu x 0.2)"),
            ("f (x)", "(f x)"),
            ("E[x^2]", "(E (^ x 2))"),
            ("Var[w*x] / 2", "(/ (Var (* w x)) 2)"),
            ("Cov[u, v]", "(Cov u v)"),
            ("E + 1", "(+ E 1)"),
            ("E(x)", "(E x)"),
            ("sum(n, w*x)", "(sum n (* w x))"),
            ("sum + 1", "(+ sum 1)"),
            ("sum(i in n, w[i]*x[i])", "(sum i n (* w[i] x[i]))"),
            (
                "sum(i in d, (q[i] + c)*(k[i] + c))",
                "(sum i d (* (+ q[i] c) (+ k[i] c)))",
            ),
            ("sum(in in 2, x)", "(sum in 2 x)"),
            ("sum(i, x)", "(sum i x)"),
            ("E[sum(j in 4, x[j])^2]", "(E (^ (sum j 4 x[j]) 2))"),
            (
                "n * Var[w] * E[relu(y)^2]",
                "(* (* n (Var w)) (E (^ (relu y) 2)))",
            ),
            ("x # a remark\n + 1", "(+ x 1)"),
        ];
        for (input, want) in table {
            let e = parse_expr(input).unwrap_or_else(|err| panic!("{input}: {err}"));
            assert_eq!(sexpr(&e), want, "input: {input}");
        }
    }

    /// Each line: bad input, the message, and the byte column of the caret.
    #[test]
    fn expression_errors() {
        let table = [
            ("(a + b", "unbalanced bracket: this `(` is never closed", 0),
            (
                "f(a, g(b)",
                "unbalanced bracket: this `(` is never closed",
                1,
            ),
            ("E[x", "unbalanced bracket: this `[` is never closed", 1),
            (
                "a + b)",
                "unbalanced bracket: this `)` has no opening bracket",
                5,
            ),
            ("(a]", "mismatched bracket: `]` cannot close `(`", 2),
            (
                "a +",
                "an expression is missing before the end of the input",
                3,
            ),
            (
                "",
                "an expression is missing before the end of the input",
                0,
            ),
            (")", "unexpected `)`: there is no expression before it", 0),
            ("a * * b", "unexpected `*`", 4),
            ("+a", "unexpected `+`: there is no unary plus", 0),
            (
                "2x",
                "missing operator before the name `x`: implicit multiplication is not supported, write `2*x`",
                1,
            ),
            (
                "2e",
                "missing operator before the name `e`: implicit multiplication is not supported, write `2*e` \
                 (a number in exponent notation needs digits after `e`, as in `2e3`)",
                1,
            ),
            (
                "(x)(y)",
                "missing operator before `(`: implicit multiplication is not supported, write `*` explicitly",
                3,
            ),
            (
                "x[1]",
                "`[` cannot follow `x`: square brackets belong to `E`, `Var` and `Cov`, or hold the index of a copy, as in `x[i]`",
                1,
            ),
            (
                "x[i + 1]",
                "`[` cannot follow `x`: square brackets belong to `E`, `Var` and `Cov`, or hold the index of a copy, as in `x[i]`",
                1,
            ),
            (
                "sum(i in n)",
                "`sum(i in n, T)` needs a body after the count",
                10,
            ),
            (
                "sum(i in n, x[i], y)",
                "`sum` takes an index, a count and a body, but more were given",
                16,
            ),
            (
                "sum(i in n, x[i]",
                "unbalanced bracket: this `(` is never closed",
                3,
            ),
            (
                "Cov[x]",
                "`Cov` takes two arguments: `Cov[X, Y]`, but 1 were given",
                0,
            ),
            (
                "E[x, y]",
                "`E` takes one argument: `E[X]`, but 2 were given",
                0,
            ),
            ("sum(n)", "`sum` takes two arguments, but 1 were given", 0),
            ("sum'(n, x)", "`sum(n, T)` cannot take a derivative", 0),
            (
                "relu' + 1",
                "a derivative `relu'` must be called with arguments",
                5,
            ),
            (
                "(x)'",
                "a prime `'` must follow a function name directly",
                3,
            ),
            (
                "f(a,)",
                "unexpected `)`: there is no expression before it",
                4,
            ),
            (
                "a = b",
                "unexpected `=`: a relation belongs in a claim, not in an expression",
                2,
            ),
            ("x ** 2", "`**` is not an operator", 2),
            (
                "f(a b)",
                "missing operator before the name `b`: implicit multiplication is not supported, write `a*b`",
                4,
            ),
        ];
        for (input, message, column) in table {
            let err = parse_expr(input).expect_err(input);
            assert_eq!(err.message, message, "input: {input}");
            assert_eq!(err.span.start, column, "input: {input}");
        }
    }

    #[test]
    fn spans_cover_the_source() {
        let src = "3 * relu''(y)";
        let e = parse_expr(src).unwrap();
        assert_eq!(e.span, 0..13);
        let ExprKind::Binary(_, _, call) = &e.kind else {
            panic!("{e:?}")
        };
        let ExprKind::Call { func_span, .. } = &call.kind else {
            panic!("{call:?}")
        };
        assert_eq!(&src[call.span.clone()], "relu''(y)");
        assert_eq!(&src[func_span.clone()], "relu");
        assert_eq!(parse_expr("(a + b)").unwrap().span, 0..7);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
        let err = parse_expr(&deep).unwrap_err();
        assert!(err.message.contains("nested too deeply"), "{err}");
        let long = vec!["x"; 100_000].join(" + ");
        assert!(
            parse_expr(&long)
                .unwrap_err()
                .message
                .contains("nested too deeply")
        );
        let minus = format!("{}x", "-".repeat(100_000));
        assert!(parse_expr(&minus).is_err());
        // ordinary sizes are far from the bound
        assert!(parse_expr(&vec!["x"; 150].join(" + ")).is_ok());
    }

    #[test]
    fn claims() {
        let c = parse_claim("E[x^2] = Var[y] / 2").unwrap();
        assert_eq!(sexpr(&c.lhs), "(E (^ x 2))");
        assert_eq!(c.relation, Relation::Eq);
        assert_eq!(sexpr(&c.rhs), "(/ (Var y) 2)");
        assert_eq!(c.relation_span, 7..8);
        for (src, rel) in [
            ("a ~= b", Relation::Approx),
            ("a <= b", Relation::Le),
            ("a >= b", Relation::Ge),
        ] {
            assert_eq!(parse_claim(src).unwrap().relation, rel, "{src}");
        }
        let table = [
            (
                "a = b = c",
                "a claim has exactly one relation; this `=` is a second one",
                6,
            ),
            ("E[x]", "a claim needs a relation between its two sides", 4),
            (
                "a ~ b",
                "`~` draws a variable in a model; an approximate claim is written `~=`",
                2,
            ),
            (
                "a = ",
                "an expression is missing before the end of the input",
                4,
            ),
            ("a, b = c", "unexpected `,` outside a call or `Cov[...]`", 1),
        ];
        for (src, message, column) in table {
            let err = parse_claim(src).expect_err(src);
            assert_eq!(err.message, message, "{src}");
            assert_eq!(err.span.start, column, "{src}");
        }
    }

    #[test]
    fn models() {
        let src = "n = 512   # width\n\nw ~ Normal(0, sqrt(2/n)); y ~ Normal(0, 1)\nu, v ~ BivariateNormal(1, 1, 0.5)\nx = relu(y)\n";
        let stmts = parse_model(src).unwrap();
        assert_eq!(stmts.len(), 5);
        let Stmt::Define {
            name,
            name_span,
            value,
        } = &stmts[0]
        else {
            panic!("{:?}", stmts[0])
        };
        assert_eq!(
            (name.as_str(), name_span.clone(), sexpr(value)),
            ("n", 0..1, "512".into())
        );
        let Stmt::Draw {
            names,
            law,
            law_span,
            args,
            span,
        } = &stmts[1]
        else {
            panic!("{:?}", stmts[1])
        };
        assert_eq!(names, &[("w".to_string(), 19..20)]);
        assert_eq!(law, "Normal");
        assert_eq!(&src[law_span.clone()], "Normal");
        assert_eq!(&src[span.clone()], "Normal(0, sqrt(2/n))");
        let args: Vec<String> = args.iter().map(sexpr).collect();
        assert_eq!(args, ["0", "(sqrt (/ 2 n))"]);
        let Stmt::Draw {
            names, law, args, ..
        } = &stmts[3]
        else {
            panic!("{:?}", stmts[3])
        };
        let names: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            (names, law.as_str(), args.len()),
            (vec!["u", "v"], "BivariateNormal", 3)
        );
        assert_eq!(parse_model("# only a comment\n\n;;").unwrap(), vec![]);

        let table = [
            (
                "x = f(a\ny = 2",
                "unbalanced bracket: this `(` is never closed",
                5,
            ),
            (
                "x = 1 2",
                "missing operator before a number: implicit multiplication is not supported, write `1*2`",
                6,
            ),
            ("x ~ Normal", "the law `Normal` needs its parameters", 10),
            ("x ~ 3", "expected a law after `~`, found a number", 4),
            ("u, v = 1", "only one name can be defined with `=`", 5),
            ("x + 1", "unexpected `+` after the name", 2),
            ("3 = x", "a statement cannot start with a number", 0),
            ("x = a = b", "unexpected `=` after the statement", 6),
            (
                "x = a)",
                "unbalanced bracket: this `)` has no opening bracket",
                5,
            ),
            (
                "x' = 1",
                "a prime marks a derivative and cannot be part of a defined name",
                0,
            ),
        ];
        for (src, message, column) in table {
            let err = parse_model(src).expect_err(src);
            assert_eq!(err.message, message, "{src}");
            assert_eq!(err.span.start, column, "{src}");
        }
    }

    #[test]
    fn functions() {
        let bare = parse_function("x * tanh(softplus(x))").unwrap();
        assert_eq!(bare.name, None);
        assert_eq!(bare.params, ["x"]);
        assert_eq!(sexpr(&bare.body), "(* x (tanh (softplus x)))");
        let full = parse_function("f(x, a) = a*x^2").unwrap();
        assert_eq!(full.name.as_deref(), Some("f"));
        assert_eq!(full.params, ["x", "a"]);
        assert_eq!(sexpr(&full.body), "(* a (^ x 2))");

        let table = [
            ("f(x, x) = x", "the parameter `x` is named twice", 5),
            (
                "f(2) = x",
                "a parameter must be a plain name, found a number",
                2,
            ),
            ("f x = x", "expected the parameter list of `f`", 2),
            (
                "f(x) x = 1",
                "expected `=` after `f(...)`, found the name `x`",
                5,
            ),
            (
                "f(x) = x = 1",
                "unexpected `=`: a relation belongs in a claim, not in an expression",
                9,
            ),
        ];
        for (src, message, column) in table {
            let err = parse_function(src).expect_err(src);
            assert_eq!(err.message, message, "{src}");
            assert_eq!(err.span.start, column, "{src}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// No text makes any entry point panic; whatever parses prints
        /// back to text that parses to the same thing, and can have its
        /// primes expanded and be differentiated without panicking.
        #[test]
        fn any_text_is_an_error_or_a_tree(
            src in r"[-+*/^()\[\],;=~<>'#\n .0-9eExyaEVarCovsumrelutanhf]{0,40}|[\PC]{0,12}"
        ) {
            let _ = parse_claim(&src);
            let _ = parse_model(&src);
            let _ = parse_function(&src);
            if let Ok(e) = parse_expr(&src) {
                let printed = e.to_string();
                let again = parse_expr(&printed).expect("printed text parses");
                proptest::prop_assert_eq!(sexpr(&again), sexpr(&e));
                let _ = crate::lang::expand_primes(&e, &());
                let _ = crate::lang::derivative(&e, "x", &());
            }
        }
    }
}
