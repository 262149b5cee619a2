//! Repository rules checked as tests: what the README shows is what is built and run.

#[cfg(test)]
mod tests {
    use crate::run::root;

    /// Whether Rust source `src` has an unsafe block, function, impl, trait or extern block
    /// (comments may say the word).
    fn uses_unsafe(src: &str) -> bool {
        [
            "unsafe {",
            "unsafe fn",
            "unsafe impl",
            "unsafe extern",
            "unsafe trait",
        ]
        .iter()
        .any(|t| src.contains(t))
    }

    /// The README's firmware example is `boards/qemu/src/bin/minimal.rs` word for word (the
    /// board steps of `cargo xtask test` build and run that program), and no firmware program
    /// uses `unsafe`.
    #[test]
    fn readme_firmware_example_is_the_program_the_tests_run() {
        let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
        let program =
            std::fs::read_to_string(root().join("boards/qemu/src/bin/minimal.rs")).unwrap();
        let begin = "<!-- example: begin -->\n```rust\n";
        let a = readme.find(begin).unwrap() + begin.len();
        let b = readme.find("```\n<!-- example: end -->").unwrap();
        assert_eq!(
            &readme[a..b],
            program,
            "README.md's example differs from minimal.rs"
        );
        for f in [
            "boards/qemu/src/bin/infer.rs",
            "boards/qemu/src/bin/minimal.rs",
            "boards/stm32h7/src/bin/infer.rs",
        ] {
            let p = std::fs::read_to_string(root().join(f)).unwrap();
            assert!(!uses_unsafe(&p), "{f} uses unsafe");
        }
        assert!(uses_unsafe("let x = unsafe { 1 };"));
    }
}
