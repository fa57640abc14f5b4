# syntax=docker/dockerfile:1
# The antrea-nsx image: one static-ish binary with every command (mp-adapter, ccp-adapter,
# register, deregister, translate, ...). Build: docker build -t antrea-nsx-adapter:0.1.0 .

# --- build ---------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# Manifests and lock file first, so the dependency layer is cached across source edits.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY proto ./proto
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p antrea-nsx \
 && install -D -m 0755 target/release/antrea-nsx /out/antrea-nsx

# --- run -----------------------------------------------------------------------------
# distroless: glibc and CA certificates, no shell, no package manager; user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/antrea-nsx /usr/local/bin/antrea-nsx
USER 65532:65532
EXPOSE 16664 16665
ENTRYPOINT ["/usr/local/bin/antrea-nsx"]
CMD ["--help"]
