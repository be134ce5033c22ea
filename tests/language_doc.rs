//! docs/LANGUAGE.md is executable: every `initaudit check` line in its
//! `sh` blocks must exit 0, and every `toml` block must audit cleanly.

use std::path::PathBuf;
use std::process::Command;

fn doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/LANGUAGE.md");
    std::fs::read_to_string(path).expect("docs/LANGUAGE.md exists")
}

/// The fenced blocks of a given language.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some(String::new()),
            Some(_) if line.trim() == "```" => out.push(current.take().expect("inside a block")),
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

/// Splits a command line into words, honouring single and double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => {
                word.push(c);
                any = true;
            }
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

#[test]
fn quoting_is_read_as_a_shell_would() {
    assert_eq!(
        words(r#"initaudit check "E[relu'(y)] = 1" --given 'y ~ N(0, 1)'"#),
        [
            "initaudit",
            "check",
            "E[relu'(y)] = 1",
            "--given",
            "y ~ N(0, 1)"
        ]
    );
}

#[test]
fn every_command_example_holds() {
    let mut failures = Vec::new();
    let mut count = 0;
    for block in blocks(&doc(), "sh") {
        for line in block.lines().filter(|l| l.starts_with("initaudit ")) {
            count += 1;
            let args = words(line);
            let out = Command::new(env!("CARGO_BIN_EXE_initaudit"))
                .args(&args[1..])
                .output()
                .expect("the binary runs");
            if !out.status.success() {
                failures.push(format!(
                    "{line}\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(count >= 50, "only {count} examples found");
    assert!(
        failures.is_empty(),
        "{} of {count} examples failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_file_example_audits_cleanly() {
    let dir = std::env::temp_dir().join(format!("initaudit-doc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let toml = blocks(&doc(), "toml");
    assert!(toml.len() >= 2);
    for (i, block) in toml.iter().enumerate() {
        let path = dir.join(format!("example{i}.toml"));
        std::fs::write(&path, block).expect("write the example");
        let out = Command::new(env!("CARGO_BIN_EXE_initaudit"))
            .arg("audit")
            .arg(&path)
            .output()
            .expect("the binary runs");
        assert!(
            out.status.success(),
            "example {i}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
