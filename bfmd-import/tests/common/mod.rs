//! Shared helpers of the TFLite reader tests: where the test data is and how to load it.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::PathBuf;

/// `tests/data/` at the repository root.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("data")
}

/// Every `.tflite` file of `tests/data/models/`, sorted by name, with its bytes.
pub fn models() -> Vec<(String, Vec<u8>)> {
    let dir = data_dir().join("models");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".tflite"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).expect("model file is readable");
            (n, bytes)
        })
        .collect()
}

/// The bytes of `tests/data/models/<name>`.
pub fn model(name: &str) -> Vec<u8> {
    let path = data_dir().join("models").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The models the corruption tests and the hostile cases start from: one int8 and one f32.
pub const SMALL_INT8: &str = "blazeface_backbone_int8.tflite";

/// The bytes of hostile reproducer `name` of `tests/data/hostile/`: a `.tflite` one is rebuilt
/// from its model by the one-byte patch `tflite_patches.txt` records (the original byte is
/// checked first), anything else is read as it is.
pub fn hostile(name: &str) -> Vec<u8> {
    let dir = data_dir().join("hostile");
    let table = std::fs::read_to_string(dir.join("tflite_patches.txt")).expect("patch table");
    for line in table.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [reproducer, base, offset, original, hostile] = f[..] {
            if reproducer == name {
                let mut bytes = model(base);
                let at: usize = offset.parse().expect("offset");
                assert_eq!(bytes[at].to_string(), original, "{base} changed at {at}");
                bytes[at] = hostile.parse().expect("byte");
                return bytes;
            }
        }
    }
    let path = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
