//! Instructions per function of a firmware run, from QEMU's execution trace
//! (`cargo xtask sim --functions`).
//!
//! With `-d in_asm,exec,nochain` QEMU logs each translated block once, as an `IN: <symbol>` header
//! followed by one line per guest instruction (`0x<address>:  ...`), and then one `Trace` line per
//! execution of a block: `Trace <cpu>: <host address> [<flags>/<guest pc>/...] <symbol>`.
//! `nochain` makes every execution pass through the logger, so summing, over the `Trace` lines,
//! the instruction count of the block starting at that pc gives the exact number of guest
//! instructions each function executed (the same count `-icount` measures). QEMU names the
//! function from the ELF's symbol table; Rust names are demangled here.

use std::collections::HashMap;
use std::io::BufRead;

/// Instructions per function, largest first, and the total.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// `(function, instructions)`, largest first (ties by name).
    pub functions: Vec<(String, u64)>,
    /// Instructions of every executed block.
    pub total: u64,
}

/// The host address of the block, its guest pc and the symbol of a `Trace` line.
fn trace_fields(line: &str) -> Option<(u64, u64, &str)> {
    let rest = line.split_once(": 0x")?.1;
    let host = u64::from_str_radix(rest.split_whitespace().next()?, 16).ok()?;
    let open = line.find('[')?;
    let close = open + line[open..].find(']')?;
    let pc = line[open + 1..close].split('/').nth(1)?;
    let pc = u64::from_str_radix(pc, 16).ok()?;
    Some((host, pc, line[close + 1..].trim()))
}

/// The address of an instruction line of an `IN:` block (`0x000000c0:  f052 fb2a  bl ...`).
fn insn_address(line: &str) -> Option<u64> {
    let hex = line.strip_prefix("0x")?.split(':').next()?;
    u64::from_str_radix(hex, 16).ok()
}

/// Reads a trace. A pc may be translated more than once with different lengths (with `-icount`
/// QEMU also makes shorter blocks), so each executed block is known by its host address: a
/// block is bound to the instructions of the `IN:` listing just before its first execution
/// (QEMU runs a block right after translating it), and counted with that length every time.
pub fn parse(trace: impl BufRead) -> Result<Profile, String> {
    // Instructions of each translated block, by host address.
    let mut by_host: HashMap<u64, u64> = HashMap::new();
    // The last listing: its guest pc and length, until a block of that pc runs.
    let mut listing: Option<(u64, u64)> = None;
    let mut in_listing = false;
    // Instructions per symbol.
    let mut per: HashMap<String, u64> = HashMap::new();
    for line in trace.lines() {
        let line = line.map_err(|e| format!("reading the QEMU trace: {e}"))?;
        if line.starts_with("IN:") {
            in_listing = true;
            listing = None;
            continue;
        }
        if in_listing {
            if let Some(a) = insn_address(&line) {
                let l = listing.get_or_insert((a, 0));
                l.1 += 1;
                continue;
            }
            in_listing = false;
        }
        if !line.starts_with("Trace") {
            continue;
        }
        let Some((host, pc, sym)) = trace_fields(&line) else {
            continue;
        };
        if let Some((lpc, len)) = listing {
            if lpc == pc {
                by_host.insert(host, len);
                listing = None;
            }
        }
        let n = by_host.get(&host).copied().unwrap_or(0);
        *per.entry(sym.to_string()).or_insert(0) += n;
    }
    let mut named: HashMap<String, u64> = HashMap::new();
    for (sym, n) in per {
        let name = if sym.is_empty() {
            "(no symbol)".to_string()
        } else {
            format!("{:#}", rustc_demangle::demangle(&sym))
        };
        *named.entry(name).or_insert(0) += n;
    }
    let total = named.values().sum();
    let mut functions: Vec<(String, u64)> = named.into_iter().filter(|(_, n)| *n > 0).collect();
    functions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Profile { functions, total })
}

/// The `top` largest functions as a table with each one's share of the total.
pub fn table(p: &Profile, top: usize) -> String {
    let mut s = format!("{:>12}  {:>6}  function\n", "instructions", "share");
    for (name, n) in p.functions.iter().take(top) {
        let share = 100.0 * *n as f64 / p.total.max(1) as f64;
        s.push_str(&format!("{n:>12}  {share:>5.1}%  {name}\n"));
    }
    s.push_str(&format!(
        "{:>12}  100.0%  total ({} functions)\n",
        p.total,
        p.functions.len()
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block executed twice, and a pc translated twice with different lengths (each
    /// execution counts its own block's); lines in QEMU 7.2's format.
    const TRACE: &str = "\
----------------
IN: Reset
0x000000c0:  f052 fb2a  bl       #0x52718

Trace 0: 0x7fcd54000100 [00800408/000000c0/00000110/ff020200] Reset
----------------
IN: _ZN4core3ptr8mem_copy17h0123456789abcdefE
0x00052718:  b580       push     {r7, lr}
0x0005271a:  466f       mov      r7, sp
0x0005271c:  bd80       pop      {r7, pc}

Trace 0: 0x7fcd54000240 [00800408/00052718/00000110/ff020200] _ZN4core3ptr8mem_copy17h0123456789abcdefE
Trace 0: 0x7fcd54000240 [00800408/00052718/00000110/ff020200] _ZN4core3ptr8mem_copy17h0123456789abcdefE
----------------
IN: Reset
0x000000c0:  f052 fb2a  bl       #0x52718
0x000000c4:  e7fe       b        #0xc4

Trace 0: 0x7fcd54000500 [00800408/000000c0/00000110/ff020200] Reset
";

    #[test]
    fn counts_instructions_per_function() {
        let p = parse(TRACE.as_bytes()).unwrap();
        // mem_copy: 2 runs x 3 instructions; Reset: one run of each translation (1 + 2).
        assert_eq!(
            p.functions,
            vec![
                ("core::ptr::mem_copy".to_string(), 6),
                ("Reset".to_string(), 3)
            ]
        );
        assert_eq!(p.total, 9);
        let t = table(&p, 1);
        assert!(
            t.contains("           6   66.7%  core::ptr::mem_copy"),
            "{t}"
        );
        assert!(
            t.contains("           9  100.0%  total (2 functions)"),
            "{t}"
        );
    }

    #[test]
    fn ignores_unrelated_lines() {
        let p = parse("Linking TBs\nTrace 0: garbage\n".as_bytes()).unwrap();
        assert_eq!(p, Profile::default());
    }
}
