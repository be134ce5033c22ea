//! What the end-to-end tests share: running the binary, and loading a
//! file's text as `t.toml`.

// Each test binary compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch folder of one test, named by `tag` and the test process,
/// emptied when made and removed when dropped, so that test runs leave
/// nothing behind in the system's temporary folder.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("initaudit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary from the crate's folder; (status, stdout, stderr).
pub fn initaudit(args: &[&str]) -> (i32, String, String) {
    initaudit_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Runs the binary from `dir`; (status, stdout, stderr).
pub fn initaudit_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_initaudit"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8 output"),
        String::from_utf8(out.stderr).expect("utf-8 errors"),
    )
}

/// Runs the binary from a fresh scratch folder named by `tag` that holds
/// `files` (name, text), removed afterwards; (status, stdout, stderr).
pub fn initaudit_with(tag: &str, files: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let dir = Scratch::new(tag);
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("a scratch file");
    }
    initaudit_in(&dir, args)
}

/// `text` loaded as t.toml; a load error fails the test with its rendering.
pub fn load(text: &str) -> initaudit::audit::File {
    match initaudit::audit::load("t.toml", text) {
        Ok(f) => f,
        Err(e) => panic!("{}", e.render()),
    }
}

/// The rendered error of loading `text` as t.toml; accepting it fails the
/// test.
pub fn load_err(text: &str) -> String {
    match initaudit::audit::load("t.toml", text) {
        Ok(_) => panic!("accepted bad input: {text}"),
        Err(e) => e.render(),
    }
}

/// Two small networks and a series claim that holds for one (glorot's
/// halving of Var[y] per layer) and fails for the other (he's keeps it).
pub const TWO_NETWORKS_AND_A_SERIES: &str = r#"
[network.he]
depth = 4
width = 32
activation = "relu"
weight = "Normal(0, sqrt(2/fan_in))"
input = "Normal(0, 1)"
inputs = 8
draws = 200

[network.glorot]
depth = 4
width = 32
activation = "relu"
weight = "Normal(0, sqrt(1/fan_in))"
input = "Normal(0, 1)"
inputs = 8
draws = 200

[[series]]
id = "halves"
says = "Var[y(l)] ~= Var[y(l-1)] / 2"
layers = "2..L"
within = "15%"
expect = { he = "fails" }
"#;
