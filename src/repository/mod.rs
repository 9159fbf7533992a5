//! A model repository with versions: the layout Triton and TF Serving users know.
//!
//! ```text
//! models/
//!   classifier/
//!     config.toml          optional: versions, labels, split, batching, instances, integrity, warmup
//!     1/model.onnx
//!     2/model.onnx
//!     2/model.onnx.sha256  optional integrity check
//! ```
//!
//! [`Registry::open`] scans the root and loads the versions each model's policy serves. A request
//! selects a version explicitly, by label, through the model's traffic split, or takes the default
//! (the newest ready version the policy serves), and gets a [`ModelRef`]: an `Arc` on that one
//! loaded version, which stays valid and on that version even if a reload swaps versions.
//!
//! Reloads (`reload()`, or a polling thread) load and warm a new version before it becomes
//! selectable, then swap the version table atomically: readers never wait for a load, requests in
//! flight finish on the version they started on, and an unloaded version is dropped when its last
//! request ends. A version that fails to load (corrupt file, checksum mismatch, warmup error)
//! never replaces a ready one; [`Registry::status`] shows it with its reason.
//!
//! ```
//! use inferkit::repository::{Registry, RegistryOptions, Select};
//! use inferkit::TensorView;
//!
//! let registry = Registry::open("examples/models", RegistryOptions::default())?;
//! let stable = registry.model("classifier", Select::Label("stable"))?;
//! assert_eq!(stable.version(), 1);
//! let x = [0.5f32; 16];
//! let out = stable.infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])?;
//! assert_eq!(out["y"].shape(), &[1, 4]);
//!
//! registry.set_label("classifier", "stable", 2)?;     // promote the canary
//! assert_eq!(registry.model("classifier", Select::Label("stable"))?.version(), 2);
//! assert_eq!(stable.version(), 1);                      // a pinned reference stays on its version
//! # Ok::<(), inferkit::Error>(())
//! ```

pub mod config;
mod warmup;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use config::{ModelConfig, SplitTarget, VersionPolicy, Warmup, WarmupInputs};

use crate::error::{Error, Result};
use crate::metrics::{EventCounts, MetricsSnapshot};
use crate::model::{Model, ModelOptions};

/// How a registry is opened.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegistryOptions {
    /// Load every model found at open (default). When false (explicit mode), models are loaded
    /// only by [`Registry::load`].
    pub load_all: bool,
    /// Re-scan the repository at this interval on a background thread. `None` (default): only
    /// when [`Registry::reload`] is called.
    pub poll_interval: Option<Duration>,
    /// Options for models whose `config.toml` does not set them.
    pub defaults: ModelOptions,
    /// Whether the registry may read files outside its root: model and version folders that are
    /// symbolic links out of it, and label, tokenizer and warmup files named with absolute paths or
    /// `..`. Default false: every file the registry reads must resolve inside the root, and a model
    /// or version that breaks the rule is reported in [`Registry::status`] and not loaded.
    pub allow_outside_paths: bool,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            load_all: true,
            poll_interval: None,
            defaults: ModelOptions::default(),
            allow_outside_paths: false,
        }
    }
}

with_setters!(RegistryOptions {
    with_load_all(load_all, bool);
    with_poll_interval(poll_interval, some Duration);
    with_defaults(defaults, ModelOptions);
    with_allow_outside_paths(allow_outside_paths, bool);
});

/// How a request picks a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select<'a> {
    /// The newest ready version that the model's policy serves.
    Default,
    /// This version.
    Version(u64),
    /// The version this label points at.
    Label(&'a str),
    /// The model's traffic split: with a routing key, the same key always gets the same version
    /// (while the split and versions stay the same); without one, weighted at random. A model
    /// without a split serves its default.
    Split(Option<&'a str>),
}

/// One loaded version of a model, pinned for as long as this reference lives. Dereferences to
/// [`Model`] for inference.
#[derive(Clone)]
pub struct ModelRef {
    model: Arc<Model>,
    name: Arc<str>,
    version: u64,
}

impl std::fmt::Debug for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRef")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

impl ModelRef {
    /// The model's name in the repository.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version this reference is pinned to.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The loaded model, shared.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }
}

impl std::ops::Deref for ModelRef {
    type Target = Model;
    fn deref(&self) -> &Model {
        &self.model
    }
}

/// The state of one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum VersionState {
    /// Being loaded or warmed up; not selectable yet.
    Loading,
    /// Selectable.
    Ready,
    /// Failed to load; the reason says why. A ready version of the model keeps serving.
    Failed(String),
    /// Removed from the table; requests that pinned it are still running.
    Unloading,
}

/// One version in [`ModelStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionStatus {
    /// The version number.
    pub version: u64,
    /// Its state.
    #[serde(flatten)]
    pub state: VersionState,
}

/// A folder in a model's directory that is not served as a version, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredFolder {
    /// The folder's name.
    pub name: String,
    /// Why it is not a version.
    pub reason: String,
}

/// A model's versions and labels, from [`Registry::status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelStatus {
    /// The model's name.
    pub name: String,
    /// What is wrong with the model as a whole, if anything: an invalid `config.toml` (with file,
    /// key and line), or a folder outside the repository. While it is set, no new version is
    /// loaded; versions already ready keep serving with the last valid configuration.
    pub error: Option<String>,
    /// Folders that are not served as versions, with the reason (`0001`, `+2`, `v2`, a version
    /// folder without `model.onnx`, or one outside the repository).
    pub ignored: Vec<IgnoredFolder>,
    /// Versions, ascending.
    pub versions: Vec<VersionStatus>,
    /// Labels and the versions they point at.
    pub labels: BTreeMap<String, u64>,
    /// The version [`Select::Default`] serves now, if any.
    pub default_version: Option<u64>,
}

/// What readers see; replaced as a whole on every change.
#[derive(Default)]
struct Table {
    ready: BTreeMap<u64, Arc<Model>>,
    /// Ready versions the policy serves, ascending; the default is the last.
    served: Vec<u64>,
    labels: BTreeMap<String, u64>,
    split: Vec<(SplitTarget, u32)>,
}

/// Control-side state of one model, changed under its lock (held through whole loads).
struct Control {
    config: ModelConfig,
    /// Whether `config` was read from the model's `config.toml` (or its absence) at least once.
    configured: bool,
    /// (size, modified) of a file that failed to load: not retried until it changes.
    failed_files: HashMap<u64, (u64, Option<SystemTime>)>,
    /// Versions unloaded explicitly; a reload does not load them again until `load`.
    excluded: BTreeSet<u64>,
    /// Configuration labels already applied: a label moved at run time stays where it was moved
    /// until the configuration changes that label.
    applied_labels: BTreeMap<String, u64>,
}

/// What status and metrics show of one model. Its own lock, held only for a moment, never
/// through a load: readers of status and metrics do not wait for reloads.
#[derive(Default)]
struct Shown {
    /// The model-level problem shown in status.
    error: Option<String>,
    /// Folders that are not versions, from the last scan.
    ignored: Vec<IgnoredFolder>,
    status: BTreeMap<u64, VersionState>,
    /// Removed versions, until their last request ends.
    unloading: Vec<(u64, Weak<Model>)>,
    /// Load, failure and unload events per version.
    events: BTreeMap<u64, EventCounts>,
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Shown {
    fn event(&mut self, version: u64, kind: usize) {
        let e = self.events.entry(version).or_default();
        match kind {
            0 => e.loads += 1,
            1 => e.load_failures += 1,
            _ => e.unloads += 1,
        }
        e.last[kind.min(2)] = Some(now_unix());
    }
}

struct Entry {
    name: Arc<str>,
    dir: PathBuf,
    table: ArcSwap<Table>,
    control: Mutex<Control>,
    shown: Mutex<Shown>,
}

struct Inner {
    root: PathBuf,
    options: RegistryOptions,
    models: ArcSwap<BTreeMap<String, Arc<Entry>>>,
    /// Serialises load, unload, reload and label changes (readers never take it).
    control: Mutex<()>,
    stop: AtomicBool,
}

/// A model repository. Thread-safe: select and infer from any number of threads while another
/// reloads. Dropping it stops the polling thread; loaded versions go when their last
/// [`ModelRef`] does.
pub struct Registry {
    inner: Arc<Inner>,
    poller: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

/// Checks a model name: not empty, no path separator, not `.` or `..`, not hidden.
pub fn check_model_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.contains(['/', '\\', '\0']) {
        Some("it contains a path separator")
    } else if name == "." || name == ".." || name.starts_with('.') {
        Some("it is `.`, `..` or hidden")
    } else {
        None
    };
    match reason {
        Some(r) => Err(Error::InvalidModelName {
            name: name.to_string(),
            reason: r.to_string(),
        }),
        None => Ok(()),
    }
}

impl Registry {
    /// Opens the repository at `root`, loading every model in it unless `options.load_all` is false.
    /// A model or version that fails to load does not fail the open: see [`Registry::status`].
    pub fn open(root: impl AsRef<Path>, options: RegistryOptions) -> Result<Registry> {
        let root = root.as_ref().to_path_buf();
        let meta = std::fs::metadata(&root).map_err(|e| Error::RepositoryUnreadable {
            path: root.clone(),
            reason: e.to_string(),
        })?;
        if !meta.is_dir() {
            return Err(Error::RepositoryUnreadable {
                path: root,
                reason: "not a directory".into(),
            });
        }
        // Nothing in a repository can be served without ONNX Runtime: say so now, not as a
        // failed version per model.
        crate::runtime::Runtime::init()?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::RepositoryUnreadable {
                path: root.clone(),
                reason: e.to_string(),
            })?;
        let poll = options.poll_interval;
        let inner = Arc::new(Inner {
            root,
            options,
            models: ArcSwap::from_pointee(BTreeMap::new()),
            control: Mutex::new(()),
            stop: AtomicBool::new(false),
        });
        if inner.options.load_all {
            inner.reload_all()?;
        }
        let poller = poll.map(|interval| {
            let weak = Arc::downgrade(&inner);
            std::thread::Builder::new()
                .name("inferkit-registry-poll".into())
                .spawn(move || poll_loop(weak, interval))
                .map_err(|e| Error::RepositoryUnreadable {
                    path: inner.root.clone(),
                    reason: format!("cannot start the polling thread: {e}"),
                })
        });
        let poller = poller.transpose()?;
        Ok(Registry { inner, poller })
    }

    /// The repository's root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Names of the models served.
    pub fn models(&self) -> Vec<String> {
        self.inner.models.load().keys().cloned().collect()
    }

    /// Selects a version of `name`. Never blocks on a reload.
    pub fn model(&self, name: &str, select: Select<'_>) -> Result<ModelRef> {
        self.inner.select(name, select)
    }

    /// Re-scans the repository: new models and versions are loaded and warmed, then swapped in;
    /// versions the policies no longer serve are unloaded (labelled ones are kept); failed ones are
    /// retried when their file changes. Returns the errors met, per model and version; the registry
    /// keeps serving whatever is ready.
    pub fn reload(&self) -> Result<Vec<Error>> {
        self.inner.reload_all()
    }

    /// Loads (or reloads) one model from `<root>/<name>` (explicit mode).
    pub fn load(&self, name: &str) -> Result<Vec<Error>> {
        check_model_name(name)?;
        let _guard = self.inner.control.lock();
        let dir = self.inner.root.join(name);
        if !dir.is_dir() {
            return Err(Error::UnknownModel {
                model: name.to_string(),
                available: self.inner.scan_names().unwrap_or_default(),
            });
        }
        let entry = self.inner.entry_or_insert(name, dir)?;
        entry.control.lock().excluded.clear();
        Ok(self.inner.reload_entry(&entry))
    }

    /// Unloads a model: it is no longer selectable; requests in flight finish.
    pub fn unload(&self, name: &str) -> Result<()> {
        check_model_name(name)?;
        let _guard = self.inner.control.lock();
        let mut models = BTreeMap::clone(&self.inner.models.load());
        if models.remove(name).is_none() {
            return Err(self.inner.unknown_model(name));
        }
        self.inner.models.store(Arc::new(models));
        tracing::info!(model = name, "inferkit: model unloaded");
        Ok(())
    }

    /// Unloads one version. Refused with [`Error::LabelInUse`] while a label points at it, unless
    /// `force`, which removes those labels too. The next reload does not load it again; `load`
    /// (of the model) does.
    pub fn unload_version(&self, name: &str, version: u64, force: bool) -> Result<()> {
        let _guard = self.inner.control.lock();
        let entry = self.inner.entry(name)?;
        let mut c = entry.control.lock();
        let table = entry.table.load();
        if !table.ready.contains_key(&version) {
            return Err(Error::UnknownVersion {
                model: name.to_string(),
                version,
                ready: table.ready.keys().copied().collect(),
            });
        }
        let labels: Vec<String> = table
            .labels
            .iter()
            .filter(|(_, v)| **v == version)
            .map(|(l, _)| l.clone())
            .collect();
        if !labels.is_empty() && !force {
            return Err(Error::LabelInUse {
                model: name.to_string(),
                version,
                labels,
            });
        }
        c.excluded.insert(version);
        let mut next = Table::clone_of(&table);
        next.labels.retain(|_, v| *v != version);
        let mut shown = entry.shown.lock();
        if let Some(model) = next.ready.remove(&version) {
            shown.unloading.push((version, Arc::downgrade(&model)));
            shown.event(version, 2);
        }
        next.served.retain(|v| *v != version);
        shown.status.insert(version, VersionState::Unloading);
        drop(shown);
        entry.table.store(Arc::new(next));
        tracing::info!(model = name, version, force, "inferkit: version unloaded");
        Ok(())
    }

    /// Points `label` at `version`, which must be ready (TF Serving's rule). Atomic: a request
    /// sees the old or the new version, never neither.
    pub fn set_label(&self, name: &str, label: &str, version: u64) -> Result<()> {
        let _guard = self.inner.control.lock();
        let entry = self.inner.entry(name)?;
        let _c = entry.control.lock();
        let table = entry.table.load();
        if !table.ready.contains_key(&version) {
            let state = entry
                .shown
                .lock()
                .status
                .get(&version)
                .map_or("not loaded".to_string(), describe);
            return Err(Error::VersionNotReady {
                model: name.to_string(),
                version,
                state,
            });
        }
        if label.is_empty()
            || label.parse::<u64>().is_ok()
            || !label
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            return Err(Error::InvalidArgument {
                name: "label",
                reason: format!(
                    "`{label}` is not a label (letters, digits, '_' and '-', not a number)"
                ),
            });
        }
        let mut next = Table::clone_of(&table);
        let from = next.labels.insert(label.to_string(), version);
        entry.table.store(Arc::new(next));
        tracing::info!(model = name, label, from = ?from, to = version, "inferkit: label moved");
        Ok(())
    }

    /// Every model's versions, their states, and labels.
    pub fn status(&self) -> Vec<ModelStatus> {
        self.inner
            .models
            .load()
            .values()
            .map(|e| e.status())
            .collect()
    }

    /// Metrics of every loaded version, with the registry's load, failure and unload events:
    /// `(model, version, metrics, events)`. Versions that failed to load appear with empty metrics.
    pub fn metrics(&self) -> Vec<(String, u64, MetricsSnapshot, EventCounts)> {
        let mut out = Vec::new();
        for entry in self.inner.models.load().values() {
            let c = entry.shown.lock();
            let table = entry.table.load();
            let mut versions: BTreeSet<u64> = table.ready.keys().copied().collect();
            versions.extend(c.events.keys().copied());
            for v in versions {
                let metrics = match table.ready.get(&v) {
                    Some(m) => m.metrics(),
                    None => crate::metrics::Metrics::new(false).snapshot(),
                };
                out.push((
                    entry.name.to_string(),
                    v,
                    metrics,
                    c.events.get(&v).cloned().unwrap_or_default(),
                ));
            }
        }
        out
    }

    /// Every model's metrics in the Prometheus text format (see [`crate::metrics`] for the names).
    pub fn metrics_prometheus(&self) -> String {
        let series: Vec<_> = self
            .metrics()
            .into_iter()
            .map(|(m, v, s, e)| (m, v.to_string(), s, Some(e)))
            .collect();
        crate::metrics::prometheus(&series)
    }

    /// One model's status.
    pub fn model_status(&self, name: &str) -> Result<ModelStatus> {
        Ok(self.inner.entry(name)?.status())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        if let Some(poller) = self.poller.take() {
            poller.thread().unpark();
            let _ = poller.join();
        }
    }
}

fn poll_loop(inner: Weak<Inner>, interval: Duration) {
    loop {
        std::thread::park_timeout(interval);
        let Some(inner) = inner.upgrade() else { return };
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        let _ = inner.reload_all();
    }
}

fn describe(state: &VersionState) -> String {
    match state {
        VersionState::Loading => "loading".into(),
        VersionState::Ready => "ready".into(),
        VersionState::Failed(reason) => format!("failed: {reason}"),
        VersionState::Unloading => "unloading".into(),
    }
}

impl Table {
    fn clone_of(t: &Table) -> Table {
        Table {
            ready: t.ready.clone(),
            served: t.served.clone(),
            labels: t.labels.clone(),
            split: t.split.clone(),
        }
    }

    fn default_version(&self) -> Option<u64> {
        self.served
            .last()
            .copied()
            .or_else(|| self.ready.keys().next_back().copied())
    }
}

impl Entry {
    fn status(&self) -> ModelStatus {
        let mut c = self.shown.lock();
        c.unloading.retain(|(_, w)| w.strong_count() > 0);
        let table = self.table.load();
        let mut versions: BTreeMap<u64, VersionState> = c.status.clone();
        versions.retain(|v, s| {
            !matches!(s, VersionState::Unloading) || c.unloading.iter().any(|(u, _)| u == v)
        });
        for (v, _) in &c.unloading {
            versions.insert(*v, VersionState::Unloading);
        }
        for v in table.ready.keys() {
            versions.insert(*v, VersionState::Ready);
        }
        ModelStatus {
            name: self.name.to_string(),
            versions: versions
                .into_iter()
                .map(|(version, state)| VersionStatus { version, state })
                .collect(),
            labels: table.labels.clone(),
            default_version: table.default_version(),
            error: c.error.clone(),
            ignored: c.ignored.clone(),
        }
    }
}

impl Inner {
    fn unknown_model(&self, name: &str) -> Error {
        Error::UnknownModel {
            model: name.to_string(),
            available: self.models.load().keys().cloned().collect(),
        }
    }

    fn entry(&self, name: &str) -> Result<Arc<Entry>> {
        self.models
            .load()
            .get(name)
            .cloned()
            .ok_or_else(|| self.unknown_model(name))
    }

    fn select(&self, name: &str, select: Select<'_>) -> Result<ModelRef> {
        let entry = self.entry(name)?;
        let table = entry.table.load();
        let version = match select {
            Select::Default => {
                table
                    .default_version()
                    .ok_or_else(|| Error::NoVersionAvailable {
                        model: name.to_string(),
                    })?
            }
            Select::Version(v) => v,
            Select::Label(label) => {
                *table.labels.get(label).ok_or_else(|| Error::UnknownLabel {
                    model: name.to_string(),
                    label: label.to_string(),
                    labels: table.labels.keys().cloned().collect(),
                })?
            }
            Select::Split(key) => split_version(&table, key)
                .or_else(|| table.default_version())
                .ok_or_else(|| Error::NoVersionAvailable {
                    model: name.to_string(),
                })?,
        };
        let model = table
            .ready
            .get(&version)
            .cloned()
            .ok_or_else(|| Error::UnknownVersion {
                model: name.to_string(),
                version,
                ready: table.ready.keys().copied().collect(),
            })?;
        Ok(ModelRef {
            model,
            name: entry.name.clone(),
            version,
        })
    }

    fn scan_names(&self) -> Result<Vec<String>> {
        let read = std::fs::read_dir(&self.root).map_err(|e| Error::RepositoryUnreadable {
            path: self.root.clone(),
            reason: e.to_string(),
        })?;
        let mut names: Vec<String> = read
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| check_model_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    fn entry_or_insert(&self, name: &str, dir: PathBuf) -> Result<Arc<Entry>> {
        if let Some(e) = self.models.load().get(name) {
            return Ok(e.clone());
        }
        // A model whose configuration is invalid is still listed, with its error (reload_entry
        // reads the configuration and reports it).
        let entry = Arc::new(Entry {
            name: name.into(),
            dir,
            table: ArcSwap::from_pointee(Table::default()),
            control: Mutex::new(Control {
                config: ModelConfig::default(),
                configured: false,
                failed_files: HashMap::new(),
                excluded: BTreeSet::new(),
                applied_labels: BTreeMap::new(),
            }),
            shown: Mutex::new(Shown::default()),
        });
        let mut models = BTreeMap::clone(&self.models.load());
        models.insert(name.to_string(), entry.clone());
        self.models.store(Arc::new(models));
        Ok(entry)
    }

    fn reload_all(&self) -> Result<Vec<Error>> {
        let _guard = self.control.lock();
        let _span = tracing::info_span!("inferkit.reload", root = %self.root.display()).entered();
        let started = std::time::Instant::now();
        let mut errors = Vec::new();
        let names = self.scan_names()?;
        let known: Vec<String> = self.models.load().keys().cloned().collect();
        let mut visited = 0usize;
        for name in &names {
            if !self.options.load_all && !known.contains(name) {
                continue; // explicit mode: only models loaded by `load`
            }
            visited += 1;
            match self.entry_or_insert(name, self.root.join(name)) {
                Ok(entry) => {
                    let found = self.reload_entry(&entry);
                    let status = entry.status();
                    let ready = status
                        .versions
                        .iter()
                        .filter(|v| v.state == VersionState::Ready)
                        .count();
                    tracing::info!(
                        model = %name,
                        progress = %format!("{visited}/{}", names.len()),
                        ready,
                        errors = found.len(),
                        "inferkit: model scanned"
                    );
                    errors.extend(found);
                }
                Err(e) => errors.push(e),
            }
        }
        // Models whose directory is gone stop being served; requests in flight finish.
        let gone: Vec<String> = known.into_iter().filter(|k| !names.contains(k)).collect();
        if !gone.is_empty() {
            let mut models = BTreeMap::clone(&self.models.load());
            for g in gone {
                tracing::info!(model = %g, "inferkit: model folder gone; model unloaded");
                models.remove(&g);
            }
            self.models.store(Arc::new(models));
        }
        tracing::info!(
            root = %self.root.display(),
            models = visited,
            errors = errors.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "inferkit: repository scanned"
        );
        Ok(errors)
    }

    /// Loads what the policy serves and is missing, unloads what it no longer serves (labelled
    /// versions excepted), then publishes the new table. Called with the registry's control lock.
    fn reload_entry(&self, entry: &Entry) -> Vec<Error> {
        let mut errors = Vec::new();
        let mut c = entry.control.lock();
        let checked = self
            .contained(&entry.dir)
            .and_then(|()| ModelConfig::load(&entry.dir, &self.options.defaults))
            .and_then(|config| {
                for (key, file) in config.files() {
                    self.contained(&file).map_err(|e| Error::Config {
                        file: entry.dir.join("config.toml"),
                        message: format!("{key}: {e}"),
                    })?;
                }
                Ok(config)
            });
        match checked {
            Ok(config) => {
                c.config = config;
                c.configured = true;
                entry.shown.lock().error = None;
            }
            Err(e) => {
                // Keep serving with the last valid configuration; without one, load nothing.
                let message = e.to_string();
                let mut shown = entry.shown.lock();
                if shown.error.as_deref() != Some(message.as_str()) {
                    tracing::warn!(model = %entry.name, error = %message, "inferkit: model configuration refused");
                }
                shown.error = Some(message);
                drop(shown);
                errors.push(e);
                if !c.configured {
                    return errors;
                }
            }
        }
        let (available, ignored) = self.scan_versions(&entry.dir);
        {
            let mut shown = entry.shown.lock();
            for f in &ignored {
                if !shown.ignored.contains(f) {
                    tracing::warn!(model = %entry.name, folder = %f.name, reason = %f.reason, "inferkit: folder ignored");
                }
            }
            shown.ignored = ignored;
        }
        let wanted: Vec<u64> = c
            .config
            .policy
            .select(&available)
            .into_iter()
            .filter(|v| !c.excluded.contains(v))
            .collect();
        let old = entry.table.load_full();
        let mut next = Table::clone_of(&old);
        let mut ready_now = Vec::new();

        for &version in &wanted {
            if next.ready.contains_key(&version) {
                continue;
            }
            let file = entry.dir.join(version.to_string()).join("model.onnx");
            let stamp = file_stamp(&file);
            if c.failed_files.get(&version) == Some(&stamp) {
                continue; // failed before and unchanged since
            }
            entry
                .shown
                .lock()
                .status
                .insert(version, VersionState::Loading);
            let started = std::time::Instant::now();
            match load_version(&entry.name, version, &file, &c.config) {
                Ok(model) => {
                    tracing::info!(
                        model = %entry.name,
                        version,
                        instances = model.instances(),
                        took_ms = started.elapsed().as_millis() as u64,
                        "inferkit: version loaded"
                    );
                    c.failed_files.remove(&version);
                    next.ready.insert(version, Arc::new(model));
                    // Shown Ready once readers can select it (the table is published below):
                    // until then a reader may see it Loading a moment longer, never Ready early.
                    entry.shown.lock().event(version, 0);
                    ready_now.push(version);
                }
                Err(e) => {
                    tracing::warn!(model = %entry.name, version, error = %e, "inferkit: version failed to load");
                    c.failed_files.insert(version, stamp);
                    let mut shown = entry.shown.lock();
                    shown.event(version, 1);
                    shown
                        .status
                        .insert(version, VersionState::Failed(e.to_string()));
                    errors.push(e);
                }
            }
        }

        // Labels from the configuration apply once their version is ready, and again only when
        // the configuration changes them; a label moved at run time stays where it was moved.
        let config_labels = c.config.labels.clone();
        for (label, version) in &config_labels {
            if c.applied_labels.get(label) != Some(version) && next.ready.contains_key(version) {
                let from = next.labels.get(label).copied();
                tracing::info!(model = %entry.name, label = %label, from = ?from, to = *version, "inferkit: label moved by the configuration");
                next.labels.insert(label.clone(), *version);
                c.applied_labels.insert(label.clone(), *version);
            }
        }
        let labelled: BTreeSet<u64> = next.labels.values().copied().collect();
        // A version the policy no longer serves goes only once everything it wants is ready: a
        // failed or missing replacement never leaves the model with less than it had.
        let complete = wanted.iter().all(|v| next.ready.contains_key(v));
        let removed: Vec<u64> = if complete {
            next.ready
                .keys()
                .copied()
                .filter(|v| !wanted.contains(v) && !labelled.contains(v))
                .collect()
        } else {
            // Versions whose directory is gone cannot stay wanted; unlabelled ones still go.
            next.ready
                .keys()
                .copied()
                .filter(|v| !available.contains(v) && !labelled.contains(v))
                .collect()
        };
        let mut shown = entry.shown.lock();
        for v in removed {
            if let Some(model) = next.ready.remove(&v) {
                tracing::info!(model = %entry.name, version = v, "inferkit: version unloaded (no longer served by the policy)");
                shown.unloading.push((v, Arc::downgrade(&model)));
                shown.status.insert(v, VersionState::Unloading);
                shown.event(v, 2);
            }
        }
        for v in ready_now {
            if next.ready.contains_key(&v) {
                shown.status.insert(v, VersionState::Ready);
            }
        }
        // Versions whose files disappeared and that were never loaded leave the status.
        shown.status.retain(|v, s| {
            available.contains(v) || !matches!(s, VersionState::Failed(_) | VersionState::Loading)
        });
        next.served = wanted
            .iter()
            .copied()
            .filter(|v| next.ready.contains_key(v))
            .collect();
        next.split = c.config.split.clone();
        entry.table.store(Arc::new(next));
        drop(shown);
        errors
    }
}

/// A version folder's name: a canonical decimal number from 1 (`2`, not `02`, `+2` or `2.0`).
fn version_of(name: &str) -> Option<u64> {
    let canonical =
        !name.is_empty() && !name.starts_with('0') && name.bytes().all(|b| b.is_ascii_digit());
    canonical.then(|| name.parse::<u64>().ok()).flatten()
}

impl Inner {
    /// `Ok` when `path` resolves inside the repository root, or outside paths are allowed. A path
    /// that does not exist (yet) is judged as written: no `..`, under the root.
    fn contained(&self, path: &Path) -> Result<()> {
        if self.options.allow_outside_paths {
            return Ok(());
        }
        let outside = |shown: &Path| {
            Error::RepositoryUnreadable {
            path: path.to_path_buf(),
            reason: format!(
                "resolves to `{}`, outside the repository root `{}` (RegistryOptions::allow_outside_paths allows it)",
                shown.display(),
                self.root.display()
            ),
        }
        };
        match path.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => Ok(()),
            Ok(real) => Err(outside(&real)),
            Err(_) => {
                let lexical = path.starts_with(&self.root)
                    && !path
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir));
                if lexical {
                    Ok(())
                } else {
                    Err(outside(path))
                }
            }
        }
    }

    /// The model's version folders (canonical numbers holding a `model.onnx` inside the root), and
    /// the other folders with the reason each is ignored. Hidden folders are skipped silently.
    fn scan_versions(&self, dir: &Path) -> (Vec<u64>, Vec<IgnoredFolder>) {
        let Ok(read) = std::fs::read_dir(dir) else {
            return (Vec::new(), Vec::new());
        };
        let mut versions = Vec::new();
        let mut ignored = Vec::new();
        for e in read.filter_map(|e| e.ok()) {
            let path = e.path();
            if !path.is_dir() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let reason = match version_of(&name) {
                None if name.bytes().all(|b| b.is_ascii_digit() || b == b'+' || b == b'-') => {
                    "not a canonical version number (versions are written 1, 2, 3 …, without signs or leading zeros)".to_string()
                }
                None => "not a version number".to_string(),
                Some(_) if !path.join("model.onnx").is_file() => "has no model.onnx".to_string(),
                Some(v) => match self.contained(&path.join("model.onnx")) {
                    Ok(()) => {
                        versions.push(v);
                        continue;
                    }
                    Err(e) => e.to_string(),
                },
            };
            ignored.push(IgnoredFolder { name, reason });
        }
        versions.sort_unstable();
        ignored.sort_by(|a, b| a.name.cmp(&b.name));
        (versions, ignored)
    }
}

fn file_stamp(path: &Path) -> (u64, Option<SystemTime>) {
    std::fs::metadata(path).map_or((0, None), |m| (m.len(), m.modified().ok()))
}

/// Reads, checks, loads and warms one version.
fn load_version(name: &str, version: u64, file: &Path, config: &ModelConfig) -> Result<Model> {
    let size = std::fs::metadata(file)
        .map_err(|e| Error::ModelUnreadable {
            path: file.to_path_buf(),
            reason: e.to_string(),
        })?
        .len();
    if let Some(limit) = config.max_model_bytes {
        if size > limit {
            return Err(Error::ModelTooLarge {
                model: name.to_string(),
                version,
                size,
                limit,
            });
        }
    }
    let bytes = std::fs::read(file).map_err(|e| Error::ModelUnreadable {
        path: file.to_path_buf(),
        reason: e.to_string(),
    })?;
    let sidecar = file.with_extension("onnx.sha256");
    let expected = match config.sha256.get(&version) {
        Some(hex) => Some(hex.clone()),
        None => match std::fs::read_to_string(&sidecar) {
            Ok(text) => Some(config::parse_sha256(&text).ok_or_else(|| Error::Config {
                file: sidecar.clone(),
                message: "expected 64 hex digits (a SHA-256)".into(),
            })?),
            Err(_) => None,
        },
    };
    if let Some(expected) = expected {
        let actual: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if actual != expected {
            return Err(Error::ChecksumMismatch {
                model: name.to_string(),
                version,
                expected,
                actual,
            });
        }
    }
    let _span = tracing::info_span!("inferkit.load", model = name, version).entered();
    let mut options = config.model.clone();
    options.name = Some(name.to_string());
    options.version = Some(version);
    let dir = file.parent().unwrap_or(Path::new("."));
    let model = Model::from_file_bytes(name, &bytes, dir, &options)?;
    warmup::run(&model, &config.warmup)?;
    Ok(model)
}

/// The version a traffic split picks, if the split names a ready version.
fn split_version(table: &Table, key: Option<&str>) -> Option<u64> {
    let targets: Vec<(u64, u32)> = table
        .split
        .iter()
        .filter_map(|(t, w)| {
            let v = match t {
                SplitTarget::Version(v) => *v,
                SplitTarget::Label(l) => *table.labels.get(l)?,
            };
            (table.ready.contains_key(&v) && *w > 0).then_some((v, *w))
        })
        .collect();
    let total: u64 = targets.iter().map(|(_, w)| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let point = match key {
        Some(k) => {
            let digest = Sha256::digest(k.as_bytes());
            u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8])) % total
        }
        None => random_u64() % total,
    };
    let mut acc = 0u64;
    for (v, w) in targets {
        acc += u64::from(w);
        if point < acc {
            return Some(v);
        }
    }
    None
}

/// A per-thread xorshift generator for weighted random routing (not for anything secret).
fn random_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            let id = &t as *const u64 as u64;
            (t ^ id.rotate_left(32)) | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}
