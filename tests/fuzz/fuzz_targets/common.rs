//! What every fuzz target shares: where the repository is, and finding ONNX Runtime.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

/// The repository root (this crate is `<repo>/tests/fuzz`).
pub fn repo() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    dir.canonicalize().unwrap_or(dir)
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests").join("fixtures").join(name)
}

/// Points inferkit at the provisioned ONNX Runtime (`make provision`) unless `INFERKIT_ORT_DYLIB`
/// is already set. Call first thing in every iteration; only the first call does anything, and it
/// happens before any thread of inferkit or ONNX Runtime exists.
pub fn init() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        if std::env::var_os("INFERKIT_ORT_DYLIB").is_none_or(|v| v.is_empty()) {
            let lib = repo()
                .join("target")
                .join("onnxruntime")
                .join("libonnxruntime.so.1.31.1");
            std::env::set_var("INFERKIT_ORT_DYLIB", lib);
        }
        // Fail loudly, once, if the runtime cannot be found: otherwise every input would merely
        // be "RuntimeUnavailable" and the fuzzer would explore nothing.
        if let Err(e) = inferkit::Runtime::init() {
            panic!("ONNX Runtime is unavailable (run `make provision`): {e}");
        }
    });
}

/// `INFERKIT_FUZZ_TRACE=1` makes targets say what they do (for reading a reproducer).
pub fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("INFERKIT_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

/// Reads bytes as a little program: each read takes the next byte(s), and an exhausted input reads
/// as zeros so that every prefix of an input is itself a valid program.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        (self.u32() as u64) | ((self.u32() as u64) << 32)
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// Up to `max` bytes, the length taken from the input first.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let want = (self.u8() as usize).min(max);
        let start = self.pos.min(self.data.len());
        let end = (start + want).min(self.data.len());
        self.pos += want;
        &self.data[start..end]
    }
}
