//! `config.toml` of one model in a repository.
//!
//! Every section and key is optional. Unknown keys and bad values are errors that name the file,
//! the key and the line.
//!
//! ```toml
//! [versions]
//! policy = "latest"              # latest | all | specific
//! latest = 2                     # with "latest": how many of the newest versions to serve
//! specific = [1, 3]              # with "specific": exactly these
//! labels = { stable = 1, canary = 2 }
//!
//! [split]                        # optional traffic split between labels or versions
//! weights = { stable = 90, canary = 10 }
//!
//! [batching]
//! max_batch_size = 32
//! max_queue_delay_us = 0
//! preferred_batch_sizes = []
//! max_queue_size = 1024
//! default_timeout_us = 0
//!
//! [instances]
//! count = 2
//! intra_op_threads = 1
//! inter_op_threads = 1
//! optimization_level = "all"     # disabled | basic | extended | all
//! backend = "onnxruntime"        # onnxruntime | tract | auto (see inferkit::backend)
//!
//! [input_shapes]                 # inputs that always have one shape (ModelOptions::input_shapes)
//! x = [1, 3, 48, 192]
//!
//! [integrity]
//! max_model_bytes = 500_000_000
//! sha256 = { 2 = "9f86d0…" }     # per version; or a `model.onnx.sha256` file beside the model
//!
//! [warmup]
//! inputs = "zeros"               # zeros | random | file
//! count = 2
//! file = "warmup.tpk"            # with "file": a tensor pack beside config.toml
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::model::ModelOptions;
use crate::scheduler::BatchingOptions;
use crate::session::OptimizationLevel;

/// Which versions of a model are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionPolicy {
    /// The `n` newest versions.
    Latest(usize),
    /// Every version present.
    All,
    /// Exactly these versions.
    Specific(Vec<u64>),
}

impl Default for VersionPolicy {
    fn default() -> Self {
        VersionPolicy::Latest(1)
    }
}

impl VersionPolicy {
    /// The versions this policy serves out of those available.
    pub fn select(&self, available: &[u64]) -> Vec<u64> {
        let mut v: Vec<u64> = available.to_vec();
        v.sort_unstable();
        match self {
            VersionPolicy::Latest(n) => v.split_off(v.len().saturating_sub(*n)),
            VersionPolicy::All => v,
            VersionPolicy::Specific(list) => v.into_iter().filter(|x| list.contains(x)).collect(),
        }
    }
}

/// Where warmup inputs come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WarmupInputs {
    /// Zeros (false for bool), dynamic dims set to 1.
    #[default]
    Zeros,
    /// Pseudo-random values (a fixed seed), dynamic dims set to 1.
    Random,
    /// A tensor pack file (the format of `tests/fixtures/make_fixtures.py`).
    File(PathBuf),
}

/// Warmup run before a version becomes selectable.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Warmup {
    /// Where the inputs come from.
    pub inputs: WarmupInputs,
    /// How many inferences; 0 turns warmup off.
    pub count: usize,
}

with_setters!(Warmup {
    with_inputs(inputs, WarmupInputs);
    with_count(count, usize);
});

/// A traffic-split target: a label or a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitTarget {
    /// The version a label points at.
    Label(String),
    /// A version number.
    Version(u64),
}

/// The parsed configuration of one model.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ModelConfig {
    /// Versions served.
    pub policy: VersionPolicy,
    /// Labels and the versions they point at.
    pub labels: BTreeMap<String, u64>,
    /// Weighted traffic split.
    pub split: Vec<(SplitTarget, u32)>,
    /// Options for every version's sessions and scheduler.
    pub model: ModelOptions,
    /// Largest model file accepted, in bytes.
    pub max_model_bytes: Option<u64>,
    /// Expected SHA-256 (hex) per version.
    pub sha256: BTreeMap<u64, String>,
    /// Warmup.
    pub warmup: Warmup,
}

with_setters!(ModelConfig {
    with_policy(policy, VersionPolicy);
    with_labels(labels, BTreeMap<String, u64>);
    with_split(split, list (SplitTarget, u32));
    with_model(model, ModelOptions);
    with_max_model_bytes(max_model_bytes, some u64);
    with_sha256(sha256, BTreeMap<u64, String>);
    with_warmup(warmup, Warmup);
});

/// Most warmup inferences per version (`warmup.count`).
pub const MAX_WARMUP_COUNT: usize = 1000;

impl ModelConfig {
    /// The files this configuration makes the registry read, with the key that names each: label
    /// files, the tokenizer, the warmup file.
    pub fn files(&self) -> Vec<(&'static str, PathBuf)> {
        let mut files = Vec::new();
        if let Some(p) = &self.model.pipeline {
            if let Some(t) = &p.text {
                files.push(("pipeline.text.tokenizer", PathBuf::from(&t.tokenizer)));
            }
            for step in &p.post {
                if let crate::pipeline::PostStep::TopK {
                    labels: Some(l), ..
                } = step
                {
                    files.push(("pipeline.post.labels", PathBuf::from(l)));
                }
            }
        }
        if let WarmupInputs::File(f) = &self.warmup.inputs {
            files.push(("warmup.file", f.clone()));
        }
        files
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    versions: RawVersions,
    #[serde(default)]
    split: RawSplit,
    #[serde(default)]
    batching: RawBatching,
    #[serde(default)]
    instances: RawInstances,
    #[serde(default)]
    integrity: RawIntegrity,
    #[serde(default)]
    warmup: RawWarmup,
    #[serde(default)]
    pipeline: Option<crate::pipeline::PipelineSpec>,
    #[serde(default)]
    input_shapes: BTreeMap<String, Vec<usize>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVersions {
    policy: Option<RawPolicy>,
    latest: Option<usize>,
    specific: Option<Vec<u64>>,
    #[serde(default)]
    labels: BTreeMap<String, u64>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RawPolicy {
    Latest,
    All,
    Specific,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSplit {
    #[serde(default)]
    weights: BTreeMap<String, u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBatching {
    max_batch_size: Option<usize>,
    max_queue_delay_us: Option<u64>,
    preferred_batch_sizes: Option<Vec<usize>>,
    max_queue_size: Option<usize>,
    default_timeout_us: Option<u64>,
    batchable: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawInstances {
    count: Option<usize>,
    intra_op_threads: Option<usize>,
    inter_op_threads: Option<usize>,
    optimization_level: Option<RawLevel>,
    backend: Option<RawBackend>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawBackend {
    OnnxRuntime,
    Tract,
    Auto,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawLevel {
    Disabled,
    Basic,
    Extended,
    All,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIntegrity {
    max_model_bytes: Option<u64>,
    #[serde(default)]
    sha256: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWarmup {
    inputs: Option<RawWarmupInputs>,
    count: Option<usize>,
    file: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RawWarmupInputs {
    Zeros,
    Random,
    File,
}

fn config_error(file: &Path, message: impl Into<String>) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        message: message.into(),
    }
}

impl ModelConfig {
    /// Reads `<model dir>/config.toml`; a missing file is the default configuration.
    pub fn load(dir: &Path, defaults: &ModelOptions) -> Result<ModelConfig> {
        let file = dir.join("config.toml");
        match std::fs::read_to_string(&file) {
            Ok(text) => Self::parse(&file, &text, defaults),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ModelConfig {
                model: defaults.clone(),
                ..Default::default()
            }),
            Err(e) => Err(config_error(&file, e.to_string())),
        }
    }

    /// Parses the text of `file`. `defaults` supplies what the file does not set.
    pub fn parse(file: &Path, text: &str, defaults: &ModelOptions) -> Result<ModelConfig> {
        Self::parse_checked(file, text, defaults).map_err(|e| match e {
            // Checks made after toml has parsed name the key; add its line, as toml's own errors have.
            Error::Config { file, message } if !message.contains("line ") => {
                let message = match key_line(text, &message) {
                    Some((key, line)) => format!("line {line}, key `{key}`: {message}"),
                    None => message,
                };
                Error::Config { file, message }
            }
            other => other,
        })
    }

    fn parse_checked(file: &Path, text: &str, defaults: &ModelOptions) -> Result<ModelConfig> {
        // toml's message names the key and shows the line, e.g. "TOML parse error at line 3,
        // column 1 … unknown field `polcy`, expected one of `policy`, …".
        let raw: Raw = toml::from_str(text)
            .map_err(|e| config_error(file, e.to_string().trim_end().to_string()))?;
        let v = raw.versions;
        let policy = match v.policy.unwrap_or(RawPolicy::Latest) {
            RawPolicy::Latest => {
                if v.specific.is_some() {
                    return Err(config_error(
                        file,
                        "versions.specific is only valid with policy = \"specific\"",
                    ));
                }
                let n = v.latest.unwrap_or(1);
                if n == 0 {
                    return Err(config_error(file, "versions.latest must be at least 1"));
                }
                VersionPolicy::Latest(n)
            }
            RawPolicy::All => {
                if v.latest.is_some() || v.specific.is_some() {
                    return Err(config_error(
                        file,
                        "versions.latest and versions.specific are not valid with policy = \"all\"",
                    ));
                }
                VersionPolicy::All
            }
            RawPolicy::Specific => {
                if v.latest.is_some() {
                    return Err(config_error(
                        file,
                        "versions.latest is only valid with policy = \"latest\"",
                    ));
                }
                let list = v.specific.ok_or_else(|| {
                    config_error(
                        file,
                        "versions.policy = \"specific\" needs versions.specific = [..]",
                    )
                })?;
                if list.is_empty() || list.contains(&0) {
                    return Err(config_error(
                        file,
                        "versions.specific must list versions, each at least 1",
                    ));
                }
                VersionPolicy::Specific(list)
            }
        };
        for (label, version) in &v.labels {
            check_label(file, label)?;
            if *version == 0 {
                return Err(config_error(
                    file,
                    format!("versions.labels.{label}: versions start at 1"),
                ));
            }
        }
        let mut split = Vec::new();
        for (target, weight) in raw.split.weights {
            let t = match target.parse::<u64>() {
                Ok(0) => return Err(config_error(file, "split.weights: versions start at 1")),
                Ok(n) => SplitTarget::Version(n),
                Err(_) if v.labels.contains_key(&target) => SplitTarget::Label(target),
                Err(_) => {
                    return Err(config_error(file, format!("split.weights.{target}: not a version number nor a label in versions.labels")))
                }
            };
            split.push((t, weight));
        }
        if !split.is_empty() && split.iter().all(|(_, w)| *w == 0) {
            return Err(config_error(
                file,
                "split.weights: at least one weight must be above 0",
            ));
        }

        let mut model = defaults.clone();
        let b = raw.batching;
        let batching = BatchingOptions {
            max_batch_size: b.max_batch_size.unwrap_or(model.batching.max_batch_size),
            max_queue_delay_us: b
                .max_queue_delay_us
                .unwrap_or(model.batching.max_queue_delay_us),
            preferred_batch_sizes: b
                .preferred_batch_sizes
                .unwrap_or(model.batching.preferred_batch_sizes.clone()),
            max_queue_size: b.max_queue_size.unwrap_or(model.batching.max_queue_size),
            default_timeout_us: b
                .default_timeout_us
                .unwrap_or(model.batching.default_timeout_us),
            batchable: b.batchable.or(model.batching.batchable),
        };
        model.batching = batching;
        let i = raw.instances;
        if i.count == Some(0) {
            return Err(config_error(file, "instances.count must be at least 1"));
        }
        model.instances = i.count.unwrap_or(model.instances);
        model.session.intra_op_threads =
            i.intra_op_threads.unwrap_or(model.session.intra_op_threads);
        model.session.inter_op_threads =
            i.inter_op_threads.unwrap_or(model.session.inter_op_threads);
        if let Some(level) = i.optimization_level {
            model.session.optimization_level = match level {
                RawLevel::Disabled => OptimizationLevel::Disabled,
                RawLevel::Basic => OptimizationLevel::Basic,
                RawLevel::Extended => OptimizationLevel::Extended,
                RawLevel::All => OptimizationLevel::All,
            };
        }
        if let Some(backend) = i.backend {
            model.backend = match backend {
                RawBackend::OnnxRuntime => Backend::OnnxRuntime,
                RawBackend::Tract => Backend::Tract,
                RawBackend::Auto => Backend::Auto,
            };
            if !model.backend.is_built() {
                return Err(config_error(
                    file,
                    format!(
                        "instances.backend: `{}` needs inferkit built with the cargo feature `tract`",
                        model.backend
                    ),
                ));
            }
        }
        for (name, shape) in raw.input_shapes {
            model = model.with_input_shape(&name, &shape);
            let alone = ModelOptions::default().with_input_shape(&name, &shape);
            if let Err(e) = alone.check() {
                return Err(config_error(file, format!("input_shapes.{name}: {e}")));
            }
        }
        model
            .check()
            .map_err(|e| config_error(file, e.to_string()))?;
        if let Some(mut spec) = raw.pipeline {
            // Label files are relative to the model's directory.
            let dir = file.parent().unwrap_or(Path::new("."));
            if let Some(text) = &mut spec.text {
                text.tokenizer = dir.join(&text.tokenizer).to_string_lossy().into_owned();
            }
            for step in &mut spec.post {
                if let crate::pipeline::PostStep::TopK {
                    labels: Some(l), ..
                } = step
                {
                    *l = dir.join(&*l).to_string_lossy().into_owned();
                }
            }
            model.pipeline = Some(spec);
        }

        let mut sha256 = BTreeMap::new();
        for (version, hex) in raw.integrity.sha256 {
            let n: u64 = version.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                config_error(
                    file,
                    format!("integrity.sha256.{version}: not a version number"),
                )
            })?;
            sha256.insert(
                n,
                parse_sha256(&hex).ok_or_else(|| {
                    config_error(
                        file,
                        format!("integrity.sha256.{version}: not 64 hex digits"),
                    )
                })?,
            );
        }

        let w = raw.warmup;
        let inputs = match (w.inputs.unwrap_or(RawWarmupInputs::Zeros), w.file) {
            (RawWarmupInputs::File, Some(f)) => {
                WarmupInputs::File(file.parent().unwrap_or(Path::new(".")).join(f))
            }
            (RawWarmupInputs::File, None) => {
                return Err(config_error(
                    file,
                    "warmup.inputs = \"file\" needs warmup.file",
                ))
            }
            (_, Some(_)) => {
                return Err(config_error(
                    file,
                    "warmup.file is only valid with warmup.inputs = \"file\"",
                ))
            }
            (RawWarmupInputs::Zeros, None) => WarmupInputs::Zeros,
            (RawWarmupInputs::Random, None) => WarmupInputs::Random,
        };
        let count = w.count.unwrap_or(0);
        if count > MAX_WARMUP_COUNT {
            return Err(config_error(
                file,
                format!("warmup.count = {count} is more than {MAX_WARMUP_COUNT}"),
            ));
        }

        Ok(ModelConfig {
            policy,
            labels: v.labels,
            split,
            model,
            max_model_bytes: raw.integrity.max_model_bytes,
            sha256,
            warmup: Warmup { inputs, count },
        })
    }
}

/// The key an error message names (`versions.latest`, or a bare `max_batch_size` in backticks)
/// and the 1-based line of the file where it is set, if it can be found.
fn key_line(text: &str, message: &str) -> Option<(String, usize)> {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let dotted = message
        .split(|c: char| !is_key_char(c))
        .find(|w| {
            w.contains('.') && w.split('.').count() >= 2 && w.split('.').all(|p| !p.is_empty())
        })
        .map(|w| {
            let mut parts = w.split('.');
            (
                parts.next().map(str::to_string),
                parts.next().unwrap_or("").to_string(),
            )
        });
    let bare = || {
        message
            .split('`')
            .nth(1)
            .filter(|w| w.chars().all(is_key_char))
            .map(|w| (None, w.to_string()))
    };
    let (section, key) = dotted.or_else(bare)?;
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = name.trim().to_string();
            continue;
        }
        let in_section = section.as_ref().is_none_or(|s| *s == current);
        let sets_key = t
            .strip_prefix(key.as_str())
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if in_section && sets_key {
            let full = if current.is_empty() {
                key.clone()
            } else {
                format!("{current}.{key}")
            };
            return Some((full, i + 1));
        }
    }
    None
}

fn check_label(file: &Path, label: &str) -> Result<()> {
    if label.is_empty()
        || label.parse::<u64>().is_ok()
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(config_error(file, format!("versions.labels: `{label}` is not a label (letters, digits, '_' and '-', not a number)")));
    }
    Ok(())
}

/// Lower-case hex of a SHA-256, if `s` is 64 hex digits (surrounding whitespace allowed).
pub(crate) fn parse_sha256(s: &str) -> Option<String> {
    let s = s.split_whitespace().next()?.to_ascii_lowercase();
    (s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ModelConfig> {
        ModelConfig::parse(
            Path::new("models/m/config.toml"),
            text,
            &ModelOptions::default(),
        )
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Err(Error::Config { file, message }) => {
                assert_eq!(file, PathBuf::from("models/m/config.toml"));
                assert!(
                    message.contains("line "),
                    "every configuration error names its line: {message}"
                );
                message
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn empty_config_is_the_default() {
        let c = parse("").unwrap();
        assert_eq!(c.policy, VersionPolicy::Latest(1));
        assert!(c.labels.is_empty() && c.split.is_empty());
        assert_eq!(c.warmup.count, 0);
    }

    #[test]
    fn full_config_parses() {
        let c = parse(
            r#"
[versions]
policy = "latest"
latest = 2
labels = { stable = 1, canary = 2 }
[split]
weights = { stable = 90, canary = 10 }
[batching]
max_batch_size = 8
max_queue_size = 16
[instances]
count = 3
optimization_level = "basic"
[integrity]
max_model_bytes = 1000
sha256 = { 2 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08" }
[warmup]
inputs = "random"
count = 2
"#,
        )
        .unwrap();
        assert_eq!(c.policy, VersionPolicy::Latest(2));
        assert_eq!(c.labels.get("canary"), Some(&2));
        assert_eq!(
            c.split,
            vec![
                (SplitTarget::Label("canary".into()), 10),
                (SplitTarget::Label("stable".into()), 90)
            ]
        );
        assert_eq!(c.model.batching.max_batch_size, 8);
        assert_eq!(c.model.instances, 3);
        assert_eq!(c.model.session.optimization_level, OptimizationLevel::Basic);
        assert_eq!(c.max_model_bytes, Some(1000));
        assert_eq!(
            c.sha256[&2],
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(
            c.warmup,
            Warmup {
                inputs: WarmupInputs::Random,
                count: 2
            }
        );
    }

    #[test]
    fn policies_select_versions() {
        let avail = [3, 1, 7, 2];
        assert_eq!(VersionPolicy::Latest(2).select(&avail), vec![3, 7]);
        assert_eq!(VersionPolicy::Latest(9).select(&avail), vec![1, 2, 3, 7]);
        assert_eq!(VersionPolicy::All.select(&avail), vec![1, 2, 3, 7]);
        assert_eq!(VersionPolicy::Specific(vec![2, 9]).select(&avail), vec![2]);
    }

    #[test]
    fn unknown_keys_name_key_and_line() {
        let m = err("[versions]\npolicy = \"latest\"\npolcy = \"all\"\n");
        assert!(m.contains("polcy") && m.contains("line 3"), "{m}");
        let m = err("[batching]\nmax_batch = 3\n");
        assert!(m.contains("max_batch") && m.contains("line 2"), "{m}");
        let m = err("[nope]\n");
        assert!(m.contains("nope") && m.contains("line 1"), "{m}");
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let m = err("[versions]\npolicy = \"newest\"\n");
        assert!(m.contains("newest") && m.contains("line 2"), "{m}");
        let m = err("[batching]\nmax_batch_size = \"big\"\n");
        assert!(m.contains("max_batch_size") || m.contains("line 2"), "{m}");
        let m = err("[batching]\nmax_batch_size = -1\n");
        assert!(m.contains("line 2"), "{m}");
        let m = err("[versions]\nlatest = 0\n");
        assert!(m.contains("versions.latest") && m.contains("line 2"), "{m}");
        let m = err("# comment\n[batching]\nmax_queue_size = 4\nmax_batch_size = 0\n");
        assert!(
            m.contains("batching.max_batch_size") && m.contains("line 4"),
            "{m}"
        );
        let m = err("[instances]\ncount = 0\n");
        assert!(m.contains("instances.count") && m.contains("line 2"), "{m}");
        assert!(err("[versions]\npolicy = \"specific\"\n").contains("versions.specific"));
        assert!(err("[versions]\npolicy = \"all\"\nlatest = 2\n").contains("not valid"));
        assert!(err("[versions]\nlabels = { \"12\" = 1 }\n").contains("not a label"));
        assert!(err("[versions]\nlabels = { stable = 0 }\n").contains("start at 1"));
        assert!(err("[split]\nweights = { beta = 1 }\n").contains("split.weights.beta"));
        assert!(err("[split]\nweights = { 1 = 0 }\n").contains("at least one weight"));
        assert!(err("[integrity]\nsha256 = { 1 = \"abc\" }\n").contains("64 hex digits"));
        assert!(err("[integrity]\nsha256 = { x = \"abc\" }\n").contains("not a version"));
        assert!(err("[warmup]\ninputs = \"file\"\n").contains("warmup.file"));
        assert!(err("[batching]\nmax_batch_size = 0\n").contains("max_batch_size"));

        assert!(err("[instances]\noptimization_level = \"max\"\n").contains("max"));
        let m = err("[instances]\nbackend = \"ort\"\n");
        assert!(m.contains("ort") && m.contains("line 2"), "{m}");
    }

    #[test]
    fn input_shapes_are_read_by_name() {
        let c = ModelConfig::parse(
            Path::new("config.toml"),
            "[input_shapes]\nx = [1, 3, 48, 192]\n",
            &ModelOptions::default(),
        )
        .unwrap();
        assert_eq!(
            c.model.input_shapes,
            vec![("x".to_string(), vec![1, 3, 48, 192])]
        );
        assert!(err("[input_shapes]\nx = [-1]\n").contains("line 2"));
        assert!(
            err("[input_shapes]\nx = [4294967296, 4294967296, 4294967296]\n").contains("too large")
        );
    }

    #[test]
    fn the_backend_is_chosen_per_model() {
        let parse = |text: &str| {
            ModelConfig::parse(Path::new("config.toml"), text, &ModelOptions::default())
        };
        assert_eq!(parse("").unwrap().model.backend, Backend::OnnxRuntime);
        assert_eq!(
            parse("[instances]\nbackend = \"auto\"\n")
                .unwrap()
                .model
                .backend,
            Backend::Auto
        );
        let tract = parse("[instances]\nbackend = \"tract\"\n");
        if cfg!(feature = "tract") {
            assert_eq!(tract.unwrap().model.backend, Backend::Tract);
        } else {
            let m = tract.unwrap_err().to_string();
            assert!(
                m.contains("instances.backend") && m.contains("line 2") && m.contains("`tract`"),
                "{m}"
            );
        }
    }
}
