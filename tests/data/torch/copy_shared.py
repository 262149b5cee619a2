"""Copies the PyTorch reference data the bfmd-models tests need from the shared set.

Usage: python3 copy_shared.py SHARED_TORCH_DIR [DEST_DIR]

For every model and block folder of the shared set this keeps:
  * the weights (`<name>.safetensors`, unchanged: the tests must run the very weights the
    references were computed with);
  * `<name>.tensors.json` trimmed to the batch-norm entries of `leaf_modules` (their `eps`,
    which a state_dict does not hold);
  * inputs 0 and 1 (NHWC f32) and their outputs (NHWC feature maps or logits), not 2 and 3,
    to keep the repository small;
  * `manifest.json` trimmed to what the tests read: builder, kind, shapes, params, MACs, the
    f32-vs-f64 floor, argmax per output, versions and the weights' SHA-256.
Nothing is regenerated: the values are the shared set's, produced by its generator
(`make_torch_golden.py`, versions in each manifest).
"""
import json
import shutil
import sys
from pathlib import Path

KEEP_INPUTS = [0, 1]


def trim_manifest(m):
    out = {
        "model": m["model"],
        "builder": m["builder"],
        "kind": m["kind"],
        "input_shape_nhwc": m["input"]["shape_nhwc"],
        "output_shape": m["output"].get("shape_nhwc", m["output"].get("shape")),
        "inputs_kept": KEEP_INPUTS,
        "input_seeds": [m["input"]["seeds"][i] for i in KEEP_INPUTS],
        "argmax": [m["output_stats"][i]["argmax"] for i in KEEP_INPUTS],
        "f32_vs_f64_max_abs_diff": [m["f32_vs_f64_max_abs_diff"][i] for i in KEEP_INPUTS],
        "params": m["params"],
        "macs": m["macs"],
        "macs_split": m["macs_split"],
        "macs_note": m["macs_note"],
        "weights_sha256": m["weights"]["sha256"],
        "versions": m["versions"],
        "source": "shared/torch/" + m["model"] + " (make_torch_golden.py)",
    }
    return out


def main():
    src = Path(sys.argv[1])
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent
    for d in sorted(p for p in src.iterdir() if p.is_dir()):
        m = json.loads((d / "manifest.json").read_text())
        name = m["model"]
        o = dst / name
        o.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(d / m["weights"]["file"], o / m["weights"]["file"])
        listing = json.loads((d / m["weights"]["listing"]).read_text())
        bns = {k: {"type": v["type"], "eps": v["eps"]}
               for k, v in listing["leaf_modules"].items() if "eps" in v}
        stem = m["weights"]["file"].rsplit(".", 1)[0]
        (o / f"{stem}.tensors.json").write_text(json.dumps({"leaf_modules": bns}, indent=1) + "\n")
        for i in KEEP_INPUTS:
            shutil.copyfile(d / f"input_{i}.nhwc.f32", o / f"input_{i}.nhwc.f32")
            out = d / f"output_{i}.nhwc.f32"
            if not out.exists():
                out = d / f"output_{i}.f32"
            shutil.copyfile(out, o / f"output_{i}.f32")
        (o / "manifest.json").write_text(json.dumps(trim_manifest(m), indent=1) + "\n")
        print(name)


if __name__ == "__main__":
    main()
