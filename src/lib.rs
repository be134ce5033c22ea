//! initaudit: checks the mathematics behind weight initialization.
//!
//! Claims written in a small language are evaluated exactly and by seeded
//! Monte Carlo under named scenarios; verdicts say which hold under which
//! assumptions. See ARCHITECTURE.md for the map.

pub mod exact;
pub mod lang;
pub mod model;
pub mod sample;
