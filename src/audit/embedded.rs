//! The shipped derivations, built into the binary: the default audit.
//!
//! `derivations/` used to be found relative to the current directory, so
//! `initaudit`, `explain` and `net` failed anywhere but the crate's root.
//! The files are now compiled in (one table, listed here; a test fails when
//! a file of `derivations/` is missing from it), and a `derivations/` folder
//! in the current directory still takes precedence, so the claims can be
//! edited and rerun without rebuilding.
//!
//! An embedded file is the same file as the one on disk: its name (which
//! keys its streams and heads its table) is `he2015.toml` either way, so the
//! built-in audit prints the same bytes as `cargo run` in the crate. Only
//! its origin differs, `derivations/he2015.toml (built in)`, so that an
//! error still names the file, line and column.

use super::load::{File, load};
use crate::diag::InputError;
use std::path::{Component, Path};

/// The folder the shipped derivations live in, and where a local copy is
/// looked for.
pub const FOLDER: &str = "derivations";

/// The shipped files, (name, text), sorted by name as a folder is read.
pub const FILES: &[(&str, &str)] = &[
    (
        "activations.toml",
        include_str!("../../derivations/activations.toml"),
    ),
    (
        "assumptions.toml",
        include_str!("../../derivations/assumptions.toml"),
    ),
    (
        "attention.toml",
        include_str!("../../derivations/attention.toml"),
    ),
    (
        "frameworks.toml",
        include_str!("../../derivations/frameworks.toml"),
    ),
    (
        "glorot2010.toml",
        include_str!("../../derivations/glorot2010.toml"),
    ),
    ("he2015.toml", include_str!("../../derivations/he2015.toml")),
    ("limits.toml", include_str!("../../derivations/limits.toml")),
    (
        "networks.toml",
        include_str!("../../derivations/networks.toml"),
    ),
    (
        "question.toml",
        include_str!("../../derivations/question.toml"),
    ),
    (
        "residual.toml",
        include_str!("../../derivations/residual.toml"),
    ),
    (
        "spectrum.toml",
        include_str!("../../derivations/spectrum.toml"),
    ),
];

/// Where errors in a built-in file point: its path in the repository,
/// marked as the copy in the binary.
pub fn origin(name: &str) -> String {
    format!("{FOLDER}/{name} (built in)")
}

/// Loads one built-in file under its own name.
pub fn load_builtin(name: &str, text: &str) -> Result<File, InputError> {
    let mut file = load(&origin(name), text)?;
    file.name = name.to_string();
    Ok(file)
}

/// The built-in files a path names: `derivations` all of them,
/// `derivations/NAME.toml` one; anything else none. Only consulted when the
/// path does not exist here, so a local folder takes precedence.
pub fn named(path: &Path) -> Option<Vec<(&'static str, &'static str)>> {
    let parts: Vec<_> = path
        .components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [folder] if *folder == FOLDER => Some(FILES.to_vec()),
        [folder, name] if *folder == FOLDER => {
            FILES.iter().find(|(n, _)| n == name).map(|&f| vec![f])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_file_is_built_in_and_current() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FOLDER);
        let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&dir)
            .expect("derivations/ is readable")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| {
                let name = p.file_name().unwrap().to_str().unwrap().to_string();
                (name, std::fs::read_to_string(&p).expect("readable"))
            })
            .collect();
        on_disk.sort();
        let built_in: Vec<(String, String)> = FILES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        assert_eq!(
            built_in.iter().map(|f| &f.0).collect::<Vec<_>>(),
            on_disk.iter().map(|f| &f.0).collect::<Vec<_>>(),
            "list every file of derivations/ in embedded::FILES, sorted"
        );
        assert_eq!(built_in, on_disk);
    }

    #[test]
    fn a_built_in_file_is_the_file_on_disk_by_name_and_its_errors_say_built_in() {
        let (name, text) = FILES[0];
        let f = load_builtin(name, text).expect("a shipped file loads");
        assert_eq!(f.name, crate::audit::identity(&format!("{FOLDER}/{name}")));
        let broken = format!("{text}\n[[claim]]\nid = \"x\"\nsays = \"E[y\"\n");
        let e = match load_builtin(name, &broken) {
            Err(e) => e.render(),
            Ok(_) => panic!("an unbalanced bracket is an error"),
        };
        let line = broken.lines().count();
        assert!(
            e.contains(&format!("derivations/{name} (built in):{line}:")),
            "{e}"
        );
    }

    #[test]
    fn paths_name_the_folder_or_one_file() {
        assert_eq!(
            named(Path::new("derivations")).map(|f| f.len()),
            Some(FILES.len())
        );
        assert_eq!(
            named(Path::new("./derivations/")).map(|f| f.len()),
            Some(FILES.len())
        );
        let one = named(Path::new("derivations/he2015.toml")).expect("shipped");
        assert_eq!(one.iter().map(|f| f.0).collect::<Vec<_>>(), ["he2015.toml"]);
        assert!(named(Path::new("derivations/nothing.toml")).is_none());
        assert!(named(Path::new("he2015.toml")).is_none());
        assert!(named(Path::new("/derivations")).is_none());
    }
}
