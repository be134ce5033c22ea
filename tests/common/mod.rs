//! What the end-to-end tests share: running the binary.

use std::path::Path;
use std::process::Command;

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
