//! The shipped audit must not depend on the seed: the fast files pass with
//! every expectation met at ten seeds. (All files over many more seeds:
//! docs/CALIBRATION.md.)

use initaudit::audit;
use initaudit::calibrate;
use std::path::PathBuf;

#[test]
fn the_fast_files_pass_at_ten_seeds() {
    let files: Vec<audit::File> = ["frameworks.toml", "glorot2010.toml"]
        .iter()
        .map(|f| {
            let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("derivations")
                .join(f);
            audit::load_path(&p).unwrap_or_else(|e| panic!("{}", e.render()))
        })
        .collect();
    for (seed, contradicted, defects) in calibrate::shipped(&files, 1..11) {
        assert_eq!((contradicted, defects), (0, 0), "seed {seed}");
    }
}
