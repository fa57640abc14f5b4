//! Compiles the channel protos in `<workspace>/proto` with protox (pure Rust, no protoc)
//! and generates prost messages plus tonic clients and servers with tonic-prost-build.

use std::path::PathBuf;

const PROTO_FILES: &[&str] = &[
    "antrea_nsx/channel/v1/common.proto",
    "antrea_nsx/channel/v1/nsx_objects.proto",
    "antrea_nsx/channel/v1/control_plane.proto",
    "antrea_nsx/channel/v1/health.proto",
    "antrea_nsx/channel/v1/troubleshooting.proto",
    "antrea_nsx/channel/v1/management_plane.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }
    let descriptors = protox::compile(PROTO_FILES, [&proto_root])?;
    // Kept for reflection and for tests that compare our messages with NSX's models.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("antrea_nsx_channel_v1.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
