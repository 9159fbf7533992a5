//! Arbitrary text as a model's `config.toml`: parsing must succeed or fail with a typed error, and
//! what it accepts must be usable (options that check, a version policy that selects).
#![no_main]

mod common;

use std::path::Path;

use inferkit::repository::ModelConfig;
use inferkit::ModelOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // No runtime needed: parsing touches no model.
    let text = String::from_utf8_lossy(data);
    let Ok(config) = ModelConfig::parse(Path::new("config.toml"), &text, &ModelOptions::default())
    else {
        return;
    };
    let _ = config.model.check();
    let _ = config.policy.select(&[0, 1, 2, 3, 7, u64::MAX]);
    let _ = config.policy.select(&[]);
});
