//! docs/JSON.md against real output: the field tables of the page are the
//! schema, and every command's `--format json` is checked against its table
//! in both directions. Every field the table lists is present (unless typed
//! `absent`) with a listed type wherever its parent is, and every field the
//! output has is listed. The runs below are chosen so that every listed
//! field is met at least once; the few no honest run can show are named in
//! `NEVER_SEEN` with the reason.

mod common;

use common::{initaudit, initaudit_in};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A command's schema: path (`results[].lhs.value`) -> the types allowed.
type Schema = BTreeMap<String, Vec<String>>;

const TYPES: [&str; 8] = [
    "integer", "number", "string", "boolean", "object", "array", "null", "absent",
];

/// The tables of docs/JSON.md, by command: each follows a
/// `<!-- schema: CMD... -->` line; its rows are `| `path` | types | meaning |`.
fn schemas() -> BTreeMap<String, Schema> {
    let doc = include_str!("../docs/JSON.md");
    let mut out: BTreeMap<String, Schema> = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(cmds) = line
            .strip_prefix("<!-- schema:")
            .and_then(|l| l.strip_suffix("-->"))
        else {
            continue;
        };
        let mut schema = Schema::new();
        for row in lines.by_ref().skip(2) {
            let Some(row) = row.strip_prefix("| `") else {
                break;
            };
            let (path, rest) = row.split_once("` | ").expect("a row: | `path` | types |");
            let types: Vec<String> = rest
                .split(" | ")
                .next()
                .expect("a types cell")
                .split(" or ")
                .map(str::to_string)
                .collect();
            for t in &types {
                assert!(TYPES.contains(&t.as_str()), "{path}: unknown type `{t}`");
            }
            assert!(
                schema.insert(path.to_string(), types).is_none(),
                "{path} listed twice"
            );
        }
        assert!(!schema.is_empty(), "an empty table after {line}");
        for cmd in cmds.split_whitespace() {
            out.insert(cmd.to_string(), schema.clone());
        }
    }
    out
}

/// The one style of keys and enumerated values: `load_bearing`, `every_q`.
fn snake_case(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The fields whose values are enumerated (names, not data), per command.
const ENUMERATED: [(&str, &[&str]); 5] = [
    (
        "audit",
        &[
            "results[].lhs.method",
            "results[].rhs.method",
            "results[].verdict",
            "results[].expected",
            "results[].requirements[].by",
            "attribution[].status",
        ],
    ),
    (
        "gain",
        &[
            "gains[].label",
            "gains[].fixed_point.kind",
            "gains[].phase",
            "self_check.moments[].result",
        ],
    ),
    (
        "init",
        &["scheme", "framework", "mode", "weight.law", "bias.law"],
    ),
    ("meanfield", &["point.phase", "point.q_star"]),
    ("net", &["networks[].norms[].name"]),
];

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether a value of JSON type `actual` is allowed by `types` (an integer
/// is a number too).
fn allowed(types: &[String], actual: &str) -> bool {
    types
        .iter()
        .any(|t| t == actual || (t == "number" && actual == "integer"))
}

fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Checks `v` at `path` against the schema, recording the paths seen;
/// every mismatch is pushed to `errors`.
fn walk(
    schema: &Schema,
    path: &str,
    v: &Value,
    seen: &mut BTreeSet<String>,
    errors: &mut Vec<String>,
) {
    match v {
        Value::Object(map) => {
            let wildcard = child(path, "*");
            if schema.contains_key(&wildcard) {
                for (k, x) in map {
                    check(schema, &wildcard, x, seen, errors, &format!("{path}.{k}"));
                }
                return;
            }
            for k in map.keys().filter(|k| !snake_case(k)) {
                errors.push(format!("`{}` is not snake_case", child(path, k)));
            }
            // Every listed field of this object is present, unless absent is allowed.
            let prefix = child(path, "");
            for (p, types) in schema.range(prefix.clone()..) {
                if !p.starts_with(&prefix) {
                    break;
                }
                let key = &p[prefix.len()..];
                if key.contains(['.', '[']) {
                    continue;
                }
                if !map.contains_key(key) && !types.iter().any(|t| t == "absent") {
                    errors.push(format!("`{p}` is listed but missing"));
                }
            }
            for (k, x) in map {
                let p = child(path, k);
                check(schema, &p, x, seen, errors, &p);
            }
        }
        Value::Array(items) => {
            let p = format!("{path}[]");
            for x in items {
                check(schema, &p, x, seen, errors, &p);
            }
        }
        _ => {}
    }
}

/// One value at the schema path `p` (`shown` in messages).
fn check(
    schema: &Schema,
    p: &str,
    v: &Value,
    seen: &mut BTreeSet<String>,
    errors: &mut Vec<String>,
    shown: &str,
) {
    match schema.get(p) {
        None => errors.push(format!("`{shown}` is in the output but not listed")),
        Some(types) if !allowed(types, type_of(v)) => errors.push(format!(
            "`{shown}` is {} but listed as {}",
            type_of(v),
            types.join(" or ")
        )),
        Some(_) => {
            seen.insert(p.to_string());
        }
    }
    let enumerated = ENUMERATED.iter().any(|(_, paths)| paths.contains(&p));
    if let Some(name) = v.as_str().filter(|n| enumerated && !snake_case(n)) {
        errors.push(format!("`{shown}` is `{name}`, not snake_case"));
    }
    walk(schema, p, v, seen, errors);
}

/// Runs the command (from `dir`, or the crate's folder) with `--format
/// json`, checks its output against `cmd`'s table, and returns the paths
/// seen and the document.
fn run(cmd: &str, dir: Option<&std::path::Path>, args: &[&str]) -> (BTreeSet<String>, Value) {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let (code, out, err) = match dir {
        Some(d) => initaudit_in(d, &args),
        None => initaudit(&args),
    };
    // Every run here is one that passes: a failure would be a finding of
    // its own, not something to read the schema from.
    assert_eq!(code, 0, "{args:?}: {err}\n{out}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"));
    assert_eq!(v["schema_version"], 1, "{args:?}");
    let schema = &schemas()[cmd];
    let (mut seen, mut errors) = (BTreeSet::new(), Vec::new());
    walk(schema, "", &v, &mut seen, &mut errors);
    assert!(errors.is_empty(), "{args:?}:\n{}", errors.join("\n"));
    (seen, v)
}

/// The paths seen in a run that follows the schema.
fn conforms(cmd: &str, dir: Option<&std::path::Path>, args: &[&str]) -> BTreeSet<String> {
    run(cmd, dir, args).0
}

/// Every listed path of `cmd` was seen in some run, but for `never`.
fn all_seen(cmd: &str, seen: &BTreeSet<String>, never: &[&str]) {
    let schemas = schemas();
    let unseen: Vec<&String> = schemas[cmd]
        .keys()
        .filter(|p| !seen.contains(*p) && !never.contains(&p.as_str()))
        .collect();
    assert!(unseen.is_empty(), "{cmd}: listed, never seen: {unseen:?}");
}

/// A defect is a bug of the exact engine: no honest run shows one.
const DEFECT_FIELDS: [&str; 5] = [
    "results[].defects[]",
    "results[].defects[].moment",
    "results[].defects[].exact",
    "results[].defects[].sampled",
    "results[].defects[].se",
];

/// A printed number that its restated claim contradicts is a bug: no
/// honest run of `init` or `meanfield` lists one.
const SELF_CHECK_DEFECT: [&str; 1] = ["self_check.defects[]"];

/// Scenarios with a requirement met, refuted and load-bearing, one never
/// broken alone, an undefined moment, a side only sampling decides, a
/// derivation, and a series claim on a small network.
const RUN: &str = r#"
[scenario.sym]
model = "y ~ Normal(0, 1)"

[scenario.skew]
model = "u ~ Exponential(1); y = u - 1"

[scenario.heavy]
model = "y ~ Cauchy(0, 1)"

[scenario.sum]
model = "a ~ Normal(0, 1); b ~ Normal(0, 1); c ~ Normal(0, 1)"

[[claim]]
id = "half"
cite = "He et al. 2015, eq. (7)"
says = "E[relu(y)^2] = E[y^2]/2"
requires = ["symmetric(y)", "zero_mean(y)"]
in = ["sym", "skew"]
expect = { skew = "fails" }

[[claim]]
id = "undefined"
says = "E[y^2] = 1"
in = ["heavy"]
expect = { heavy = "undefined" }

[[claim]]
id = "sampled"
says = "E[relu(a + b + c)] = sqrt(3) / sqrt(2*pi)"

[[derivation]]
id = "chain"
start = "E[relu(y)^2]"
in = ["sym"]

[[derivation.step]]
to = "E[y^2]/2"
why = "y is symmetric"

[[derivation.step]]
to = "1/2"

[network.tiny]
about = "three ReLU layers of four units"
widths = [4, 4, 4]
activation = "relu"
weight = "Normal(0, sqrt(2/fan_in))"
input = "Normal(0, 1)"
inputs = 4
draws = 64

[[series]]
id = "flat"
says = "E[x(l)^2] ~= E[x(l-1)^2]"
layers = "2..L"
within = "60%"
"#;

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("initaudit-json-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    std::fs::write(dir.join("run.toml"), RUN).expect("writes");
    dir
}

#[test]
fn audit_check_and_explain_follow_the_schema() {
    let dir = scratch();
    let (mut seen, v) = run("audit", Some(&dir), &["audit", "run.toml"]);
    seen.extend(conforms(
        "explain",
        Some(&dir),
        &["explain", "half", "run.toml"],
    ));
    seen.extend(conforms(
        "check",
        None,
        &[
            "check",
            "E[relu(y)^2] = Var[y]/2",
            "--given",
            "y ~ Laplace(0, 1)",
        ],
    ));
    all_seen("audit", &seen, &DEFECT_FIELDS);
    // A series claim's rows name their network; the attribution's statuses.
    let rows = v["results"].as_array().expect("results");
    let flat: Vec<&Value> = rows.iter().filter(|r| r["id"] == "flat").collect();
    assert_eq!(flat.len(), 1, "{v}");
    assert_eq!(flat[0]["network"], "tiny");
    assert_eq!(flat[0]["scenario"], Value::Null);
    assert!(
        rows.iter()
            .filter(|r| r["id"] != "flat")
            .all(|r| r["network"].is_null() && r["scenario"].is_string())
    );
    let sampled = rows.iter().find(|r| r["id"] == "sampled").expect("a row");
    assert_eq!(
        (&sampled["lhs"]["method"], &sampled["lhs"]["exact"]),
        (&Value::from("sampled"), &Value::from(false))
    );
    let status = |req: &str| {
        let a = v["attribution"]
            .as_array()
            .expect("attribution")
            .iter()
            .find(|a| a["id"] == "half" && a["requirement"] == req)
            .expect("attributed");
        (a["status"].clone(), a["scenario"].clone())
    };
    assert_eq!(
        status("symmetric(y)"),
        ("load_bearing".into(), "skew".into())
    );
    assert_eq!(status("zero_mean(y)"), ("never_tried".into(), Value::Null));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gain_follows_the_schema() {
    // A PyTorch gain; ReLU, where every q is a fixed point at its gain; elu,
    // with no PyTorch gain. A few layers: the fields are the same at 30.
    let mut seen = conforms("gain", None, &["gain", "sigmoid", "--depth", "5"]);
    seen.extend(conforms("gain", None, &["gain", "relu", "--depth", "5"]));
    seen.extend(conforms(
        "gain",
        None,
        &[
            "gain",
            "elu",
            "--bias-var",
            "0.1",
            "--max-samples",
            "20000",
            "--depth",
            "5",
        ],
    ));
    all_seen("gain", &seen, &[]);
}

#[test]
fn init_follows_the_schema() {
    let mut seen = BTreeSet::new();
    for args in [
        &["init", "default", "--shape", "8,4", "--depth", "3"][..],
        &[
            "init",
            "kaiming_normal",
            "--shape",
            "8,4",
            "--act",
            "tanh",
            "--depth",
            "3",
        ],
        &[
            "init",
            "variance_scaling",
            "--framework",
            "jax",
            "--scale",
            "2",
            "--shape",
            "4,8",
            "--depth",
            "3",
        ],
        &["init", "orthogonal", "--shape", "8,4", "--depth", "3"],
        &[
            "init",
            "default",
            "--framework",
            "jax",
            "--shape",
            "4,8",
            "--depth",
            "3",
        ],
    ] {
        seen.extend(conforms("init", None, args));
    }
    all_seen("init", &seen, &SELF_CHECK_DEFECT);
}

#[test]
fn meanfield_follows_the_schema() {
    let mut seen = conforms(
        "meanfield",
        None,
        &["meanfield", "tanh", "--bias-var", "0.05"],
    );
    seen.extend(conforms(
        "meanfield",
        None,
        &[
            "meanfield",
            "tanh",
            "--sigma-w",
            "1.5811388300841898",
            "--bias-var",
            "0.05",
        ],
    ));
    all_seen("meanfield", &seen, &SELF_CHECK_DEFECT);
}

#[test]
fn net_follows_the_schema() {
    let dir = scratch();
    let seen = conforms("net", Some(&dir), &["net", "tiny", "--in", "run.toml"]);
    all_seen("net", &seen, &[]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The checker itself: a field the output has and the table lacks, one the
/// table lists and the output lacks, and a wrong type are each caught.
#[test]
fn the_checker_catches_each_kind_of_mismatch() {
    let schema: Schema = [
        ("a", vec!["integer"]),
        ("b", vec!["string", "null"]),
        ("c", vec!["number", "absent"]),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t.into_iter().map(str::to_string).collect()))
    .collect();
    let errors = |v: Value| {
        let (mut seen, mut errors) = (BTreeSet::new(), Vec::new());
        walk(&schema, "", &v, &mut seen, &mut errors);
        errors
    };
    assert!(errors(serde_json::json!({"a": 1, "b": null})).is_empty());
    assert!(errors(serde_json::json!({"a": 1, "b": "x", "c": 2.5})).is_empty());
    assert_eq!(
        errors(serde_json::json!({"a": 1, "b": null, "d": 0})),
        ["`d` is in the output but not listed"]
    );
    assert_eq!(
        errors(serde_json::json!({"b": null})),
        ["`a` is listed but missing"]
    );
    assert_eq!(
        errors(serde_json::json!({"a": 1.5, "b": null})),
        ["`a` is number but listed as integer"]
    );
}
