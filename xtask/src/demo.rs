//! `cargo xtask demo`: person detection on an emulated Cortex-M7.
//!
//! Builds the `infer` firmware for QEMU's mps2-an500 with the MLPerf Tiny visual-wake-words model
//! (MobileNetV1-0.25, 96x96x3 int8, `tests/data/models/vww_96_int8.tflite`) compiled in, runs it
//! on the four bundled photographs, and prints for each the label, the probability of "person",
//! the exact instruction count of the inference and whether the int8 output equals TFLM's; then
//! the model's arena and the firmware's flash use.

use crate::board;
use crate::run::root;
use crate::sim;
use crate::size;

/// The photographs (`tests/data/golden/vww_96_int8_real/<name>.input.bin`), with what is on them.
const IMAGES: &[(&str, &str)] = &[
    ("astronaut", "Eileen Collins, astronaut"),
    ("chelsea", "Chelsea the cat"),
    ("coffee", "a cup of coffee"),
    ("brick", "a brick wall"),
];

/// The model's two classes, in output order (MLPerf Tiny visual wake words).
const LABELS: [&str; 2] = ["no person", "person"];

/// Output quantization of the model: int8 softmax, scale 1/256, zero point -128 (TFLite's fixed
/// softmax output parameters); the firmware also reports them, and they are checked against these.
const OUT_SCALE: f64 = 1.0 / 256.0;
const OUT_ZERO_POINT: i32 = -128;

/// `cargo xtask demo`.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("`cargo xtask demo` takes no arguments (got `{a}`)"));
    }
    crate::deps::ensure_all()?;
    let board = board::find("qemu-m7")?;
    let model = sim::model_or_default(None)?;
    let data = root().join("tests/data/golden/vww_96_int8_real");
    let inputs: Vec<_> = IMAGES
        .iter()
        .map(|(name, _)| data.join(format!("{name}.input.bin")))
        .collect();
    let elf = board.build("infer", Some(&model))?;
    let run = sim::run_firmware(board, &elf, &inputs, false)?;
    check_quantization(&run.info)?;

    println!(
        "\nperson detection on {} ({}), model {}\n",
        board.description,
        board.name,
        model.file_name().and_then(|f| f.to_str()).unwrap_or("?")
    );
    println!(
        "{:<10} {:<28} {:<10} {:>9} {:>14}  int8 output vs TFLM",
        "image", "", "label", "p(person)", "instructions"
    );
    let mut differ = 0;
    for (((name, what), inf), input) in IMAGES.iter().zip(&run.inferences).zip(&inputs) {
        if inf.output.len() != 2 {
            return Err(format!(
                "{name}: the model produced {} output bytes, expected 2 (no person, person)",
                inf.output.len()
            ));
        }
        let q = [inf.output[0] as i8, inf.output[1] as i8];
        let p_person = OUT_SCALE * f64::from(i32::from(q[1]) - OUT_ZERO_POINT);
        let label = LABELS[usize::from(q[1] > q[0])];
        let golden_path = input.with_file_name(format!("{name}.output.bin"));
        let golden =
            std::fs::read(&golden_path).map_err(|e| format!("{}: {e}", golden_path.display()))?;
        let same = golden == inf.output;
        differ += usize::from(!same);
        println!(
            "{:<10} {:<28} {:<10} {:>9.3} {:>14}  {} ({:?})",
            name,
            what,
            label,
            p_person,
            inf.instructions
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            if same { "identical" } else { "DIFFERENT" },
            q
        );
    }
    let u = size::usage_of(&elf, board)?;
    println!(
        "\narena  {:>9} bytes  (activations and scratch, planned at compile time)\nflash  {:>9} bytes  (code {} + read-only data {} + model {} + data {})",
        u.arena,
        u.flash(),
        u.text,
        u.rodata,
        u.model,
        u.data
    );
    println!(
        "QEMU ran {:.1} s for {} inferences",
        run.seconds,
        IMAGES.len()
    );
    if differ > 0 {
        return Err(format!(
            "{differ} image(s) gave an int8 output different from TFLM's"
        ));
    }
    Ok(())
}

/// Checks the firmware's `# output-quant 0 <scale bits> <zero point>` line against the constants used
/// here to turn the int8 output into a probability.
fn check_quantization(info: &[String]) -> Result<(), String> {
    let line = info
        .iter()
        .find_map(|l| l.strip_prefix("# output-quant 0 "))
        .ok_or("the firmware did not report the output quantization")?;
    let mut p = line.split_whitespace();
    // The firmware prints the scale's f32 bits in hex (it formats no floats).
    let scale = p
        .next()
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .map(|b| f64::from(f32::from_bits(b)))
        .ok_or("bad output scale")?;
    let zp: i32 = p
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("bad output zero point")?;
    if (scale - OUT_SCALE).abs() > 1e-9 || zp != OUT_ZERO_POINT {
        return Err(format!(
            "the model's output quantization is scale {scale}, zero point {zp}; the demo expects \
             {OUT_SCALE}, {OUT_ZERO_POINT}"
        ));
    }
    Ok(())
}
