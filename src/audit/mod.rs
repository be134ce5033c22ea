//! Audit files: loading, planning and running the claims of `derivations/`.
//!
//! A file is read in three passes, each of which can only fail on input:
//!
//! 1. **load** (`load.rs`): TOML into raw tables that remember where every
//!    string was, then every expression parsed, with errors shifted to file
//!    positions;
//! 2. **plan** (`plan.rs`): each claim, and each link of each derivation, is
//!    resolved in every scenario it applies to, its requirements decided,
//!    and its moments evaluated exactly; the number of statistical tests is
//!    counted here, over the whole run, so that the family-wise rate can be
//!    shared;
//! 3. **run** (`run.rs`): every planned trial is evaluated (in parallel,
//!    collected in order, so the output does not depend on the thread
//!    count), and its verdict compared with what the file expects.
//!
//! A claim is expected to hold in every scenario where its requirements are
//! met; an `expect` entry pins a verdict for a scenario. The attribution of
//! each requirement looks at scenarios that violate only that requirement.
//! What a run finds is an [`outcome`](crate::outcome), which `report`
//! renders.

pub mod embedded;
mod load;
mod plan;
mod run;

pub use load::{
    ClaimDef, File, FunctionTable, Item, Written, adhoc, check_defined, collect_files, define,
    identity, load, load_path,
};
pub use run::{network_error, run, run_selected};
