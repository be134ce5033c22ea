//! Work is estimated before it is done.
//!
//! Everything a run samples costs draws x operations per draw: a claim's
//! self-check and its sampled test count the batch kernel's lane operations
//! (a `sum(n, T)` counts its body n times), a network counts its random
//! numbers and multiply-adds. Those counts are exact and deterministic, so
//! every decision taken from them (how many draws a pilot may take, whether
//! a run is refused) is the same on every machine and at every thread
//! count; only their conversion to seconds is a measured constant.
//!
//! The budget is in CPU-seconds of one core rather than in draws, because
//! one draw of `y` and one draw of `sum(10000000, y)` differ in cost by
//! seven orders of magnitude, and a network's draw by more: only time puts
//! a claim, its self-check and a network on one scale that a user can
//! choose.
//!
//! Sample sizes come from a power calculation. A pilot estimates the
//! standard error `se` of the difference of the sides from `draws` draws;
//! a test at `draws'` draws has standard error `se sqrt(draws / draws')`. A
//! claim that is true (difference 0) is decided "holds" when
//! `|d| + c se' <= margin`; `|d|` exceeds `z se'` with probability beta, so
//! `(c + z) se' <= margin` keeps "inconclusive" on a true claim below beta.
//! We take beta equal to the per-test false-failure level, so `z = c`, and
//! inflate `se` by [`SE_SAFETY`] for the error of the pilot's own estimate.
//!
//! That size is a worst case: it plans for the truth sitting where deciding
//! is hardest (no difference for `=`, half the band for `~=`), whatever the
//! pilot saw, so that its look decides except with the per-test level
//! whatever the truth is; an outcome must never depend on the seed. Most
//! tests are far easier than that, so between the pilot and the worst case
//! comes a third look, at the *plug-in* size ([`draws_for_plug_in`]): the
//! same calculation with the truth where the pilot saw it and a modest
//! beta. If the pilot's difference `d` is the truth, a look at `draws'`
//! draws decides once `c se'` fits in the gap `g` between `d` and the
//! nearest decision boundary (`verdict::decisive_width`); its own
//! difference strays from `d` by more than `z se'` with probability
//! Phi(-z), so `(c + z) se' <= g` decides it except with that probability,
//! with `z =` [`PLUG_IN_Z`] = 1 (84%) and `se` inflated by [`SE_SAFETY`]
//! as before. The pilot's own error in `d` is not planned for: where it
//! misled, the plug-in look does not decide and the worst-case look
//! follows, on the same draws extended, so a plug-in size too small costs
//! one look's draws and no guarantee. A larger `z` buys few decisions: the
//! plug-in look mostly falls short when the pilot misjudged the gap, which
//! `z` does not cover, and the worst case is 10 to 20 times the plug-in
//! size for a `~=` claim well inside its band (it plans at half the band,
//! with `z = c`). The plug-in size is at least 1.5 times the pilot (less
//! would barely shrink the interval and still spend a look) and at most
//! the worst case. Every look is counted as a test of the run
//! (`verdict::LOOKS`), whether it is taken or not.

/// Kernel lane operations one core does per second. Measured by
/// `cargo bench --bench sampling` (BENCHMARKS.md): E[relu(z)^2] runs at
/// 99.4 Mdraws/s on one thread at 4 lane operations a draw, 4e8 operations
/// a second; transcendental functions (exp, tanh, erf) are slower, so the
/// estimate assumes 2.5e8 to err on the side of refusing.
pub const LANE_OPS_PER_SECOND: f64 = 2.5e8;

/// The default budget of a run, in CPU-seconds of one core. The shipped
/// audit is estimated at about a fifth of it (README, "Usage"); `check` of
/// an ordinary claim takes well under a second, and one that would not is
/// refused or checked within its share rather than left running.
pub const DEFAULT_BUDGET: f64 = 300.0;

/// The most one pilot (a self-check, or the first look of a sampled test)
/// may cost, in CPU-seconds: its share of the budget. A self-check that
/// would cost more checks what fits instead (see `verdict`).
pub const SHARE_SECONDS: f64 = 1.0;

/// Factor on a pilot's standard error before the power calculation: the
/// batch-means standard error over 128 batches is itself off by about
/// 1/sqrt(2 * 127) = 6% (one standard deviation); 1.25 covers four.
pub const SE_SAFETY: f64 = 1.25;

/// Seconds of one core for `ops` lane operations.
pub fn lane_seconds(ops: f64) -> f64 {
    ops / LANE_OPS_PER_SECOND
}

/// Lane operations that fit in `seconds`.
pub fn lane_ops(seconds: f64) -> f64 {
    seconds * LANE_OPS_PER_SECOND
}

/// The budget as a run sees it: the smaller of the whole budget and one
/// pilot's share, in lane operations.
pub fn share_ops(budget: f64) -> f64 {
    lane_ops(SHARE_SECONDS.min(budget))
}

/// Draws a test needs so that a difference `margin` away from its decision
/// boundary is decided, except with the per-test level, given a pilot of
/// `draws` draws whose difference had standard error `se`, and the test's
/// critical value `critical`. Infinite when no size will do.
pub fn draws_for_power(draws: f64, se: f64, margin: f64, critical: f64) -> f64 {
    draws_for_width(draws, se, margin, 2.0 * critical)
}

/// Draws at which `widths` standard errors (inflated by [`SE_SAFETY`]) fit
/// in `margin`, from a pilot of `draws` draws with standard error `se`;
/// infinite when no size will do.
fn draws_for_width(draws: f64, se: f64, margin: f64, widths: f64) -> f64 {
    if margin <= 0.0 || !se.is_finite() || !margin.is_finite() {
        return f64::INFINITY;
    }
    let ratio = widths * SE_SAFETY * se / margin;
    (draws * ratio * ratio).ceil()
}

/// How sure the plug-in look is asked to be, in its own standard errors
/// (see the module documentation): it decides with probability
/// Phi(1) = 84% if the pilot's difference is the truth.
pub const PLUG_IN_Z: f64 = 1.0;

/// The fewest draws of a plug-in look, as a multiple of the pilot's.
pub const PLUG_IN_FLOOR: f64 = 1.5;

/// Draws that decide a test if the pilot's difference were the truth: a
/// pilot of `draws` draws whose difference had standard error `se`, `gap`
/// from the nearest decision boundary (the half-width at which the look
/// decides, less what is not statistical), the test's critical value
/// `critical`, and `worst`, the worst-case size of [`draws_for_power`]
/// that follows if this one does not decide. At least [`PLUG_IN_FLOOR`]
/// times the pilot, at most `worst`.
pub fn draws_for_plug_in(draws: f64, se: f64, gap: f64, critical: f64, worst: f64) -> f64 {
    let floor = (PLUG_IN_FLOOR * draws).ceil();
    if worst <= floor {
        return worst;
    }
    // Infinite (no gap, or no standard error) clamps to the worst case.
    draws_for_width(draws, se, gap, critical + PLUG_IN_Z).clamp(floor, worst)
}

/// The looks a test took, each with what it was: "256 (the table's), 744
/// (plug-in) and 5127 (worst case)"; `None` for a single look, which needs
/// no note. Sampled claims and network series name their looks alike.
pub fn looks_text(looks: &[(u64, &str)]) -> Option<String> {
    let named: Vec<String> = looks
        .iter()
        .map(|(d, what)| format!("{d} ({what})"))
        .collect();
    let (last, rest) = named.split_last()?;
    (!rest.is_empty()).then(|| format!("{} and {last}", rest.join(", ")))
}

/// A duration as a person reads it.
pub fn human_seconds(s: f64) -> String {
    if !s.is_finite() {
        "forever".to_string()
    } else if s >= 86400.0 {
        format!("{:.1} days", s / 86400.0)
    } else if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 10.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.2} s")
    }
}

/// Parses `--budget`: seconds, with an optional `s`, `m` or `h`.
pub fn parse_budget(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1.0),
        Some((i, 'm')) => (&t[..i], 60.0),
        Some((i, 'h')) => (&t[..i], 3600.0),
        _ => (t, 1.0),
    };
    match num.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x * unit),
        _ => Err(format!(
            "`{s}` is not a budget: give CPU-seconds of one core, such as 300, 90s, 10m or 1h"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{ContinuousCDF, Normal};

    #[test]
    fn power_is_what_the_normal_law_says() {
        // With the pilot's se exact (no safety factor), at the returned size
        // a true difference of 0 stays within margin - c se' except with
        // probability 2 (1 - Phi(c)), the test's own level.
        let c = 5.0;
        let (draws, se, margin) = (1000.0, 0.01, 0.02);
        let n = draws_for_power(draws, se, margin, c);
        let se_n = se * (draws / n).sqrt() * SE_SAFETY;
        assert!((2.0 * c * se_n - margin).abs() <= 1e-3 * margin, "{n}");
        // The chance that |d| > margin - c se_n = c se_n, for d ~ N(0, se_n)
        // without the safety factor: 2 (1 - Phi(c * SE_SAFETY)).
        let z = (margin - c * se_n) / (se_n / SE_SAFETY);
        let miss = 2.0 * Normal::standard().cdf(-z);
        let level = 2.0 * Normal::standard().cdf(-c);
        assert!(miss <= level, "{miss} > {level}");
        // Quadratic in se and in 1/margin.
        // (up to the rounding up of each count to a whole draw).
        let twice = draws_for_power(draws, 2.0 * se, margin, c);
        assert!(
            (twice - 4.0 * n).abs() <= 4.0,
            "{twice} against {}",
            4.0 * n
        );
        assert!(draws_for_power(draws, se, 0.0, c).is_infinite());
        assert!(draws_for_power(draws, f64::NAN, margin, c).is_infinite());
    }

    #[test]
    fn plug_in_sizes_are_the_power_calculation_at_the_pilot_s_difference() {
        // c = 5, z = 1, a pilot of 1000 draws with se 0.01 and a gap of
        // 0.05: (c + z) SE_SAFETY se / gap = 6 * 1.25 * 0.01 / 0.05 = 1.5,
        // so 1000 * 1.5^2 = 2250 draws.
        let (draws, se, c) = (1000.0, 0.01, 5.0);
        let n = draws_for_plug_in(draws, se, 0.05, c, 1e9);
        assert_eq!(n, 2250.0);
        // At that size, with the pilot's difference the truth, the look's
        // own difference d' ~ N(d, se_n) stays inside the gap less its
        // critical half-width, (c + z) se_n SE_SAFETY - c se_n, except
        // with probability at most Phi(-z).
        let se_n = se * (draws / n).sqrt();
        let room = 0.05 - c * se_n;
        let miss = Normal::standard().cdf(-room / se_n);
        assert!(miss <= Normal::standard().cdf(-PLUG_IN_Z), "{miss}");
        // The worst case is the same calculation at z = c and the worst
        // gap: at equal gaps (c + z)^2 / (2 c)^2 = 36 / 100 of it.
        assert_eq!(draws_for_power(draws, se, 0.05, c), 6250.0);
        // A gap of 0.1: 0.75^2 * 1000 = 562.5, under the floor of 1500.
        assert_eq!(draws_for_plug_in(draws, se, 0.1, c, 1e9), 1500.0);
        // A gap of 0.02: 3.75^2 * 1000 = 14062.5, beyond a worst case of
        // 10000: the worst case.
        assert_eq!(draws_for_plug_in(draws, se, 0.02, c, 3e4), 14063.0);
        assert_eq!(draws_for_plug_in(draws, se, 0.02, c, 1e4), 1e4);
        // No gap, no standard error, or a worst case within the floor:
        // the worst case.
        assert_eq!(draws_for_plug_in(draws, se, 0.0, c, 7e4), 7e4);
        assert_eq!(draws_for_plug_in(draws, f64::NAN, 0.05, c, 7e4), 7e4);
        assert_eq!(draws_for_plug_in(draws, se, 0.05, c, 1400.0), 1400.0);
        // A larger gap never asks for more.
        let mut last = f64::INFINITY;
        for gap in [0.001, 0.01, 0.02, 0.05, 0.1] {
            let n = draws_for_plug_in(draws, se, gap, c, 1e12);
            assert!(n <= last, "{gap}: {n} > {last}");
            last = n;
        }
    }

    #[test]
    fn budgets_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_budget("300"), Ok(300.0));
        assert_eq!(parse_budget("90s"), Ok(90.0));
        assert_eq!(parse_budget("10m"), Ok(600.0));
        assert_eq!(parse_budget(" 1.5h "), Ok(5400.0));
        for bad in ["0", "-1", "abc", "", "inf", "nan", "5x"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
        assert_eq!(human_seconds(71366.0), "19.8 h");
        assert_eq!(human_seconds(2.5), "2.50 s");
        assert_eq!(lane_seconds(lane_ops(3.0)), 3.0);
        assert_eq!(share_ops(0.5), lane_ops(0.5));
    }
}
