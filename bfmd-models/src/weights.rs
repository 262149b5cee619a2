//! PyTorch `state_dict`s saved as `.safetensors`: the tensors a network builder asks for, by
//! name and shape, plus the batch-norm `eps` of every module.
//!
//! A `state_dict` does not hold a BatchNorm's `eps` (it is a module attribute, not a tensor), so
//! each builder states the `eps` its PyTorch definition uses (torchvision's MobileNetV3 writes
//! `eps=0.001`, the seed's Inception `BatchNorm2d(n, n)`, i.e. `eps = n`), and the value found
//! beside the weights wins over it: a `__metadata__` entry `bn_eps.<module>` of the safetensors
//! file, or the `leaf_modules.<module>.eps` of a `<stem>.tensors.json` sidecar (the format of
//! the reference data's tensor listings).

use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One tensor of a `state_dict`, converted to `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// PyTorch shape (convolutions OIHW, linear `[out, in]`).
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

#[derive(Clone, Debug)]
enum Source {
    /// Tensors read from a file (or given by a test).
    Loaded(HashMap<String, Tensor>),
    /// No file: every requested tensor is made up from its name (deterministic), so that the
    /// architecture can be built, counted and planned without weights.
    Synthetic(u64),
}

/// Tensor names a builder may leave unread: buffers that inference does not use and heads that
/// run only in training.
fn ignorable(name: &str) -> bool {
    name.ends_with("num_batches_tracked")
        || name.starts_with("aux1.")
        || name.starts_with("aux2.")
        || name.starts_with("AuxLogits.")
}

/// The weights a network builder reads from.
#[derive(Clone, Debug)]
pub struct Weights {
    source: Source,
    eps: HashMap<String, f64>,
    used: BTreeMap<String, Vec<usize>>,
}

fn shape_str(s: &[usize]) -> String {
    format!("{s:?}")
}

impl Weights {
    /// Weights made up from each tensor's name (uniform in +-sqrt(3 / fan_in) for
    /// convolutions and linear layers, running variances near 1): for counting, planning and
    /// testing an architecture without a file.
    pub fn synthetic(seed: u64) -> Self {
        Weights {
            source: Source::Synthetic(seed),
            eps: HashMap::new(),
            used: BTreeMap::new(),
        }
    }

    /// Weights from named tensors (tests build mismatching `state_dict`s this way).
    pub fn from_tensors(tensors: HashMap<String, Tensor>) -> Self {
        Weights {
            source: Source::Loaded(tensors),
            eps: HashMap::new(),
            used: BTreeMap::new(),
        }
    }

    /// Parses a `.safetensors` file's bytes: float tensors (F32, F16, BF16, F64) become `f32`;
    /// integer buffers (`num_batches_tracked`) are skipped. `bn_eps.<module>` metadata entries
    /// set batch-norm epsilons.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        use safetensors::{Dtype, SafeTensors};
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::Weights(format!("not a safetensors file: {e}")))?;
        let mut map = HashMap::new();
        for (name, view) in st.tensors() {
            let raw = view.data();
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => raw
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                Dtype::F64 => raw
                    .chunks_exact(8)
                    .map(|b| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(b);
                        f64::from_le_bytes(a) as f32
                    })
                    .collect(),
                Dtype::F16 => raw
                    .chunks_exact(2)
                    .map(|b| bfmd_kernels::half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                Dtype::BF16 => raw
                    .chunks_exact(2)
                    .map(|b| bfmd_kernels::half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                _ => continue,
            };
            map.insert(
                name,
                Tensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        let mut w = Weights::from_tensors(map);
        let (_, meta) = SafeTensors::read_metadata(bytes)
            .map_err(|e| Error::Weights(format!("safetensors header: {e}")))?;
        if let Some(m) = meta.metadata() {
            for (k, v) in m {
                if let Some(module) = k.strip_prefix("bn_eps.") {
                    let eps: f64 = v.trim().parse().map_err(|_| {
                        Error::Weights(format!("metadata `{k}`: `{v}` is not a number"))
                    })?;
                    w.eps.insert(module.to_string(), eps);
                }
            }
        }
        Ok(w)
    }

    /// Reads a `.safetensors` file and, when it exists, the `<stem>.tensors.json` sidecar
    /// beside it (batch-norm epsilons, see [`Weights::set_eps_from_json`]).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::Io(format!("reading {}: {e}", path.display())))?;
        let mut w = Self::from_safetensors(&bytes)
            .map_err(|e| Error::Weights(format!("{}: {e}", path.display())))?;
        if let (Some(dir), Some(stem)) = (path.parent(), path.file_stem()) {
            let side = dir.join(format!("{}.tensors.json", stem.to_string_lossy()));
            if side.exists() {
                let text = std::fs::read_to_string(&side)
                    .map_err(|e| Error::Io(format!("reading {}: {e}", side.display())))?;
                w.set_eps_from_json(&text)
                    .map_err(|e| Error::Weights(format!("{}: {e}", side.display())))?;
            }
        }
        Ok(w)
    }

    /// Takes batch-norm epsilons from a tensor listing: `{"leaf_modules": {"<module>":
    /// {"type": "BatchNorm2d", "eps": 1e-05}, ...}}` (other keys are ignored). Metadata
    /// entries already read from the safetensors file take precedence.
    pub fn set_eps_from_json(&mut self, text: &str) -> Result<()> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::Weights(format!("tensor listing is not JSON: {e}")))?;
        let Some(mods) = v.get("leaf_modules").and_then(|m| m.as_object()) else {
            return Ok(());
        };
        for (name, m) in mods {
            if let Some(eps) = m.get("eps").and_then(|e| e.as_f64()) {
                self.eps.entry(name.clone()).or_insert(eps);
            }
        }
        Ok(())
    }

    /// Sets the epsilon of one batch-norm module (overrides every other source).
    pub fn set_bn_eps(&mut self, module: &str, eps: f64) {
        self.eps.insert(module.to_string(), eps);
    }

    /// The epsilon of batch-norm `module`: the value found with the weights, else `default`
    /// (the one the PyTorch definition of the architecture uses).
    pub fn bn_eps(&self, module: &str, default: f64) -> f64 {
        self.eps.get(module).copied().unwrap_or(default)
    }

    /// `true` for weights made up by [`Weights::synthetic`].
    pub fn is_synthetic(&self) -> bool {
        matches!(self.source, Source::Synthetic(_))
    }

    /// `true` when the `state_dict` has tensor `name` (synthetic weights have every tensor).
    pub fn contains(&self, name: &str) -> bool {
        match &self.source {
            Source::Loaded(m) => m.contains_key(name),
            Source::Synthetic(_) => true,
        }
    }

    /// Shape of tensor `name`, if present in a loaded `state_dict`.
    pub fn shape_of(&self, name: &str) -> Option<&[usize]> {
        match &self.source {
            Source::Loaded(m) => m.get(name).map(|t| t.shape.as_slice()),
            Source::Synthetic(_) => None,
        }
    }

    /// Tensor `name`, which must have shape `shape`: the error names the tensor and both
    /// shapes.
    pub fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let data = match &self.source {
            Source::Loaded(m) => {
                let t = m.get(name).ok_or_else(|| Error::MissingTensor {
                    tensor: name.to_string(),
                    expected: shape.to_vec(),
                })?;
                if t.shape != shape {
                    return Err(Error::ShapeMismatch {
                        tensor: name.to_string(),
                        expected: shape.to_vec(),
                        found: t.shape.clone(),
                    });
                }
                t.data.clone()
            }
            Source::Synthetic(seed) => synthetic_tensor(*seed, name, shape),
        };
        self.used.insert(name.to_string(), shape.to_vec());
        Ok(data)
    }

    /// Names of the loaded tensors no builder call has read (training-only buffers and
    /// auxiliary heads excepted), sorted.
    pub fn unused(&self) -> Vec<String> {
        match &self.source {
            Source::Loaded(m) => {
                let mut v: Vec<String> = m
                    .keys()
                    .filter(|k| !self.used.contains_key(*k) && !ignorable(k))
                    .cloned()
                    .collect();
                v.sort();
                v
            }
            Source::Synthetic(_) => Vec::new(),
        }
    }

    /// Every tensor read since the last [`Weights::reset_usage`], with the shape the
    /// architecture asked for (with synthetic weights: the `state_dict` the architecture
    /// expects).
    pub fn requested(&self) -> &BTreeMap<String, Vec<usize>> {
        &self.used
    }

    /// Forgets which tensors were read (before building again from the same weights).
    pub fn reset_usage(&mut self) {
        self.used.clear();
    }

    /// Every loaded tensor's name and shape, sorted by name (empty for synthetic weights).
    pub fn listing(&self) -> BTreeMap<String, Vec<usize>> {
        match &self.source {
            Source::Loaded(m) => m
                .iter()
                .map(|(k, t)| (k.clone(), t.shape.clone()))
                .collect(),
            Source::Synthetic(_) => BTreeMap::new(),
        }
    }

    /// Replaces (or adds) tensor `name` of a loaded `state_dict`.
    pub fn insert(&mut self, name: &str, tensor: Tensor) {
        if let Source::Loaded(m) = &mut self.source {
            m.insert(name.to_string(), tensor);
        }
    }

    /// Removes tensor `name` from a loaded `state_dict`, returning it.
    pub fn remove(&mut self, name: &str) -> Option<Tensor> {
        match &mut self.source {
            Source::Loaded(m) => m.remove(name),
            Source::Synthetic(_) => None,
        }
    }
}

/// FNV-1a of a name, so that synthetic tensors do not depend on the order of requests.
fn name_hash(seed: u64, name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn synthetic_tensor(seed: u64, name: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let mut state = name_hash(seed, name);
    let mut next = move || {
        // SplitMix64: a few good bits per call are all the made-up weights need.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let leaf = name.rsplit('.').next().unwrap_or(name);
    match (leaf, shape.len()) {
        ("running_var", _) => (0..n).map(|_| 1.0 + 0.5 * next()).collect(),
        ("running_mean", _) | ("bias", _) => (0..n).map(|_| 0.1 * next()).collect(),
        ("weight", 1) => (0..n).map(|_| 1.0 + 0.2 * next()).collect(),
        _ => {
            let fan_in: usize = shape[1..].iter().product::<usize>().max(1);
            let a = (3.0 / fan_in as f32).sqrt();
            (0..n).map(|_| a * next()).collect()
        }
    }
}

/// Shape string used in error messages (`[32, 3, 3, 3]`).
pub fn format_shape(shape: &[usize]) -> String {
    shape_str(shape)
}
