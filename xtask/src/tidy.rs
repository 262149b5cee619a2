//! Repository rules checked as tests: what the README shows is what is built and run.

#[cfg(test)]
mod tests {
    use crate::run::root;

    /// The README's firmware example is `boards/qemu/src/bin/minimal.rs` word for word (the
    /// board steps of `cargo xtask test` build and run that program).
    #[test]
    fn readme_firmware_example_is_the_program_the_tests_run() {
        let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
        let program =
            std::fs::read_to_string(root().join("boards/qemu/src/bin/minimal.rs")).unwrap();
        let (a, b) = (
            readme.find("<!-- example: begin -->\n```rust\n").unwrap(),
            readme.find("```\n<!-- example: end -->").unwrap(),
        );
        let shown = &readme[a + "<!-- example: begin -->\n```rust\n".len()..b];
        assert_eq!(
            shown, program,
            "README.md's example differs from minimal.rs"
        );
        assert!(!program.contains("unsafe"));
        for f in ["infer.rs", "minimal.rs"] {
            let p = std::fs::read_to_string(root().join("boards/qemu/src/bin").join(f)).unwrap();
            assert!(!p.contains("unsafe"), "boards/qemu/src/bin/{f} uses unsafe");
        }
        let h7 = std::fs::read_to_string(root().join("boards/stm32h7/src/bin/infer.rs")).unwrap();
        assert!(
            !h7.contains("unsafe"),
            "boards/stm32h7/src/bin/infer.rs uses unsafe"
        );
    }
}
