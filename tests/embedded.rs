//! The built-in derivations: `initaudit`, `explain` and `net` work from any
//! directory, and a local `derivations/` takes precedence. Each run here
//! starts in a scratch folder outside the crate; the truth it is held to is
//! the same command run in the crate, on the files on disk.

mod common;

use common::{Scratch, initaudit, initaudit_in};
use serde_json::Value;

/// A scratch folder of this test, emptied first and removed after.
fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("embedded-{name}"))
}

#[test]
fn a_built_in_file_is_audited_from_anywhere_as_the_file_on_disk() {
    let dir = scratch("audit");
    for format in ["table", "json"] {
        // frameworks.toml is the cheapest shipped file, and every exact
        // side in it is sampled: the same bytes are the same streams.
        let args = ["audit", "derivations/frameworks.toml", "--format", format];
        let (code, out, err) = initaudit_in(&dir, &args);
        let (crate_code, on_disk, crate_err) = initaudit(&args);
        assert_eq!(crate_code, 0, "{crate_err}");
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, on_disk, "{format}");
        assert_eq!(
            err,
            "auditing the built-in derivations/frameworks.toml (no derivations/ here)\n"
        );
        // Given a path, the crate's own run says nothing extra.
        assert_eq!(crate_err, "");
    }
    // A name that is not shipped is still an error, not an empty audit.
    let (code, _, err) = initaudit_in(&dir, &["audit", "derivations/nothing.toml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("derivations/nothing.toml: no such file or directory"),
        "{err}"
    );
    // ... and the help names what is shipped.
    assert!(
        err.contains("= help: built in: activations.toml, "),
        "{err}"
    );
    assert!(err.contains("he2015.toml"), "{err}");
}

/// The note on stderr when the built-in copy is read: it counts the files
/// the repository's derivations/ holds (the built-in copy is that folder).
fn built_in_note() -> String {
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/derivations"))
        .expect("derivations/")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count();
    format!("reading the built-in derivations ({files} files; no derivations/ here)\n")
}

#[test]
fn explain_searches_the_built_in_derivations() {
    let dir = scratch("explain");
    let (code, out, err) = initaudit_in(&dir, &["explain", "he.forward#3", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, built_in_note());
    let v: Value = serde_json::from_str(&out).unwrap();
    let results = v["results"].as_array().unwrap();
    // he.forward runs in six scenarios (derivations/he2015.toml).
    assert_eq!(results.len(), 6, "{out}");
    assert!(results.iter().all(|r| r["id"] == "he.forward#3"));
    assert!(results.iter().all(|r| r["as_expected"] == true), "{out}");
}

#[test]
fn net_finds_the_built_in_networks() {
    let dir = scratch("net");
    // relu-he (derivations/limits.toml) is the cheapest shipped network.
    let args = ["net", "relu-he", "--budget", "60"];
    let (code, out, err) = initaudit_in(&dir, &args);
    let (crate_code, on_disk, _) = initaudit(&args);
    assert_eq!(crate_code, 0);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, on_disk);
    assert!(out.contains("relu-he"), "{out}");
    assert!(err.starts_with(&built_in_note()), "{err}");
}

#[test]
fn a_local_derivations_folder_takes_precedence() {
    let dir = scratch("local");
    std::fs::create_dir_all(dir.join("derivations")).unwrap();
    let file = "[scenario.s]\nmodel = \"y ~ Normal(0, 1)\"\n\n[[claim]]\nid = \"local.mean\"\nsays = \"E[y] = 0\"\n";
    std::fs::write(dir.join("derivations/one.toml"), file).unwrap();
    for args in [&[][..], &["audit"][..]] {
        let (code, out, err) = initaudit_in(&dir, args);
        assert_eq!(code, 0, "{err}");
        assert_eq!(err, "auditing derivations/ (1 file)\n");
        assert!(out.starts_with("=== one.toml ==="), "{out}");
        assert!(!out.contains("he2015.toml"), "{out}");
    }
    let (code, out, err) = initaudit_in(&dir, &["explain", "local.mean"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("local.mean"), "{out}");
    // The built-in claims and files are not consulted beside a local folder.
    let (code, _, err) = initaudit_in(&dir, &["explain", "he.forward"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no claim, derivation or step `he.forward`"),
        "{err}"
    );
    let (code, _, err) = initaudit_in(&dir, &["audit", "derivations/he2015.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no such file or directory"), "{err}");
}
