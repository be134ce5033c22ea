//! Sums over an index (`sum(i in n, T)`), end to end: misuse is a located
//! error with exit status 2; a claim only sampling decides, with shared
//! variables and sums sharing their copies, gives the same bytes at one and
//! two threads; and the shipped attention file passes.

mod common;

use common::initaudit;

#[test]
fn an_index_the_sum_does_not_bind_is_located_with_the_index_meant() {
    let (code, out, err) = initaudit(&[
        "check",
        "E[sum(i in 4, x[j])] = 0",
        "--given",
        "x ~ Normal(0, 1)",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(
        err,
        "error: in scenario `given`: unknown index `j`: the sum around this runs over `i`\n --> <claim>:1:17\n  |\n1 | E[sum(i in 4, x[j])] = 0\n  |                 ^\n  = help: did you mean `x[i]`?\n"
    );
}

#[test]
fn a_copy_outside_any_sum_and_counts_that_disagree_are_errors() {
    let (code, _, err) = initaudit(&["check", "E[x[i]] = 0", "--given", "x ~ Normal(0, 1)"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`x[i]` is a copy, but no `sum(i in n, ...)` is around it"),
        "{err}"
    );
    let (code, _, err) = initaudit(&[
        "check",
        "Cov[sum(i in 4, x[i]), sum(i in 8, x[i])] = 4",
        "--given",
        "x ~ Normal(0, 1)",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the index `i` runs over 4 copies in one sum and 8 in another"),
        "{err}"
    );
    let (code, _, err) = initaudit(&["check", "sum(i in 4, 1) = 4"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn sampled_indexed_sums_are_byte_identical_at_any_thread_count() {
    // tanh of a sum has no exact rule: both sides are sampled, the copies
    // of x shared by the two sums and c drawn once per draw.
    let run = |threads: &'static str| {
        initaudit(&[
            "check",
            "E[tanh(sum(i in 6, x[i] + c)) * sum(i in 6, w[i]*x[i])] >= -1",
            "--given",
            "x ~ Normal(0, 1); w ~ Normal(0.2, 1); c ~ Normal(0, 1)",
            "--format",
            "json",
            "--threads",
            threads,
        ])
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one.0, 0, "{}{}", one.1, one.2);
    assert!(one.1.contains("\"sampled\""), "{}", one.1);
    assert_eq!(one, two);
}

#[test]
fn the_attention_claims_pass() {
    let (code, out, err) = initaudit(&["audit", "derivations/attention.toml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 contradicted, 0 defects"), "{out}");
}
