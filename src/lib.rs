//! initaudit: checks the mathematics behind weight initialization.
//!
//! Claims written in a small language are evaluated exactly and by seeded
//! Monte Carlo under named scenarios; verdicts say which hold under which
//! assumptions. Data flows one way: `lang` (parse) -> `model` (scenarios)
//! -> `exact` / `sample` -> `requirement`, `verdict` -> `audit` -> `report`.
//! See ARCHITECTURE.md for the map.

pub mod audit;
pub mod calibrate;
pub mod diag;
pub mod exact;
pub mod gain;
pub mod init;
pub mod lang;
pub mod meanfield;
pub mod memory;
pub mod model;
pub mod net;
pub mod report;
pub mod requirement;
pub mod sample;
pub mod verdict;
pub mod work;
