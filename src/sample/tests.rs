//! Tests of the sampler against closed forms, and of its reproducibility.

use super::*;
use crate::lang::arith::BinOp;
use crate::lang::builtin::Builtin;
use crate::model::law::{Bivariate, Law};
use crate::model::rv::{Rv, VarId};
use crate::model::{BaseVar, Source};
use crate::special::{cdf as norm_cdf, pdf as norm_pdf};

const SD_W: f64 = 0.25;
const SHIFT_MEAN: f64 = 0.3;
const SHIFT_SD: f64 = 1.2;
const M_MEAN: f64 = 1.5;
const M_SD: f64 = 2.0;
const SD_U: f64 = 1.5;
const SD_V: f64 = 0.5;
const RHO: f64 = -0.6;

// variable indices in `scenario()`
const Z: usize = 0;
const W: usize = 1;
const Y: usize = 2;
const X: usize = 3;
const M: usize = 4;
const U: usize = 5;
const V: usize = 6;

/// z, y ~ Normal(0, 1); w ~ Normal(0, SD_W); x ~ Normal(0.3, 1.2);
/// m ~ Normal(1.5, 2); (u, v) ~ BivariateNormal(1.5, 0.5, -0.6).
fn scenario() -> Scenario {
    let normal = |mean, sd| Source::Single(Law::Normal { mean, sd });
    let sources = vec![
        normal(0.0, 1.0),
        normal(0.0, SD_W),
        normal(0.0, 1.0),
        normal(SHIFT_MEAN, SHIFT_SD),
        normal(M_MEAN, M_SD),
        Source::Bivariate(Bivariate {
            sd_u: SD_U,
            sd_v: SD_V,
            rho: RHO,
        }),
    ];
    let names = ["z", "w", "y", "x", "m", "u", "v"];
    let bases = names
        .iter()
        .enumerate()
        .map(|(i, name)| BaseVar {
            name: name.to_string(),
            source: i.min(5),
            component: i.saturating_sub(5),
        })
        .collect();
    Scenario {
        name: "closed-forms".into(),
        bases,
        sources,
    }
}

fn base(i: usize) -> Rv {
    Rv::Base(VarId(i))
}

fn relu(x: Rv) -> Rv {
    Rv::Call(Builtin::Relu, vec![x])
}

fn square(x: Rv) -> Rv {
    Rv::bin(BinOp::Pow, x, Rv::Const(2.0))
}

fn mul(a: Rv, b: Rv) -> Rv {
    Rv::bin(BinOp::Mul, a, b)
}

/// `sum(i in n, body)`.
fn indexed(n: u64, body: Rv) -> Rv {
    Rv::IndexedSum(Box::new(crate::model::rv::IndexedSum {
        plate: crate::model::rv::Plate {
            index: "i".into(),
            count: n,
        },
        body,
    }))
}

fn sum4_m() -> Rv {
    Rv::Sum(4, Box::new(base(M)))
}

/// E[relu(N(mu, s))] and E[relu(N(mu, s))^2], the closed forms of DESIGN §4.
fn relu_moments(mu: f64, s: f64) -> (f64, f64) {
    let (cdf, pdf) = (norm_cdf(mu / s), norm_pdf(mu / s));
    (mu * cdf + s * pdf, (mu * mu + s * s) * cdf + mu * s * pdf)
}

/// Mean and batch-means standard error of one moment.
fn mean_and_se(sampler: &Sampler, moment: usize) -> (f64, f64) {
    let est: Vec<f64> = sampler
        .batch_estimates()
        .iter()
        .map(|b| b[moment])
        .collect();
    let k = est.len() as f64;
    let mean = est.iter().sum::<f64>() / k;
    let var = est.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, (var / k).sqrt())
}

#[test]
fn estimates_agree_with_closed_forms() {
    let (relu1_x, relu2_x) = relu_moments(SHIFT_MEAN, SHIFT_SD);
    let (_, relu2_std) = relu_moments(0.0, 1.0);
    let sum_terms = 16;
    let cases: Vec<(&str, Moment, f64)> = vec![
        ("E[z]", Moment::E(base(Z)), 0.0),
        ("E[z^2]", Moment::E(square(base(Z))), 1.0),
        ("Var[z]", Moment::Var(base(Z)), 1.0),
        ("E[relu(z)^2]", Moment::E(square(relu(base(Z)))), relu2_std),
        ("E[relu(x)]", Moment::E(relu(base(X))), relu1_x),
        ("E[relu(x)^2]", Moment::E(square(relu(base(X)))), relu2_x),
        (
            "Var[w relu(y)]",
            Moment::Var(mul(base(W), relu(base(Y)))),
            SD_W * SD_W * relu2_std,
        ),
        (
            "Cov[u, v]",
            Moment::Cov(base(U), base(V)),
            RHO * SD_U * SD_V,
        ),
        ("Var[u]", Moment::Var(base(U)), SD_U * SD_U),
        (
            "E[sum(8, m)]",
            Moment::E(Rv::Sum(8, Box::new(base(M)))),
            8.0 * M_MEAN,
        ),
        (
            "Var[sum(8, m)]",
            Moment::Var(Rv::Sum(8, Box::new(base(M)))),
            8.0 * M_SD * M_SD,
        ),
        (
            "Var[sum(3, sum(2, m))]",
            Moment::Var(Rv::Sum(3, Box::new(Rv::Sum(2, Box::new(base(M)))))),
            6.0 * M_SD * M_SD,
        ),
        // a sum named twice is one variable: E[s^2] = Var[s] + E[s]^2
        (
            "E[s s], s = sum(4, m)",
            Moment::E(mul(sum4_m(), sum4_m())),
            4.0 * M_SD * M_SD + 16.0 * M_MEAN * M_MEAN,
        ),
        // a copy's m is fresh: E[m sum(2, m)] = E[m] 2 E[m]
        (
            "E[m sum(2, m)]",
            Moment::E(mul(base(M), Rv::Sum(2, Box::new(base(M))))),
            2.0 * M_MEAN * M_MEAN,
        ),
        (
            "Var[sum(16, w relu(y))]",
            Moment::Var(Rv::Sum(sum_terms, Box::new(mul(base(W), relu(base(Y)))))),
            sum_terms as f64 * SD_W * SD_W * relu2_std,
        ),
        // a shared z: Var[sum(i in 8, m[i] + z)] = 8 Var[m] + 64 Var[z]
        (
            "Var[sum(i in 8, m[i] + z)]",
            Moment::Var(indexed(8, Rv::bin(BinOp::Add, Rv::Copy(VarId(M)), base(Z)))),
            8.0 * M_SD * M_SD + 64.0,
        ),
        // two sums over one index read the same m[i]:
        // Cov = 8 Cov[w m, z m] + 0 = 0, but Cov[m-sums] = 8 Var[m]
        (
            "Cov[sum(i in 8, m[i]), sum(i in 8, 2 m[i] + w[i])]",
            Moment::Cov(
                indexed(8, Rv::Copy(VarId(M))),
                indexed(
                    8,
                    Rv::bin(
                        BinOp::Add,
                        mul(Rv::Const(2.0), Rv::Copy(VarId(M))),
                        Rv::Copy(VarId(W)),
                    ),
                ),
            ),
            16.0 * M_SD * M_SD,
        ),
        // a pair's copy is a pair: Cov[sum(i in 8, u[i]), sum(i in 8, v[i])]
        (
            "Cov[sum(i in 8, u[i]), sum(i in 8, v[i])]",
            Moment::Cov(
                indexed(8, Rv::Copy(VarId(U))),
                indexed(8, Rv::Copy(VarId(V))),
            ),
            8.0 * RHO * SD_U * SD_V,
        ),
    ];
    let moments: Vec<Moment> = cases.iter().map(|c| c.1.clone()).collect();
    let mut sampler = Sampler::new(&scenario(), &moments, StreamKey::new(2015, &["closed"]), 64);
    sampler.extend(1 << 14).unwrap();
    assert_eq!(sampler.draws_per_batch(), 1 << 14);
    let pooled = sampler.pooled();
    for (i, (name, _, truth)) in cases.iter().enumerate() {
        let (mean, se) = mean_and_se(&sampler, i);
        assert!(se > 0.0, "{name}: no spread between batches");
        let z = (mean - truth) / se;
        assert!(
            z.abs() < 6.0,
            "{name}: batch mean {mean} vs truth {truth}, se {se}, z = {z}"
        );
        let zp = (pooled[i] - truth) / se;
        assert!(zp.abs() < 6.0, "{name}: pooled {} vs {truth}", pooled[i]);
    }
}

/// Regenerates every draw of `E[relu(z)^2]` and `Var[z]` by hand, with the
/// sampler's streams and chunking, and checks the pooled estimates against
/// a two-pass computation over all of them at once.
#[test]
fn pooled_estimates_equal_a_two_pass_over_all_draws() {
    let scen = scenario();
    let moments = [Moment::E(square(relu(base(Z)))), Moment::Var(base(Z))];
    let key = StreamKey::new(7, &["two-pass"]);
    let batches = 5;
    let calls = [600u64, 400];
    let mut sampler = Sampler::new(&scen, &moments, key, batches);
    for &c in &calls {
        sampler.extend(c).unwrap();
    }

    let law = Law::Normal { mean: 0.0, sd: 1.0 };
    let mut all = Vec::new();
    for b in 0..batches as u64 {
        // the scalar ziggurat on the batch's words, not its vector fill
        let mut rng = key.lanes(b);
        for &c in &calls {
            let mut left = c as usize;
            while left > 0 {
                let n = left.min(LANES);
                let mut chunk = vec![0.0; n];
                law.fill(&mut rng, &mut chunk);
                all.extend(chunk);
                left -= n;
            }
        }
    }
    let n = all.len() as f64;
    assert_eq!(all.len() as u64, batches as u64 * sampler.draws_per_batch());
    let relu2 = all.iter().map(|z| z.max(0.0) * z.max(0.0)).sum::<f64>() / n;
    let mean = all.iter().sum::<f64>() / n;
    let var = all.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let pooled = sampler.pooled();
    assert!((pooled[0] - relu2).abs() <= 1e-12 * relu2);
    assert!((pooled[1] - var).abs() <= 1e-12 * var);
}

#[test]
fn same_key_same_bits_for_any_thread_count() {
    let moments = [
        Moment::E(square(relu(base(Z)))),
        Moment::Var(mul(base(W), relu(base(Y)))),
        Moment::Cov(base(U), relu(base(V))),
        Moment::Var(Rv::Sum(4, Box::new(mul(base(W), relu(base(Y)))))),
    ];
    let key = StreamKey::new(42, &["file.toml", "claim", "scenario"]);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut s = Sampler::new(&scenario(), &moments, key, 8);
            s.extend(1000).unwrap();
            s.extend(3000).unwrap();
            (s.batch_estimates(), s.pooled())
        })
    };
    let bits = |(b, p): (Vec<Vec<f64>>, Vec<f64>)| -> (Vec<Vec<u64>>, Vec<u64>) {
        (
            b.iter()
                .map(|r| r.iter().map(|v| v.to_bits()).collect())
                .collect(),
            p.iter().map(|v| v.to_bits()).collect(),
        )
    };
    let one = bits(run(1));
    assert_eq!(one, bits(run(2)));
    assert_eq!(one, bits(run(1)));
    // and a different key is a different sample
    let mut other = Sampler::new(&scenario(), &moments, StreamKey::new(43, &["x"]), 8);
    other.extend(4000).unwrap();
    assert_ne!(one.1, bits((other.batch_estimates(), other.pooled())).1);
}

#[test]
fn common_random_numbers_make_identical_sides_agree_exactly() {
    // E[relu(z)^2] and E[relu(z) * relu(z)] see the same draws of z, so
    // their estimates agree to the bit, batch by batch
    let moments = [
        Moment::E(square(relu(base(Z)))),
        Moment::E(mul(relu(base(Z)), relu(base(Z)))),
    ];
    let mut s = Sampler::new(&scenario(), &moments, StreamKey::new(1, &[]), 4);
    s.extend(777).unwrap();
    for b in s.batch_estimates() {
        assert_eq!(b[0].to_bits(), b[1].to_bits());
    }
}

#[test]
fn log_of_a_normal_is_not_finite() {
    let moments = [
        Moment::E(base(Z)),
        Moment::E(Rv::Call(Builtin::Log, vec![base(Z)])),
    ];
    let mut s = Sampler::new(&scenario(), &moments, StreamKey::new(3, &[]), 4);
    match s.extend(100) {
        Err(SampleError::NonFinite { moment, value }) => {
            assert_eq!(moment, 1);
            assert!(value.is_nan());
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    // a failed extend leaves the sampler untouched
    assert_eq!(s.draws_per_batch(), 0);
    assert!(s.pooled()[0].is_nan());
}

#[test]
fn constant_moments_are_exact() {
    let moments = [
        Moment::E(Rv::Const(2.5)),
        Moment::Var(Rv::Const(2.5)),
        Moment::Cov(base(Z), Rv::Const(1.0)),
    ];
    let mut s = Sampler::new(&scenario(), &moments, StreamKey::new(5, &[]), 3);
    s.extend(500).unwrap();
    assert_eq!(s.pooled(), vec![2.5, 0.0, 0.0]);
}

#[test]
fn cost_counts_sum_bodies_per_copy() {
    let body = mul(base(W), relu(base(Y)));
    let cost = |n| {
        Sampler::new(
            &scenario(),
            &[Moment::Var(Rv::Sum(n, Box::new(body.clone())))],
            StreamKey::new(0, &[]),
            1,
        )
        .cost_per_draw()
    };
    // each copy: two fills, relu, product and the add into the total
    assert_eq!(cost(32) - cost(16), 16 * 5);
}
