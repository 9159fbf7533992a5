//! What inferkit reads from an ONNX file itself, beside ONNX Runtime: the names of the graph's
//! inputs and outputs, as written.
//!
//! ONNX Runtime's C API hands names out as NUL-terminated strings, so an input named `"a\0b"` comes
//! back as `"a"`, and a request for `"a"` cannot feed it. The only way to see the real name is the
//! file: `ModelProto.graph` (field 7) → `GraphProto.input` / `.output` (fields 11 and 12) →
//! `ValueInfoProto.name` (field 1). This walks the protobuf wire format for those fields only,
//! seeking over everything else (weights included), so a large model costs a few small reads.

use std::io::{Read, Seek};

/// Longest name read; a longer one is skipped (ONNX Runtime would report it in full anyway).
const MAX_NAME: u64 = 1 << 16;

/// Reads protobuf fields from a file or from memory.
trait Wire {
    fn byte(&mut self) -> Option<u8>;
    fn skip(&mut self, n: u64) -> Option<()>;
    fn bytes(&mut self, n: u64) -> Option<Vec<u8>>;
    fn position(&mut self) -> Option<u64>;

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// The next field's number and wire type, or `None` at the end of `limit`.
    fn key(&mut self, limit: u64) -> Option<(u64, u8)> {
        if self.position()? >= limit {
            return None;
        }
        let k = self.varint()?;
        Some((k >> 3, (k & 7) as u8))
    }

    /// Skips a field's value; `None` for wire types that cannot be skipped (groups).
    fn skip_value(&mut self, wire: u8) -> Option<()> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.skip(8),
            2 => {
                let n = self.varint()?;
                self.skip(n)
            }
            5 => self.skip(4),
            _ => None,
        }
    }
}

struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Wire for Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.at)?;
        self.at += 1;
        Some(b)
    }
    fn skip(&mut self, n: u64) -> Option<()> {
        let end = self.at.checked_add(usize::try_from(n).ok()?)?;
        (end <= self.data.len()).then(|| self.at = end)
    }
    fn bytes(&mut self, n: u64) -> Option<Vec<u8>> {
        let start = self.at;
        self.skip(n)?;
        Some(self.data[start..self.at].to_vec())
    }
    fn position(&mut self) -> Option<u64> {
        Some(self.at as u64)
    }
}

struct File {
    reader: std::io::BufReader<std::fs::File>,
    len: u64,
}

impl Wire for File {
    fn byte(&mut self) -> Option<u8> {
        let mut b = [0u8; 1];
        self.reader.read_exact(&mut b).ok()?;
        Some(b[0])
    }
    fn skip(&mut self, n: u64) -> Option<()> {
        let end = self.position()?.checked_add(n)?;
        if end > self.len {
            return None;
        }
        self.reader.seek_relative(i64::try_from(n).ok()?).ok()
    }
    fn bytes(&mut self, n: u64) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; usize::try_from(n).ok()?];
        self.reader.read_exact(&mut buf).ok()?;
        Some(buf)
    }
    fn position(&mut self) -> Option<u64> {
        self.reader.stream_position().ok()
    }
}

/// The graph's input and output names as written, or `None` when the bytes are not a model this
/// walk understands (ONNX Runtime then judges them).
fn io_names(w: &mut impl Wire, len: u64) -> Option<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    while let Some((field, wire)) = w.key(len) {
        if field != 7 || wire != 2 {
            w.skip_value(wire)?;
            continue;
        }
        let graph_len = w.varint()?;
        let graph_end = w.position()?.checked_add(graph_len)?;
        while let Some((field, wire)) = w.key(graph_end) {
            if !matches!(field, 11 | 12) || wire != 2 {
                w.skip_value(wire)?;
                continue;
            }
            let info_len = w.varint()?;
            let info_end = w.position()?.checked_add(info_len)?;
            while let Some((field, wire)) = w.key(info_end) {
                if field == 1 && wire == 2 {
                    let n = w.varint()?;
                    if n <= MAX_NAME {
                        names.push(w.bytes(n)?);
                    } else {
                        w.skip(n)?;
                    }
                } else {
                    w.skip_value(wire)?;
                }
            }
        }
    }
    Some(names)
}

/// The first graph input or output name that holds a NUL byte (shown with `\0`), if any.
pub(crate) fn name_with_nul(source: &crate::session::ModelSource<'_>) -> Option<String> {
    let names = match source {
        crate::session::ModelSource::Bytes(data, _) => {
            io_names(&mut Bytes { data, at: 0 }, data.len() as u64)
        }
        crate::session::ModelSource::File(path) => {
            let file = std::fs::File::open(path).ok()?;
            let len = file.metadata().ok()?.len();
            io_names(
                &mut File {
                    reader: std::io::BufReader::new(file),
                    len,
                },
                len,
            )
        }
    }?;
    names
        .into_iter()
        .find(|n| n.contains(&0))
        .map(|n| String::from_utf8_lossy(&n).replace('\0', "\\0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_field(field: u64, body: &[u8]) -> Vec<u8> {
        let mut out = vec![(field << 3 | 2) as u8];
        let mut n = body.len() as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n > 0 { b | 0x80 } else { b });
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn finds_names_and_skips_everything_else() {
        let input = len_field(11, &len_field(1, b"a\0b"));
        let output = len_field(12, &len_field(1, b"y"));
        let weights = len_field(5, &[7u8; 300]);
        let graph = [weights, input, output].concat();
        let model = [vec![0x08, 0x08], len_field(7, &graph)].concat(); // ir_version = 8, graph
        let names = io_names(
            &mut Bytes {
                data: &model,
                at: 0,
            },
            model.len() as u64,
        )
        .unwrap();
        assert_eq!(names, vec![b"a\0b".to_vec(), b"y".to_vec()]);
        let source = crate::session::ModelSource::Bytes(&model, None);
        assert_eq!(name_with_nul(&source).as_deref(), Some("a\\0b"));
        // Truncated bytes are not understood, and say nothing.
        assert_eq!(
            io_names(
                &mut Bytes {
                    data: &model[..20],
                    at: 0
                },
                20
            ),
            None
        );
    }
}
