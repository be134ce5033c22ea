//! The calibration of docs/CALIBRATION.md in small: true claims of every
//! kind hold (no false failure, no inconclusive, no defect), and sampled
//! claims wrong by several times the resolution fail. The published run
//! (`cargo run --release --example calibrate`) counts the same things over
//! thousands of claims.

use initaudit::calibrate;

#[test]
fn true_claims_of_every_kind_hold_at_distinct_seeds() {
    for (k, kind) in calibrate::kinds().iter().enumerate() {
        let t = calibrate::true_claims(kind, 3, 7_000 + 100 * k as u64);
        assert_eq!(t.runs, 3);
        assert_eq!(t.wrong(), 0, "{}: {t:?}", kind.name);
        assert!(t.draws > 0, "{}: nothing was sampled: {t:?}", kind.name);
    }
}

#[test]
fn errors_of_several_resolutions_fail() {
    // The default resolution is 0.5%: 2% and 5% errors are 4 and 10 of it.
    for error in [0.02, 0.05] {
        let t = calibrate::power(error, 3, 9_000);
        assert_eq!(t.fails, t.runs, "{error}: {t:?}");
        assert_eq!(t.defects, 0, "{error}: {t:?}");
    }
}
