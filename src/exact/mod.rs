//! Exact evaluation.

pub mod closed;
pub mod kinks;
pub mod quad;
