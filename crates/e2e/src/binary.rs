//! Finds the built `antrea-nsx` binary next to the running test executable.

use std::path::PathBuf;

/// The path of the `antrea-nsx` binary of the current build profile.
///
/// Test executables live in `target/<profile>/deps/`; the binary is built into
/// `target/<profile>/` by `cargo test --workspace` (the `antrea-nsx` package has
/// integration tests, so Cargo builds its binary). `ANTREA_NSX_BIN` overrides the path.
pub fn antrea_nsx_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("ANTREA_NSX_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(PathBuf::from);
    while let Some(candidate_dir) = dir {
        let candidate = candidate_dir.join(format!("antrea-nsx{}", std::env::consts::EXE_SUFFIX));
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = candidate_dir.parent().map(PathBuf::from);
        if candidate_dir.file_name().is_some_and(|n| n == "target") {
            break;
        }
    }
    anyhow::bail!(
        "the antrea-nsx binary was not found near {}; run the whole test suite \
         (`cargo test --workspace`) or `cargo build -p antrea-nsx` first, or set ANTREA_NSX_BIN",
        exe.display()
    )
}
