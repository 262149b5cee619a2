//! `cargo xtask size --board B [--model M.tflite]`: flash and RAM use of a firmware, read from its
//! ELF.
//!
//! Sections are sorted into text (vector table and code), rodata, model (the `.bfmd_model` blob:
//! weights and plan), data, bss and arena (the `BFMD_ARENA` symbol, or a `.bfmd_arena` section).
//! Flash is what the loader writes (text + rodata + model + the initial values of data); RAM is
//! data + bss + arena, the stack takes the rest of its region.

use crate::board::{self, Board, Region};
use std::path::Path;

const SHF_WRITE: u32 = 1;
const SHF_ALLOC: u32 = 2;
const SHF_EXECINSTR: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHT_SYMTAB: u32 = 2;
const PT_LOAD: u32 = 1;

/// One section of an ELF32 file.
#[derive(Debug, Clone)]
pub struct Section {
    /// Section name.
    pub name: String,
    /// `sh_type`.
    pub kind: u32,
    /// `sh_flags`.
    pub flags: u32,
    /// Size in bytes.
    pub size: u64,
}

/// One loadable segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    /// Run-time address.
    pub vaddr: u64,
    /// Load address.
    pub paddr: u64,
    /// Bytes in the file (loaded to `paddr`).
    pub filesz: u64,
    /// Bytes in memory at `vaddr`.
    pub memsz: u64,
}

/// What a size report needs from an ELF: its sections, loadable segments and symbol sizes.
#[derive(Debug, Default)]
pub struct Elf {
    /// Every section.
    pub sections: Vec<Section>,
    /// Every `PT_LOAD` segment.
    pub segments: Vec<Segment>,
    /// Symbol name, address and size.
    pub symbols: Vec<(String, u64, u64)>,
}

/// `N` bytes of `b` at `off`.
pub(crate) fn rd<const N: usize>(b: &[u8], off: u64) -> Result<[u8; N], String> {
    let off = usize::try_from(off).map_err(|_| "offset overflows".to_string())?;
    b.get(off..off + N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| format!("ELF truncated at offset {off}"))
}
/// The little-endian `u16` at `off`.
pub(crate) fn u16_at(b: &[u8], off: u64) -> Result<u64, String> {
    Ok(u64::from(u16::from_le_bytes(rd(b, off)?)))
}
/// The little-endian `u32` at `off`.
pub(crate) fn u32_at(b: &[u8], off: u64) -> Result<u64, String> {
    Ok(u64::from(u32::from_le_bytes(rd(b, off)?)))
}
/// The NUL-terminated string at `off` (empty past the end).
pub(crate) fn cstr(b: &[u8], off: u64) -> String {
    let off = off as usize;
    let s = b.get(off..).unwrap_or(&[]);
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    String::from_utf8_lossy(&s[..end]).into_owned()
}

impl Elf {
    /// Parses a little-endian ELF32 file (what every Cortex-M firmware is).
    pub fn parse(b: &[u8]) -> Result<Elf, String> {
        if b.get(..4) != Some(b"\x7fELF") {
            return Err("not an ELF file".into());
        }
        if b.get(4) != Some(&1) || b.get(5) != Some(&1) {
            return Err("not a little-endian 32-bit ELF file".into());
        }
        let phoff = u32_at(b, 0x1c)?;
        let shoff = u32_at(b, 0x20)?;
        let phentsize = u16_at(b, 0x2a)?;
        let phnum = u16_at(b, 0x2c)?;
        let shentsize = u16_at(b, 0x2e)?;
        let shnum = u16_at(b, 0x30)?;
        let shstrndx = u16_at(b, 0x32)?;
        let mut elf = Elf::default();
        for i in 0..phnum {
            let p = phoff + i * phentsize;
            if u32_at(b, p)? as u32 == PT_LOAD {
                elf.segments.push(Segment {
                    vaddr: u32_at(b, p + 8)?,
                    paddr: u32_at(b, p + 12)?,
                    filesz: u32_at(b, p + 16)?,
                    memsz: u32_at(b, p + 20)?,
                });
            }
        }
        let sh = |i: u64, field: u64| u32_at(b, shoff + i * shentsize + field);
        let strtab = sh(shstrndx, 16)?;
        for i in 0..shnum {
            let kind = sh(i, 4)? as u32;
            let name = cstr(b, strtab + sh(i, 0)?);
            elf.sections.push(Section {
                name,
                kind,
                flags: sh(i, 8)? as u32,
                size: sh(i, 20)?,
            });
            if kind == SHT_SYMTAB {
                let (off, size, link, ent) = (sh(i, 16)?, sh(i, 20)?, sh(i, 24)?, sh(i, 36)?);
                let names = sh(link, 16)?;
                let ent = ent.max(16);
                for s in 0..size / ent {
                    let e = off + s * ent;
                    elf.symbols.push((
                        cstr(b, names + u32_at(b, e)?),
                        u32_at(b, e + 4)?,
                        u32_at(b, e + 8)?,
                    ));
                }
            }
        }
        Ok(elf)
    }
}

/// A firmware's memory use, in bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Vector table and code.
    pub text: u64,
    /// Read-only data other than the model.
    pub rodata: u64,
    /// The model blob (`.bfmd_model`).
    pub model: u64,
    /// Initialised data (in RAM, with its initial values in flash).
    pub data: u64,
    /// Zero-initialised data other than the arena.
    pub bss: u64,
    /// The tensor arena.
    pub arena: u64,
    /// Bytes used in each of the board's regions, in the board's order.
    pub regions: Vec<u64>,
}

impl Usage {
    /// Bytes the loader writes to non-volatile memory.
    pub fn flash(&self) -> u64 {
        self.text + self.rodata + self.model + self.data
    }
    /// Bytes of RAM used before the stack.
    pub fn ram(&self) -> u64 {
        self.data + self.bss + self.arena
    }
}

fn region_of(regions: &[Region], addr: u64) -> Option<usize> {
    regions
        .iter()
        .position(|r| addr >= r.origin && addr < r.origin + r.length)
}

/// Sorts `elf`'s sections into a [`Usage`] for a board with `regions`.
pub fn usage(elf: &Elf, regions: &[Region]) -> Usage {
    let mut u = Usage {
        regions: vec![0; regions.len()],
        ..Usage::default()
    };
    let arena_symbol = elf
        .symbols
        .iter()
        .find(|(n, _, _)| n == "BFMD_ARENA")
        .map(|s| s.2)
        .unwrap_or(0);
    for s in elf.sections.iter().filter(|s| s.flags & SHF_ALLOC != 0) {
        let name = s.name.as_str();
        if name == ".bfmd_model" {
            u.model += s.size;
        } else if name == ".bfmd_arena" {
            u.arena += s.size;
        } else if s.kind == SHT_NOBITS {
            u.bss += s.size;
        } else if s.flags & SHF_WRITE != 0 {
            u.data += s.size;
        } else if s.flags & SHF_EXECINSTR != 0 || name == ".vector_table" {
            u.text += s.size;
        } else {
            u.rodata += s.size;
        }
    }
    // The arena symbol lives in .bss on boards that do not give it a section of its own.
    let own_section = elf.sections.iter().any(|s| s.name == ".bfmd_arena");
    let in_bss = if own_section {
        0
    } else {
        arena_symbol.min(u.bss)
    };
    u.bss -= in_bss;
    u.arena += in_bss;
    for seg in &elf.segments {
        if seg.filesz > 0 {
            if let Some(r) = region_of(regions, seg.paddr) {
                u.regions[r] += seg.filesz;
            }
        }
        // A segment copied or zeroed at start-up also occupies its run-time region.
        if seg.vaddr != seg.paddr || seg.memsz > seg.filesz {
            if let Some(r) = region_of(regions, seg.vaddr) {
                u.regions[r] += seg.memsz;
            }
        }
    }
    u
}

/// Reads and sorts the ELF at `path`.
pub fn usage_of(path: &Path, board: &Board) -> Result<Usage, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let elf = Elf::parse(&b).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(usage(&elf, board.regions))
}

fn kib(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

/// The report as printed by `cargo xtask size` (and `flash --dry-run`); `Err` if a region
/// overflows.
pub fn render(board: &Board, u: &Usage) -> (String, Result<(), String>) {
    let mut s = String::new();
    let row = |s: &mut String, k: &str, v: u64| {
        s.push_str(&format!("  {k:<8} {v:>9} B  {:>11}\n", kib(v)))
    };
    row(&mut s, "text", u.text);
    row(&mut s, "rodata", u.rodata);
    row(&mut s, "model", u.model);
    row(&mut s, "data", u.data);
    row(&mut s, "bss", u.bss);
    row(&mut s, "arena", u.arena);
    s.push_str(&format!(
        "  flash    {:>9} B  {:>11}   (text + rodata + model + data)\n  ram      {:>9} B  {:>11}   (data + bss + arena; the stack takes the rest)\n",
        u.flash(),
        kib(u.flash()),
        u.ram(),
        kib(u.ram())
    ));
    let mut over = Vec::new();
    for (r, used) in board.regions.iter().zip(&u.regions) {
        let pct = 100.0 * *used as f64 / r.length as f64;
        s.push_str(&format!(
            "  region {:<20} {:#010x}  {:>11} of {:>11}  {pct:5.1}%\n",
            r.name,
            r.origin,
            kib(*used),
            kib(r.length)
        ));
        if *used > r.length {
            over.push(format!("{} overflows by {} bytes", r.name, used - r.length));
        }
    }
    let ok = if over.is_empty() {
        Ok(())
    } else {
        Err(over.join("; "))
    };
    (s, ok)
}

/// `cargo xtask size --board B [--model M.tflite]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let (board, rest) = board::take_board(args, "size")?;
    let mut model = None;
    let mut it = rest.into_iter();
    while let Some(a) = it.next() {
        match a {
            "--model" => model = Some(it.next().ok_or("--model needs a path")?.to_string()),
            other => return Err(format!("`cargo xtask size`: unknown argument `{other}`")),
        }
    }
    crate::deps::ensure_rust()?;
    let model = crate::sim::model_or_default(model.as_deref())?;
    // A flashed board carries its sample input; build it exactly as `flash` does.
    let sample = board.chip.and_then(|_| crate::sim::sample_input(&model));
    let elf = board.build_with_input("infer", Some(&model), sample.as_deref())?;
    let u = usage_of(&elf, board)?;
    let (mut text, ok) = render(board, &u);
    // The stack is measured by running the firmware: on this board when it is emulated, else
    // on the emulated board of the same core and target (the STM32H7 runs the same executor and
    // kernels as qemu-m7).
    let inputs: Vec<_> = sample.iter().cloned().collect();
    let (twin, m) = match board.machine {
        // The firmware just built is the one to run.
        Some(_) => (
            board,
            crate::ram::measure_elf(board, &elf, &model, &inputs)?,
        ),
        None => {
            let m7 = board::find("qemu-m7")?;
            (m7, crate::ram::measure(m7, &model, &inputs)?)
        }
    };
    text.push_str(&format!(
        "  stack    {:>9} B  {:>11}   (peak, measured on {})\n  ram all  {:>9} B  {:>11}   (data + bss + arena + peak stack)\n",
        m.stack,
        kib(m.stack),
        twin.name,
        u.ram() + m.stack,
        kib(u.ram() + m.stack)
    ));
    println!(
        "{} ({}), model {}\nELF {}\n{text}",
        board.name,
        board.description,
        model.display(),
        elf.display()
    );
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a minimal ELF32 with the given sections (name, type, flags, addr, size), one
    /// PT_LOAD segment per allocated section (data sections loaded at `lma`), and a symbol table
    /// holding `BFMD_ARENA`.
    fn tiny_elf(secs: &[(&str, u32, u32, u32, u32)], data_lma: u32, arena: (u32, u32)) -> Vec<u8> {
        let mut shstr = vec![0u8];
        let mut name_off = Vec::new();
        for (n, ..) in secs.iter().map(|s| (s.0,)).collect::<Vec<_>>() {
            name_off.push(shstr.len() as u32);
            shstr.extend_from_slice(n.as_bytes());
            shstr.push(0);
        }
        let symtab_name = shstr.len() as u32;
        shstr.extend_from_slice(b".symtab\0");
        let strtab_name = shstr.len() as u32;
        shstr.extend_from_slice(b".strtab\0.shstrtab\0");
        let shstrtab_name = strtab_name + 8;
        let strtab = b"\0BFMD_ARENA\0".to_vec();
        let mut symtab = vec![0u8; 16];
        let mut sym = Vec::new();
        sym.extend_from_slice(&1u32.to_le_bytes());
        sym.extend_from_slice(&arena.0.to_le_bytes());
        sym.extend_from_slice(&arena.1.to_le_bytes());
        sym.extend_from_slice(&[0, 0, 0, 0]);
        symtab.extend_from_slice(&sym);

        let loads: Vec<_> = secs.iter().filter(|s| s.2 & SHF_ALLOC != 0).collect();
        let phoff = 52u32;
        let data_off = phoff + 32 * loads.len() as u32;
        let mut body = Vec::new();
        let symtab_off = data_off + body.len() as u32;
        body.extend_from_slice(&symtab);
        let strtab_off = data_off + body.len() as u32;
        body.extend_from_slice(&strtab);
        let shstr_off = data_off + body.len() as u32;
        body.extend_from_slice(&shstr);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let shoff = data_off + body.len() as u32;
        let shnum = 1 + secs.len() as u16 + 3;

        let mut f = Vec::new();
        f.extend_from_slice(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0");
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&40u16.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&phoff.to_le_bytes());
        f.extend_from_slice(&shoff.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&52u16.to_le_bytes());
        f.extend_from_slice(&32u16.to_le_bytes());
        f.extend_from_slice(&(loads.len() as u16).to_le_bytes());
        f.extend_from_slice(&40u16.to_le_bytes());
        f.extend_from_slice(&shnum.to_le_bytes());
        f.extend_from_slice(&(shnum - 1).to_le_bytes());
        for s in &loads {
            let nobits = s.1 == SHT_NOBITS;
            let write = s.2 & SHF_WRITE != 0;
            let paddr = if write && !nobits { data_lma } else { s.3 };
            for v in [
                PT_LOAD,
                0,
                s.3,
                paddr,
                if nobits { 0 } else { s.4 },
                s.4,
                0,
                4,
            ] {
                f.extend_from_slice(&v.to_le_bytes());
            }
        }
        f.extend_from_slice(&body);
        let mut shdr = |name: u32,
                        kind: u32,
                        flags: u32,
                        addr: u32,
                        off: u32,
                        size: u32,
                        link: u32,
                        ent: u32| {
            for v in [name, kind, flags, addr, off, size, link, 0, 4, ent] {
                f.extend_from_slice(&v.to_le_bytes());
            }
        };
        shdr(0, 0, 0, 0, 0, 0, 0, 0);
        for (s, n) in secs.iter().zip(&name_off) {
            shdr(*n, s.1, s.2, s.3, 0, s.4, 0, 0);
        }
        let sym_idx = 1 + secs.len() as u32;
        shdr(
            symtab_name,
            SHT_SYMTAB,
            0,
            0,
            symtab_off,
            symtab.len() as u32,
            sym_idx + 1,
            16,
        );
        shdr(strtab_name, 3, 0, 0, strtab_off, strtab.len() as u32, 0, 0);
        shdr(shstrtab_name, 3, 0, 0, shstr_off, shstr.len() as u32, 0, 0);
        f
    }

    #[test]
    fn sections_are_sorted_and_regions_summed() {
        const PROGBITS: u32 = 1;
        let a = SHF_ALLOC;
        let elf = tiny_elf(
            &[
                (".vector_table", PROGBITS, a, 0x0, 0x400),
                (".text", PROGBITS, a | SHF_EXECINSTR, 0x400, 1000),
                (".rodata", PROGBITS, a, 0x800, 200),
                (".bfmd_model", PROGBITS, a, 0x1000, 5000),
                (".data", PROGBITS, a | SHF_WRITE, 0x2000_0000, 16),
                (".bss", SHT_NOBITS, a | SHF_WRITE, 0x2000_0010, 4096 + 64),
                (".comment", PROGBITS, 0, 0, 77),
            ],
            0x3000,
            (0x2000_0010, 4096),
        );
        let elf = Elf::parse(&elf).unwrap();
        assert_eq!(elf.sections.len(), 1 + 7 + 3);
        let b = board::find("qemu-m7").unwrap();
        let u = usage(&elf, b.regions);
        assert_eq!(
            (u.text, u.rodata, u.model, u.data, u.bss, u.arena),
            (1024 + 1000, 200, 5000, 16, 64, 4096)
        );
        assert_eq!(u.flash(), 1024 + 1000 + 200 + 5000 + 16);
        assert_eq!(u.ram(), 16 + 64 + 4096);
        // Flash-role region: every loaded byte; RAM region: data (copied) and bss (zeroed).
        assert_eq!(
            u.regions,
            vec![1024 + 1000 + 200 + 5000 + 16, 16 + 4096 + 64, 0]
        );
        let (text, ok) = render(b, &u);
        assert!(ok.is_ok());
        assert!(text.contains("arena         4096 B"), "{text}");
    }

    #[test]
    fn overflow_is_reported_and_garbage_rejected() {
        let b = board::find("stm32h7").unwrap();
        let u = Usage {
            regions: vec![3 * 1024 * 1024, 0, 0],
            ..Usage::default()
        };
        let (_, ok) = render(b, &u);
        assert!(ok.unwrap_err().contains("FLASH overflows by 1048576 bytes"));
        assert!(Elf::parse(b"not an elf").is_err());
        assert!(Elf::parse(b"\x7fELF\x02\x01").is_err());
        assert!(Elf::parse(b"\x7fELF\x01\x01\x01").is_err());
    }
}
