//! What inferkit reads from an ONNX file itself, beside ONNX Runtime: the names of the graph's
//! inputs and outputs as written, and which of their tensor types give a shape.
//!
//! ONNX Runtime's C API hands names out as NUL-terminated strings, so an input named `"a\0b"` comes
//! back as `"a"`, and a request for `"a"` cannot feed it. The only way to see the real name is the
//! file: `ModelProto.graph` (field 7) → `GraphProto.input` / `.output` (fields 11 and 12) →
//! `ValueInfoProto.name` (field 1). This walks the protobuf wire format for those fields only,
//! seeking over everything else (weights included), so a large model costs a few small reads.

use std::io::{Read, Seek};

/// Longest name read; a longer one is skipped (ONNX Runtime would report it in full anyway).
const MAX_NAME: u64 = 1 << 16;

/// Deepest type nesting read (sequences of maps of …); deeper types are left to ONNX Runtime.
const MAX_DEPTH: usize = 16;

/// One graph input or output as the file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Io {
    /// The name, bytes as written.
    pub(crate) name: Vec<u8>,
    /// For each tensor type in the value's type, depth first (a sequence's element, a map's
    /// value, an optional's content): whether it has a shape. ONNX Runtime reports a tensor type
    /// without a shape as rank 0, the same as a scalar; only the file tells them apart.
    pub(crate) shaped: Vec<bool>,
}

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

/// Reads a `TypeProto` up to `end`, noting for each tensor type whether it has a shape.
fn type_shapes(w: &mut impl Wire, end: u64, shaped: &mut Vec<bool>, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    while let Some((field, wire)) = w.key(end) {
        if wire != 2 || !matches!(field, 1 | 4 | 5 | 9) {
            w.skip_value(wire)?;
            continue;
        }
        let n = w.varint()?;
        let inner_end = w.position()?.checked_add(n)?;
        match field {
            // TypeProto.tensor_type: Tensor { elem_type = 1, shape = 2 }
            1 => {
                let mut has_shape = false;
                while let Some((f, wire)) = w.key(inner_end) {
                    has_shape |= f == 2 && wire == 2;
                    w.skip_value(wire)?;
                }
                shaped.push(has_shape);
            }
            // sequence_type: Sequence { elem_type = 1 }; optional_type: Optional { elem_type = 1 };
            // map_type: Map { key_type = 1 (a number), value_type = 2 }
            _ => {
                let wanted = if field == 5 { 2 } else { 1 };
                while let Some((f, wire)) = w.key(inner_end) {
                    if f == wanted && wire == 2 {
                        let m = w.varint()?;
                        let e = w.position()?.checked_add(m)?;
                        type_shapes(w, e, shaped, depth + 1)?;
                    } else {
                        w.skip_value(wire)?;
                    }
                }
            }
        }
    }
    Some(())
}

/// The graph's inputs and outputs as written, or `None` when the bytes are not a model this walk
/// understands (ONNX Runtime then judges them).
fn io_names(w: &mut impl Wire, len: u64) -> Option<Vec<Io>> {
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
            let mut io = Io {
                name: Vec::new(),
                shaped: Vec::new(),
            };
            let mut named = false;
            while let Some((field, wire)) = w.key(info_end) {
                if field == 1 && wire == 2 {
                    let n = w.varint()?;
                    if n <= MAX_NAME {
                        io.name = w.bytes(n)?;
                        named = true;
                    } else {
                        w.skip(n)?;
                    }
                } else if field == 2 && wire == 2 {
                    let n = w.varint()?;
                    let end = w.position()?.checked_add(n)?;
                    type_shapes(w, end, &mut io.shaped, 0)?;
                } else {
                    w.skip_value(wire)?;
                }
            }
            if named {
                names.push(io);
            }
        }
    }
    Some(names)
}

/// The graph's inputs and outputs as the file writes them; `None` when it cannot be read or is
/// not a model this walk understands.
pub(crate) fn read_io(source: &crate::session::ModelSource<'_>) -> Option<Vec<Io>> {
    match source {
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
    }
}

/// The first graph input or output name that holds a NUL byte (shown with `\0`), if any.
pub(crate) fn name_with_nul(io: &[Io]) -> Option<String> {
    io.iter()
        .map(|i| &i.name)
        .find(|n| n.contains(&0))
        .map(|n| String::from_utf8_lossy(n).replace('\0', "\\0"))
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
        let just_names: Vec<&[u8]> = names.iter().map(|i| &i.name[..]).collect();
        assert_eq!(just_names, vec![&b"a\0b"[..], b"y"]);
        let source = crate::session::ModelSource::Bytes(&model, None);
        let io = read_io(&source).unwrap();
        assert_eq!(name_with_nul(&io).as_deref(), Some("a\\0b"));
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
