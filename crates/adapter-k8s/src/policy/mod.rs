//! The CCP adapter's Kubernetes I/O: applier, owned-object reflector, drift repair.
