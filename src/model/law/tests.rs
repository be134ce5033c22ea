//! Tests of the laws against statrs, high-precision values, integration and
//! sampling.

use super::*;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use statrs::distribution::{Continuous, ContinuousCDF};
use statrs::statistics::Distribution as _;
use std::f64::consts::SQRT_2;

fn law(name: &str, params: &[f64]) -> Law {
    Law::new(name, params).unwrap()
}

/// One law of every kind, with parameters away from the special cases.
fn zoo() -> Vec<Law> {
    vec![
        law("Normal", &[0.7, 1.3]),
        law("Uniform", &[-0.5, 2.0]),
        law("Laplace", &[0.3, 0.8]),
        law("StudentsT", &[0.2, 1.1, 9.0]),
        law("Cauchy", &[-0.4, 0.6]),
        law("Exponential", &[1.7]),
        law("Gamma", &[2.5, 1.5]),
        law("Beta", &[2.0, 3.5]),
        law("LogNormal", &[0.1, 0.4]),
        law("Triangular", &[-1.0, 2.0, 0.5]),
        law("Bernoulli", &[0.3]),
        law("TruncatedNormal", &[0.5, 1.2, -1.0, 2.5]),
    ]
}

/// Composite Simpson rule with `n` (even) panels: an integrator
/// independent of every closed form in this module.
fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let mut s = f(a) + f(b);
    for i in 1..n {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        s += w * f(a + h * i as f64);
    }
    s * h / 3.0
}

/// Simpson over consecutive breakpoints (kinks and a widening grid).
fn integrate(f: impl Fn(f64) -> f64, breaks: &[f64]) -> f64 {
    breaks
        .windows(2)
        .map(|w| simpson(&f, w[0], w[1], 20_000))
        .sum()
}

/// Breakpoints covering the support of `law`, split at its kinks, with
/// panels widening geometrically into infinite tails.
fn grid(law: &Law) -> Vec<f64> {
    let (lo, hi) = law.support();
    let (c, s) = law.scale_hint();
    let mut pts = vec![];
    let mut kinks = vec![];
    match *law {
        Law::Laplace { loc, .. } => kinks.push(loc),
        Law::Triangular { mode, .. } => kinks.push(mode),
        _ => {}
    }
    let reach = |dir: f64| {
        (0..12)
            .map(|i| c + dir * s * 4f64.powi(i))
            .collect::<Vec<_>>()
    };
    pts.push(if lo.is_finite() {
        lo
    } else {
        c - s * 4f64.powi(14)
    });
    pts.extend(reach(-1.0));
    pts.push(c);
    pts.extend(reach(1.0));
    pts.push(if hi.is_finite() {
        hi
    } else {
        c + s * 4f64.powi(14)
    });
    pts.extend(kinks);
    let mut pts: Vec<f64> = pts.into_iter().filter(|&x| lo <= x && x <= hi).collect();
    pts.sort_by(f64::total_cmp);
    pts.dedup();
    pts
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-300)
}

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

// ---- density, support, scale ----

type Density = Box<dyn Fn(f64) -> f64>;

#[test]
fn pdf_matches_statrs() {
    use statrs::distribution as sd;
    let xs = [-3.1, -0.9, 0.0, 0.05, 0.4, 0.77, 1.5, 2.9, 7.0];
    let pairs: Vec<(Law, Density)> = vec![
        (law("Normal", &[0.7, 1.3]), {
            let d = sd::Normal::new(0.7, 1.3).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("Uniform", &[-0.5, 2.0]), {
            let d = sd::Uniform::new(-0.5, 2.0).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("Laplace", &[0.3, 0.8]), {
            let d = sd::Laplace::new(0.3, 0.8).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("StudentsT", &[0.2, 1.1, 9.0]), {
            let d = sd::StudentsT::new(0.2, 1.1, 9.0).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("StudentsT", &[0.0, 1.0, 70.0]), {
            let d = sd::StudentsT::new(0.0, 1.0, 70.0).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("Cauchy", &[-0.4, 0.6]), {
            let d = sd::Cauchy::new(-0.4, 0.6).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("Exponential", &[1.7]), {
            let d = sd::Exp::new(1.7).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("Gamma", &[2.5, 1.5]), {
            let d = sd::Gamma::new(2.5, 1.5).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("Beta", &[2.0, 3.5]), {
            let d = sd::Beta::new(2.0, 3.5).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("LogNormal", &[0.1, 0.4]), {
            let d = sd::LogNormal::new(0.1, 0.4).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
        (law("Triangular", &[-1.0, 2.0, 0.5]), {
            let d = sd::Triangular::new(-1.0, 2.0, 0.5).unwrap();
            Box::new(move |x| d.pdf(x))
        }),
    ];
    for (l, f) in &pairs {
        for &x in &xs {
            let (got, want) = (l.pdf(x), f(x));
            assert!(
                close(got, want, 1e-12) || (got == 0.0 && want == 0.0),
                "{l:?} at {x}: {got} vs statrs {want}"
            );
        }
    }
}

#[test]
fn truncated_pdf_is_renormalized_normal() {
    let l = law("TruncatedNormal", &[0.5, 1.2, -1.0, 2.5]);
    let n = statrs::distribution::Normal::new(0.5, 1.2).unwrap();
    // statrs's cdf is only good to ~1e-10 (its erf); libm's erf is not.
    let (a, b) = ((-1.0 - 0.5) / 1.2, (2.5 - 0.5) / 1.2);
    let mass = 0.5 * (libm::erf(b / SQRT_2) - libm::erf(a / SQRT_2));
    for x in [-1.0, -0.3, 0.5, 1.9, 2.5] {
        assert!(close(l.pdf(x), n.pdf(x) / mass, 1e-13));
    }
    assert_eq!(l.pdf(-1.0001), 0.0);
    assert_eq!(l.pdf(2.5001), 0.0);
}

#[test]
fn densities_integrate_to_one() {
    for l in zoo().iter().filter(|l| l.atoms().is_none()) {
        let total = integrate(|x| l.pdf(x), &grid(l));
        // Cauchy's tails beyond 4^14 scales hold 2/(pi 4^14) of the mass.
        let tol = if matches!(l, Law::Cauchy { .. }) {
            1e-8
        } else {
            1e-10
        };
        assert!(close(total, 1.0, tol), "{l:?}: {total}");
    }
}

#[test]
fn student_t_constant_at_large_dof() {
    // Against 40-digit values of ln Gamma(x + 1/2) - ln Gamma(x) (mpmath).
    let truth = [
        (0.5, -0.5723649429247001),
        (1.0, -0.12078223763524522),
        (2.5, 0.40846431008702616),
        (10.0, 1.1387977393222941),
        (17.5, 1.4239585541895394),
        (19.9, 1.489079119236098),
        (20.0, 1.491616787331304),
        (25.0, 1.6044382456076276),
        (80.0, 2.18945082750899),
    ];
    for (x, want) in truth {
        let got = ln_gamma_half_ratio(x);
        assert!((got - want).abs() < 1e-14, "{x}: {got} vs {want}");
    }
    // Far out the density tends to the normal's, to O(1/dof).
    let t = law("StudentsT", &[0.0, 1.0, 1e12]);
    for x in [0.0, 1.0, 2.5] {
        assert!(close(t.pdf(x), special::pdf(x), 1e-11), "{x}");
    }
}

#[test]
fn densities_at_endpoints() {
    assert_eq!(law("Gamma", &[0.5, 1.0]).pdf(0.0), f64::INFINITY);
    assert_eq!(law("Gamma", &[1.0, 2.5]).pdf(0.0), 2.5);
    assert_eq!(law("Gamma", &[3.0, 1.0]).pdf(0.0), 0.0);
    assert_eq!(law("Beta", &[1.0, 4.0]).pdf(0.0), 4.0);
    assert_eq!(law("Beta", &[4.0, 1.0]).pdf(1.0), 4.0);
    assert_eq!(law("Beta", &[2.0, 0.5]).pdf(1.0), f64::INFINITY);
    assert_eq!(law("Exponential", &[2.0]).pdf(-1e-9), 0.0);
    assert_eq!(law("LogNormal", &[0.0, 1.0]).pdf(0.0), 0.0);
    assert_eq!(law("Bernoulli", &[0.3]).pdf(1.0), 0.0);
    // Degenerate triangles: the mode at an end.
    let left = law("Triangular", &[0.0, 2.0, 0.0]);
    assert_eq!(left.pdf(0.0), 1.0);
    assert_eq!(left.pdf(1.0), 0.5);
}

#[test]
fn atoms_and_pmf() {
    let b = law("Bernoulli", &[0.3]);
    assert_eq!(b.atoms(), Some(&[0.0, 1.0][..]));
    assert_eq!(b.pmf(1.0), 0.3);
    assert_eq!(b.pmf(0.0), 0.7);
    assert_eq!(b.pmf(0.5), 0.0);
    for l in zoo().iter().filter(|l| !matches!(l, Law::Bernoulli { .. })) {
        assert_eq!(l.atoms(), None);
        assert_eq!(l.pmf(0.0), 0.0);
    }
}

#[test]
fn supports() {
    let inf = f64::INFINITY;
    assert_eq!(law("Normal", &[0.0, 1.0]).support(), (-inf, inf));
    assert_eq!(law("Cauchy", &[0.0, 1.0]).support(), (-inf, inf));
    assert_eq!(law("Gamma", &[2.0, 1.0]).support(), (0.0, inf));
    assert_eq!(law("LogNormal", &[0.0, 1.0]).support(), (0.0, inf));
    assert_eq!(law("Beta", &[2.0, 1.0]).support(), (0.0, 1.0));
    assert_eq!(law("Triangular", &[-1.0, 3.0, 0.0]).support(), (-1.0, 3.0));
    let t = law("TruncatedNormal", &[0.0, 1.0, -inf, 2.0]);
    assert_eq!(t.support(), (-inf, 2.0));
    // The density vanishes just outside every finite end.
    for l in zoo().iter().filter(|l| l.atoms().is_none()) {
        let (lo, hi) = l.support();
        if lo.is_finite() {
            assert_eq!(l.pdf(lo - 1e-9 * (1.0 + lo.abs())), 0.0, "{l:?}");
        }
        if hi.is_finite() {
            assert_eq!(l.pdf(hi + 1e-9 * (1.0 + hi.abs())), 0.0, "{l:?}");
        }
    }
}

#[test]
fn scale_hints_locate_the_mass() {
    for l in zoo() {
        let (c, s) = l.scale_hint();
        assert!(c.is_finite() && s.is_finite() && s > 0.0, "{l:?}");
        let (lo, hi) = l.support();
        assert!(lo <= c && c <= hi, "{l:?}");
    }
    // Where a mean and sd exist they are the hint (checked against statrs).
    let g = statrs::distribution::Gamma::new(2.5, 1.5).unwrap();
    let (c, s) = law("Gamma", &[2.5, 1.5]).scale_hint();
    assert!(close(c, g.mean().unwrap(), 1e-15) && close(s, g.std_dev().unwrap(), 1e-15));
    let b = statrs::distribution::Beta::new(2.0, 3.5).unwrap();
    let (c, s) = law("Beta", &[2.0, 3.5]).scale_hint();
    assert!(close(c, b.mean().unwrap(), 1e-15) && close(s, b.std_dev().unwrap(), 1e-14));
    let t = statrs::distribution::Triangular::new(-1.0, 2.0, 0.5).unwrap();
    let (c, s) = law("Triangular", &[-1.0, 2.0, 0.5]).scale_hint();
    assert!(close(c, t.mean().unwrap(), 1e-15) && close(s, t.std_dev().unwrap(), 1e-14));
    // A far-tail truncation: the mass sits just above lo = 30, within
    // about 1/30 of it (the Mills ratio).
    let tail = law("TruncatedNormal", &[0.0, 1.0, 30.0, f64::INFINITY]);
    let (c, s) = tail.scale_hint();
    assert!(c > 30.0 && c < 30.05 && s > 0.02 && s < 0.04, "{c} {s}");
    // A very narrow truncation is nearly uniform: sd ~ width / sqrt(12).
    let narrow = law("TruncatedNormal", &[0.0, 1.0, 1.0, 1.0 + 1e-9]);
    let (c, s) = narrow.scale_hint();
    assert!((1.0..=1.0 + 1e-9).contains(&c));
    assert!(close(s, 1e-9 / 12f64.sqrt(), 1e-2), "{s}");
}

// ---- raw moments ----

#[test]
fn moments_match_statrs_mean_and_variance() {
    use statrs::distribution as sd;
    let pairs: Vec<(Law, Option<f64>, Option<f64>)> = {
        let mv = |d: &dyn statrs::statistics::Distribution<f64>| (d.mean(), d.variance());
        vec![
            (
                law("Normal", &[0.7, 1.3]),
                mv(&sd::Normal::new(0.7, 1.3).unwrap()),
            ),
            (
                law("Uniform", &[-0.5, 2.0]),
                mv(&sd::Uniform::new(-0.5, 2.0).unwrap()),
            ),
            (
                law("Laplace", &[0.3, 0.8]),
                mv(&sd::Laplace::new(0.3, 0.8).unwrap()),
            ),
            (
                law("StudentsT", &[0.2, 1.1, 9.0]),
                mv(&sd::StudentsT::new(0.2, 1.1, 9.0).unwrap()),
            ),
            (law("Exponential", &[1.7]), mv(&sd::Exp::new(1.7).unwrap())),
            (
                law("Gamma", &[2.5, 1.5]),
                mv(&sd::Gamma::new(2.5, 1.5).unwrap()),
            ),
            (
                law("Beta", &[2.0, 3.5]),
                mv(&sd::Beta::new(2.0, 3.5).unwrap()),
            ),
            (
                law("LogNormal", &[0.1, 0.4]),
                mv(&sd::LogNormal::new(0.1, 0.4).unwrap()),
            ),
            (
                law("Triangular", &[-1.0, 2.0, 0.5]),
                mv(&sd::Triangular::new(-1.0, 2.0, 0.5).unwrap()),
            ),
            (
                law("Bernoulli", &[0.3]),
                mv(&sd::Bernoulli::new(0.3).unwrap()),
            ),
        ]
        .into_iter()
        .map(|(l, (m, v))| (l, m, v))
        .collect()
    };
    for (l, mean, var) in pairs {
        let (mean, var) = (mean.unwrap(), var.unwrap());
        let m1 = l.raw_moment(1).unwrap();
        let m2 = l.raw_moment(2).unwrap();
        assert!(close(m1, mean, 1e-14), "{l:?}: mean {m1} vs {mean}");
        assert!(
            close(m2 - m1 * m1, var, 1e-13),
            "{l:?}: var {} vs {var}",
            m2 - m1 * m1
        );
    }
}

#[test]
fn moments_match_simpson_integration() {
    let mut laws = zoo();
    laws.retain(|l| l.atoms().is_none() && !matches!(l, Law::Cauchy { .. }));
    laws.extend([
        law("Normal", &[-2.0, 0.5]),
        law("Uniform", &[1.0, 3.0]),
        law("Uniform", &[-3.0, -1.0]),
        law("Laplace", &[-1.5, 2.0]),
        law("StudentsT", &[-0.3, 0.9, 14.5]),
        law("Beta", &[3.0, 3.0]),
        law("Triangular", &[0.0, 1.0, 1.0]),
        law("Triangular", &[-2.0, -1.0, -1.8]),
        law("TruncatedNormal", &[1.0, 2.0, f64::NEG_INFINITY, 1.5]),
        law("TruncatedNormal", &[-1.0, 0.5, -0.2, f64::INFINITY]),
    ]);
    for l in &laws {
        let breaks = grid(l);
        for k in 1..=6u32 {
            if f64::from(k) >= l.tail_index() {
                continue;
            }
            let want = integrate(|x| l.pdf(x) * x.powi(k as i32), &breaks);
            // Odd moments may vanish: measure error against E|X|^k.
            let size = integrate(|x| l.pdf(x) * x.abs().powi(k as i32), &breaks);
            let got = l.raw_moment(k).unwrap();
            assert!(
                (got - want).abs() <= 1e-10 * size,
                "{l:?} k = {k}: {got} vs Simpson {want}"
            );
        }
    }
}

#[test]
fn gamma_and_beta_moments_against_special_functions() {
    use statrs::function::beta::beta;
    use statrs::function::gamma::gamma;
    // Shapes below 1 too, where the density is unbounded at 0 and
    // Simpson cannot be used: Gamma(shape + k) / (Gamma(shape) rate^k)
    // and B(a + k, b) / B(a, b).
    for (shape, rate) in [(0.7, 3.0), (2.5, 1.5), (0.2, 0.5)] {
        let l = law("Gamma", &[shape, rate]);
        for k in 1..=6u32 {
            let want = gamma(shape + f64::from(k)) / (gamma(shape) * rate.powi(k as i32));
            let got = l.raw_moment(k).unwrap();
            assert!(close(got, want, 1e-12), "{l:?} k = {k}: {got} vs {want}");
        }
    }
    for (a, b) in [(0.5, 0.5), (2.0, 3.5), (0.3, 4.0)] {
        let l = law("Beta", &[a, b]);
        for k in 1..=6u32 {
            let want = beta(a + f64::from(k), b) / beta(a, b);
            let got = l.raw_moment(k).unwrap();
            assert!(close(got, want, 1e-12), "{l:?} k = {k}: {got} vs {want}");
        }
    }
}

#[test]
fn lognormal_moments_by_integration_in_log_space() {
    // E[X^k] = integral of e^(k y) over the normal law of y = ln X,
    // integrated through the LogNormal density (dx = e^y dy).
    let (mu, sigma) = (0.1, 0.4);
    let l = law("LogNormal", &[mu, sigma]);
    for k in 1..=6 {
        let peak = mu + f64::from(k) * sigma * sigma;
        let want = simpson(
            |y: f64| l.pdf(y.exp()) * y.exp() * (f64::from(k) * y).exp(),
            peak - 40.0 * sigma,
            peak + 40.0 * sigma,
            200_000,
        );
        let got = l.raw_moment(k).unwrap();
        assert!(close(got, want, 1e-12), "k = {k}: {got} vs {want}");
    }
}

#[test]
fn moments_of_small_order_in_closed_form() {
    let m = |name: &str, p: &[f64], k| law(name, p).raw_moment(k).unwrap();
    // Standard normal: (k-1)!!; Laplace: k!; Exponential: k!/rate^k.
    assert_eq!(m("Normal", &[0.0, 1.0], 8), 105.0);
    assert_eq!(m("Normal", &[0.0, 1.0], 7), 0.0);
    assert_eq!(m("Laplace", &[0.0, 1.0], 6), 720.0);
    assert_eq!(m("Exponential", &[1.0], 5), 120.0);
    assert!(close(m("Exponential", &[2.0], 3), 6.0 / 8.0, 1e-15));
    // Student t: E[T^4] = 3 dof^2 / ((dof-2)(dof-4)).
    assert!(close(
        m("StudentsT", &[0.0, 1.0, 7.0], 4),
        3.0 * 49.0 / 15.0,
        1e-15
    ));
    // Gamma: shape (shape+1) / rate^2; Beta: a (a+1) / ((a+b)(a+b+1)).
    assert!(close(m("Gamma", &[2.5, 2.0], 2), 2.5 * 3.5 / 4.0, 1e-15));
    assert!(close(m("Beta", &[2.0, 3.0], 2), 6.0 / 30.0, 1e-15));
    // Bernoulli: every moment is p.
    assert_eq!(m("Bernoulli", &[0.3], 5), 0.3);
    // k = 0 is 1 for every law, including those without moments.
    for l in zoo().iter().chain([&law("Cauchy", &[0.0, 1.0])]) {
        assert_eq!(l.raw_moment(0), Ok(1.0));
    }
}

#[test]
fn moments_that_do_not_exist_are_undefined() {
    let c = law("Cauchy", &[0.0, 1.0]);
    assert_eq!(c.raw_moment(1), Err(NoMoment::Undefined));
    assert_eq!(c.raw_moment(2), Err(NoMoment::Undefined));
    let t = law("StudentsT", &[0.0, 1.0, 3.0]);
    assert!(t.raw_moment(2).is_ok());
    assert_eq!(t.raw_moment(3), Err(NoMoment::Undefined));
    assert_eq!(t.raw_moment(4), Err(NoMoment::Undefined));
    let t = law("StudentsT", &[1.0, 1.0, 2.5]);
    assert!(t.raw_moment(2).is_ok());
    assert_eq!(t.raw_moment(3), Err(NoMoment::Undefined));
}

#[test]
fn truncated_normal_moments_against_high_precision_values() {
    // 50-digit quadrature (mpmath, in the variable t = x - bound with the
    // factor phi(bound) taken out), rounded to f64.
    let inf = f64::INFINITY;
    let cases: [([f64; 4], [f64; 4], f64); 4] = [
        (
            [0.0, 1.0, 8.0, inf],
            [
                8.121368112236112,
                65.9709448978889,
                536.0102954075834,
                4356.053308158556,
            ],
            1e-15,
        ),
        (
            [0.0, 1.0, 30.0, inf],
            [
                30.033259667433676,
                901.9977900230103,
                27090.000220025177,
                813604.0043907783,
            ],
            1e-15,
        ),
        (
            [0.0, 1.0, -inf, -5.0],
            [
                -5.186503967125842,
                26.93251983562921,
                -140.03560711239774,
                729.1105553976179,
            ],
            1e-15,
        ),
        // An interval narrow against its distance from zero: its mass is a
        // difference of tail masses 700 times larger than itself, and
        // the recursion divides by it (formula-limited, ~1e-13).
        (
            [0.0, 1.0, 1.0, 1.001],
            [
                1.0004999166250041,
                1.0010001664999666,
                1.0015007498748123,
                1.0020016669996663,
            ],
            1e-12,
        ),
    ];
    for (p, want, tol) in cases {
        let l = law("TruncatedNormal", &p);
        for (k, w) in (1..=4).zip(want) {
            let got = l.raw_moment(k).unwrap();
            assert!(close(got, w, tol), "{p:?} k = {k}: {got} vs {w}");
        }
    }
    // docs/REFERENCES.md: the sd of N(0, 1) truncated to (-2, 2), by which
    // variance_scaling's truncated_normal divides.
    let sd = law("TruncatedNormal", &[0.0, 1.0, -2.0, 2.0])
        .raw_moment(2)
        .unwrap()
        .sqrt();
    assert!(close(sd, 0.879_625_661_034_239_8, 1e-15), "{sd}");
}

#[test]
fn uniform_moments_avoid_cancellation() {
    // (hi^(k+1) - lo^(k+1)) / ((k+1)(hi-lo)) at hi = 1.000001, lo = -1,
    // to 50 digits (mpmath): the naive form loses ~6 digits.
    let u = law("Uniform", &[-1.0, 1.000001]);
    assert!(close(u.raw_moment(3).unwrap(), 5.000004999591166e-7, 1e-14));
    assert!(close(u.raw_moment(5).unwrap(), 5.000009999600332e-7, 1e-14));
    assert_eq!(law("Uniform", &[-0.3, 0.3]).raw_moment(5), Ok(0.0));
    assert_eq!(law("Triangular", &[-0.3, 0.3, 0.0]).raw_moment(3), Ok(0.0));
}

#[test]
fn untruncated_normal_is_the_normal() {
    let inf = f64::INFINITY;
    let t = law("TruncatedNormal", &[0.4, 1.7, -inf, inf]);
    let n = law("Normal", &[0.4, 1.7]);
    for k in 0..=8 {
        assert!(close(
            t.raw_moment(k).unwrap(),
            n.raw_moment(k).unwrap(),
            1e-14
        ));
    }
    assert!(close(t.pdf(0.9), n.pdf(0.9), 1e-15));
    assert!(t.is_gaussian());
    assert_eq!(t.is_symmetric_about(), Some(0.4));
}

proptest::proptest! {
    /// Stein's identity E[X^k] = mean E[X^(k-1)] + (k-1) sd^2 E[X^(k-2)]
    /// holds for the binomial-expansion normal moments.
    #[test]
    fn normal_moments_satisfy_stein(mean in -3.0..3.0f64, sd in 0.1..3.0f64, k in 2..16u32) {
        let l = law("Normal", &[mean, sd]);
        let m = |j| l.raw_moment(j).unwrap();
        let rhs = mean * m(k - 1) + f64::from(k - 1) * sd * sd * m(k - 2);
        let size = (mean.abs() + sd).powi(k as i32) * 2f64.powi(k as i32);
        proptest::prop_assert!((m(k) - rhs).abs() <= 1e-13 * size);
    }

    /// Same-sign uniform bounds: the textbook form has no cancellation.
    #[test]
    fn uniform_moments_match_textbook(lo in 0.0..2.0f64, w in 0.01..3.0f64, k in 1..20u32, neg in proptest::bool::ANY) {
        let (lo, hi) = if neg { (-lo - w, -lo) } else { (lo, lo + w) };
        let k1 = f64::from(k) + 1.0;
        let want = (hi.powf(k1) - lo.powf(k1)) / (k1 * (hi - lo));
        let got = law("Uniform", &[lo, hi]).raw_moment(k).unwrap();
        proptest::prop_assert!(close(got, want, 1e-12 * k1 * (hi.abs() + lo.abs()) / w));
    }

    /// Shifting the law shifts its moments binomially:
    /// E[(X + c)^2] = E[X^2] + 2c E[X] + c^2, for every family with a location.
    #[test]
    fn moments_follow_a_shift(c in -2.0..2.0f64) {
        let pairs = [
            (law("Laplace", &[0.3, 0.8]), law("Laplace", &[0.3 + c, 0.8])),
            (law("StudentsT", &[0.2, 1.1, 9.0]), law("StudentsT", &[0.2 + c, 1.1, 9.0])),
            (law("Triangular", &[-1.0, 2.0, 0.5]), law("Triangular", &[-1.0 + c, 2.0 + c, 0.5 + c])),
            (law("TruncatedNormal", &[0.5, 1.2, -1.0, 2.5]), law("TruncatedNormal", &[0.5 + c, 1.2, -1.0 + c, 2.5 + c])),
        ];
        for (x, shifted) in pairs {
            let m = |j| x.raw_moment(j).unwrap();
            let want = m(2) + 2.0 * c * m(1) + c * c;
            let got = shifted.raw_moment(2).unwrap();
            proptest::prop_assert!((got - want).abs() <= 1e-13 * (m(2) + c * c + 1.0), "{:?}", x);
        }
    }
}

// ---- validation ----

fn rejects(name: &str, p: &[f64]) -> (usize, String) {
    let e = Law::new(name, p).unwrap_err();
    (e.index, e.message)
}

#[test]
fn parameter_errors_name_the_parameter() {
    let inf = f64::INFINITY;
    assert_eq!(
        rejects("Normal", &[0.0, -1.0]),
        (1, "sd must be > 0 (got -1)".into())
    );
    assert_eq!(
        rejects("Uniform", &[2.0, 1.0]),
        (1, "Uniform needs lo < hi (got lo = 2, hi = 1)".into())
    );
    assert_eq!(
        rejects("Normal", &[0.0, 1.0, 2.0]),
        (2, "Normal takes 2 parameters (mean, sd), got 3".into())
    );
    assert_eq!(
        rejects("Normal", &[0.0]),
        (1, "Normal takes 2 parameters (mean, sd), got 1".into())
    );
    assert_eq!(
        rejects("Exponential", &[]),
        (0, "Exponential takes 1 parameter (rate), got 0".into())
    );
    assert_eq!(
        rejects("Normal", &[f64::NAN, 1.0]),
        (0, "mean must be finite (got NaN)".into())
    );
    assert_eq!(
        rejects("Gamma", &[inf, 1.0]),
        (0, "shape must be finite (got inf)".into())
    );
    assert_eq!(
        rejects("Gamma", &[1.0, 0.0]),
        (1, "rate must be > 0 (got 0)".into())
    );
    assert_eq!(
        rejects("StudentsT", &[0.0, 1.0, 0.0]),
        (2, "dof must be > 0 (got 0)".into())
    );
    assert_eq!(
        rejects("Beta", &[-0.5, 1.0]),
        (0, "a must be > 0 (got -0.5)".into())
    );
    assert_eq!(
        rejects("Bernoulli", &[1.5]),
        (0, "p must be in [0, 1] (got 1.5)".into())
    );
    assert_eq!(
        rejects("Triangular", &[0.0, 1.0, 2.0]),
        (
            2,
            "Triangular needs lo <= mode <= hi (got lo = 0, hi = 1, mode = 2)".into()
        )
    );
    assert_eq!(rejects("Uniform", &[-1e308, 1e308]).0, 1);
    // The truncated normal's bounds alone may be infinite, outward only.
    assert!(Law::new("TruncatedNormal", &[0.0, 1.0, -inf, inf]).is_ok());
    assert_eq!(
        rejects("TruncatedNormal", &[0.0, 1.0, inf, inf]),
        (2, "lo must be finite or -inf (got inf)".into())
    );
    assert_eq!(
        rejects("TruncatedNormal", &[0.0, 1.0, 0.0, -inf]),
        (3, "hi must be finite or inf (got -inf)".into())
    );
    assert_eq!(
        rejects("TruncatedNormal", &[0.0, 1.0, 2.0, 1.0]),
        (
            3,
            "TruncatedNormal needs lo < hi (got lo = 2, hi = 1)".into()
        )
    );
    assert_eq!(rejects("TruncatedNormal", &[0.0, 1.0, f64::NAN, 1.0]).0, 2);
    // 40 sd out, the normal's mass is below what f64 ratios can carry.
    let (i, msg) = rejects("TruncatedNormal", &[0.0, 1.0, 40.0, inf]);
    assert_eq!(i, 2);
    assert!(msg.contains("mass"), "{msg}");
    assert!(Law::new("TruncatedNormal", &[0.0, 1.0, 35.0, inf]).is_ok());
}

#[test]
fn unknown_laws_list_the_known_ones() {
    let (i, msg) = rejects("Gaussian", &[0.0, 1.0]);
    assert_eq!(i, 0);
    for (name, _) in Law::SIGNATURES {
        assert!(msg.contains(name), "{msg}");
    }
    let (_, msg) = rejects("normal", &[0.0, 1.0]);
    assert!(msg.contains("did you mean `Normal`?"), "{msg}");
}

#[test]
fn every_signature_constructs_and_counts() {
    for (name, pnames) in Law::SIGNATURES {
        // A parameter list valid for every law: increasing, in (0, 1).
        let mut ok: Vec<f64> = (1..=pnames.len()).map(|i| i as f64 / 10.0).collect();
        if *name == "Triangular" {
            ok.swap(1, 2); // (lo, hi, mode) = (0.1, 0.3, 0.2)
        }
        if *name == "BivariateNormal" {
            assert!(Bivariate::new(&ok).is_ok());
            continue;
        }
        let l = Law::new(name, &ok).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        // The law's generic facts hold for it.
        let (c, s) = l.scale_hint();
        assert!(c.is_finite() && s > 0.0, "{name}");
        let mut extra = ok.clone();
        extra.push(0.5);
        let e = Law::new(name, &extra).unwrap_err();
        assert_eq!(e.index, pnames.len());
        assert!(
            e.message
                .starts_with(&format!("{name} takes {}", pnames.len()))
        );
    }
}

// ---- structural facts ----

#[test]
fn symmetry_gaussianity_and_tails() {
    let inf = f64::INFINITY;
    let sym = |name: &str, p: &[f64]| law(name, p).is_symmetric_about();
    assert_eq!(sym("Normal", &[0.7, 1.3]), Some(0.7));
    assert_eq!(sym("Uniform", &[-0.5, 2.0]), Some(0.75));
    assert_eq!(sym("Laplace", &[0.3, 0.8]), Some(0.3));
    assert_eq!(sym("StudentsT", &[0.2, 1.1, 2.0]), Some(0.2));
    assert_eq!(sym("Cauchy", &[-0.4, 0.6]), Some(-0.4));
    assert_eq!(sym("Triangular", &[-1.0, 1.0, 0.0]), Some(0.0));
    assert_eq!(sym("Triangular", &[0.1, 0.5, 0.3]), Some(0.3));
    assert_eq!(sym("Triangular", &[-1.0, 2.0, 0.0]), None);
    assert_eq!(sym("Beta", &[2.0, 2.0]), Some(0.5));
    assert_eq!(sym("Beta", &[2.0, 3.5]), None);
    assert_eq!(sym("TruncatedNormal", &[0.0, 1.0, -2.0, 2.0]), Some(0.0));
    assert_eq!(sym("TruncatedNormal", &[1.0, 1.0, -1.0, 3.0]), Some(1.0));
    assert_eq!(sym("TruncatedNormal", &[0.0, 1.0, -2.0, 2.5]), None);
    assert_eq!(sym("TruncatedNormal", &[0.0, 1.0, -inf, 2.0]), None);
    assert_eq!(sym("Bernoulli", &[0.5]), Some(0.5));
    assert_eq!(sym("Bernoulli", &[0.3]), None);
    assert_eq!(sym("Exponential", &[1.0]), None);
    assert_eq!(sym("Gamma", &[2.0, 1.0]), None);
    assert_eq!(sym("LogNormal", &[0.0, 0.1]), None);
    // A claimed centre must make the odd central moments vanish.
    for l in zoo() {
        if let Some(c) = l.is_symmetric_about()
            && l.tail_index() > 3.0
        {
            let m = |k| l.raw_moment(k).unwrap();
            let third = m(3) - 3.0 * c * m(2) + 3.0 * c * c * m(1) - c.powi(3);
            let size = m(2) * (m(1).abs() + m(2).sqrt()) + c.abs().powi(3);
            assert!(third.abs() <= 1e-13 * size, "{l:?}: {third}");
            assert!(close(m(1), c, 1e-14) || (m(1) - c).abs() < 1e-15, "{l:?}");
        }
    }
    for l in zoo() {
        assert_eq!(l.is_gaussian(), matches!(l, Law::Normal { .. }), "{l:?}");
        let want = match l {
            Law::StudentsT { dof, .. } => dof,
            Law::Cauchy { .. } => 1.0,
            _ => inf,
        };
        assert_eq!(l.tail_index(), want);
        // Below the tail index every moment is defined, at it none is.
        if want.is_finite() {
            assert!(l.raw_moment(want.ceil() as u32 - 1).is_ok());
            assert!(l.raw_moment(want.ceil() as u32).is_err());
        } else {
            assert!(l.raw_moment(12).is_ok());
        }
    }
}

// ---- sampling ----

/// Mean and variance of `n` draws within 6 standard errors of the
/// exact ones, the errors derived from the exact central moments.
fn check_sampling(l: &Law, seed: u64) {
    let n = 1_000_000;
    let mut xs = vec![0.0; n];
    l.fill(&mut rng(seed), &mut xs);
    let m = |k| l.raw_moment(k).unwrap();
    let mean = m(1);
    let var = m(2) - mean * mean;
    let mu4 = m(4) - 4.0 * mean * m(3) + 6.0 * mean * mean * m(2) - 3.0 * mean.powi(4);
    let nf = n as f64;
    let sample_mean = xs.iter().sum::<f64>() / nf;
    let sample_var = xs.iter().map(|x| (x - sample_mean).powi(2)).sum::<f64>() / (nf - 1.0);
    let se_mean = (var / nf).sqrt();
    let se_var = ((mu4 - var * var) / nf).sqrt();
    assert!(
        (sample_mean - mean).abs() < 6.0 * se_mean,
        "{l:?}: mean {sample_mean} vs {mean} (se {se_mean})"
    );
    assert!(
        (sample_var - var).abs() < 6.0 * se_var,
        "{l:?}: var {sample_var} vs {var} (se {se_var})"
    );
    let (lo, hi) = l.support();
    assert!(
        xs.iter().all(|&x| lo <= x && x <= hi),
        "{l:?} left its support"
    );
}

#[test]
fn sampling_matches_moments() {
    let mut laws = zoo();
    laws.retain(|l| !matches!(l, Law::Cauchy { .. }));
    laws.push(law("Beta", &[0.5, 0.5]));
    laws.push(law("Gamma", &[0.3, 2.0]));
    laws.push(law("Triangular", &[0.0, 1.0, 1.0]));
    laws.push(law("Bernoulli", &[0.01]));
    for (seed, l) in laws.iter().enumerate() {
        check_sampling(l, 1000 + seed as u64);
    }
}

/// Draws of `l` pass the Kolmogorov–Smirnov test against `cdf`.
fn check_ks(l: &Law, cdf: impl Fn(f64) -> f64, seed: u64) {
    let mut xs = vec![0.0; 200_000];
    l.fill(&mut rng(seed), &mut xs);
    assert_ks(xs, &cdf, &format!("{l:?}"));
}

/// The Kolmogorov–Smirnov distance of `xs` from `cdf` is below the
/// asymptotic critical value at level 1e-6.
fn assert_ks(mut xs: Vec<f64>, cdf: &dyn Fn(f64) -> f64, what: &str) {
    xs.sort_by(f64::total_cmp);
    let nf = xs.len() as f64;
    let d = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / nf)
                .abs()
                .max((f - (i + 1) as f64 / nf).abs())
        })
        .fold(0.0, f64::max);
    let critical = ((2.0 / 1e-6f64).ln() / 2.0).sqrt() / nf.sqrt();
    assert!(d < critical, "{what}: KS distance {d} >= {critical}");
}

/// The truncated-normal cdf written from erfc tail masses, for each
/// sampler regime (normal rejection, uniform rejection, tail inverse).
#[test]
fn truncated_normal_draws_follow_its_cdf() {
    let inf = f64::INFINITY;
    let cases = [
        [0.0, 1.0, -2.0, 2.0],
        [1.0, 2.0, -inf, 1.5],
        [0.0, 1.0, -0.1, 0.3],
        [0.0, 1.0, 5.0, 5.05],
        [0.0, 1.0, 3.0, inf],
        [2.0, 0.5, -inf, -1.0],
        [0.0, 1.0, 8.0, 9.0],
        [0.0, 1.0, 30.0, inf],
    ];
    for (seed, p) in cases.iter().enumerate() {
        let l = law("TruncatedNormal", p);
        let (mean, sd, lo, hi) = (p[0], p[1], p[2], p[3]);
        let (a, b) = ((lo - mean) / sd, (hi - mean) / sd);
        let cdf = |x: f64| {
            let z = ((x - mean) / sd).clamp(a, b);
            if a >= 0.0 {
                let ea = libm::erfc(a / SQRT_2);
                (ea - libm::erfc(z / SQRT_2)) / (ea - libm::erfc(b / SQRT_2))
            } else {
                let eb = libm::erfc(-b / SQRT_2);
                (libm::erfc(-z / SQRT_2) - libm::erfc(-a / SQRT_2)) / (eb - libm::erfc(-a / SQRT_2))
            }
        };
        check_ks(&l, cdf, 2000 + seed as u64);
        check_sampling(&l, 3000 + seed as u64);
    }
}

#[test]
fn cauchy_and_heavy_t_draws_follow_their_cdfs() {
    let c = law("Cauchy", &[-0.4, 0.6]);
    check_ks(&c, |x| 0.5 + ((x + 0.4) / 0.6).atan() / PI, 11);
    let t = law("StudentsT", &[0.5, 2.0, 2.5]);
    let d = statrs::distribution::StudentsT::new(0.5, 2.0, 2.5).unwrap();
    check_ks(&t, |x| d.cdf(x), 12);
    let lap = law("Laplace", &[1.0, 0.5]);
    let d = statrs::distribution::Laplace::new(1.0, 0.5).unwrap();
    check_ks(&lap, |x| d.cdf(x), 13);
}

#[test]
fn fill_is_reproducible_and_batch_independent() {
    // One seed, one stream: a batch of 10 equals the first 10 of 20.
    for l in zoo() {
        let mut a = vec![0.0; 10];
        let mut b = vec![0.0; 20];
        l.fill(&mut rng(5), &mut a);
        l.fill(&mut rng(5), &mut b);
        assert_eq!(a[..], b[..10], "{l:?}");
    }
}

// ---- the bivariate pair ----

#[test]
fn bivariate_validation() {
    let e = Bivariate::new(&[1.0, 2.0]).unwrap_err();
    assert_eq!(e.index, 2);
    assert_eq!(
        e.message,
        "BivariateNormal takes 3 parameters (sd_u, sd_v, rho), got 2"
    );
    let e = Bivariate::new(&[1.0, 0.0, 0.5]).unwrap_err();
    assert_eq!(
        (e.index, e.message.as_str()),
        (1, "sd_v must be > 0 (got 0)")
    );
    let e = Bivariate::new(&[1.0, 1.0, 1.5]).unwrap_err();
    assert_eq!(
        (e.index, e.message.as_str()),
        (2, "rho must be in [-1, 1] (got 1.5)")
    );
    let e = Bivariate::new(&[f64::NAN, 1.0, 0.0]).unwrap_err();
    assert_eq!(
        (e.index, e.message.as_str()),
        (0, "sd_u must be finite (got NaN)")
    );
    assert!(Bivariate::new(&[1.0, 1.0, -1.0]).is_ok());
    let e = Law::new("BivariateNormal", &[1.0, 1.0, 0.0]).unwrap_err();
    assert!(e.message.contains("pair"), "{}", e.message);
}

#[test]
fn bivariate_draws_have_the_declared_covariance() {
    let pair = Bivariate::new(&[1.5, 0.7, -0.6]).unwrap();
    let n = 1_000_000;
    let (mut u, mut v) = (vec![0.0; n], vec![0.0; n]);
    pair.fill(&mut rng(77), &mut u, &mut v);
    let nf = n as f64;
    // Each statistic is a mean of iid products; its SE comes from the
    // exact second moment of that product.
    let check = |vals: &dyn Fn(usize) -> f64, mean: f64, second: f64, what: &str| {
        let est = (0..n).map(vals).sum::<f64>() / nf;
        let se = ((second - mean * mean) / nf).sqrt();
        assert!((est - mean).abs() < 6.0 * se, "{what}: {est} vs {mean}");
    };
    check(&|i| u[i], 0.0, pair.joint_moment(2, 0), "E[u]");
    check(&|i| v[i], 0.0, pair.joint_moment(0, 2), "E[v]");
    check(
        &|i| u[i] * u[i],
        pair.joint_moment(2, 0),
        pair.joint_moment(4, 0),
        "E[u^2]",
    );
    check(
        &|i| v[i] * v[i],
        pair.joint_moment(0, 2),
        pair.joint_moment(0, 4),
        "E[v^2]",
    );
    check(
        &|i| u[i] * v[i],
        pair.joint_moment(1, 1),
        pair.joint_moment(2, 2),
        "E[uv]",
    );
    // The residual given u has the conditional sd and no correlation with u.
    let (s_u, s_v, rho): (f64, f64, f64) = (1.5, 0.7, -0.6);
    let cond_sd = pair.conditional(0.0).1;
    assert!(close(cond_sd, s_v * (1.0 - rho * rho).sqrt(), 1e-15));
    let resid: Vec<f64> = (0..n).map(|i| v[i] - pair.conditional(u[i]).0).collect();
    check(
        &|i| resid[i] * resid[i],
        cond_sd.powi(2),
        3.0 * cond_sd.powi(4),
        "E[r^2]",
    );
    // r and u independent: E[(r u)^2] = E[r^2] E[u^2].
    check(
        &|i| resid[i] * u[i],
        0.0,
        cond_sd.powi(2) * s_u * s_u,
        "E[r u]",
    );
}

#[test]
fn bivariate_joint_moments_in_closed_form() {
    let (s_u, s_v, rho): (f64, f64, f64) = (1.5, 0.7, -0.6);
    let pair = Bivariate::new(&[s_u, s_v, rho]).unwrap();
    assert!(close(pair.joint_moment(1, 1), rho * s_u * s_v, 1e-15));
    // Isserlis: E[u^2 v^2] = s_u^2 s_v^2 (1 + 2 rho^2).
    let want = s_u * s_u * s_v * s_v * (1.0 + 2.0 * rho * rho);
    assert!(close(pair.joint_moment(2, 2), want, 1e-15));
    // E[u^3 v] = 3 rho s_u^3 s_v; odd total order vanishes.
    assert!(close(
        pair.joint_moment(3, 1),
        3.0 * rho * s_u.powi(3) * s_v,
        1e-15
    ));
    assert_eq!(pair.joint_moment(2, 1), 0.0);
    // Marginals are the centred normals.
    assert!(close(pair.joint_moment(0, 4), 3.0 * s_v.powi(4), 1e-15));
    assert_eq!(pair.marginal(1), law("Normal", &[0.0, s_v]));
    assert!(close(
        pair.marginal(0).raw_moment(4).unwrap(),
        pair.joint_moment(4, 0),
        1e-15
    ));
    // Perfect correlation: v is u rescaled, with no conditional spread.
    let perfect = Bivariate::new(&[2.0, 3.0, 1.0]).unwrap();
    assert_eq!(perfect.conditional(1.0), (1.5, 0.0));
}

// ---- the ziggurat normal ----

/// A generator that replays a script of words, then a fixed xoshiro
/// stream: it forces a draw into a chosen layer, wedge or tail, while the
/// words the slow paths ask for afterwards stay random.
struct Scripted {
    words: Vec<u64>,
    next: usize,
    rest: Xoshiro256PlusPlus,
}

impl Scripted {
    fn new(words: Vec<u64>, seed: u64) -> Scripted {
        Scripted {
            words,
            next: 0,
            rest: rng(seed),
        }
    }
}

impl rand::TryRng for Scripted {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let w = match self.words.get(self.next) {
            Some(&w) => w,
            None => rand::Rng::next_u64(&mut self.rest),
        };
        self.next += 1;
        Ok(w)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let w = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        Ok(())
    }
}

/// The word that puts a draw in `layer` with uniform `u` in [-1, 1):
/// `u + 3` in [2, 4) has its mantissa in the word's high 52 bits.
fn word(layer: usize, u: f64) -> u64 {
    let mantissa = (u + 3.0).to_bits() & ((1u64 << 52) - 1);
    (mantissa << 12) | layer as u64
}

/// The tables' defining equations (Marsaglia and Tsang 2000; Doornik
/// 2005, for 256 layers): every layer has area v; the base layer is the
/// box r f(r) plus the tail's mass, sqrt(pi/2) erfc(r/sqrt 2) under the
/// unnormalised density; the top layer closes at f(0) = 1. v is given to
/// 12 digits (rand_distr's script), which bounds how well the last two
/// hold; each layer's area is otherwise exact to the recursion's rounding.
#[test]
fn ziggurat_tables_satisfy_their_equations() {
    use super::ziggurat::{R, TABLES, V, density};
    let (x, f) = (&TABLES.x, &TABLES.f);
    assert_eq!(x[1], R);
    assert_eq!(x[256], 0.0);
    assert_eq!(f[256], 1.0);
    assert!((x[0] * density(R) - V).abs() < 1e-15 * V);
    let tail = (PI / 2.0).sqrt() * libm::erfc(R / SQRT_2);
    let base = R * density(R) + tail;
    assert!((base - V).abs() < 1e-11 * V, "base layer {base} vs {V}");
    for i in 1..255 {
        assert!(x[i + 1] < x[i], "edges decrease at {i}");
        let area = x[i] * (f[i + 1] - f[i]);
        assert!((area - V).abs() < 1e-12 * V, "layer {i}: area {area}");
    }
    let top = x[255] * (1.0 - f[255]);
    assert!((top - V).abs() < 1e-8 * V, "top layer {top} vs {V}");
    for i in 0..=256 {
        assert_eq!(f[i], (-x[i] * x[i] / 2.0).exp(), "f[{i}]");
    }
}

/// Law::fill's normal is rand_distr's `StandardNormal`, bit for bit: on a
/// long stream (every layer, ~1% wedges, ~0.03% tails), and on draws
/// forced into each layer's rectangle, wedge and the tail.
#[test]
fn ziggurat_draws_are_rand_distr_standard_normal() {
    use rand_distr::StandardNormal;
    let normal = &*super::ziggurat::TABLES;
    let n = 4_000_000;
    let (mut ours, mut theirs) = (rng(31), rng(31));
    let mut tails = 0;
    for _ in 0..n {
        let a = normal.draw(&mut ours);
        let b: f64 = theirs.sample(StandardNormal);
        assert_eq!(a.to_bits(), b.to_bits());
        tails += usize::from(a.abs() > super::ziggurat::R);
    }
    assert!(tails > 100, "only {tails} tail draws");
    // draw_held draws the same, and leaves the generator where draw does
    let (mut ra, mut rb) = (rng(37), rng(37));
    for _ in 0..100_000 {
        assert_eq!(
            normal.draw(&mut ra).to_bits(),
            normal.draw_held(&mut rb).to_bits()
        );
    }
    assert_eq!(ra.next_u64(), rb.next_u64());
    // Forced: every layer at several uniforms, in its rectangle and beyond
    // it (|u| near 1: the wedge, or the tail in the base layer, whose box
    // is x[0] = 3.91 wide against r = 3.65). A wedge's second word decides
    // it: w = 0 rejects (the density there is below f[i+1]), w near 1
    // accepts (it is above f[i]).
    let x = &normal.x;
    for layer in 0..256 {
        for (k, u) in [0.5, -0.25, 0.999_999, -0.999_999, 0.97, -0.9]
            .into_iter()
            .enumerate()
        {
            // the uniform the word carries: u + 3 rounded to [2, 4)
            let u = (u + 3.0) - 3.0;
            let wedge = (u * x[layer]).abs() >= x[layer + 1];
            for w in [None, Some(0), Some(u64::MAX)] {
                let script: Vec<u64> = [Some(word(layer, u)), w].into_iter().flatten().collect();
                let seed = (layer * 8 + k) as u64;
                let mut ours = Scripted::new(script.clone(), seed);
                let mut theirs = Scripted::new(script, seed);
                let a = normal.draw(&mut ours);
                let b: f64 = theirs.sample(StandardNormal);
                let at = format!("layer {layer}, u {u}, w {w:?}");
                assert_eq!(a.to_bits(), b.to_bits(), "{at}");
                assert_eq!(ours.next, theirs.next, "words used, {at}");
                match (wedge, layer, w) {
                    (false, _, _) => assert_eq!(a, u * x[layer], "{at}"),
                    // a first uniform near 1 puts the draw at r + 3e-17,
                    // which rounds to r
                    (true, 0, _) => assert!(a.abs() >= super::ziggurat::R, "{at}"),
                    (true, _, Some(0)) => {
                        assert!(ours.next > 2, "{at}: a rejected wedge draws again")
                    }
                    (true, _, Some(_)) => assert_eq!((a, ours.next), (u * x[layer], 2), "{at}"),
                    (true, _, None) => {}
                }
            }
        }
    }
}

/// The normal's draws against Phi (Kolmogorov-Smirnov at level 1e-6 on
/// 2M draws), and the tail sampler alone against the tail's law,
/// P(Z <= t | Z > r) = 1 - Q(t) / Q(r), on the positive side and mirrored.
#[test]
fn ziggurat_draws_follow_the_normal_cdf_and_its_tail() {
    let mut xs = vec![0.0; 2_000_000];
    law("Normal", &[0.0, 1.0]).fill(&mut rng(41), &mut xs);
    assert_ks(xs, &|x| crate::special::cdf(x), "normal");
    let r = super::ziggurat::R;
    let mut g = rng(43);
    let right: Vec<f64> = (0..200_000)
        .map(|_| super::ziggurat::tail(&mut g, 0.5))
        .collect();
    assert!(right.iter().all(|&t| t > r));
    assert_ks(
        right,
        &|t| 1.0 - crate::special::upper(t) / crate::special::upper(r),
        "tail",
    );
    let left: Vec<f64> = (0..200_000)
        .map(|_| -super::ziggurat::tail(&mut g, -0.5))
        .collect();
    assert_ks(
        left,
        &|t| 1.0 - crate::special::upper(t) / crate::special::upper(r),
        "mirrored tail",
    );
}

/// The lane generator's fills against their laws (Kolmogorov-Smirnov at
/// level 1e-6 on 2M draws): the normal against Phi, the uniform against
/// its cdf. Its bits are tested against the scalar ziggurat in `lanes.rs`;
/// this tests the law, so a wrong table or lane seeding would show here.
#[test]
fn lane_fills_follow_the_normal_and_uniform_cdfs() {
    let mut sm = rand_xoshiro::SplitMix64::seed_from_u64(47);
    let mut lanes = Lanes::new(std::array::from_fn(|_| {
        std::array::from_fn(|_| rand::Rng::next_u64(&mut sm))
    }));
    let mut xs = vec![0.0; 2_000_000];
    law("Normal", &[0.0, 1.0]).fill_lanes(&mut lanes, &mut xs);
    assert_ks(xs, &|x| crate::special::cdf(x), "lane normal");
    let mut us = vec![0.0; 2_000_000];
    law("Uniform", &[-1.0, 3.0]).fill_lanes(&mut lanes, &mut us);
    assert_ks(us, &|u| ((u + 1.0) / 4.0).clamp(0.0, 1.0), "lane uniform");
}

fn lanes_from(seed: u64) -> Lanes {
    let mut sm = rand_xoshiro::SplitMix64::seed_from_u64(seed);
    Lanes::new(std::array::from_fn(|_| {
        std::array::from_fn(|_| rand::Rng::next_u64(&mut sm))
    }))
}

/// `fill_lanes` is `fill` on the same stream, bit for bit, and reads it
/// exactly as far, for every law (the truncated normal in each of its
/// regimes) and the pair, at lengths across the vector paths' blocks.
#[test]
fn lane_fills_are_fill_bit_for_bit() {
    let inf = f64::INFINITY;
    let mut laws = zoo();
    laws.extend([
        law("TruncatedNormal", &[0.0, 1.0, -2.0, 2.0]),
        law("TruncatedNormal", &[0.0, 1.0, 0.5, inf]),
        law("TruncatedNormal", &[0.0, 1.0, -0.01, 0.02]),
        law("TruncatedNormal", &[1.0, 2.0, 9.0, 12.0]),
    ]);
    for n in [1, 3, 255, 256, 700] {
        for l in &laws {
            let (mut a, mut b) = (lanes_from(3), lanes_from(3));
            let (mut xs, mut ys) = (vec![0.0; n], vec![0.0; n]);
            l.fill(&mut a, &mut xs);
            l.fill_lanes(&mut b, &mut ys);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&xs), bits(&ys), "{l:?}, {n} draws");
            assert_eq!(rand::Rng::next_u64(&mut a), rand::Rng::next_u64(&mut b));
        }
        let pair = Bivariate::new(&[1.5, 0.7, -0.6]).unwrap();
        let (mut a, mut b) = (lanes_from(4), lanes_from(4));
        let (mut u1, mut v1, mut u2, mut v2) =
            (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        pair.fill(&mut a, &mut u1, &mut v1);
        pair.fill_lanes(&mut b, &mut u2, &mut v2);
        assert_eq!(u1, u2);
        assert_eq!(v1, v2);
        assert_eq!(rand::Rng::next_u64(&mut a), rand::Rng::next_u64(&mut b));
    }
}

/// The Laplace law drawn as a fair sign times an exponential ziggurat
/// draw, on 2M lane draws (Kolmogorov-Smirnov at level 1e-6 throughout):
/// against its closed-form cdf; each sign's magnitudes against Exp(1), so
/// a sign that leaned on the magnitude would show; and the draws beyond
/// the exponential ziggurat's base layer (|x - loc| / scale > 7.7, about
/// 900 of them, drawn by its tail method), whose excess is Exp(1) again.
#[test]
fn laplace_draws_follow_its_cdf_and_tails() {
    let (loc, scale) = (0.3, 0.8);
    let mut xs = vec![0.0; 2_000_000];
    law("Laplace", &[loc, scale]).fill_lanes(&mut lanes_from(71), &mut xs);
    let cdf = |x: f64| {
        let t = (x - loc) / scale;
        if t < 0.0 {
            0.5 * t.exp()
        } else {
            1.0 - 0.5 * (-t).exp()
        }
    };
    let exp1 = |t: f64| if t < 0.0 { 0.0 } else { -(-t).exp_m1() };
    let magnitudes = |positive: bool| -> Vec<f64> {
        xs.iter()
            .filter(|&&x| (x > loc) == positive)
            .map(|&x| (x - loc).abs() / scale)
            .collect()
    };
    let (up, down) = (magnitudes(true), magnitudes(false));
    // the positives are Binomial(n, 1/2): within 6 sd of n/2
    let half = xs.len() as f64 / 2.0;
    assert!((up.len() as f64 - half).abs() < 6.0 * half.sqrt() / 2.0_f64.sqrt());
    let tail: Vec<f64> = up
        .iter()
        .chain(&down)
        .filter(|&&t| t > 7.7)
        .map(|&t| t - 7.7)
        .collect();
    assert!(tail.len() > 600, "{} draws in the tail", tail.len());
    assert_ks(tail, &exp1, "Laplace tail excess");
    assert_ks(up, &exp1, "Laplace, positive side");
    assert_ks(down, &exp1, "Laplace, negative side");
    assert_ks(xs, &cdf, "Laplace");
}
