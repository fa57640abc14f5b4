//! An emulator of the Kubernetes API server, good enough for kube-rs and kubectl.
//!
//! It serves list/watch with resourceVersions, CRDs with structural-schema enforcement,
//! patches of every kind, status subresources and discovery, from memory. Tests use it
//! in-process through [`KubeEmu::router`]; the `antrea-nsx kube-emu` command serves it on
//! loopback. See `docs/kube-emu.md` for what is emulated and what is deliberately not.
