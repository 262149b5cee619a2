//! # bfmd-models
//!
//! The seed's mobile backbones, native: each one is a Rust definition built on `bfmd-graph`
//! from PyTorch weights, quantized here, and run with an arena whose size is known before the
//! firmware is compiled.
//!
//! * Always (`no_std`, no `alloc`): [`config`] (the [`Backbone`] list, the [`Config`] every
//!   builder takes, MobileNet channel rounding) and each backbone's architecture table as
//!   `const` data (`mobilenet_v2::INVERTED_RESIDUAL_SETTING`, ...).
//! * Feature `std` (host tools and build scripts): [`weights`] (PyTorch `.safetensors`),
//!   [`net`] (the float network, batch norm folded at load time with the `eps` of the weights),
//!   one builder per backbone composed of block builders named as in the papers
//!   (`inverted_residual`, `sandglass`, `shufflenet_unit`, `inception_module`, `mbconv`,
//!   `blaze_block`, ...), [`lower`] (to a `bfmd-graph` blob in f32, f16 or int8),
//!   [`calib`] (post-training int8 quantization calibrated on user images), [`run`] and
//!   [`compare`] (per-layer int8/f16 error against f32).
//!
//! A firmware build script turns weights into a blob and an arena constant (the firmware
//! form is the same as for an imported TFLite model):
//!
//! ```no_run
//! # #[cfg(feature = "std")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use bfmd_models::lower::{lower, Precision};
//! use bfmd_models::{Backbone, Config};
//! let mut w = bfmd_models::weights::Weights::load("mobilenet_v2.safetensors".as_ref())?;
//! let base = Config { resolution: 96, ..Config::DEFAULT };
//! let cfg = bfmd_models::derive_config(Backbone::MobileNetV2, &mut w, base, &["resolution"])?;
//! let net = bfmd_models::build(Backbone::MobileNetV2, &cfg, &mut w)?;
//! let images: Vec<Vec<f32>> = Vec::new(); // NHWC f32 calibration images
//! let plan = bfmd_models::calib::quantize(&net, &images)?;
//! let m = lower(&net, Precision::Int8, Some(&plan), false)?;
//! std::fs::write("model.bfmd", m.built.blob.as_bytes())?;
//! let consts = format!("pub const ARENA_BYTES: usize = {};\n", m.built.report.arena_bytes);
//! std::fs::write("model.rs", consts)?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "std"))]
//! # fn main() {}
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod config;
pub use config::{make_divisible, Backbone, Config};

pub mod blazeface;
pub mod efficientnet;
pub mod googlenet;
pub mod inception_v3;
pub mod mobilenet_v1;
pub mod mobilenet_v2;
pub mod mobilenet_v3;
pub mod mobilenext;
pub mod shufflenet_v1;
pub mod shufflenet_v2;
pub mod xception;

#[cfg(feature = "std")]
pub mod calib;
#[cfg(feature = "std")]
pub mod compare;
#[cfg(feature = "std")]
pub mod error;
#[cfg(feature = "std")]
pub mod interp;
#[cfg(feature = "std")]
pub mod lower;
#[cfg(feature = "std")]
pub mod net;
#[cfg(feature = "std")]
pub mod run;
#[cfg(feature = "std")]
pub mod weights;

#[cfg(feature = "std")]
mod host;
#[cfg(feature = "std")]
pub use host::{build, derive_config, parse_set, Summary};
