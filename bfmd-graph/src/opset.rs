//! Which kernels a program links: the set of (op kind, dtype, form) a model needs, and the
//! compile-time [`Linked`] parameter that instantiates the executor for exactly that set.
//!
//! The executor's dispatch is one `match` over every op kind and dtype. On a host every arm is
//! wanted; in a firmware that runs one model, the arms the model never reaches only cost flash.
//! [`exec::run_linked`](crate::exec::run_linked) and [`Model::parse_for`] take a type
//! implementing [`Linked`], whose [`Linked::OPS`] is a constant: every arm outside the set
//! becomes `return Err(..)` at compile time, so the linker drops its kernels (their f16/f32
//! loops, the in-place and overlapping forms the plan never chose, the packed fully connected
//! loop...). The build step that embeds a model (`bfmd-embed`) writes such a type into the
//! generated `model.rs` from [`OpSet::of_model`]; host tools use [`AllOps`].
//!
//! ```
//! use bfmd_graph::{DType, Form, Linked, OpKind, OpSet};
//!
//! /// What a firmware for an int8 classifier links.
//! struct Classifier;
//! impl Linked for Classifier {
//!     const OPS: OpSet = OpSet::EMPTY
//!         .with(OpKind::Conv2d, DType::S8, Form::Plain)
//!         .with(OpKind::FullyConnected, DType::S8, Form::Plain)
//!         .with(OpKind::Softmax, DType::S8, Form::InPlace);
//! }
//! assert!(Classifier::OPS.contains(OpKind::Softmax, DType::S8, Form::InPlace));
//! assert!(!Classifier::OPS.contains(OpKind::Softmax, DType::F32, Form::InPlace));
//! ```

use crate::error::{GraphError, Result};
use crate::format::{Model, OpRecord};
use crate::ops::{DType, OpKind, Variant};

/// How an op runs, beyond its kind and dtype: each form is a different kernel entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Form {
    /// Output disjoint from the inputs (the kernel's plain form).
    Plain = 0,
    /// Output over one of its inputs (`_inplace` kernels).
    InPlace = 1,
    /// A 1x1 convolution whose output overlaps its input (`pointwise_conv_s8_overlapping`).
    Overlapping = 2,
    /// A convolution with a window larger than 1x1 streamed row by row over an overlapping
    /// placement (`rows::run_rows`).
    Rows = 3,
    /// An int8 fully connected layer on weights packed as int16 pairs
    /// (`fully_connected_s8_wide`).
    Packed = 4,
}

impl Form {
    /// Every form, in code order.
    pub const ALL: [Form; 5] = [
        Form::Plain,
        Form::InPlace,
        Form::Overlapping,
        Form::Rows,
        Form::Packed,
    ];

    /// The form's name as printed in errors and in generated code.
    pub const fn name(self) -> &'static str {
        match self {
            Form::Plain => "Plain",
            Form::InPlace => "InPlace",
            Form::Overlapping => "Overlapping",
            Form::Rows => "Rows",
            Form::Packed => "Packed",
        }
    }
}

/// Op-kind codes an [`OpSet`] can hold (the op table stores a `u8`; codes 128.. are unused).
const KIND_SLOTS: usize = 128;

/// A set of (op kind, dtype, form) triples: the kernels a model needs or a program links.
///
/// One 32-bit word per op-kind code, 8 form bits for each of int8, f16 and f32; a plain value
/// that can be built in a `const` (see [`OpSet::with`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpSet {
    kinds: [u32; KIND_SLOTS],
}

impl core::fmt::Debug for OpSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The dtype slot of an op's kernels in an [`OpSet`] word, `None` for dtypes no op runs in.
const fn dtype_slot(d: DType) -> Option<u32> {
    match d {
        DType::S8 => Some(0),
        DType::F16 => Some(1),
        DType::F32 => Some(2),
        DType::I32 => None,
    }
}

/// The dtypes with a slot, in slot order.
const SLOT_DTYPES: [DType; 3] = [DType::S8, DType::F16, DType::F32];

impl OpSet {
    /// No kernel at all.
    pub const EMPTY: OpSet = OpSet {
        kinds: [0; KIND_SLOTS],
    };

    /// Every kernel of every op kind, dtype and form (what the host tools link).
    pub const ALL: OpSet = OpSet {
        kinds: [u32::MAX; KIND_SLOTS],
    };

    const fn bit(dtype: DType, form: Form) -> u32 {
        match dtype_slot(dtype) {
            Some(s) => 1 << (s * 8 + form as u32),
            None => 0,
        }
    }

    /// This set and `(kind, dtype, form)`. A dtype that no kernel runs in (`I32`) adds nothing.
    #[must_use]
    pub const fn with(mut self, kind: OpKind, dtype: DType, form: Form) -> OpSet {
        self.kinds[kind as usize] |= Self::bit(dtype, form);
        self
    }

    /// Whether the set holds `(kind, dtype, form)`.
    pub const fn contains(&self, kind: OpKind, dtype: DType, form: Form) -> bool {
        self.contains_code(kind as u8, dtype, form)
    }

    /// [`OpSet::contains`] by op-kind code (for const generic parameters, which cannot be
    /// enums); codes out of range are in no set.
    pub const fn contains_code(&self, code: u8, dtype: DType, form: Form) -> bool {
        let bit = Self::bit(dtype, form);
        (code as usize) < KIND_SLOTS && bit != 0 && self.kinds[code as usize] & bit != 0
    }

    /// Whether the set holds any kernel of `kind`.
    pub const fn has_kind(&self, kind: OpKind) -> bool {
        self.kinds[kind as usize] != 0
    }

    /// Whether the set holds any form of `kind` in `dtype`.
    pub const fn has(&self, kind: OpKind, dtype: DType) -> bool {
        match dtype_slot(dtype) {
            Some(s) => (self.kinds[kind as usize] >> (s * 8)) & 0xFF != 0,
            None => false,
        }
    }

    /// Whether every member of `other` is in this set.
    pub const fn includes(&self, other: &OpSet) -> bool {
        let mut i = 0;
        while i < KIND_SLOTS {
            if other.kinds[i] & !self.kinds[i] != 0 {
                return false;
            }
            i += 1;
        }
        true
    }

    /// The members, in kind-code, dtype and form order.
    pub fn iter(&self) -> impl Iterator<Item = (OpKind, DType, Form)> + '_ {
        OpKind::ALL.iter().flat_map(move |&k| {
            SLOT_DTYPES.iter().flat_map(move |&d| {
                Form::ALL
                    .iter()
                    .filter(move |&&f| self.contains(k, d, f))
                    .map(move |&f| (k, d, f))
            })
        })
    }

    /// Every kernel `model` runs (see [`kernel_of`]). A `Reshape` needs none.
    pub fn of_model(model: &Model<'_>) -> OpSet {
        let mut set = OpSet::EMPTY;
        for op in model.ops() {
            if let Some((k, d, f)) = kernel_of(model, &op) {
                set = set.with(k, d, f);
            }
        }
        set
    }
}

/// The kernels a program links, as a type: [`Linked::OPS`] is a constant, so the executor
/// instantiated for it (`exec::run_linked::<L>`) contains only those kernels.
pub trait Linked {
    /// The kernels compiled in.
    const OPS: OpSet;
}

/// Every kernel: what `exec::run` and `Model::parse` use, and what the host tools link.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllOps;

impl Linked for AllOps {
    const OPS: OpSet = OpSet::ALL;
}

/// The dtype an op's kernels run in: its output's, except `Dequantize`, which is listed under
/// its int8 input (the dispatcher's rule).
pub(crate) fn kernel_dtype(model: &Model<'_>, op: &OpRecord<'_>) -> Option<DType> {
    let t = match op.kind {
        OpKind::Dequantize => op.input(0)?,
        _ => op.output(0),
    };
    model.tensor(t).map(|i| i.dtype)
}

/// The kernel `op` runs: its kind, the dtype it runs in and its form; `None` for a `Reshape`,
/// which is a view and runs nothing, and for a record whose tensors do not decode.
pub fn kernel_of(model: &Model<'_>, op: &OpRecord<'_>) -> Option<(OpKind, DType, Form)> {
    if op.kind == OpKind::Reshape {
        return None;
    }
    let dtype = kernel_dtype(model, op)?;
    let form = match op.variant {
        Variant::InPlace { .. } => Form::InPlace,
        Variant::Overlapping => {
            let shape = |t: usize| model.tensor(t).map(|i| i.shape);
            let g = crate::validate::conv_geometry(op, shape(op.input(0)?)?, shape(op.output(0))?);
            if op.kind == OpKind::Conv2d && !bfmd_kernels::reference::conv::is_pointwise(&g) {
                Form::Rows
            } else {
                Form::Overlapping
            }
        }
        Variant::Normal => {
            // The executor's rule for int16-pair weights (`ops::fc::dims`).
            let packed = op.kind == OpKind::FullyConnected
                && op
                    .input(1)
                    .and_then(|t| model.tensor(t))
                    .is_some_and(|w| crate::ops::fc::dims(dtype, w.dtype, w.shape).2);
            if packed {
                Form::Packed
            } else {
                Form::Plain
            }
        }
    };
    Some((op.kind, dtype, form))
}

/// `Err(NotLinked)` unless `L` links the kernel `op` runs.
pub(crate) fn check_linked<L: Linked>(model: &Model<'_>, op: &OpRecord<'_>) -> Result<()> {
    match kernel_of(model, op) {
        Some((kind, dtype, form)) if !L::OPS.contains(kind, dtype, form) => {
            Err(GraphError::NotLinked {
                op: op.index,
                kind,
                dtype,
                form,
            })
        }
        _ => Ok(()),
    }
}
