//! Progress and notes on stderr, end to end: the bar appears only on a
//! terminal, never touches stdout, and `--quiet` silences it and the notes
//! (never an error). A terminal is given by `script` (util-linux), which
//! runs the command on a pseudo-terminal and copies what it shows;
//! `INITAUDIT_PROGRESS_AFTER=0` shows the bar at once, so that a short run
//! can be watched.

mod common;

use common::{Scratch, initaudit, initaudit_in};
use std::path::Path;
use std::process::Command;

const CLAIMS: &str = "[scenario.unit]\nmodel = \"y ~ Laplace(0, 1)\"\n\n[[claim]]\nid = \"half\"\nsays = \"E[relu(y)^2] = Var[y]/2\"\n";

const NETWORK: &str = "[network.tiny]\ndepth = 2\nwidth = 4\nactivation = \"relu\"\nweight = \"Normal(0, sqrt(2/fan_in))\"\ninput = \"Normal(0, 1)\"\ninputs = 2\ndraws = 32\n";

/// A fresh folder holding `derivations/claims.toml`: a claim and a
/// network (a network alone is nothing to audit).
fn folder(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("progress-{name}"));
    std::fs::create_dir_all(dir.join("derivations")).expect("a scratch folder");
    let text = format!("{CLAIMS}\n{NETWORK}");
    std::fs::write(dir.join("derivations/claims.toml"), text).expect("written");
    dir
}

/// Runs the binary with `args` on a pseudo-terminal in `dir`, stdout sent
/// to `dir/stdout`, the bar shown at once: (what the terminal showed, the
/// stdout written).
fn on_a_terminal(dir: &Path, args: &[&str]) -> (String, String) {
    let out = dir.join("stdout");
    let line = format!(
        "'{}' {} > '{}'",
        env!("CARGO_BIN_EXE_initaudit"),
        args.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" "),
        out.display()
    );
    let shown = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(dir)
        .env("INITAUDIT_PROGRESS_AFTER", "0")
        .output()
        .expect("`script` (util-linux) runs the binary on a pseudo-terminal");
    assert!(shown.status.success(), "{shown:?}");
    (
        String::from_utf8_lossy(&shown.stdout).into_owned(),
        std::fs::read_to_string(out).expect("stdout was written"),
    )
}

#[test]
fn on_a_terminal_the_bar_shows_and_stdout_is_the_same_bytes() {
    let dir = folder("terminal");
    let (shown, stdout) = on_a_terminal(&dir, &["audit"]);
    assert!(shown.contains("auditing derivations/ (1 file)"), "{shown}");
    assert!(shown.contains("sampling: first looks ["), "{shown}");
    let (code, plain, _) = initaudit_in(&dir, &["audit"]);
    assert_eq!(code, 0, "{plain}");
    assert_eq!(stdout, plain);
    let (shown, quiet) = on_a_terminal(&dir, &["--quiet", "audit"]);
    assert_eq!(shown, "");
    assert_eq!(quiet, plain);
    let (shown, _) = on_a_terminal(&dir, &["net", "tiny"]);
    assert!(shown.contains("network tiny: draws ["), "{shown}");
}

#[test]
fn gain_shows_its_sampling_and_quiet_silences_it() {
    let dir = folder("gain");
    let (shown, stdout) = on_a_terminal(&dir, &["gain", "relu"]);
    assert!(
        shown.contains("gain: sampling every printed moment ["),
        "{shown}"
    );
    let (shown, quiet) = on_a_terminal(&dir, &["gain", "relu", "--quiet"]);
    assert_eq!(shown, "");
    assert_eq!(quiet, stdout);
}

/// With stderr not a terminal there is no bar at all, even when asked to
/// show it at once: only the notes.
#[test]
fn off_a_terminal_there_is_no_bar() {
    let dir = folder("pipe");
    let out = Command::new(env!("CARGO_BIN_EXE_initaudit"))
        .args(["audit"])
        .current_dir(&*dir)
        .env("INITAUDIT_PROGRESS_AFTER", "0")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "auditing derivations/ (1 file)\n"
    );
}

/// `--quiet` silences the notes of every command that reads files or
/// draws networks, and nothing else: the output is the same bytes.
#[test]
fn quiet_silences_the_notes_of_audit_explain_and_net() {
    let dir = folder("notes");
    let cases: [(&[&str], &str); 3] = [
        (&["audit"], "auditing derivations/ (1 file)\n"),
        (&["explain", "half"], "reading derivations/ (1 file)\n"),
        (
            &["net", "tiny"],
            "reading derivations/ (1 file)\nnetwork tiny: ",
        ),
    ];
    for (args, note) in cases {
        let (code, out, err) = initaudit_in(&dir, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(err.starts_with(note), "{args:?}: {err}");
        let quiet: Vec<&str> = std::iter::once("--quiet")
            .chain(args.iter().copied())
            .collect();
        let (quiet_code, quiet_out, quiet_err) = initaudit_in(&dir, &quiet);
        assert_eq!((quiet_code, quiet_err.as_str()), (0, ""), "{args:?}");
        assert_eq!(quiet_out, out, "{args:?}");
    }
}

/// `--quiet` never silences an error: a phase diagram refused over the
/// budget still says why.
#[test]
fn quiet_keeps_errors() {
    let (code, _, err) = initaudit(&[
        "meanfield",
        "tanh",
        "--plot",
        "never-written.svg",
        "--budget",
        "0.001",
        "--quiet",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("error: "), "{err}");
}
