//! The model format: one little-endian byte blob, read in place (zero copy, e.g. from flash).
//!
//! ```text
//! offset  size  field
//! header (HEADER_LEN = 64 bytes)
//!  0      4     magic "BFMD"
//!  4      2     format version (VERSION)
//!  6      2     header length (64)
//!  8      4     total length of the blob in bytes
//! 12      4     CRC-32 (IEEE) of bytes 16..total length
//! 16      4     arena bytes (activations and scratch, planned: the end of the last planned
//!               region rounded up to 16, checked)
//! 20      2     tensor count          22  2  op count
//! 24      2     graph input count     26  2  graph output count
//! 28      4     tensor table offset   32  4  op table offset     36  4  op table length
//! 40      4     io table offset (u16 tensor indices: inputs, then outputs)
//! 44      4     constant section offset (16-byte aligned)     48  4  constant section length
//! 52     12     reserved, zero
//! tensor table: TENSOR_LEN = 40 bytes per tensor
//!  0 u8 dtype (DType::code)   1 u8 kind (0 activation, 1 constant)   2 u8 rank (1..=4)   3 u8 0
//!  4 4 x u32 dims N, H, W, C (unused leading dimensions are 1)
//! 20 f32 scale   24 i32 zero point
//! 28 u32 offset (arena offset for activations, constant-section offset for constants)
//! 32 u32 byte length (= element count x element size)   36 u32 reserved, zero
//! op table: variable-length records, 4-byte aligned
//!  0 u8 kind (OpKind code)   1 u8 variant (Variant::code)   2 u8 input count   3 u8 output count
//!  4 u16 parameter words     6 u16 record length in bytes
//!  8 u32 scratch arena offset   12 u32 scratch length in bytes
//! 16 u16 input tensor indices (NO_TENSOR = absent), u16 output tensor indices, zero padding to
//!    a multiple of 4, then the parameter words (u32 each; layouts in `ops`)
//! constant section: every constant starts on a 16-byte boundary of the blob
//! ```
//!
//! [`Model::parse`] checks all of it once; afterwards no accessor and no op of the executor can
//! reach outside the blob or the arena.

use crate::crc::crc32;
use crate::elem::{cast, cast_mut, Element};
use crate::error::{GraphError, Result};
use crate::limits::Limits;
use crate::ops::{DType, OpKind, TensorKind, Variant, NO_TENSOR};
use bfmd_kernels::Shape;

/// The four bytes every model starts with.
pub const MAGIC: [u8; 4] = *b"BFMD";
/// The format version this crate reads and writes. 2: the `ConcatShuffleSplit` op kind (a
/// version-1 reader would reject its code anyway; the bump makes the error say why). 3: int8
/// `FullyConnected` weights may be stored as int16 pairs (an `I32` constant, see
/// `builder/wide.rs`).
pub const VERSION: u16 = 3;
/// Size of the header in bytes.
pub const HEADER_LEN: usize = 64;
/// Size of one tensor record in bytes.
pub const TENSOR_LEN: usize = 40;
/// Size of the fixed part of an op record in bytes.
pub const OP_HEADER_LEN: usize = 16;
/// Alignment of the blob base, of every constant and of every planned arena offset.
pub const ALIGN: usize = 16;
/// Most inputs an op may have (a concatenation of 16 branches).
pub const MAX_OP_INPUTS: usize = 16;
/// Most outputs an op may have (a split into 16 parts).
pub const MAX_OP_OUTPUTS: usize = 16;
/// Most tensors a model may have (indices are `u16`, and `NO_TENSOR` is reserved).
pub const MAX_TENSORS: usize = NO_TENSOR as usize;

/// Byte offsets of the header fields.
pub mod header {
    /// Magic.
    pub const MAGIC: usize = 0;
    /// Version.
    pub const VERSION: usize = 4;
    /// Header length.
    pub const HEADER_LEN: usize = 6;
    /// Total length.
    pub const TOTAL_LEN: usize = 8;
    /// CRC-32.
    pub const CRC: usize = 12;
    /// First byte covered by the CRC.
    pub const CRC_START: usize = 16;
    /// Arena bytes.
    pub const ARENA_BYTES: usize = 16;
    /// Tensor count.
    pub const TENSOR_COUNT: usize = 20;
    /// Op count.
    pub const OP_COUNT: usize = 22;
    /// Graph input count.
    pub const INPUT_COUNT: usize = 24;
    /// Graph output count.
    pub const OUTPUT_COUNT: usize = 26;
    /// Tensor table offset.
    pub const TENSORS: usize = 28;
    /// Op table offset.
    pub const OPS: usize = 32;
    /// Op table length.
    pub const OPS_LEN: usize = 36;
    /// Io table offset.
    pub const IO: usize = 40;
    /// Constant section offset.
    pub const CONSTS: usize = 44;
    /// Constant section length.
    pub const CONSTS_LEN: usize = 48;
    /// First reserved byte (bytes 52..64 must be zero).
    pub const RESERVED: usize = 52;
}

/// Byte offsets of the tensor record fields that are not decoded (must be zero).
pub mod tensor_record {
    /// The byte after the rank.
    pub const RESERVED_BYTE: usize = 3;
    /// The last word.
    pub const RESERVED_WORD: usize = 36;
}

pub(crate) fn rd_u16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off.wrapping_add(2)) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

pub(crate) fn rd_u32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off.wrapping_add(4)) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// A byte range `[start, start + len)`, in the arena or in the constant section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Region {
    /// First byte.
    pub start: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Region {
    /// One past the last byte.
    pub const fn end(&self) -> usize {
        self.start + self.len
    }

    /// `true` when the two ranges share at least one byte.
    pub const fn overlaps(&self, o: &Region) -> bool {
        self.len > 0 && o.len > 0 && self.start < o.end() && o.start < self.end()
    }

    /// `true` when `o` lies inside `self`.
    pub const fn contains(&self, o: &Region) -> bool {
        o.start >= self.start && o.end() <= self.end()
    }
}

/// One decoded tensor record.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorInfo {
    /// Element type.
    pub dtype: DType,
    /// Arena (activation) or constant section (constant).
    pub kind: TensorKind,
    /// Logical rank, 1..=4 (the dims are always stored as NHWC).
    pub rank: u8,
    /// NHWC dimensions.
    pub shape: Shape,
    /// Per-tensor quantization scale (1.0 for float tensors).
    pub scale: f32,
    /// Per-tensor zero point (0 for float tensors).
    pub zero_point: i32,
    /// Where the bytes are: arena offset or constant-section offset.
    pub region: Region,
}

impl TensorInfo {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.len()
    }

    /// `true` when the tensor has no element (never for a parsed model).
    pub fn is_empty(&self) -> bool {
        self.shape.is_empty()
    }
}

fn decode_tensor(rec: &[u8]) -> Option<TensorInfo> {
    let dtype = DType::from_code(*rec.first()?)?;
    let kind = match rec.get(1)? {
        0 => TensorKind::Activation,
        1 => TensorKind::Constant,
        _ => return None,
    };
    let d = |i: usize| rd_u32(rec, 4 + 4 * i) as usize;
    Some(TensorInfo {
        dtype,
        kind,
        rank: *rec.get(2)?,
        shape: Shape::new(d(0), d(1), d(2), d(3)),
        scale: f32::from_bits(rd_u32(rec, 20)),
        zero_point: rd_u32(rec, 24) as i32,
        region: Region {
            start: rd_u32(rec, 28) as usize,
            len: rd_u32(rec, 32) as usize,
        },
    })
}

/// One op record, borrowed from the blob.
#[derive(Clone, Copy, Debug)]
pub struct OpRecord<'a> {
    /// Position in execution order.
    pub index: usize,
    /// What the op computes.
    pub kind: OpKind,
    /// How its output is placed relative to its inputs.
    pub variant: Variant,
    /// Scratch region in the arena (length 0 when the kernel needs none).
    pub scratch: Region,
    n_in: usize,
    n_out: usize,
    n_params: usize,
    rec: &'a [u8],
}

impl<'a> OpRecord<'a> {
    fn decode(index: usize, rec: &'a [u8]) -> core::result::Result<Self, &'static str> {
        if rec.len() < OP_HEADER_LEN {
            return Err("op record truncated");
        }
        let kind = OpKind::from_code(rec[0]).ok_or("unknown op kind")?;
        let variant = Variant::from_code(rec[1]).ok_or("unknown variant")?;
        Ok(OpRecord {
            index,
            kind,
            variant,
            scratch: Region {
                start: rd_u32(rec, 8) as usize,
                len: rd_u32(rec, 12) as usize,
            },
            n_in: rec[2] as usize,
            n_out: rec[3] as usize,
            n_params: rd_u16(rec, 4) as usize,
            rec,
        })
    }

    /// Length of a record with these counts.
    pub const fn record_len(n_in: usize, n_out: usize, n_params: usize) -> usize {
        OP_HEADER_LEN + (2 * (n_in + n_out)).next_multiple_of(4) + 4 * n_params
    }

    /// Number of input slots (absent optional inputs included).
    pub fn num_inputs(&self) -> usize {
        self.n_in
    }

    /// Number of outputs.
    pub fn num_outputs(&self) -> usize {
        self.n_out
    }

    /// Number of parameter words.
    pub fn num_params(&self) -> usize {
        self.n_params
    }

    /// Tensor index of input `i`, `None` when absent or out of range.
    pub fn input(&self, i: usize) -> Option<usize> {
        if i >= self.n_in {
            return None;
        }
        match rd_u16(self.rec, OP_HEADER_LEN + 2 * i) {
            NO_TENSOR => None,
            t => Some(t as usize),
        }
    }

    /// Tensor index of output `i` (0 when out of range; parse checked the count).
    pub fn output(&self, i: usize) -> usize {
        if i >= self.n_out {
            return 0;
        }
        rd_u16(self.rec, OP_HEADER_LEN + 2 * (self.n_in + i)) as usize
    }

    /// Parameter word `i` (0 when out of range; parse checked the count).
    pub fn param(&self, i: usize) -> u32 {
        if i >= self.n_params {
            return 0;
        }
        let base = OP_HEADER_LEN + (2 * (self.n_in + self.n_out)).next_multiple_of(4);
        rd_u32(self.rec, base + 4 * i)
    }

    /// Parameter word `i` as a signed integer.
    pub fn param_i32(&self, i: usize) -> i32 {
        self.param(i) as i32
    }

    /// Parameter word `i` as a `usize`.
    pub fn param_usize(&self, i: usize) -> usize {
        self.param(i) as usize
    }

    /// Parameter word `i` as an `f32` bit pattern.
    pub fn param_f32(&self, i: usize) -> f32 {
        f32::from_bits(self.param(i))
    }
}

/// Iterator over the op records of a parsed model, in execution order.
#[derive(Clone, Debug)]
pub struct Ops<'a> {
    table: &'a [u8],
    pos: usize,
    index: usize,
    count: usize,
}

impl<'a> Iterator for Ops<'a> {
    type Item = OpRecord<'a>;

    fn next(&mut self) -> Option<OpRecord<'a>> {
        if self.index >= self.count {
            return None;
        }
        let len = rd_u16(self.table, self.pos + 6) as usize;
        let rec = self.table.get(self.pos..self.pos.checked_add(len)?)?;
        let op = OpRecord::decode(self.index, rec).ok()?;
        self.pos += len;
        self.index += 1;
        Some(op)
    }
}

/// A parsed model, borrowing its blob.
///
/// Constructed only by [`Model::parse`], which checks every offset, length, index, shape and
/// the memory plan; all accessors are therefore cheap and cannot go out of bounds.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    blob: &'a [u8],
    arena_bytes: usize,
    tensor_count: usize,
    op_count: usize,
    input_count: usize,
    output_count: usize,
    tensors: &'a [u8],
    ops: &'a [u8],
    io: &'a [u8],
    consts: &'a [u8],
}

fn section<'a>(blob: &'a [u8], off: usize, len: usize, what: &'static str) -> Result<&'a [u8]> {
    off.checked_add(len)
        .and_then(|end| blob.get(off..end))
        .ok_or(GraphError::Header(what))
}

impl<'a> Model<'a> {
    /// Checks a blob against the default limits ([`Limits::HOST`]: 1 GiB of arena, 10^12
    /// operations per op and per inference, 2^28 elements per tensor) and returns the model it
    /// describes. See [`Model::parse_with_limits`].
    pub fn parse(blob: &'a [u8]) -> Result<Model<'a>> {
        Model::parse_with_limits(blob, &Limits::HOST)
    }

    /// Checks a blob and returns the model it describes.
    ///
    /// `blob` must start on a 16-byte boundary (use [`crate::AlignedBytes`] with
    /// `include_bytes!`, or [`crate::builder::ModelBytes`] on the host); trailing bytes after the
    /// recorded length (flash padding) are ignored.
    ///
    /// Besides the structure (offsets, lengths, indices, shapes, parameters, the memory plan,
    /// reserved fields zero), it computes each op's work from its geometry and the arena the
    /// planned regions need (the end of the last activation or scratch region, rounded up to
    /// 16 bytes), which the header's arena size must equal, and checks both and every tensor's
    /// element count against `limits` ([`GraphError::Limit`]). Nothing is allocated or run.
    pub fn parse_with_limits(blob: &'a [u8], limits: &Limits) -> Result<Model<'a>> {
        Self::parse_for_with_limits::<crate::AllOps>(blob, limits)
    }

    /// [`Model::parse`] for a program that links the kernels of `L` only (see
    /// [`crate::opset`]): a model with an op outside [`crate::Linked::OPS`] is refused with
    /// [`GraphError::NotLinked`] naming the op, before anything runs.
    pub fn parse_for<L: crate::Linked>(blob: &'a [u8]) -> Result<Model<'a>> {
        Self::parse_for_with_limits::<L>(blob, &Limits::HOST)
    }

    /// [`Model::parse_with_limits`] for a program that links the kernels of `L` only.
    pub fn parse_for_with_limits<L: crate::Linked>(
        blob: &'a [u8],
        limits: &Limits,
    ) -> Result<Model<'a>> {
        if blob.len() < HEADER_LEN {
            return Err(GraphError::Header("blob shorter than the header"));
        }
        if blob[..4] != MAGIC {
            return Err(GraphError::Header("bad magic (not a bfmd model)"));
        }
        if rd_u16(blob, header::VERSION) != VERSION {
            return Err(GraphError::Header("unsupported format version"));
        }
        if rd_u16(blob, header::HEADER_LEN) as usize != HEADER_LEN {
            return Err(GraphError::Header("bad header length"));
        }
        if (blob.as_ptr() as usize) % ALIGN != 0 {
            return Err(GraphError::Misaligned {
                what: "model blob",
                align: ALIGN,
            });
        }
        let total = rd_u32(blob, header::TOTAL_LEN) as usize;
        if total < HEADER_LEN || total > blob.len() {
            return Err(GraphError::Header("recorded length exceeds the blob"));
        }
        let blob = &blob[..total];
        if crc32(&blob[header::CRC_START..]) != rd_u32(blob, header::CRC) {
            return Err(GraphError::Header("CRC mismatch (corrupted model)"));
        }
        if blob[header::RESERVED..HEADER_LEN].iter().any(|&b| b != 0) {
            return Err(GraphError::Header("reserved field not zero"));
        }
        let h = |off| rd_u32(blob, off) as usize;
        let h16 = |off| rd_u16(blob, off) as usize;
        let tensor_count = h16(header::TENSOR_COUNT);
        let (input_count, output_count) = (h16(header::INPUT_COUNT), h16(header::OUTPUT_COUNT));
        if tensor_count >= MAX_TENSORS {
            return Err(GraphError::Header("too many tensors"));
        }
        if input_count == 0 || output_count == 0 {
            return Err(GraphError::Header(
                "a model needs at least one input and one output",
            ));
        }
        let tensors = section(
            blob,
            h(header::TENSORS),
            tensor_count * TENSOR_LEN,
            "tensor table out of bounds",
        )?;
        let ops = section(
            blob,
            h(header::OPS),
            h(header::OPS_LEN),
            "op table out of bounds",
        )?;
        let io = section(
            blob,
            h(header::IO),
            2 * (input_count + output_count),
            "io table out of bounds",
        )?;
        let consts_off = h(header::CONSTS);
        if consts_off % ALIGN != 0 {
            return Err(GraphError::Misaligned {
                what: "constant section",
                align: ALIGN,
            });
        }
        let consts = section(
            blob,
            consts_off,
            h(header::CONSTS_LEN),
            "constant section out of bounds",
        )?;
        if h(header::TENSORS) % 4 != 0 || h(header::OPS) % 4 != 0 {
            return Err(GraphError::Header("table not 4-byte aligned"));
        }
        let m = Model {
            blob,
            arena_bytes: h(header::ARENA_BYTES),
            tensor_count,
            op_count: h16(header::OP_COUNT),
            input_count,
            output_count,
            tensors,
            ops,
            io,
            consts,
        };
        let tensors_end = m.check_tensors(limits)?;
        m.check_io()?;
        let scratch_end = m.check_ops::<L>(limits)?;
        // The header's word is checked against the plan, not believed: a host allocates an
        // arena of exactly this size.
        // Checked: a region ending near `usize::MAX` (a 32-bit target) must not wrap to 0.
        let planned = tensors_end
            .max(scratch_end)
            .checked_next_multiple_of(ALIGN)
            .ok_or(GraphError::Header("planned arena overflows"))?;
        if planned != m.arena_bytes {
            return Err(GraphError::ArenaMismatch {
                header: m.arena_bytes,
                planned,
            });
        }
        if m.arena_bytes > limits.max_arena_bytes {
            return Err(GraphError::Limit {
                op: None,
                kind: None,
                tensor: None,
                what: "arena bytes",
                value: m.arena_bytes as u64,
                limit: limits.max_arena_bytes as u64,
            });
        }
        Ok(m)
    }

    /// Checks every tensor record; returns the end of the last activation region.
    fn check_tensors(&self, limits: &Limits) -> Result<usize> {
        let mut end_max = 0usize;
        for i in 0..self.tensor_count {
            let rec = &self.tensors[i * TENSOR_LEN..(i + 1) * TENSOR_LEN];
            let bad = |what| GraphError::Tensor { tensor: i, what };
            let t = decode_tensor(rec).ok_or(bad("unknown dtype or kind code"))?;
            if rec[tensor_record::RESERVED_BYTE] != 0
                || rd_u32(rec, tensor_record::RESERVED_WORD) != 0
            {
                return Err(bad("reserved field not zero"));
            }
            if !(1..=4).contains(&t.rank) {
                return Err(bad("rank must be 1..=4"));
            }
            let s = t.shape;
            if s.n == 0 || s.h == 0 || s.w == 0 || s.c == 0 {
                return Err(bad("zero dimension"));
            }
            let elements =
                s.n.checked_mul(s.h)
                    .and_then(|v| v.checked_mul(s.w))
                    .and_then(|v| v.checked_mul(s.c))
                    .ok_or(bad("shape overflows"))?;
            if elements > limits.max_tensor_elements {
                return Err(GraphError::Limit {
                    op: None,
                    kind: None,
                    tensor: Some(i),
                    what: "elements",
                    value: elements as u64,
                    limit: limits.max_tensor_elements as u64,
                });
            }
            let bytes = elements
                .checked_mul(t.dtype.size())
                .ok_or(bad("shape overflows"))?;
            if bytes != t.region.len {
                return Err(bad("byte length does not match shape and dtype"));
            }
            if !t.scale.is_finite() || t.scale <= 0.0 {
                return Err(bad("scale must be finite and positive"));
            }
            let end = t.region.start.checked_add(t.region.len);
            match t.kind {
                TensorKind::Activation => {
                    match end {
                        Some(e) if e <= self.arena_bytes => end_max = end_max.max(e),
                        _ => return Err(bad("arena region out of bounds")),
                    }
                    if t.region.start % t.dtype.size() != 0 {
                        return Err(bad("arena offset not aligned to the element size"));
                    }
                }
                TensorKind::Constant => {
                    if end.is_none_or(|e| e > self.consts.len()) {
                        return Err(bad("constant data out of bounds"));
                    }
                    if t.region.start % ALIGN != 0 {
                        return Err(bad("constant not 16-byte aligned"));
                    }
                }
            }
        }
        Ok(end_max)
    }

    fn check_io(&self) -> Result<()> {
        for i in 0..self.input_count + self.output_count {
            let t = rd_u16(self.io, 2 * i) as usize;
            let what = if i < self.input_count {
                "graph input refers to a missing tensor or a constant"
            } else {
                "graph output refers to a missing tensor or a constant"
            };
            match self.tensor(t) {
                Some(info) if info.kind == TensorKind::Activation => {}
                _ => return Err(GraphError::Io { what, index: i }),
            }
        }
        Ok(())
    }

    /// Checks every op record and the work bounds; returns the end of the last scratch region.
    fn check_ops<L: crate::Linked>(&self, limits: &Limits) -> Result<usize> {
        let mut pos = 0usize;
        let (mut total, mut scratch_end) = (0u64, 0usize);
        for index in 0..self.op_count {
            let bad = |what| GraphError::Op {
                op: index,
                kind: None,
                tensor: None,
                what,
            };
            let head = self
                .ops
                .get(pos..pos + OP_HEADER_LEN)
                .ok_or(bad("op table truncated"))?;
            let len = rd_u16(head, 6) as usize;
            let (n_in, n_out, n_params) = (head[2] as usize, head[3] as usize, rd_u16(head, 4));
            if len != OpRecord::record_len(n_in, n_out, n_params as usize) {
                return Err(bad("record length does not match its counts"));
            }
            let rec = self
                .ops
                .get(pos..pos + len)
                .ok_or(bad("op record out of bounds"))?;
            let op = OpRecord::decode(index, rec).map_err(bad)?;
            let pad = OP_HEADER_LEN + 2 * (n_in + n_out)..len - 4 * n_params as usize;
            if rec[pad].iter().any(|&b| b != 0) {
                return Err(bad("reserved field not zero (index padding)"));
            }
            crate::opset::check_linked::<L>(self, &op)?;
            let work = crate::validate::check_op::<L>(self, &op)?;
            if work > limits.max_op_work {
                return Err(GraphError::Limit {
                    op: Some(index),
                    kind: Some(op.kind),
                    tensor: None,
                    what: "work per op (MACs, window taps or element operations)",
                    value: work,
                    limit: limits.max_op_work,
                });
            }
            total = total.saturating_add(work);
            if total > limits.max_total_work {
                return Err(GraphError::Limit {
                    op: Some(index),
                    kind: Some(op.kind),
                    tensor: None,
                    what: "work per inference up to this op (MACs, window taps or element \
                           operations)",
                    value: total,
                    limit: limits.max_total_work,
                });
            }
            if op.scratch.len > 0 {
                // `check_op` proved that the scratch region lies inside the arena.
                scratch_end = scratch_end.max(op.scratch.end());
            }
            pos += len;
        }
        if pos != self.ops.len() {
            return Err(GraphError::Header("op table longer than its records"));
        }
        Ok(scratch_end)
    }

    /// The blob (up to its recorded length).
    pub fn bytes(&self) -> &'a [u8] {
        self.blob
    }

    /// Bytes of arena the model needs (activations and scratch, as planned).
    pub fn arena_bytes(&self) -> usize {
        self.arena_bytes
    }

    /// Bytes of RAM the engine needs to run this model: the arena plus the executor's own
    /// state, the largest frame the executor keeps on the stack while an op runs (the carved
    /// arena slices and the op's input list, see [`crate::exec::EXEC_STATE_BYTES`]). The
    /// kernels' own stack frames are not counted (they hold a few scalars, no arrays).
    pub fn ram_bytes(&self) -> usize {
        self.arena_bytes + crate::exec::EXEC_STATE_BYTES
    }

    /// Bytes of constants (weights, biases, multipliers, tables), stored in flash.
    pub fn constant_bytes(&self) -> usize {
        self.consts.len()
    }

    /// Number of tensors.
    pub fn tensor_count(&self) -> usize {
        self.tensor_count
    }

    /// Tensor `i`, `None` when out of range.
    pub fn tensor(&self, i: usize) -> Option<TensorInfo> {
        if i >= self.tensor_count {
            return None;
        }
        decode_tensor(self.tensors.get(i * TENSOR_LEN..(i + 1) * TENSOR_LEN)?)
    }

    /// Number of ops.
    pub fn op_count(&self) -> usize {
        self.op_count
    }

    /// The ops in execution order.
    pub fn ops(&self) -> Ops<'a> {
        Ops {
            table: self.ops,
            pos: 0,
            index: 0,
            count: self.op_count,
        }
    }

    /// Number of graph inputs.
    pub fn input_count(&self) -> usize {
        self.input_count
    }

    /// Number of graph outputs.
    pub fn output_count(&self) -> usize {
        self.output_count
    }

    /// Tensor index of graph input `i`.
    pub fn input_tensor(&self, i: usize) -> Result<usize> {
        if i >= self.input_count {
            return Err(GraphError::Io {
                what: "no such graph input",
                index: i,
            });
        }
        Ok(rd_u16(self.io, 2 * i) as usize)
    }

    /// Tensor index of graph output `i`.
    pub fn output_tensor(&self, i: usize) -> Result<usize> {
        if i >= self.output_count {
            return Err(GraphError::Io {
                what: "no such graph output",
                index: i,
            });
        }
        Ok(rd_u16(self.io, 2 * (self.input_count + i)) as usize)
    }

    /// Bytes of constant tensor `t` (empty when `t` is not a constant).
    pub fn constant(&self, t: usize) -> &'a [u8] {
        match self.tensor(t) {
            Some(info) if info.kind == TensorKind::Constant => self
                .consts
                .get(info.region.start..info.region.end())
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Constant tensor `t` as elements of `T`; `Err` when `t` is not a constant of that type.
    pub fn constant_as<T: Element>(&self, t: usize) -> Result<&'a [T]> {
        let bad = GraphError::Tensor {
            tensor: t,
            what: "not a constant of the requested element type",
        };
        match self.tensor(t) {
            Some(info) if info.kind == TensorKind::Constant && info.dtype == T::DTYPE => {
                cast(self.constant(t)).ok_or(bad)
            }
            _ => Err(bad),
        }
    }

    fn io_region(&self, arena_len: usize, t: usize, index: usize) -> Result<Region> {
        if arena_len < self.arena_bytes {
            return Err(GraphError::ArenaTooSmall {
                needed: self.arena_bytes,
                got: arena_len,
            });
        }
        self.tensor(t).map(|i| i.region).ok_or(GraphError::Io {
            what: "no such tensor",
            index,
        })
    }

    /// Bytes of graph input `i` inside `arena`, to be filled before [`crate::exec::run`].
    ///
    /// Write the inputs before every run: the planner may let an op overwrite a graph input
    /// that nothing reads afterwards (in place), so after a run they hold other data.
    pub fn input_mut<'b>(&self, arena: &'b mut [u8], i: usize) -> Result<&'b mut [u8]> {
        let r = self.io_region(arena.len(), self.input_tensor(i)?, i)?;
        Ok(&mut arena[r.start..r.end()])
    }

    /// Bytes of graph output `i` inside `arena`, valid after [`crate::exec::run`].
    pub fn output<'b>(&self, arena: &'b [u8], i: usize) -> Result<&'b [u8]> {
        let r = self.io_region(arena.len(), self.output_tensor(i)?, i)?;
        Ok(&arena[r.start..r.end()])
    }

    /// Graph input `i` as `&mut [T]`; `Err` when the input's dtype is not `T` or the arena is
    /// not aligned for `T` (an [`crate::Arena`] always is).
    pub fn input_mut_as<'b, T: Element>(
        &self,
        arena: &'b mut [u8],
        i: usize,
    ) -> Result<&'b mut [T]> {
        let t = self.input_tensor(i)?;
        self.check_io_dtype::<T>(t, i)?;
        cast_mut(self.input_mut(arena, i)?).ok_or(GraphError::Misaligned {
            what: "arena",
            align: core::mem::align_of::<T>(),
        })
    }

    /// Graph output `i` as `&[T]`; `Err` when the output's dtype is not `T` or the arena is not
    /// aligned for `T`.
    pub fn output_as<'b, T: Element>(&self, arena: &'b [u8], i: usize) -> Result<&'b [T]> {
        let t = self.output_tensor(i)?;
        self.check_io_dtype::<T>(t, i)?;
        cast(self.output(arena, i)?).ok_or(GraphError::Misaligned {
            what: "arena",
            align: core::mem::align_of::<T>(),
        })
    }

    fn check_io_dtype<T: Element>(&self, t: usize, i: usize) -> Result<()> {
        match self.tensor(t) {
            Some(info) if info.dtype == T::DTYPE => Ok(()),
            _ => Err(GraphError::Io {
                what: "element type differs from the tensor's dtype",
                index: i,
            }),
        }
    }
}
