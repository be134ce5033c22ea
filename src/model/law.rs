//! SKELETON — to be completed by the law helper (see brief). Signatures are fixed.

use rand::Rng;

/// A univariate law of a base variable.
#[derive(Clone, Debug, PartialEq)]
pub enum Law {
    Normal { mean: f64, sd: f64 },
    Uniform { lo: f64, hi: f64 },
    Laplace { loc: f64, scale: f64 },
    StudentsT { loc: f64, scale: f64, dof: f64 },
    Cauchy { loc: f64, scale: f64 },
    Exponential { rate: f64 },
    Gamma { shape: f64, rate: f64 },
    Beta { a: f64, b: f64 },
    LogNormal { mu: f64, sigma: f64 },
    Triangular { lo: f64, hi: f64, mode: f64 },
    Bernoulli { p: f64 },
    TruncatedNormal { mean: f64, sd: f64, lo: f64, hi: f64 },
}

/// A parameter that is out of range: which one (0-based) and what is valid.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamError {
    pub index: usize,
    pub message: String,
}

/// Why a raw moment has no number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoMoment {
    /// The integral diverges (Cauchy; StudentsT with dof <= k).
    Undefined,
}

impl Law {
    /// Law names, with their parameter names, for messages: `("Normal", &["mean", "sd"])`.
    pub const SIGNATURES: &'static [(&'static str, &'static [&'static str])] = &[];

    pub fn new(name: &str, params: &[f64]) -> Result<Law, ParamError> {
        let _ = (name, params);
        todo!()
    }
    pub fn raw_moment(&self, k: u32) -> Result<f64, NoMoment> {
        let _ = k;
        todo!()
    }
    pub fn pdf(&self, x: f64) -> f64 {
        let _ = x;
        todo!()
    }
    pub fn support(&self) -> (f64, f64) {
        todo!()
    }
    pub fn atoms(&self) -> Option<&'static [f64]> {
        todo!()
    }
    pub fn pmf(&self, x: f64) -> f64 {
        let _ = x;
        todo!()
    }
    pub fn scale_hint(&self) -> (f64, f64) {
        todo!()
    }
    pub fn tail_index(&self) -> f64 {
        todo!()
    }
    pub fn is_symmetric_about(&self) -> Option<f64> {
        todo!()
    }
    pub fn is_gaussian(&self) -> bool {
        todo!()
    }
    pub fn fill<R: Rng>(&self, rng: &mut R, out: &mut [f64]) {
        let _ = (rng, out);
        todo!()
    }
}

/// A bivariate normal pair with zero means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bivariate {
    pub sd_u: f64,
    pub sd_v: f64,
    pub rho: f64,
}

impl Bivariate {
    pub fn new(params: &[f64]) -> Result<Bivariate, ParamError> {
        let _ = params;
        todo!()
    }
    pub fn fill<R: Rng>(&self, rng: &mut R, u: &mut [f64], v: &mut [f64]) {
        let _ = (rng, u, v);
        todo!()
    }
}
