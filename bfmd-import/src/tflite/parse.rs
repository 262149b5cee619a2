//! Flatbuffer to [`TfliteModel`]: every read goes through planus' checked accessors, every index
//! is checked against the table it points into, and every size is computed with checked
//! arithmetic, so no input can make this code panic or read out of bounds.

use planus::ReadAsRoot;

use super::error::{op_path, tensor_path, ImportError};
use super::generated::tflite as fb;
use super::ir::{DType, OpCode, Operator, Quantization, Tensor, TfliteModel};
use super::options;

/// The only schema version TFLite and TFLM accept (`TFLITE_SCHEMA_VERSION`;
/// `tensorflow/lite/micro/micro_interpreter.cc` rejects any other `Model.version`).
pub const SCHEMA_VERSION: u32 = 3;

/// The flatbuffer file identifier of `.tflite` files (`file_identifier "TFL3"` in the schema).
pub const FILE_IDENTIFIER: &[u8; 4] = b"TFL3";

/// Largest rank accepted. TFLM's `RuntimeShape` holds up to 6 dimensions and TFLite's RESHAPE
/// parameters 8; the cap only guards against absurd files.
pub const MAX_RANK: usize = 8;

/// Largest element count of one tensor: TFLite computes flat sizes in `int`.
pub const MAX_ELEMENTS: usize = i32::MAX as usize;

/// Parses a `.tflite` file into a validated [`TfliteModel`] (subgraph 0).
///
/// Checks the file identifier, `Model.version`, that no other subgraph has operators, every
/// operator code, tensor and buffer index, every shape (non-negative, rank <= [`MAX_RANK`],
/// at most [`MAX_ELEMENTS`] elements), dtype code, quantization (TFLite's
/// `InterpreterBuilder::ParseQuantization` rules plus finite positive scales and zero points in
/// the dtype's range) and constant data length, and decodes the builtin options of the
/// operators bfmd lowers. Any input, however corrupt, yields `Ok` or `Err`, never a panic.
pub fn parse(bytes: &[u8]) -> Result<TfliteModel, ImportError> {
    check_identifier(bytes)?;
    let model = fb::ModelRef::read_as_root(bytes).map_err(malformed("model"))?;

    let version = model.version().map_err(malformed("model.version"))?;
    if version != SCHEMA_VERSION {
        return Err(ImportError::UnsupportedSchemaVersion { version });
    }
    let description = model
        .description()
        .map_err(malformed("model.description"))?
        .map(str::to_string);

    let codes = decode_operator_codes(&model)?;
    let buffers = model
        .buffers()
        .map_err(malformed("model.buffers"))?
        .ok_or_else(|| missing("model.buffers"))?;

    let subgraphs = model
        .subgraphs()
        .map_err(malformed("model.subgraphs"))?
        .ok_or_else(|| missing("model.subgraphs"))?;
    let num_subgraphs = subgraphs.len();
    let mut iter = subgraphs.iter();
    let sg = iter
        .next()
        .ok_or_else(|| missing("model.subgraphs[0]"))?
        .map_err(malformed("model.subgraphs[0]"))?;
    for (i, other) in iter.enumerate() {
        let index = i + 1;
        let other = other.map_err(|e| malformed_at(format!("model.subgraphs[{index}]"), e))?;
        let ops = other
            .operators()
            .map_err(|e| malformed_at(format!("model.subgraphs[{index}].operators"), e))?;
        let n = ops.map_or(0, |v| v.len());
        if n > 0 {
            return Err(ImportError::ExtraSubgraph {
                subgraph: index,
                operators: n,
            });
        }
    }

    let subgraph_name = sg
        .name()
        .map_err(malformed("model.subgraphs[0].name"))?
        .map(str::to_string);

    let fb_tensors = sg
        .tensors()
        .map_err(malformed("model.subgraphs[0].tensors"))?
        .ok_or_else(|| missing("model.subgraphs[0].tensors"))?;
    let mut tensors = Vec::with_capacity(capacity(fb_tensors.len()));
    for (index, t) in fb_tensors.iter().enumerate() {
        let t = t.map_err(|e| malformed_at(tensor_path(index), e))?;
        tensors.push(decode_tensor(bytes, index, &t, &buffers)?);
    }
    let n_tensors = tensors.len();

    let inputs = decode_io(
        sg.inputs()
            .map_err(malformed("model.subgraphs[0].inputs"))?,
        "input",
        n_tensors,
    )?;
    let outputs = decode_io(
        sg.outputs()
            .map_err(malformed("model.subgraphs[0].outputs"))?,
        "output",
        n_tensors,
    )?;

    let fb_ops = sg
        .operators()
        .map_err(malformed("model.subgraphs[0].operators"))?;
    let mut operators = Vec::with_capacity(capacity(fb_ops.map_or(0, |v| v.len())));
    for (index, op) in fb_ops.iter().flat_map(|v| v.iter()).enumerate() {
        let op = op.map_err(|e| malformed_at(op_path(index), e))?;
        operators.push(decode_operator(index, &op, &codes, n_tensors)?);
    }

    Ok(TfliteModel {
        version,
        description,
        subgraph_name,
        num_subgraphs,
        tensors,
        operators,
        inputs,
        outputs,
        file: bytes.to_vec(),
    })
}

/// Capacity to reserve for a vector whose length the file claims. The claim is bounded by the
/// file size (planus checks it), but a few bytes per element on the wire can become a hundred in
/// memory, so reserve a bounded amount and let longer vectors grow as they are read.
fn capacity(claimed: usize) -> usize {
    claimed.min(4096)
}

fn check_identifier(bytes: &[u8]) -> Result<(), ImportError> {
    // A flatbuffer starts with the root table offset (4 bytes), then the file identifier.
    match bytes.get(4..8) {
        None => Err(ImportError::NotTflite {
            detail: format!(
                "{} bytes is shorter than a flatbuffer header (8 bytes)",
                bytes.len()
            ),
        }),
        Some(id) if id != FILE_IDENTIFIER => Err(ImportError::NotTflite {
            detail: format!(
                "file identifier is \"{}\", expected \"TFL3\"",
                id.escape_ascii()
            ),
        }),
        Some(_) => Ok(()),
    }
}

fn malformed(location: &'static str) -> impl Fn(planus::Error) -> ImportError {
    move |e| malformed_at(location.to_string(), e)
}

fn malformed_at(location: String, e: planus::Error) -> ImportError {
    ImportError::Malformed {
        location,
        detail: e.to_string(),
    }
}

fn missing(location: &str) -> ImportError {
    ImportError::Missing {
        location: location.to_string(),
    }
}

/// One entry of `Model.operator_codes`, decoded.
struct Code {
    code: OpCode,
    version: i32,
}

fn decode_operator_codes(model: &fb::ModelRef<'_>) -> Result<Vec<Code>, ImportError> {
    let codes = model
        .operator_codes()
        .map_err(malformed("model.operator_codes"))?;
    let mut out = Vec::with_capacity(capacity(codes.map_or(0, |v| v.len())));
    for (i, c) in codes.iter().flat_map(|v| v.iter()).enumerate() {
        let at = |field: &str| format!("model.operator_codes[{i}]{field}");
        let c = c.map_err(|e| malformed_at(at(""), e))?;
        let deprecated = c
            .deprecated_builtin_code()
            .map_err(|e| malformed_at(at(".deprecated_builtin_code"), e))?;
        // A code newer than the schema is not an error here: it becomes `Other(code, "UNKNOWN")`
        // and is refused only if the caller needs to run it.
        let builtin = match c.builtin_code() {
            Ok(b) => b as i32,
            Err(planus::Error {
                error_kind: planus::errors::ErrorKind::UnknownEnumTag { source },
                ..
            }) => i32::try_from(source.tag).unwrap_or(i32::MAX),
            Err(e) => return Err(malformed_at(at(".builtin_code"), e)),
        };
        // `tensorflow/lite/schema/schema_utils.cc`, GetBuiltinCode: files written before the
        // 32-bit field existed only fill the 8-bit `deprecated_builtin_code`, newer files put
        // codes > 127 in `builtin_code` only; the larger of the two is the code.
        let code = builtin.max(i32::from(deprecated));
        let custom = c
            .custom_code()
            .map_err(|e| malformed_at(at(".custom_code"), e))?;
        let version = c.version().map_err(|e| malformed_at(at(".version"), e))?;
        out.push(Code {
            code: OpCode::from_code(code, custom),
            version,
        });
    }
    Ok(out)
}

fn decode_io(
    list: Option<planus::Vector<'_, i32>>,
    role: &'static str,
    n_tensors: usize,
) -> Result<Vec<usize>, ImportError> {
    let mut out = Vec::new();
    for (slot, t) in list.iter().flat_map(|v| v.iter()).enumerate() {
        match usize::try_from(t) {
            Ok(i) if i < n_tensors => out.push(i),
            _ => {
                return Err(ImportError::IoTensorIndex {
                    role,
                    slot,
                    tensor: t,
                    tensors: n_tensors,
                })
            }
        }
    }
    Ok(out)
}

fn decode_operator(
    index: usize,
    op: &fb::OperatorRef<'_>,
    codes: &[Code],
    n_tensors: usize,
) -> Result<Operator, ImportError> {
    let at = |field: &str| format!("{}.{field}", op_path(index));
    let opcode_index = op
        .opcode_index()
        .map_err(|e| malformed_at(at("opcode_index"), e))?;
    let code = usize::try_from(opcode_index)
        .ok()
        .and_then(|i| codes.get(i))
        .ok_or(ImportError::OpcodeIndex {
            op: index,
            opcode_index,
            codes: codes.len(),
        })?;
    let op_name = code.code.name();
    let bad_index = |role, slot, tensor| ImportError::OpTensorIndex {
        op: index,
        op_name: op_name.to_string(),
        role,
        slot,
        tensor,
        tensors: n_tensors,
    };
    let check = |role, slot, t: i32| match usize::try_from(t) {
        Ok(i) if i < n_tensors => Ok(i),
        _ => Err(bad_index(role, slot, t)),
    };

    let fb_inputs = op.inputs().map_err(|e| malformed_at(at("inputs"), e))?;
    let mut inputs = Vec::with_capacity(capacity(fb_inputs.map_or(0, |v| v.len())));
    for (slot, t) in fb_inputs.iter().flat_map(|v| v.iter()).enumerate() {
        // `-1` marks an omitted optional input (`kTfLiteOptionalTensor`).
        inputs.push(if t == -1 {
            None
        } else {
            Some(check("input", slot, t)?)
        });
    }
    let fb_outputs = op.outputs().map_err(|e| malformed_at(at("outputs"), e))?;
    let mut outputs = Vec::with_capacity(capacity(fb_outputs.map_or(0, |v| v.len())));
    for (slot, t) in fb_outputs.iter().flat_map(|v| v.iter()).enumerate() {
        outputs.push(check("output", slot, t)?);
    }
    let fb_inter = op
        .intermediates()
        .map_err(|e| malformed_at(at("intermediates"), e))?;
    let mut intermediates = Vec::new();
    for (slot, t) in fb_inter.iter().flat_map(|v| v.iter()).enumerate() {
        intermediates.push(check("intermediate", slot, t)?);
    }

    let options = options::decode(index, &code.code, op.builtin_options())?;
    Ok(Operator {
        code: code.code.clone(),
        version: code.version,
        inputs,
        outputs,
        intermediates,
        options,
    })
}

fn decode_tensor(
    file: &[u8],
    index: usize,
    t: &fb::TensorRef<'_>,
    buffers: &planus::Vector<'_, planus::Result<fb::BufferRef<'_>>>,
) -> Result<Tensor, ImportError> {
    let at = |field: &str| format!("{}.{field}", tensor_path(index));
    let name = t
        .name()
        .map_err(|e| malformed_at(at("name"), e))?
        .unwrap_or_default()
        .to_string();

    let dtype = match t.type_() {
        Ok(ty) => options::dtype(ty),
        Err(planus::Error {
            error_kind: planus::errors::ErrorKind::UnknownEnumTag { source },
            ..
        }) => {
            return Err(ImportError::UnknownDtype {
                tensor: index,
                name,
                code: source.tag,
            })
        }
        Err(e) => return Err(malformed_at(at("type"), e)),
    };

    let shape = decode_shape(
        index,
        &name,
        t.shape().map_err(|e| malformed_at(at("shape"), e))?,
    )?;
    let elements = shape.iter().product::<usize>();

    if t.sparsity()
        .map_err(|e| malformed_at(at("sparsity"), e))?
        .is_some()
    {
        return Err(ImportError::UnsupportedTensor {
            tensor: index,
            name,
            detail: "sparse storage (SparsityParameters)".into(),
        });
    }

    let quantization = match t
        .quantization()
        .map_err(|e| malformed_at(at("quantization"), e))?
    {
        None => None,
        Some(q) => decode_quantization(index, &name, dtype, &shape, &q)?,
    };

    let buffer_index = t.buffer().map_err(|e| malformed_at(at("buffer"), e))?;
    let buffer = usize::try_from(buffer_index)
        .ok()
        .filter(|&b| b < buffers.len())
        .ok_or_else(|| ImportError::BufferIndex {
            tensor: index,
            name: name.clone(),
            buffer: buffer_index,
            buffers: buffers.len(),
        })?;
    let data = buffer_range(file, index, &name, buffer, buffers)?;
    if let Some(range) = &data {
        // Types without a fixed element size (strings, resources, variants) carry their own
        // encoding; their length cannot be checked against the shape.
        if let Some(expected) = dtype.data_len(elements) {
            let actual = range.len();
            if actual != expected {
                return Err(ImportError::DataLength {
                    tensor: index,
                    name,
                    dtype,
                    shape,
                    expected,
                    actual,
                });
            }
        }
    }

    let is_variable = t
        .is_variable()
        .map_err(|e| malformed_at(at("is_variable"), e))?;
    Ok(Tensor {
        name,
        shape,
        dtype,
        quantization,
        buffer,
        data,
        is_variable,
    })
}

fn decode_shape(
    index: usize,
    name: &str,
    dims: Option<planus::Vector<'_, i32>>,
) -> Result<Vec<usize>, ImportError> {
    let invalid = |detail: String| ImportError::InvalidShape {
        tensor: index,
        name: name.to_string(),
        detail,
    };
    let Some(dims) = dims else {
        return Ok(Vec::new());
    };
    if dims.len() > MAX_RANK {
        return Err(invalid(format!(
            "rank {} exceeds the maximum of {MAX_RANK}",
            dims.len()
        )));
    }
    let mut shape = Vec::with_capacity(dims.len());
    let mut elements: usize = 1;
    for (axis, d) in dims.iter().enumerate() {
        let d = usize::try_from(d)
            .map_err(|_| invalid(format!("dimension {axis} is {d} (dimensions must be >= 0)")))?;
        elements = elements
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| {
                invalid(format!(
                    "shape {:?} has more than {MAX_ELEMENTS} elements",
                    dims.iter().collect::<Vec<_>>()
                ))
            })?;
        shape.push(d);
    }
    Ok(shape)
}

fn decode_quantization(
    index: usize,
    name: &str,
    dtype: DType,
    shape: &[usize],
    q: &fb::QuantizationParametersRef<'_>,
) -> Result<Option<Quantization>, ImportError> {
    let at = |field: &str| format!("{}.quantization.{field}", tensor_path(index));
    let invalid = |detail: String| ImportError::InvalidQuantization {
        tensor: index,
        name: name.to_string(),
        detail,
    };
    if q.details()
        .map_err(|e| malformed_at(at("details"), e))?
        .is_some()
    {
        return Err(ImportError::UnsupportedTensor {
            tensor: index,
            name: name.to_string(),
            detail: "custom or blockwise quantization (QuantizationParameters.details)".into(),
        });
    }
    // The rules below follow `InterpreterBuilder::ParseQuantization`
    // (`tensorflow/lite/core/interpreter_builder.cc`): no scales means not quantized, scales and
    // zero points come in equal numbers, `quantized_dimension` indexes the shape, and more
    // than one scale means one per entry of that dimension.
    let scales = q.scale().map_err(|e| malformed_at(at("scale"), e))?;
    let Some(scales) = scales.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let zero_points = q
        .zero_point()
        .map_err(|e| malformed_at(at("zero_point"), e))?
        .ok_or_else(|| invalid("has scales but no zero_point vector".into()))?;
    if zero_points.len() != scales.len() {
        return Err(invalid(format!(
            "{} zero points for {} scales (must be equal)",
            zero_points.len(),
            scales.len()
        )));
    }
    let qdim = q
        .quantized_dimension()
        .map_err(|e| malformed_at(at("quantized_dimension"), e))?;
    let axis = usize::try_from(qdim)
        .ok()
        .filter(|&a| shape.is_empty() || a < shape.len())
        .ok_or_else(|| {
            invalid(format!(
                "quantized_dimension {qdim} is outside the tensor's rank {}",
                shape.len()
            ))
        })?;

    let scales: Vec<f32> = scales.iter().collect();
    if let Some((i, s)) = scales
        .iter()
        .enumerate()
        .find(|(_, s)| !(s.is_finite() && **s > 0.0))
    {
        // A zero, negative or non-finite scale makes the requantization multipliers undefined.
        return Err(invalid(format!(
            "scale {i} is {s} (scales must be finite and > 0)"
        )));
    }
    let range = dtype.integer_range();
    let mut zps = Vec::with_capacity(capacity(zero_points.len()));
    for (i, zp) in zero_points.iter().enumerate() {
        let in_range = match range {
            Some((lo, hi)) => (lo..=hi).contains(&zp),
            // Float tensors may carry quantization as a record of a calibration range; their
            // zero points only need to be representable.
            None => i32::try_from(zp).is_ok(),
        };
        let zp32 = i32::try_from(zp).ok().filter(|_| in_range).ok_or_else(|| {
            invalid(format!(
                "zero point {i} is {zp}, outside the range of {}",
                dtype.name()
            ))
        })?;
        zps.push(zp32);
    }

    if scales.len() == 1 {
        return Ok(Some(Quantization::PerTensor {
            scale: scales[0],
            zero_point: zps[0],
        }));
    }
    match shape.get(axis) {
        Some(&n) if n == scales.len() => Ok(Some(Quantization::PerChannel {
            scales,
            zero_points: zps,
            axis,
        })),
        Some(&n) => Err(invalid(format!(
            "{} per-channel scales but dimension {axis} (quantized_dimension) has {n} entries",
            scales.len()
        ))),
        None => Err(invalid(format!(
            "{} per-channel scales on a scalar tensor",
            scales.len()
        ))),
    }
}

fn buffer_range(
    file: &[u8],
    index: usize,
    name: &str,
    buffer: usize,
    buffers: &planus::Vector<'_, planus::Result<fb::BufferRef<'_>>>,
) -> Result<Option<std::ops::Range<usize>>, ImportError> {
    let at = |field: &str| format!("model.buffers[{buffer}]{field}");
    let b = buffers
        .get(buffer)
        .ok_or_else(|| missing(&at("")))?
        .map_err(|e| malformed_at(at(""), e))?;
    if let Some(data) = b.data().map_err(|e| malformed_at(at(".data"), e))? {
        if data.is_empty() {
            return Ok(None);
        }
        // planus hands out sub-slices of `file`; their position is the pointer difference.
        let start = (data.as_ptr() as usize).wrapping_sub(file.as_ptr() as usize);
        let end = start.checked_add(data.len());
        return match end {
            Some(end) if end <= file.len() => Ok(Some(start..end)),
            _ => Err(ImportError::Malformed {
                location: at(".data"),
                detail: "the data vector lies outside the file".into(),
            }),
        };
    }
    // Models over 2 GB keep constants after the flatbuffer: `offset` and `size` locate them
    // relative to the start of the file, and `offset <= 1` means "not used" (schema comment on
    // `Buffer`).
    let offset = b.offset().map_err(|e| malformed_at(at(".offset"), e))?;
    let size = b.size().map_err(|e| malformed_at(at(".size"), e))?;
    if offset <= 1 || size == 0 {
        return Ok(None);
    }
    let range = usize::try_from(offset)
        .ok()
        .zip(usize::try_from(size).ok())
        .and_then(|(o, s)| Some(o..o.checked_add(s)?))
        .filter(|r| r.end <= file.len());
    match range {
        Some(r) => Ok(Some(r)),
        None => Err(ImportError::BufferRange {
            tensor: index,
            name: name.to_string(),
            buffer,
            offset,
            size,
            file_len: file.len(),
        }),
    }
}
