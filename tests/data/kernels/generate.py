#!/usr/bin/env python3
"""Generates the single-op int8 golden vectors in this folder (see README.md).

For every case: build a tiny TensorFlow function holding one op (seeded weights), convert it
with the TFLite converter to a full-integer int8 model (seeded representative data set, int8
input and output, per-channel weights as the converter chooses), check that the model holds
exactly the one expected operator, run a seeded int8 input through the TFLM reference
interpreter (`tflite-micro`), check that LiteRT's reference kernels (`BUILTIN_REF`) give the
same bytes, and write `<case>/`:

  input_<i>.bin   raw int8, i = the operator's input slot among its activation inputs
  output.bin      TFLM's raw int8 output
  filter.bin      int8 constant weights (convolution OHWI, depthwise 1HWC, FC [out, in])
  bias.bin        int32 little-endian bias
  case.json       shapes, every tensor's scales / zero points, the op's options
  model.tflite    the converted model (kept because it is small)

Nothing here is run by CI: the files are committed, and the Rust tests only read them.
Regenerate with the command in README.md; the output is deterministic for pinned versions.
"""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import sys
import zlib

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402
from ai_edge_litert import interpreter as litert  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_TFLITE_BYTES = 20 * 1024
REP_SAMPLES = 48

schema = tflm.schema_fb
OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
ACT_NAMES = {
    v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")
}
PAD_NAMES = {v: k for k, v in vars(schema.Padding).items() if not k.startswith("_")}


def seed_of(name, salt):
    """A stable per-case seed (Python's hash() is salted per process)."""
    return zlib.crc32(f"{name}/{salt}".encode())


# ----------------------------------------------------------------------------------------------
# Case definitions. Each case is a dict:
#   name, op (expected TFLite builtin), what (a sentence on what it stresses),
#   inputs: list of (arg_name, shape, (lo, hi)) float calibration ranges,
#   build(rng) -> python function of the inputs (tf ops, weights drawn from rng),
#   output_quant (optional): (scale factor, zero-point shift) applied to the output tensor
#     after conversion, ref_agrees / why_disagree (optional): a known TFLM / LiteRT difference.


def weights(rng, shape, out_axis, spread=True):
    """Seeded weights in [-1, 1) with per-output-channel magnitudes from 0.2 to 1.5, so that
    per-channel scales really differ between channels."""
    w = rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
    if spread:
        mags = rng.uniform(0.2, 1.5, size=shape[out_axis]).astype(np.float32)
        bshape = [1] * len(shape)
        bshape[out_axis] = shape[out_axis]
        w = w * mags.reshape(bshape)
    return tf.constant(w)


def bias(rng, n):
    return tf.constant(rng.uniform(-0.5, 0.5, size=n).astype(np.float32))


ACTS = {
    "NONE": lambda x: x,
    "RELU": tf.nn.relu,
    "RELU6": tf.nn.relu6,
}


def conv_case(name, what, in_shape, out_c, k, stride, padding, dilation=(1, 1), groups=1,
              act="NONE", in_range=(-1.0, 1.0)):
    def build(rng):
        w = weights(rng, [k[0], k[1], in_shape[3] // groups, out_c], 3)
        b = bias(rng, out_c)

        def f(x):
            y = tf.nn.conv2d(x, w, strides=[1, stride[0], stride[1], 1], padding=padding,
                             dilations=[1, dilation[0], dilation[1], 1])
            return ACTS[act](y + b)
        return f
    return dict(name=name, op="CONV_2D", what=what, inputs=[("x", in_shape, in_range)],
                build=build)


def depthwise_case(name, what, in_shape, mult, k, stride, padding, dilation=(1, 1),
                   act="NONE", in_range=(-1.0, 1.0)):
    def build(rng):
        w = weights(rng, [k[0], k[1], in_shape[3], mult], 2)
        b = bias(rng, in_shape[3] * mult)

        def f(x):
            y = tf.nn.depthwise_conv2d(x, w, strides=[1, stride[0], stride[1], 1],
                                       padding=padding, dilations=list(dilation))
            return ACTS[act](y + b)
        return f
    return dict(name=name, op="DEPTHWISE_CONV_2D", what=what,
                inputs=[("x", in_shape, in_range)], build=build)


def unary_case(name, op, what, shape, fn, in_range=(-1.0, 1.0)):
    return dict(name=name, op=op, what=what, inputs=[("x", shape, in_range)],
                build=lambda rng: fn)


def binary_case(name, op, what, a_shape, b_shape, fn, a_range, b_range):
    return dict(name=name, op=op, what=what,
                inputs=[("a", a_shape, a_range), ("b", b_shape, b_range)],
                build=lambda rng: fn)


def hard_swish(x):
    # Keras' hard_swish spelling; the converter fuses it into HARD_SWISH.
    return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


def fc_case(name, what, batch, n_in, n_out, act="NONE"):
    def build(rng):
        w = weights(rng, [n_in, n_out], 1)
        b = bias(rng, n_out)
        return lambda x: ACTS[act](tf.matmul(x, w) + b)
    return dict(name=name, op="FULLY_CONNECTED", what=what,
                inputs=[("x", [batch, n_in], (-1.0, 1.0))], build=build)


CASES = [
    # CONV_2D
    conv_case("conv_3x3_stride1_same_relu6", "3x3 stride 1 SAME (one row/col each side), "
              "per-channel weights, fused RELU6", [1, 5, 6, 3], 8, (3, 3), (1, 1), "SAME",
              act="RELU6"),
    conv_case("conv_3x3_stride2_same_asymmetric", "3x3 stride 2 SAME on an even input: the "
              "one row/col of padding is at the bottom/right only", [1, 8, 8, 4], 6, (3, 3),
              (2, 2), "SAME"),
    conv_case("conv_3x3_stride2_same_stem_3ch", "MobileNet-style stem: 3 input channels, 3x3 "
              "stride 2 SAME, RELU6 (the op where LiteRT's optimised kernels are off by one)",
              [1, 12, 12, 3], 8, (3, 3), (2, 2), "SAME", act="RELU6"),
    conv_case("conv_3x3_dilation2_same_relu", "3x3 dilation 2 SAME on odd sizes, RELU",
              [1, 9, 7, 3], 5, (3, 3), (1, 1), "SAME", dilation=(2, 2), act="RELU"),
    conv_case("conv_5x3_stride2x1_valid", "non-square 5x3 kernel, strides 2 (h) and 1 (w), "
              "VALID", [1, 9, 6, 3], 4, (5, 3), (2, 1), "VALID"),
    conv_case("conv_1x1_pointwise", "1x1 pointwise convolution, 16 -> 12 channels",
              [1, 4, 5, 16], 12, (1, 1), (1, 1), "VALID"),
    conv_case("conv_3x3_batch2_same", "batch 2, 3x3 stride 1 SAME", [2, 5, 5, 3], 4, (3, 3),
              (1, 1), "SAME"),
    conv_case("conv_grouped_1x1_g3", "grouped 1x1 CONV_2D (ShuffleNetV1): 12 -> 9 channels "
              "in 3 groups, filter in_c = 4", [1, 4, 4, 12], 9, (1, 1), (1, 1), "VALID",
              groups=3),
    conv_case("conv_grouped_3x3_g2_stride2_same_relu", "grouped 3x3 stride 2 SAME CONV_2D, "
              "6 -> 8 channels in 2 groups, RELU", [1, 7, 7, 6], 8, (3, 3), (2, 2), "SAME",
              groups=2, act="RELU"),
    # DEPTHWISE_CONV_2D
    depthwise_case("depthwise_3x3_mult1_stride1_same_relu6", "3x3 multiplier 1 stride 1 SAME, "
                   "RELU6", [1, 6, 7, 8], 1, (3, 3), (1, 1), "SAME", act="RELU6"),
    depthwise_case("depthwise_mult2_stride2_same", "3x3 multiplier 2 stride 2 SAME (bottom/"
                   "right padding), 5 -> 10 channels", [1, 8, 8, 5], 2, (3, 3), (2, 2), "SAME"),
    depthwise_case("depthwise_5x5_mult1_stride2_same", "5x5 multiplier 1 stride 2 SAME on an "
                   "odd input", [1, 9, 9, 6], 1, (5, 5), (2, 2), "SAME"),
    depthwise_case("depthwise_5x5_mult2_valid", "5x5 multiplier 2 stride 1 VALID",
                   [1, 7, 8, 3], 2, (5, 5), (1, 1), "VALID"),
    depthwise_case("depthwise_3x3_dilation2_same", "3x3 dilation 2 SAME", [1, 8, 8, 4], 1,
                   (3, 3), (1, 1), "SAME", dilation=(2, 2)),
    # Activations and softmax
    unary_case("hard_swish", "HARD_SWISH", "hard-swish over [-4, 4] (both bends)",
               [1, 4, 5, 7], hard_swish, in_range=(-4.0, 4.0)),
    unary_case("logistic", "LOGISTIC", "logistic over [-8, 8], output 1/256 zp -128",
               [1, 4, 5, 7], tf.math.sigmoid, in_range=(-8.0, 8.0)),
    unary_case("softmax_rows", "SOFTMAX", "softmax over the last axis of a [1, 2, 3, 10] "
               "tensor: 6 rows", [1, 2, 3, 10], tf.nn.softmax, in_range=(-6.0, 6.0)),
    unary_case("softmax_classifier", "SOFTMAX", "classifier head softmax [1, 10]", [1, 10],
               tf.nn.softmax, in_range=(-10.0, 10.0)),
    unary_case("relu", "RELU", "standalone RELU", [1, 4, 5, 6], tf.nn.relu,
               in_range=(-2.0, 3.0)),
    unary_case("relu6_same_quant", "RELU6", "standalone RELU6, input calibrated to [0, 6] so "
               "input and output share one quantization (TFLM's assumption)", [1, 4, 5, 6],
               tf.nn.relu6, in_range=(0.0, 6.0)),
    dict(unary_case("relu6_requant", "RELU6", "standalone RELU6 over [-4, 9]: the converter "
                    "gives the output [0, 6]'s quantization, which TFLM ignores", [1, 4, 5, 6],
                    tf.nn.relu6, in_range=(-4.0, 9.0)),
         ref_agrees=False,
         why_disagree="TFLM's int8 RELU6 (micro/kernels/activations_common.cc Relu6Prepare, "
         "activations.cc Relu6Quantized) clamps to [zero, six] in the input's quantization and "
         "copies the result without requantizing to the output's scale and zero point; LiteRT's "
         "reference kernel requantizes"),
    # MEAN
    # TF 2.21's converter gives MEAN's output the input's quantization; the *_requant cases
    # override the output tensor's scale and zero point in the converted flatbuffer (a valid
    # model, as other toolchains produce) to reach TFLM's requantizing MEAN path.
    dict(unary_case("mean_keepdims_requant", "MEAN", "mean over H, W with keep_dims; output "
                    "quantization overridden to 0.6 x the input scale and zero point + 7",
                    [1, 5, 6, 8], lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=True)),
         output_quant=(0.6, 7)),
    dict(unary_case("mean_requant", "MEAN", "mean over H, W without keep_dims ([1, C] output); "
                    "output quantization overridden to 1.7 x the input scale and zero point - 9",
                    [1, 5, 6, 8], lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=False)),
         output_quant=(1.7, -9)),
    unary_case("mean_keepdims_same_quant", "MEAN", "mean over H, W with keep_dims, output "
               "quantized like the input (what the converter emits)", [1, 5, 6, 8],
               lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=True)),
    unary_case("mean_same_quant", "MEAN", "mean over H, W without keep_dims, output quantized "
               "like the input, 7x7x12 (MobileNet head shape)", [1, 7, 7, 12],
               lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=False)),
    # Pooling
    unary_case("avgpool_3x3_stride2_same_partial", "AVERAGE_POOL_2D",
               "3x3 stride 2 SAME on 7x8: "
               "windows cut by the border count only their in-bounds taps", [1, 7, 8, 6],
               lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME")),
    unary_case("avgpool_2x2_stride2_valid", "AVERAGE_POOL_2D", "2x2 stride 2 VALID",
               [1, 6, 6, 4], lambda x: tf.nn.avg_pool2d(x, 2, 2, "VALID")),
    unary_case("maxpool_3x3_stride2_same", "MAX_POOL_2D", "3x3 stride 2 SAME on 7x7",
               [1, 7, 7, 5], lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME")),
    # ADD and MUL
    binary_case("add_different_scales", "ADD", "same-shape add, input ranges [-1, 1] and "
                "[-6, 6] (different scales and zero points)", [1, 4, 5, 6], [1, 4, 5, 6],
                lambda a, b: a + b, (-1.0, 1.0), (-6.0, 6.0)),
    binary_case("add_broadcast_channel_relu", "ADD", "[1, 4, 5, 6] + [1, 1, 1, 6] broadcast "
                "per channel, fused RELU", [1, 4, 5, 6], [1, 1, 1, 6],
                lambda a, b: tf.nn.relu(a + b), (-2.0, 2.0), (-0.5, 1.5)),
    binary_case("mul_broadcast_channel", "MUL", "SE gating: [1, 4, 5, 6] * [1, 1, 1, 6] with "
                "the gate in [0, 1]", [1, 4, 5, 6], [1, 1, 1, 6], lambda a, b: a * b,
                (-3.0, 3.0), (0.0, 1.0)),
    binary_case("mul_same_shape", "MUL", "same-shape multiply of [-1, 1] by [-2, 4]",
                [1, 3, 4, 5], [1, 3, 4, 5], lambda a, b: a * b, (-1.0, 1.0), (-2.0, 4.0)),
    # FULLY_CONNECTED
    fc_case("fully_connected_batch2_relu", "FULLY_CONNECTED 16 -> 10, batch 2, fused RELU",
            2, 16, 10, act="RELU"),
    # Data movement (the converter gives every input the output's quantization).
    binary_case("concat_channels", "CONCATENATION", "channel concatenation of 5 and 3 "
                "channels", [1, 3, 4, 5], [1, 3, 4, 3], lambda a, b: tf.concat([a, b], axis=3),
                (-1.0, 1.0), (-1.0, 1.0)),
    unary_case("pad_spatial", "PAD", "PAD of H by (1, 2) and W by (2, 1): pads with the zero "
               "point", [1, 3, 4, 5],
               lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]]), in_range=(-1.0, 3.0)),
]


# ----------------------------------------------------------------------------------------------
# Conversion, inspection, execution


def convert(case):
    rng = np.random.default_rng(seed_of(case["name"], "weights"))
    fn = case["build"](rng)
    specs = [tf.TensorSpec(shape, tf.float32, name=arg) for arg, shape, _ in case["inputs"]]
    concrete = tf.function(fn, input_signature=specs).get_concrete_function()
    rep_rng = np.random.default_rng(seed_of(case["name"], "representative"))
    shapes = [shape for _, shape, _ in case["inputs"]]
    ranges = [r for _, _, r in case["inputs"]]

    def representative():
        for _ in range(REP_SAMPLES):
            yield [rep_rng.uniform(lo, hi, size=s).astype(np.float32)
                   for s, (lo, hi) in zip(shapes, ranges)]
        # Make sure the calibrated range reaches both ends.
        yield [np.full(s, lo, np.float32) for s, (lo, _) in zip(shapes, ranges)]
        yield [np.full(s, hi, np.float32) for s, (_, hi) in zip(shapes, ranges)]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def override_output_quant(tfl, scale_factor, zp_shift):
    """Rewrites the model output's quantization to (scale * scale_factor, zero_point +
    zp_shift) and re-serializes the flatbuffer."""
    import flatbuffers
    model = tflm.convert_bytearray_to_object(bytearray(tfl))
    sg = model.subgraphs[0]
    q = sg.tensors[sg.outputs[0]].quantization
    q.scale = [float(np.float32(q.scale[0] * scale_factor))]
    q.zeroPoint = [int(q.zeroPoint[0] + zp_shift)]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def enum_name(table, v):
    return table.get(v, str(v))


def tensor_info(model, sg, idx):
    t = sg.tensors[idx]
    q = t.quantization
    info = {
        "tensor": int(idx),
        "name": t.name.decode() if isinstance(t.name, bytes) else str(t.name),
        "shape": [int(d) for d in t.shape],
        "dtype": enum_name(TYPE_NAMES, t.type).lower(),
    }
    if q is not None and q.scale is not None:
        info["scales"] = [float(s) for s in q.scale]
        info["zero_points"] = [int(z) for z in q.zeroPoint]
        if len(q.scale) > 1:
            info["quantized_dimension"] = int(q.quantizedDimension)
    buf = model.buffers[t.buffer].data if t.buffer < len(model.buffers) else None
    data = None
    if buf is not None and len(buf) > 0:
        dt = {"int8": np.int8, "int32": np.int32, "float32": np.float32}[info["dtype"]]
        data = np.frombuffer(np.asarray(buf, dtype=np.uint8).tobytes(), dtype="<" + np.dtype(dt).str[1:])
    return info, data


def options_dict(op):
    """The builtin options table as plain JSON values, enums by name."""
    o = op.builtinOptions
    if o is None:
        return {}
    out = {}
    for k, v in vars(o).items():
        if k == "fusedActivationFunction":
            out["fused_activation"] = enum_name(ACT_NAMES, v)
        elif k == "padding":
            out["padding"] = enum_name(PAD_NAMES, v)
        elif isinstance(v, (bool, int, float, np.integer, np.floating)):
            out[snake(k)] = v.item() if hasattr(v, "item") else v
    return out


def snake(camel):
    """`strideW` -> `stride_w`: the schema's object API names, in the case files' style."""
    return "".join("_" + c.lower() if c.isupper() else c for c in camel)


def dump_json(obj, path):
    """JSON with one line per list of numbers, so the case files stay short and diffable."""
    def enc(o, ind):
        pad = " " * ind
        if isinstance(o, dict):
            items = [f'{pad} {json.dumps(k)}: {enc(v, ind + 1).lstrip()}' for k, v in o.items()]
            return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(o, list) and any(isinstance(x, (dict, list)) for x in o):
            return pad + "[\n" + ",\n".join(enc(x, ind + 1) for x in o) + "\n" + pad + "]"
        return pad + json.dumps(o)
    with open(path, "w") as f:
        f.write(enc(obj, 0) + "\n")


ROLES = {
    "CONV_2D": ["input", "filter", "bias"],
    "DEPTHWISE_CONV_2D": ["input", "filter", "bias"],
    "FULLY_CONNECTED": ["input", "filter", "bias"],
    "MEAN": ["input", "axis"],
    "PAD": ["input", "paddings"],
}


def run_tflm(tfl, inputs_by_model_index):
    interp = tflm.Interpreter.from_bytes(tfl, arena_size=1 << 20)
    for i, arr in enumerate(inputs_by_model_index):
        interp.set_input(arr, i)
    interp.invoke()
    return np.array(interp.get_output(0))


def run_litert(tfl, inputs_by_model_index, resolver):
    interp = litert.Interpreter(model_content=tfl, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    for d, arr in zip(interp.get_input_details(), inputs_by_model_index):
        interp.set_tensor(d["index"], arr)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def generate(case, out_root):
    name = case["name"]
    tfl = convert(case)
    if case.get("output_quant"):
        tfl = override_output_quant(tfl, *case["output_quant"])
    model = tflm.convert_bytearray_to_object(bytearray(tfl))
    sg = model.subgraphs[0]
    op_names = [OP_NAMES[tflm.get_builtin_code_from_operator_code(model.operatorCodes[o.opcodeIndex])]
                for o in sg.operators]
    if op_names != [case["op"]]:
        raise SystemExit(f"{name}: expected exactly [{case['op']}], converter produced {op_names}")
    op = sg.operators[0]
    model_inputs = [int(i) for i in sg.inputs]

    # Seeded int8 inputs over the whole int8 range, one per model input.
    in_rng = np.random.default_rng(seed_of(name, "input"))
    inputs = {}
    for t in model_inputs:
        shape = [int(d) for d in sg.tensors[t].shape]
        inputs[t] = in_rng.integers(-128, 128, size=shape, dtype=np.int8)
    ordered = [inputs[t] for t in model_inputs]

    out_tflm = run_tflm(tfl, ordered)
    out_ref = run_litert(tfl, ordered, litert.OpResolverType.BUILTIN_REF)
    out_opt = run_litert(tfl, ordered, litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    if out_tflm.dtype != np.int8:
        raise SystemExit(f"{name}: TFLM output is {out_tflm.dtype}, expected int8")
    ref_agrees = bool(np.array_equal(out_tflm, out_ref))
    opt_diff = int(np.count_nonzero(out_tflm.astype(np.int32) != out_opt.astype(np.int32)))
    if ref_agrees != case.get("ref_agrees", True):
        raise SystemExit(f"{name}: TFLM == LiteRT BUILTIN_REF is {ref_agrees}, the case expects "
                         f"{case.get('ref_agrees', True)}")

    d = os.path.join(out_root, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)

    roles = ROLES.get(case["op"])
    op_inputs = []
    n_act = 0
    for slot, t in enumerate(op.inputs):
        t = int(t)
        if t < 0:
            op_inputs.append({"role": "absent"})
            continue
        info, data = tensor_info(model, sg, t)
        if t in inputs:
            role = "input" if roles else f"input_{n_act}"
            info["role"] = role
            info["file"] = f"input_{n_act}.bin"
            inputs[t].tofile(os.path.join(d, info["file"]))
            n_act += 1
        else:
            role = roles[slot] if roles else f"constant_{slot}"
            info["role"] = role
            if data is None:
                raise SystemExit(f"{name}: op input {slot} is neither a model input nor a constant")
            if role in ("filter", "bias"):
                info["file"] = f"{role}.bin"
                data.tofile(os.path.join(d, info["file"]))
            else:
                info["values"] = [int(v) for v in data]
        op_inputs.append(info)

    out_info, _ = tensor_info(model, sg, int(op.outputs[0]))
    out_info["role"] = "output"
    out_info["file"] = "output.bin"
    out_tflm.astype(np.int8).tofile(os.path.join(d, "output.bin"))
    disagreement = None
    if not ref_agrees:
        # TFLM stays the golden answer; LiteRT's bytes are kept to document the difference.
        out_ref.astype(np.int8).tofile(os.path.join(d, "output_litert_ref.bin"))
        diff = np.flatnonzero(out_tflm.ravel() != out_ref.ravel())
        disagreement = {
            "file": "output_litert_ref.bin",
            "elements_differing": int(diff.size),
            "first_index": int(diff[0]),
            "tflm": int(out_tflm.ravel()[diff[0]]),
            "litert_ref": int(out_ref.ravel()[diff[0]]),
            "why": case["why_disagree"],
        }

    params = options_dict(op)
    if case["op"] == "CONV_2D":
        in_c = op_inputs[0]["shape"][3]
        filt_in_c = op_inputs[1]["shape"][3]
        params["groups"] = in_c // filt_in_c

    saved_model = len(tfl) < MAX_TFLITE_BYTES
    if saved_model:
        with open(os.path.join(d, "model.tflite"), "wb") as f:
            f.write(tfl)

    manifest = {
        "case": name,
        "op": case["op"],
        "what": case["what"],
        "params": params,
        "inputs": op_inputs,
        "output": out_info,
        "calibration_ranges": {arg: list(r) for arg, _, r in case["inputs"]},
        "output_quantization_overridden": case.get("output_quant") is not None,
        "input_seed": seed_of(name, "input"),
        "weight_seed": seed_of(name, "weights"),
        "tflm_equals_litert_builtin_ref": ref_agrees,
        "litert_builtin_ref_disagreement": disagreement,
        "litert_optimized_elements_differing_from_tflm": opt_diff,
        "output_sha256": hashlib.sha256(out_tflm.astype(np.int8).tobytes()).hexdigest(),
        "model_tflite": "model.tflite" if saved_model else None,
        "model_bytes": len(tfl),
    }
    dump_json(manifest, os.path.join(d, "case.json"))
    return manifest


def versions():
    from importlib.metadata import version
    return {p: version(p) for p in ["tensorflow-cpu", "keras", "ai-edge-litert", "tflite-micro",
                                    "numpy"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=HERE, help="output folder (default: this script's)")
    ap.add_argument("cases", nargs="*", help="only these cases (default: all)")
    args = ap.parse_args()
    todo = [c for c in CASES if not args.cases or c["name"] in args.cases]
    summary = []
    for case in todo:
        m = generate(case, args.out)
        summary.append({k: m[k] for k in ("case", "op", "tflm_equals_litert_builtin_ref",
                                           "litert_optimized_elements_differing_from_tflm",
                                           "output_sha256")})
        print(f"{m['case']:45s} {m['op']:18s} ref==tflm {m['tflm_equals_litert_builtin_ref']} "
              f"optimized differs at {m['litert_optimized_elements_differing_from_tflm']}")
    if not args.cases:
        index = {
            "generator": "tests/data/kernels/generate.py",
            "versions": versions(),
            "python": sys.version.split()[0],
            "generated": datetime.date.today().isoformat(),
            "cases": summary,
        }
        dump_json(index, os.path.join(args.out, "index.json"))


if __name__ == "__main__":
    main()
