//! The self-check of `meanfield` and `init`: every number they print as
//! exact is restated as a claim of the language and audited.
//!
//! A printed q* becomes `s2 * E[F(z)^2] + b2 = q*` under
//! `z ~ Normal(0, sqrt(q*))`, a printed bound `Var[w] = target` under
//! `w ~ Uniform(-bound, bound)`, and so on. The claims go through the whole
//! audit: parsed from text, resolved, evaluated by the exact engine, and
//! every exact moment sampled by the claims' own self-check, inside one
//! family-wise test budget and the run's `--budget` (estimated before any
//! draw, refused over it). So a printed number is checked twice by paths it
//! did not come from: the claim's text (a definition, not the code that
//! found the number) and sampling.
//!
//! Restating is preferred to calling the sampler directly because the
//! claim is also what a reader can copy into a file of `derivations/`, and
//! because a bivariate moment (the c-map) is then sampled from the pair law
//! exactly as an audited claim's is.

use crate::audit::{self, FunctionTable};
use crate::diag::InputError;
use crate::lang::Functions;
use crate::verdict::{Settings, Verdict};
use serde_json::{Value, json};

/// A printed number restated: a claim under a model.
#[derive(Clone, Debug)]
pub struct Restated {
    pub id: String,
    /// Model statements, one per line.
    pub model: String,
    pub says: String,
}

/// What the audit of the restatements said.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub claims: usize,
    /// Statistical tests in the run's family-wise budget.
    pub tests: u64,
    /// Claims that did not hold or whose moments' samples disagreed with
    /// the exact values, with what went wrong.
    pub defects: Vec<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.defects.is_empty()
    }

    pub fn text(&self, seed: u64) -> String {
        if self.passed() {
            format!(
                "self-check: {} printed numbers restated as claims and audited (exact, and every \
                 exact moment sampled; {} tests, seed {seed}): all hold\n",
                self.claims, self.tests
            )
        } else {
            let mut s = format!(
                "self-check: DEFECT in {} of {} restated numbers (seed {seed}):\n",
                self.defects.len(),
                self.claims
            );
            for d in &self.defects {
                s.push_str(&format!("- {d}\n"));
            }
            s
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "claims": self.claims,
            "tests": self.tests,
            "passed": self.passed(),
            "defects": self.defects,
        })
    }
}

/// TOML's basic string: the language never needs more than `"` and `\`
/// escaped, and a model's newlines.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The file the restatements make: the activation's functions, one
/// scenario per claim, each claim pinned to its scenario.
pub fn file_text(functions: &FunctionTable, claims: &[Restated]) -> String {
    let mut text = String::from("[functions]\n");
    for name in functions.names() {
        if let Some(def) = functions.get(name) {
            let whole = format!("{name}({}) = {}", def.params.join(", "), def.body);
            text.push_str(&format!("{name} = {}\n", quoted(&whole)));
        }
    }
    for c in claims {
        text.push_str(&format!(
            "\n[scenario.{}]\nmodel = {}\n\n[[claim]]\nid = {}\nsays = {}\nin = [{}]\n",
            c.id,
            quoted(&c.model),
            quoted(&c.id),
            quoted(&c.says),
            quoted(&c.id)
        ));
    }
    text
}

/// Audits the restatements under `settings` (its seed, resolution, sample
/// cap and budget). A restatement that cannot be audited at all (over the
/// budget, or not evaluable) is an error, exit status 2, as in `check`.
pub fn audit(
    origin: &str,
    functions: &FunctionTable,
    claims: &[Restated],
    settings: &Settings,
) -> Result<Outcome, InputError> {
    let file = audit::load(origin, &file_text(functions, claims))?;
    let report = audit::run(&[file], settings)?;
    let mut defects = Vec::new();
    for (_, c) in report.checked() {
        for r in &c.rows {
            let e = &r.evaluation;
            for d in &e.defects {
                defects.push(format!(
                    "{}: {} is {} exactly but {} ± {} sampled",
                    c.id, d.moment, d.exact, d.sampled, d.se
                ));
            }
            if e.verdict != Verdict::Holds {
                let side = |s: &Option<crate::verdict::SideValue>| {
                    s.as_ref()
                        .map_or("—".to_string(), |v| format!("{:e}", v.value))
                };
                defects.push(format!(
                    "{}: `{}` {} ({} against {})",
                    c.id,
                    c.says,
                    e.verdict.name(),
                    side(&e.lhs),
                    side(&e.rhs)
                ));
            }
        }
    }
    Ok(Outcome {
        claims: claims.len(),
        tests: report.tests,
        defects,
    })
}
