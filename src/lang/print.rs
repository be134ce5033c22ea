//! Printing expressions back to the language, and as s-expressions.
//!
//! The printer is the parser run backwards, using the parser's own binding
//! powers: a subexpression is parenthesised exactly when the parser, meeting
//! it without parentheses between its left and right neighbours, would
//! build a different tree. That gives the fewest parentheses that read back
//! to the same tree, which is what a report must show: the expression that
//! was evaluated, with no paraphrase and no clutter.
//!
//! Numbers are printed in the shortest form that reads back to the same
//! `f64` (Rust's shortest round-trip digits, in plain or exponent notation,
//! whichever is shorter), so `1e-300` is not three hundred zeros. A negative
//! number (which only simplification produces; the parser makes `Neg`)
//! prints like a prefix minus, with the same precedence.
//!
//! [`sexpr`] writes the tree fully parenthesised, with no precedence left to
//! interpret, so parser tests can state the tree they expect in one line.

use std::fmt::{self, Write};

use super::ast::{ClaimExpr, Expr, ExprKind, MomentOp};
use super::parser::{PREFIX_NEG_BP, infix_bp};

/// The shortest text that parses back to `x` (for finite `x >= 0`).
pub(crate) fn number(x: f64) -> String {
    let plain = format!("{x}");
    let exp = format!("{x:e}");
    if exp.len() < plain.len() { exp } else { plain }
}

fn moment_name(op: MomentOp) -> &'static str {
    match op {
        MomentOp::E => "E",
        MomentOp::Var => "Var",
        MomentOp::Cov => "Cov",
    }
}

/// Writes `e` as it would be parsed between an operator on its left of
/// right binding power `left` and one on its right of left binding power
/// `right` (0 for none, or a bracket).
fn write_expr(out: &mut impl Write, e: &Expr, left: u8, right: u8) -> fmt::Result {
    match &e.kind {
        ExprKind::Num(v) if v.is_sign_negative() => {
            write_prefix(out, right, |out, _| out.write_str(&number(-v)))
        }
        ExprKind::Num(v) => out.write_str(&number(*v)),
        ExprKind::Name(n) => out.write_str(n),
        ExprKind::Neg(inner) => write_prefix(out, right, |out, r| {
            write_expr(out, inner, PREFIX_NEG_BP, r)
        }),
        ExprKind::Binary(op, a, b) => {
            let (l_bp, r_bp) = infix_bp(*op);
            // Our operator must be taken by the parse that started on our
            // left, and the operator on our right must not be taken into
            // our right operand.
            let parens = l_bp < left || right >= r_bp;
            let (left, right) = if parens { (0, 0) } else { (left, right) };
            if parens {
                out.write_char('(')?;
            }
            write_expr(out, a, left, l_bp)?;
            out.write_str(op.symbol())?;
            write_expr(out, b, r_bp, right)?;
            if parens {
                out.write_char(')')?;
            }
            Ok(())
        }
        ExprKind::Call {
            func, primes, args, ..
        } => {
            out.write_str(func)?;
            for _ in 0..*primes {
                out.write_char('\'')?;
            }
            write_args(out, "(", args, ")")
        }
        ExprKind::Moment(op, args) => {
            out.write_str(moment_name(*op))?;
            write_args(out, "[", args, "]")
        }
        ExprKind::Sum(n, body) => {
            out.write_str("sum(")?;
            write_expr(out, n, 0, 0)?;
            out.write_str(", ")?;
            write_expr(out, body, 0, 0)?;
            out.write_char(')')
        }
        ExprKind::IndexedSum {
            index, count, body, ..
        } => {
            write!(out, "sum({index} in ")?;
            write_expr(out, count, 0, 0)?;
            out.write_str(", ")?;
            write_expr(out, body, 0, 0)?;
            out.write_char(')')
        }
        ExprKind::Subscript { name, index, .. } => write!(out, "{name}[{index}]"),
    }
}

/// A prefix minus and its operand (written by `operand` given the right
/// context). A prefix operator is always taken where an operand may start,
/// so only the operator on its right can force parentheses: one that binds
/// at least as tightly as the minus would otherwise be taken into it.
fn write_prefix<W: Write>(
    out: &mut W,
    right: u8,
    operand: impl FnOnce(&mut W, u8) -> fmt::Result,
) -> fmt::Result {
    let parens = right >= PREFIX_NEG_BP;
    if parens {
        out.write_str("(-")?;
        operand(out, 0)?;
        out.write_char(')')
    } else {
        out.write_char('-')?;
        operand(out, right)
    }
}

fn write_args(out: &mut impl Write, open: &str, args: &[Expr], close: &str) -> fmt::Result {
    out.write_str(open)?;
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        write_expr(out, a, 0, 0)?;
    }
    out.write_str(close)
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self, 0, 0)
    }
}

impl fmt::Display for ClaimExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.relation.symbol(), self.rhs)
    }
}

/// The tree fully parenthesised: `1 + 2*3^-x` is `(+ 1 (* 2 (^ 3 (neg x))))`.
pub fn sexpr(e: &Expr) -> String {
    let mut out = String::new();
    write_sexpr(&mut out, e);
    out
}

fn write_sexpr(out: &mut String, e: &Expr) {
    let list = |out: &mut String, head: &str, items: &mut dyn Iterator<Item = &Expr>| {
        out.push('(');
        out.push_str(head);
        for item in items {
            out.push(' ');
            write_sexpr(out, item);
        }
        out.push(')');
    };
    match &e.kind {
        ExprKind::Num(v) if v.is_sign_negative() => {
            out.push('-');
            out.push_str(&number(-v));
        }
        ExprKind::Num(v) => out.push_str(&number(*v)),
        ExprKind::Name(n) => out.push_str(n),
        ExprKind::Neg(a) => list(out, "neg", &mut std::iter::once(&**a)),
        ExprKind::Binary(op, a, b) => list(out, op.symbol().trim(), &mut [&**a, &**b].into_iter()),
        ExprKind::Call {
            func, primes, args, ..
        } => {
            let head = format!("{func}{}", "'".repeat(*primes as usize));
            list(out, &head, &mut args.iter());
        }
        ExprKind::Moment(op, args) => list(out, moment_name(*op), &mut args.iter()),
        ExprKind::Sum(n, body) => list(out, "sum", &mut [&**n, &**body].into_iter()),
        ExprKind::IndexedSum {
            index, count, body, ..
        } => list(
            out,
            &format!("sum {index}"),
            &mut [&**count, &**body].into_iter(),
        ),
        ExprKind::Subscript { name, index, .. } => {
            out.push_str(name);
            out.push('[');
            out.push_str(index);
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{BinOp, parse_claim, parse_expr};
    use proptest::prelude::*;

    /// `e` with every span zeroed, so trees compare by shape alone.
    fn unspanned(e: &Expr) -> Expr {
        let z = || 0..0;
        let kind = match &e.kind {
            ExprKind::Num(_) | ExprKind::Name(_) => e.kind.clone(),
            ExprKind::Neg(a) => ExprKind::Neg(Box::new(unspanned(a))),
            ExprKind::Binary(op, a, b) => {
                ExprKind::Binary(*op, Box::new(unspanned(a)), Box::new(unspanned(b)))
            }
            ExprKind::Call {
                func, primes, args, ..
            } => ExprKind::Call {
                func: func.clone(),
                func_span: z(),
                primes: *primes,
                args: args.iter().map(unspanned).collect(),
            },
            ExprKind::Moment(op, args) => {
                ExprKind::Moment(*op, args.iter().map(unspanned).collect())
            }
            ExprKind::Sum(n, b) => ExprKind::Sum(Box::new(unspanned(n)), Box::new(unspanned(b))),
            ExprKind::IndexedSum {
                index, count, body, ..
            } => ExprKind::IndexedSum {
                index: index.clone(),
                index_span: z(),
                count: Box::new(unspanned(count)),
                body: Box::new(unspanned(body)),
            },
            ExprKind::Subscript { name, index, .. } => ExprKind::Subscript {
                name: name.clone(),
                index: index.clone(),
                index_span: z(),
            },
        };
        Expr::new(kind, z())
    }

    /// Each line: input, then how it prints (fewest parentheses).
    #[test]
    fn minimal_parentheses() {
        let table = [
            ("1 + 2*3^-x", "1 + 2*3^-x"),
            ("((a))", "a"),
            ("a - (b - c)", "a - (b - c)"),
            ("(a - b) - c", "a - b - c"),
            ("a / (b * c)", "a/(b*c)"),
            ("(a / b) * c", "a/b*c"),
            ("2^(3^4)", "2^3^4"),
            ("(2^3)^4", "(2^3)^4"),
            ("-(2)^2", "-2^2"),
            ("(-2)^2", "(-2)^2"),
            ("-(a*b)", "-(a*b)"),
            ("(-a)*b", "-a*b"),
            ("-(-x)", "--x"),
            ("a - (-b)", "a - -b"),
            ("2^(-x^2)", "2^-x^2"),
            ("(2^-x)^2", "(2^-x)^2"),
            ("-(x + 1)", "-(x + 1)"),
            ("E[(x)^2] - (E[x])^2", "E[x^2] - E[x]^2"),
            ("Cov[u , v]", "Cov[u, v]"),
            ("sum(n, (w*x))", "sum(n, w*x)"),
            ("relu''( y )", "relu''(y)"),
            (
                "0.1 + 1e-300 + 1.5e300 + 123456",
                "0.1 + 1e-300 + 1.5e300 + 123456",
            ),
            ("2*e", "2*e"),
        ];
        for (input, want) in table {
            let e = parse_expr(input).unwrap();
            assert_eq!(e.to_string(), want, "input: {input}");
        }
        let claim = parse_claim("E[x^2]   ~=  Var[y]/2").unwrap();
        assert_eq!(claim.to_string(), "E[x^2] ~= Var[y]/2");
    }

    #[test]
    fn negative_numbers_print_like_a_prefix_minus() {
        let two = || Box::new(Expr::new(ExprKind::Num(2.0), 0..0));
        let minus_three = || Box::new(Expr::new(ExprKind::Num(-3.0), 0..0));
        let pow = Expr::new(ExprKind::Binary(BinOp::Pow, minus_three(), two()), 0..0);
        assert_eq!(pow.to_string(), "(-3)^2");
        let mul = Expr::new(ExprKind::Binary(BinOp::Mul, minus_three(), two()), 0..0);
        assert_eq!(mul.to_string(), "-3*2");
        let pow = Expr::new(ExprKind::Binary(BinOp::Pow, two(), minus_three()), 0..0);
        assert_eq!(pow.to_string(), "2^-3");
        assert_eq!(sexpr(&pow), "(^ 2 -3)");
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z_][a-zA-Z0-9_]{0,3}"
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            (0u32..100).prop_map(f64::from),
            Just(0.5),
            Just(1e-300),
            Just(1.5e300),
            Just(5e-324),
            Just(f64::MAX),
            (0.0..1e6f64),
            any::<f64>().prop_filter("finite, not negative", |x| x.is_finite()
                && !x.is_sign_negative()),
        ]
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            number().prop_map(ExprKind::Num),
            name().prop_map(ExprKind::Name),
        ]
        .prop_map(|k| Expr::new(k, 0..0));
        leaf.prop_recursive(6, 64, 3, |inner| {
            let b = |e: Expr| Box::new(e);
            let op = prop_oneof![
                Just(BinOp::Add),
                Just(BinOp::Sub),
                Just(BinOp::Mul),
                Just(BinOp::Div),
                Just(BinOp::Pow)
            ];
            let moment = prop_oneof![
                inner
                    .clone()
                    .prop_map(|a| ExprKind::Moment(MomentOp::E, vec![a])),
                inner
                    .clone()
                    .prop_map(|a| ExprKind::Moment(MomentOp::Var, vec![a])),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, c)| ExprKind::Moment(MomentOp::Cov, vec![a, c])),
            ];
            prop_oneof![
                inner.clone().prop_map(move |a| ExprKind::Neg(b(a))),
                (op, inner.clone(), inner.clone()).prop_map(move |(op, l, r)| ExprKind::Binary(
                    op,
                    b(l),
                    b(r)
                )),
                (
                    name().prop_filter("sum is a keyword call", |n| n != "sum"),
                    0u32..3,
                    prop::collection::vec(inner.clone(), 1..3)
                )
                    .prop_map(|(func, primes, args)| ExprKind::Call {
                        func,
                        func_span: 0..0,
                        primes,
                        args
                    }),
                moment,
                (inner.clone(), inner.clone()).prop_map(move |(n, t)| ExprKind::Sum(b(n), b(t))),
                (name(), inner.clone(), inner).prop_map(move |(index, n, t)| {
                    ExprKind::IndexedSum {
                        index,
                        index_span: 0..0,
                        count: b(n),
                        body: b(t),
                    }
                }),
                (
                    name().prop_filter("E, Var and Cov take moments", |n| {
                        !matches!(n.as_str(), "E" | "Var" | "Cov")
                    }),
                    name()
                )
                    .prop_map(|(name, index)| ExprKind::Subscript {
                        name,
                        index,
                        index_span: 0..0,
                    }),
            ]
            .prop_map(|k| Expr::new(k, 0..0))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Printing then parsing gives back the tree: the printer never
        /// drops a needed parenthesis, and numbers survive exactly.
        #[test]
        fn print_then_parse_is_identity(e in expr()) {
            let printed = e.to_string();
            let parsed = parse_expr(&printed)
                .map_err(|err| TestCaseError::fail(format!("{printed}: {err}")))?;
            prop_assert_eq!(unspanned(&parsed), e, "printed as {}", printed);
        }

        /// Every node's span is the text of that node: re-parsing the
        /// slice gives the same subtree.
        #[test]
        fn spans_slice_out_subtrees(e in expr()) {
            let printed = e.to_string();
            let parsed = parse_expr(&printed).unwrap();
            if let ExprKind::Binary(_, l, r) = &parsed.kind {
                for side in [l, r] {
                    let again = parse_expr(&printed[side.span.clone()]).unwrap();
                    prop_assert_eq!(unspanned(&again), unspanned(side));
                }
            }
        }
    }
}
