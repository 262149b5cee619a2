//! The weight-packing pass [`GraphBuilder::finish`] runs first (unless
//! [`BuildOptions::wide_fc_weights`](super::BuildOptions) is 0): an int8 `FullyConnected` op
//! whose weights have at most that many elements and rows of a multiple of 4 gets them stored as
//! int16 pairs ([`pack_fully_connected_s8_wide`]), an `I32` constant of shape
//! `(out, 1, 1, in / 2)` in place of the int8 `(out, 1, 1, in)` one. The executor then runs
//! [`bfmd_kernels::s8::fully_connected::fully_connected_s8_wide`], bit for bit the same layer,
//! which on DSP cores skips the widening of every weight (issue 6: the 256 -> 10 layer of
//! `../shared/BENCH.md` went from 4,466 to 3,574 instructions on the Cortex-M7; on Helium
//! cores the portable loop, an int16 dot product the compiler vectorizes, took it from 3,083
//! to 2,810). The price is twice the flash of those weights, which is why only small layers
//! (classifier heads of microcontroller models) are packed by default.
//!
//! Weights another op also reads are left as they are (the pass replaces the tensor in place).
//! The op list and order do not change, so the fusion passes and source maps that follow see
//! the same ops.

use super::GraphBuilder;
use crate::ops::{DType, OpKind};
use bfmd_kernels::reference::fully_connected::FullyConnectedGeometry;
use bfmd_kernels::s8::fully_connected::{
    fully_connected_s8_wide_len, pack_fully_connected_s8_wide,
};
use bfmd_kernels::Shape;

/// `g` with the weights of every eligible int8 fully connected layer (at most `max` weights)
/// packed, or `None` when no layer is.
pub(super) fn pack_fc_weights(g: &GraphBuilder, max: usize) -> Option<GraphBuilder> {
    let mut out: Option<GraphBuilder> = None;
    for (j, op) in g.ops.iter().enumerate() {
        if op.kind != OpKind::FullyConnected {
            continue;
        }
        let wt = op.inputs[1];
        let t = &g.tensors[wt as usize];
        let (Some(data), DType::S8) = (&t.data, t.dtype) else {
            continue;
        };
        let (out_f, in_f) = (t.shape.n, t.shape.c);
        let shared = g
            .ops
            .iter()
            .enumerate()
            .any(|(i, o)| i != j && o.inputs.contains(&wt));
        if in_f % 4 != 0 || t.shape.len() > max || shared {
            continue;
        }
        let geometry = FullyConnectedGeometry::new(1, in_f, out_f);
        let weights: Vec<i8> = data.iter().map(|&b| b as i8).collect();
        let mut words = vec![0i32; fully_connected_s8_wide_len(&geometry)];
        if pack_fully_connected_s8_wide(&geometry, &weights, &mut words).is_err() {
            continue;
        }
        let gb = out.get_or_insert_with(|| g.clone());
        // The packed layer's loop needs its own scratch (the portable one widens the input).
        if let super::Memory::FullyConnected(dtype, fg, _) = gb.ops[j].memory {
            gb.ops[j].memory = super::Memory::FullyConnected(dtype, fg, true);
        }
        let p = &mut gb.tensors[wt as usize];
        p.dtype = DType::I32;
        p.shape = Shape::new(out_f, 1, 1, in_f / 2);
        p.data = Some(words.iter().flat_map(|w| w.to_le_bytes()).collect());
    }
    out
}
