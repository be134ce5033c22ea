//! Exact evaluation.
