//! Sampled evaluation.
