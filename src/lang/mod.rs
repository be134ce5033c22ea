//! The claim language: syntax tree, built-in table.

pub mod ast;
pub mod builtin;
