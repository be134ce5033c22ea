//! The built-in functions: their names, arities, values and kinks.
//!
//! This is the one table every stage shares. The parser only checks names
//! against it; the derivative rules (in `deriv`) are written in the language
//! itself; the exact engine asks it where a function is not smooth, so that
//! quadrature can split there; the sampling kernels call `eval` once per lane.
//!
//! Conventions at kinks are PyTorch's: a derivative at a kink is the value
//! PyTorch's backward pass gives there, because the audit is about what
//! training computes. So `step(0) = 0` and `relu'(0) = 0`,
//! `hardtanh'(-1) = hardtanh'(1) = 0`, `leaky_relu'(0, a) = a` and
//! `elu'(0, a) = a`. A set of measure zero never changes an expectation of
//! a continuous law, but it can under a discrete one (`Bernoulli`), and it
//! must be the same everywhere.

/// SELU's constants (Klambauer et al. 2017), to the digits of the paper.
pub const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    Sqrt,
    Exp,
    Log,
    Abs,
    Sign,
    Step,
    Min,
    Max,
    Sin,
    Cos,
    Tanh,
    Erf,
    Erfc,
    NormCdf,
    NormPdf,
    Asin,
    Acos,
    Atan,
    Relu,
    LeakyRelu,
    Prelu,
    Elu,
    Selu,
    Gelu,
    Silu,
    Softplus,
    Sigmoid,
    Mish,
    Hardtanh,
    Identity,
}

/// Where a function fails to be smooth, as a condition on its arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kinks {
    /// Smooth everywhere on its domain.
    None,
    /// Not smooth where the first argument equals one of these points.
    At(&'static [f64]),
    /// Not smooth where the first two arguments are equal (`min`, `max`).
    WhereEqual,
}

impl Builtin {
    pub const ALL: [Builtin; 30] = [
        Builtin::Sqrt,
        Builtin::Exp,
        Builtin::Log,
        Builtin::Abs,
        Builtin::Sign,
        Builtin::Step,
        Builtin::Min,
        Builtin::Max,
        Builtin::Sin,
        Builtin::Cos,
        Builtin::Tanh,
        Builtin::Erf,
        Builtin::Erfc,
        Builtin::NormCdf,
        Builtin::NormPdf,
        Builtin::Asin,
        Builtin::Acos,
        Builtin::Atan,
        Builtin::Relu,
        Builtin::LeakyRelu,
        Builtin::Prelu,
        Builtin::Elu,
        Builtin::Selu,
        Builtin::Gelu,
        Builtin::Silu,
        Builtin::Softplus,
        Builtin::Sigmoid,
        Builtin::Mish,
        Builtin::Hardtanh,
        Builtin::Identity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::Sqrt => "sqrt",
            Builtin::Exp => "exp",
            Builtin::Log => "log",
            Builtin::Abs => "abs",
            Builtin::Sign => "sign",
            Builtin::Step => "step",
            Builtin::Min => "min",
            Builtin::Max => "max",
            Builtin::Sin => "sin",
            Builtin::Cos => "cos",
            Builtin::Tanh => "tanh",
            Builtin::Erf => "erf",
            Builtin::Erfc => "erfc",
            Builtin::NormCdf => "Phi",
            Builtin::NormPdf => "phi",
            Builtin::Asin => "asin",
            Builtin::Acos => "acos",
            Builtin::Atan => "atan",
            Builtin::Relu => "relu",
            Builtin::LeakyRelu => "leaky_relu",
            Builtin::Prelu => "prelu",
            Builtin::Elu => "elu",
            Builtin::Selu => "selu",
            Builtin::Gelu => "gelu",
            Builtin::Silu => "silu",
            Builtin::Softplus => "softplus",
            Builtin::Sigmoid => "sigmoid",
            Builtin::Mish => "mish",
            Builtin::Hardtanh => "hardtanh",
            Builtin::Identity => "identity",
        }
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.iter().copied().find(|b| b.name() == name)
    }

    /// Fewest and most arguments. Optional trailing arguments take
    /// [`Builtin::defaults`].
    pub fn arity(self) -> (usize, usize) {
        match self {
            Builtin::Min | Builtin::Max | Builtin::Prelu => (2, 2),
            Builtin::LeakyRelu | Builtin::Elu => (1, 2),
            _ => (1, 1),
        }
    }

    /// Values of the optional trailing arguments: leaky_relu's slope is
    /// PyTorch's 0.01, elu's alpha is 1.
    pub fn default_args(self) -> &'static [f64] {
        match self {
            Builtin::LeakyRelu => &[0.01],
            Builtin::Elu => &[1.0],
            _ => &[],
        }
    }

    /// A human description of the call form, for error messages.
    pub fn signature(self) -> String {
        match self {
            Builtin::Min | Builtin::Max => format!("{}(a, b)", self.name()),
            Builtin::Prelu => "prelu(x, a)".to_string(),
            Builtin::LeakyRelu => "leaky_relu(x) or leaky_relu(x, a)".to_string(),
            Builtin::Elu => "elu(x) or elu(x, a)".to_string(),
            _ => format!("{}(x)", self.name()),
        }
    }

    pub fn is_activation(self) -> bool {
        self >= Builtin::Relu || self == Builtin::Tanh
    }

    pub fn kinks(self) -> Kinks {
        const ZERO: &[f64] = &[0.0];
        match self {
            Builtin::Abs
            | Builtin::Sign
            | Builtin::Step
            | Builtin::Relu
            | Builtin::LeakyRelu
            | Builtin::Prelu
            | Builtin::Elu
            | Builtin::Selu
            | Builtin::Sqrt
            | Builtin::Log => Kinks::At(ZERO),
            Builtin::Hardtanh | Builtin::Asin | Builtin::Acos => Kinks::At(&[-1.0, 1.0]),
            Builtin::Min | Builtin::Max => Kinks::WhereEqual,
            _ => Kinks::None,
        }
    }

    /// The value at `args` (already padded with defaults to the full arity).
    /// Outside the domain the result is NaN, which callers report.
    #[inline]
    pub fn eval(self, args: &[f64]) -> f64 {
        let x = args[0];
        match self {
            Builtin::Sqrt => x.sqrt(),
            Builtin::Exp => x.exp(),
            Builtin::Log => x.ln(),
            Builtin::Abs => x.abs(),
            Builtin::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Builtin::Step => step(x),
            Builtin::Min => x.min(args[1]),
            Builtin::Max => x.max(args[1]),
            Builtin::Sin => x.sin(),
            Builtin::Cos => x.cos(),
            Builtin::Tanh => x.tanh(),
            Builtin::Erf => libm::erf(x),
            Builtin::Erfc => libm::erfc(x),
            Builtin::NormCdf => norm_cdf(x),
            Builtin::NormPdf => norm_pdf(x),
            Builtin::Asin => x.asin(),
            Builtin::Acos => x.acos(),
            Builtin::Atan => x.atan(),
            Builtin::Relu => x.max(0.0),
            Builtin::LeakyRelu | Builtin::Prelu => {
                if x > 0.0 {
                    x
                } else {
                    args[1] * x
                }
            }
            Builtin::Elu => elu(x, args[1]),
            Builtin::Selu => SELU_LAMBDA * elu(x, SELU_ALPHA),
            Builtin::Gelu => x * norm_cdf(x),
            Builtin::Silu => x * sigmoid(x),
            Builtin::Softplus => softplus(x),
            Builtin::Sigmoid => sigmoid(x),
            Builtin::Mish => x * softplus(x).tanh(),
            Builtin::Hardtanh => x.clamp(-1.0, 1.0),
            Builtin::Identity => x,
        }
    }
}

#[inline]
fn step(x: f64) -> f64 {
    if x > 0.0 { 1.0 } else { 0.0 }
}

#[inline]
fn elu(x: f64, a: f64) -> f64 {
    if x > 0.0 { x } else { a * x.exp_m1() }
}

/// Standard normal cdf, accurate in both tails (erfc, not 1 - erf). libm's
/// erfc (musl's) is within an ulp; statrs 0.19's is off by ~1e-10 relative
/// above 1/2, which an exact engine cannot afford.
#[inline]
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

#[inline]
pub fn norm_pdf(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

#[inline]
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^x) without overflow for large x or loss for very negative x.
#[inline]
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Builtin::ALL {
            assert_eq!(Builtin::from_name(b.name()), Some(b));
        }
        assert_eq!(Builtin::from_name("Relu"), None);
    }

    #[test]
    fn values_against_independent_forms() {
        // softplus and sigmoid against their naive forms where those are exact enough
        for &x in &[-3.0, -0.5, 0.0, 0.7, 4.0] {
            let sp = Builtin::Softplus.eval(&[x]);
            assert!((sp - (1.0 + f64::exp(x)).ln()).abs() < 1e-15);
            let s = Builtin::Sigmoid.eval(&[x]);
            assert!((s - 1.0 / (1.0 + f64::exp(-x))).abs() < 1e-15);
        }
        // softplus stays finite and exact where the naive form overflows
        assert_eq!(Builtin::Softplus.eval(&[1000.0]), 1000.0);
        // Phi(-1) = 0.15865525393145705 (erfc(1/sqrt2)/2, to 17 digits)
        assert!((Builtin::NormCdf.eval(&[-1.0]) - 0.158_655_253_931_457_05).abs() < 1e-16);
        // selu is continuous at 0 and has slope lambda*alpha just left of it
        assert_eq!(Builtin::Selu.eval(&[0.0]), 0.0);
        let h = 1e-8;
        let left = (Builtin::Selu.eval(&[0.0]) - Builtin::Selu.eval(&[-h])) / h;
        assert!((left - SELU_LAMBDA * SELU_ALPHA).abs() < 1e-6);
        assert_eq!(Builtin::Relu.eval(&[0.0]), 0.0);
        assert_eq!(Builtin::Step.eval(&[0.0]), 0.0);
        assert_eq!(Builtin::LeakyRelu.eval(&[-2.0, 0.01]), -0.02);
    }
}
