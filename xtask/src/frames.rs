//! Stack frames of a Thumb-2 firmware, read from its ELF without any external tool.
//!
//! Every function symbol's code is decoded for the instructions that move the stack pointer:
//! `PUSH` (16-bit and `STMDB SP!`, or a single `STR Rt, [SP, #-4]!`), `VPUSH`, `SUB SP, SP,
//! #imm` (16-bit, the modified-immediate `SUB.W` and the 12-bit `SUBW`), and `SUB SP, SP, Rm`
//! (or `ADD SP, Rm` with a negative value) after `MOVW`/`MOVT`/`MOV.W`/`MVN` put a constant in
//! `Rm`; their inverses (`POP`, `VPOP`, `ADD SP, ...`) give the stack back. A function's frame is
//! the deepest the stack gets in one pass over its code (data between instructions, marked by
//! the ELF's `$d` mapping symbols, is skipped), which is the prologue's total for every function
//! the compiler emits. `cargo xtask test boards` fails when a frame of the QEMU Cortex-M7
//! `infer` firmware (the visual-wake-words model) is over [`LIMIT`]: the kernels keep their
//! buffers in the arena's scratch (`docs/ARCHITECTURE.md`), not on the stack.

use crate::size::{cstr, rd, u16_at, u32_at};
use std::path::Path;

/// Largest stack frame a firmware function may have, in bytes.
pub const LIMIT: u64 = 1024;

/// Functions whose frames are over [`LIMIT`] today, by name prefix, with the work that takes
/// them under it (issue 12); [`check_qemu_m7`] prints them and fails on any other function over
/// the limit. Remove an entry once its function is under the limit.
pub const KNOWN: &[(&str, &str)] = &[
    (
        "infer::__cortex_m_rt_main",
        "the firmware's input and output buffers (the firmware API of issue 12, item 5)",
    ),
    (
        "bfmd_graph::exec::run",
        "the executor's per-op tables (the per-op dispatch of issue 12, item 1)",
    ),
    (
        "bfmd_graph::dispatch::dispatch",
        "the executor's per-op tables (the per-op dispatch of issue 12, item 1)",
    ),
    (
        "core::fmt::float::",
        "float printing, which firmware drops unless it asks (issue 12, item 2)",
    ),
    (
        "bfmd_kernels::s8::elementwise::",
        "the DSP add's two 1 KiB lookup tables, scratch once the elementwise ops' dispatch \
         (dispatch.rs, reworked by item 1) passes them scratch",
    ),
    (
        "bfmd_kernels::s8::softmax::",
        "softmax's 1 KiB exp table, scratch once the activations' dispatch (dispatch_act.rs, \
         reworked by item 1) passes it scratch",
    ),
];

const SHT_SYMTAB: u32 = 2;
const STT_FUNC: u8 = 2;

/// One function's stack frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function's demangled name.
    pub name: String,
    /// Its address (without the Thumb bit).
    pub addr: u64,
    /// Bytes its prologue takes from the stack.
    pub bytes: u64,
}

/// `ThumbExpandImm`: the 32-bit value of a modified immediate `i:imm3:imm8`.
pub fn thumb_expand_imm(imm12: u32) -> u32 {
    let imm8 = imm12 & 0xff;
    if imm12 >> 10 == 0 {
        match (imm12 >> 8) & 3 {
            0 => imm8,
            1 => imm8 << 16 | imm8,
            2 => imm8 << 24 | imm8 << 8,
            _ => imm8 * 0x0101_0101,
        }
    } else {
        (0x80 | (imm12 & 0x7f)).rotate_right(imm12 >> 7)
    }
}

/// The modified immediate of a 32-bit data-processing instruction (`i` in bit 10 of the first
/// halfword, `imm3` and `imm8` in the second).
fn modified_imm(hw1: u16, hw2: u16) -> u32 {
    let (hw1, hw2) = (u32::from(hw1), u32::from(hw2));
    thumb_expand_imm((hw1 >> 10 & 1) << 11 | (hw2 >> 12 & 7) << 8 | (hw2 & 0xff))
}

/// The 16-bit immediate of `MOVW`/`MOVT` (`imm4:i:imm3:imm8`).
fn imm16(hw1: u16, hw2: u16) -> u32 {
    let (hw1, hw2) = (u32::from(hw1), u32::from(hw2));
    (hw1 & 0xf) << 12 | (hw1 >> 10 & 1) << 11 | (hw2 >> 12 & 7) << 8 | (hw2 & 0xff)
}

/// Whether a halfword starts a 32-bit Thumb-2 instruction.
pub fn is_wide(hw1: u16) -> bool {
    matches!(hw1 >> 11, 0b11101..=0b11111)
}

/// How one instruction moves the stack pointer: bytes taken (positive) or given back
/// (negative). `consts` tracks registers loaded with a constant, for `SUB SP, SP, Rm`.
pub fn sp_delta(hw1: u16, hw2: Option<u16>, consts: &mut [Option<u32>; 16]) -> i64 {
    let words = |regs: u16| 4 * i64::from(regs.count_ones());
    let Some(hw2) = hw2.filter(|_| is_wide(hw1)) else {
        return match hw1 {
            // PUSH {regs, lr} / POP {regs, pc}.
            h if h & 0xfe00 == 0xb400 => words(h & 0x1ff),
            h if h & 0xfe00 == 0xbc00 => -words(h & 0x1ff),
            // SUB SP, SP, #imm7 * 4 / ADD SP, SP, #imm7 * 4.
            h if h & 0xff80 == 0xb080 => 4 * i64::from(h & 0x7f),
            h if h & 0xff80 == 0xb000 => -4 * i64::from(h & 0x7f),
            // ADD SP, Rm: a negative constant takes stack.
            h if h & 0xff87 == 0x4485 => {
                consts[usize::from(h >> 3 & 0xf)].map_or(0, |v| -i64::from(v as i32))
            }
            // MOVS Rd, #imm8.
            h if h & 0xf800 == 0x2000 => {
                consts[usize::from(h >> 8 & 7)] = Some(u32::from(h & 0xff));
                0
            }
            _ => 0,
        };
    };
    let sp_dest = hw2 & 0x8f00 == 0x0d00;
    let rd = usize::from(hw2 >> 8 & 0xf);
    match hw1 {
        // PUSH.W = STMDB SP!, {regs} / POP.W = LDMIA SP!, {regs}.
        0xe92d => words(hw2),
        0xe8bd => -words(hw2),
        // PUSH {Rt} = STR Rt, [SP, #-4]! / POP {Rt} = LDR Rt, [SP], #4.
        0xf84d if hw2 & 0x0fff == 0x0d04 => 4,
        0xf85d if hw2 & 0x0fff == 0x0b04 => -4,
        // VPUSH / VPOP, double (`cp 11`) or single (`cp 10`) registers: imm8 words.
        h if h & 0xffbf == 0xed2d && hw2 & 0x0e00 == 0x0a00 => 4 * i64::from(hw2 & 0xff),
        h if h & 0xffbf == 0xecbd && hw2 & 0x0e00 == 0x0a00 => -4 * i64::from(hw2 & 0xff),
        // SUB.W / ADD.W SP, SP, #modified immediate.
        h if h & 0xfbef == 0xf1ad && sp_dest => i64::from(modified_imm(h, hw2)),
        h if h & 0xfbef == 0xf10d && sp_dest => -i64::from(modified_imm(h, hw2)),
        // SUBW / ADDW SP, SP, #imm12.
        h if h & 0xfbff == 0xf2ad && sp_dest => i64::from(
            u32::from(h >> 10 & 1) << 11 | u32::from(hw2 >> 12 & 7) << 8 | u32::from(hw2 & 0xff),
        ),
        h if h & 0xfbff == 0xf20d && sp_dest => -i64::from(
            u32::from(h >> 10 & 1) << 11 | u32::from(hw2 >> 12 & 7) << 8 | u32::from(hw2 & 0xff),
        ),
        // SUB.W / ADD.W SP, SP, Rm (no shift).
        h if h & 0xffef == 0xebad && sp_dest && hw2 & 0x70f0 == 0 => {
            consts[usize::from(hw2 & 0xf)].map_or(0, |v| i64::from(v as i32))
        }
        h if h & 0xffef == 0xeb0d && sp_dest && hw2 & 0x70f0 == 0 => {
            consts[usize::from(hw2 & 0xf)].map_or(0, |v| -i64::from(v as i32))
        }
        // MOVW / MOVT / MOV.W / MVN Rd, #imm.
        h if h & 0xfbf0 == 0xf240 && hw2 & 0x8000 == 0 => {
            consts[rd] = Some(imm16(h, hw2));
            0
        }
        h if h & 0xfbf0 == 0xf2c0 && hw2 & 0x8000 == 0 => {
            consts[rd] = Some(consts[rd].unwrap_or(0) & 0xffff | imm16(h, hw2) << 16);
            0
        }
        h if h & 0xfbef == 0xf04f && hw2 & 0x8000 == 0 => {
            consts[rd] = Some(modified_imm(h, hw2));
            0
        }
        h if h & 0xfbef == 0xf06f && hw2 & 0x8000 == 0 => {
            consts[rd] = Some(!modified_imm(h, hw2));
            0
        }
        _ => 0,
    }
}

/// The deepest the stack gets in one pass over `code` (Thumb-2, little-endian), skipping the
/// byte ranges in `data` (offsets into `code`).
pub fn frame_of(code: &[u8], data: &[(usize, usize)]) -> u64 {
    let mut consts = [None; 16];
    let (mut depth, mut deepest) = (0i64, 0i64);
    let mut at = 0;
    let half = |i: usize| code.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    while let Some(hw1) = half(at) {
        if let Some(&(_, end)) = data.iter().find(|&&(s, e)| s <= at && at < e) {
            at = end.next_multiple_of(2);
            continue;
        }
        let hw2 = if is_wide(hw1) { half(at + 2) } else { None };
        depth += sp_delta(hw1, hw2, &mut consts);
        deepest = deepest.max(depth);
        at += if is_wide(hw1) { 4 } else { 2 };
    }
    deepest as u64
}

/// Every function's frame in a little-endian ELF32 Thumb firmware, largest first.
pub fn frames(b: &[u8]) -> Result<Vec<Frame>, String> {
    if b.get(..4) != Some(b"\x7fELF") || b.get(4) != Some(&1) || b.get(5) != Some(&1) {
        return Err("not a little-endian 32-bit ELF file".into());
    }
    let shoff = u32_at(b, 0x20)?;
    let shentsize = u16_at(b, 0x2e)?;
    let shnum = u16_at(b, 0x30)?;
    let sh = |i: u64, field: u64| u32_at(b, shoff + i * shentsize + field);
    // (name, value, size, info, section index) of every symbol.
    let mut syms = Vec::new();
    for i in 0..shnum {
        if sh(i, 4)? as u32 != SHT_SYMTAB {
            continue;
        }
        let (off, size, link, ent) = (sh(i, 16)?, sh(i, 20)?, sh(i, 24)?, sh(i, 36)?.max(16));
        let names = sh(link, 16)?;
        for s in 0..size / ent {
            let e = off + s * ent;
            let name = cstr(b, names + u32_at(b, e)?);
            let info = rd::<1>(b, e + 12)?[0];
            syms.push((
                name,
                u32_at(b, e + 4)?,
                u32_at(b, e + 8)?,
                info,
                u16_at(b, e + 14)?,
            ));
        }
    }
    // `$d` / `$t` mapping symbols: data and Thumb code start at their addresses.
    let mut marks: Vec<(u64, bool)> = syms
        .iter()
        .filter(|s| s.0 == "$d" || s.0.starts_with("$d.") || s.0 == "$t" || s.0.starts_with("$t."))
        .map(|s| (s.1, s.0.starts_with("$d")))
        .collect();
    marks.sort_unstable();
    let mut out = Vec::new();
    for (name, value, size, info, shndx) in &syms {
        if info & 0xf != STT_FUNC || *size == 0 || *shndx >= shnum {
            continue;
        }
        let (addr, sec) = (value & !1, *shndx);
        let (sec_addr, sec_off, sec_size) = (sh(sec, 12)?, sh(sec, 16)?, sh(sec, 20)?);
        if addr < sec_addr || addr + size > sec_addr + sec_size {
            return Err(format!("function {name} lies outside its section"));
        }
        let start = usize::try_from(sec_off + addr - sec_addr).map_err(|e| e.to_string())?;
        let code = b
            .get(start..start + *size as usize)
            .ok_or_else(|| format!("function {name} is past the end of the file"))?;
        // Data ranges inside the function, relative to its start.
        let mut data = Vec::new();
        for (k, &(at, is_data)) in marks.iter().enumerate() {
            if !is_data || at < addr || at >= addr + size {
                continue;
            }
            let end = marks[k + 1..]
                .iter()
                .find(|m| m.0 > at && !m.1)
                .map_or(addr + size, |m| m.0.min(addr + size));
            data.push(((at - addr) as usize, (end - addr) as usize));
        }
        out.push(Frame {
            name: format!("{:#}", rustc_demangle::demangle(name)),
            addr,
            bytes: frame_of(code, &data),
        });
    }
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.addr.cmp(&b.addr)));
    out.dedup_by(|a, b| a.addr == b.addr);
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.addr.cmp(&b.addr)));
    Ok(out)
}

/// `Err` naming every function of the firmware at `elf` whose frame is over `limit` bytes,
/// except those `known` lists; `Ok` with the largest frames (and the known ones) otherwise.
pub fn check(elf: &Path, limit: u64, known: &[(&str, &str)]) -> Result<String, String> {
    let b = std::fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let fs = frames(&b).map_err(|e| format!("{}: {e}", elf.display()))?;
    if fs.is_empty() {
        return Err(format!("{}: no function symbols", elf.display()));
    }
    let is_known = |f: &Frame| known.iter().any(|(k, _)| f.name.starts_with(k));
    let show = |f: &Frame| format!("{} ({} B)", f.name, f.bytes);
    let over: Vec<String> = fs
        .iter()
        .filter(|f| f.bytes > limit && !is_known(f))
        .map(show)
        .collect();
    if !over.is_empty() {
        return Err(format!(
            "{}: stack frames over {limit} B: {}",
            elf.display(),
            over.join(", ")
        ));
    }
    let checked: Vec<String> = fs
        .iter()
        .filter(|f| !is_known(f))
        .take(3)
        .map(show)
        .collect();
    let waived: Vec<String> = fs
        .iter()
        .filter(|f| f.bytes > limit && is_known(f))
        .map(show)
        .collect();
    Ok(format!(
        "largest frames: {}; over {limit} B but known (see frames::KNOWN): {}",
        checked.join(", "),
        if waived.is_empty() {
            "none".to_string()
        } else {
            waived.join(", ")
        }
    ))
}

/// The board-test step: builds the QEMU Cortex-M7 `infer` firmware with the visual-wake-words
/// model and checks that no function's frame is over [`LIMIT`].
pub fn check_qemu_m7() -> Result<(), String> {
    let m7 = crate::board::find("qemu-m7")?;
    let vww = crate::sim::model_or_default(None)?;
    let elf = m7.build("infer", Some(&vww))?;
    let top = check(&elf, LIMIT, KNOWN)?;
    eprintln!("    {top}");
    Ok(())
}

/// `cargo xtask frames ELF [N]`: the `N` (default 20) largest stack frames of a firmware, then
/// the check of the board tests (`Err` naming the functions over [`LIMIT`] not in [`KNOWN`]).
pub fn run(args: &[String]) -> Result<(), String> {
    let elf = args
        .first()
        .ok_or("usage: cargo xtask frames FIRMWARE.elf [COUNT]")?;
    let n = match args.get(1) {
        Some(n) => n.parse().map_err(|_| format!("bad count `{n}`"))?,
        None => 20,
    };
    let b = std::fs::read(elf).map_err(|e| format!("{elf}: {e}"))?;
    for f in frames(&b)?.iter().take(n) {
        println!("{:>7}  {:#010x}  {}", f.bytes, f.addr, f.name);
    }
    println!("{}", check(Path::new(elf), LIMIT, KNOWN)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(halfwords: &[u16]) -> Vec<u8> {
        halfwords.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    #[test]
    fn modified_immediates_expand() {
        assert_eq!(thumb_expand_imm(0x0ab), 0xab);
        assert_eq!(thumb_expand_imm(0x1ab), 0x00ab_00ab);
        assert_eq!(thumb_expand_imm(0x2ab), 0xab00_ab00);
        assert_eq!(thumb_expand_imm(0x3ab), 0xabab_abab);
        // Rotations: 0x80 | 0x7f rotated right by 8..31.
        assert_eq!(thumb_expand_imm(0x47f), 0xff00_0000);
        // `sub.w sp, sp, #6144`: 0xc0 rotated right by 27, i:imm3:imm8 = 0b1101_1100_0000.
        assert_eq!(thumb_expand_imm(0xdc0), 6144);
    }

    #[test]
    fn pushes_and_subtractions_add_up() {
        // push {r4, r5, r6, r7, lr}; add r7, sp, #12; push.w {r8, r9, r10, r11};
        // vpush {d8-d9}; sub sp, #20 (T1); then the epilogue.
        let c = code(&[
            0xb5f0, 0xaf03, 0xe92d, 0x0f00, 0xed2d, 0x8b04, 0xb085, // prologue
            0xb005, 0xecbd, 0x8b04, 0xe8bd, 0x0f00, 0xbdf0, // epilogue
        ]);
        assert_eq!(frame_of(&c, &[]), 20 + 16 + 16 + 20);
    }

    #[test]
    fn wide_subtractions_decode() {
        // push {r7, lr}; sub.w sp, sp, #6144 (f5ad 5dc0).
        assert_eq!(frame_of(&code(&[0xb580, 0xf5ad, 0x5dc0]), &[]), 8 + 6144);
        // subw sp, sp, #4095 (f6ad 7dff).
        assert_eq!(frame_of(&code(&[0xf6ad, 0x7dff]), &[]), 4095);
        // str lr, [sp, #-4]!; sub.w sp, sp, #1024 (f5ad 6d80).
        assert_eq!(
            frame_of(&code(&[0xf84d, 0xed04, 0xf5ad, 0x6d80]), &[]),
            4 + 1024
        );
    }

    #[test]
    fn register_subtractions_use_the_constant() {
        // movw r4, #0x2e80; movt r4, #0; sub.w sp, sp, r4 (ebad 0d04): 11904 bytes.
        let c = code(&[0xf642, 0x6480, 0xf2c0, 0x0400, 0xebad, 0x0d04]);
        assert_eq!(frame_of(&c, &[]), 11_904);
        // mvn r3, #0x2f (f06f 032f) = -48; add sp, r3 (449d).
        assert_eq!(frame_of(&code(&[0xf06f, 0x032f, 0x449d]), &[]), 48);
    }

    #[test]
    fn data_and_later_epilogues_do_not_count() {
        // push {r4, lr}; b.n +0; a literal word that looks like `sub sp, #508`; pop {r4, pc};
        // then a second exit path that pops again.
        let c = code(&[0xb510, 0xe000, 0xb0ff, 0xb0ff, 0xbd10, 0xbd10]);
        assert_eq!(frame_of(&c, &[(4, 8)]), 8);
        assert_eq!(frame_of(&c, &[]), 8 + 2 * 508);
    }
}
