# The exporter's image: rcert (glibc, dynamically linked) on distroless cc, non-root.
#   docker build -t registry.example.com/rcert:0.1.0 .
# then point deploy/ at it: cd deploy/base && kustomize edit set image rcert=registry.example.com/rcert:0.1.0
# (and the same in deploy/node). Not built by the test suite: this machine has no
# container runtime.
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin rcert

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/rcert /usr/local/bin/rcert
USER 65534:65534
EXPOSE 9793
ENTRYPOINT ["/usr/local/bin/rcert"]
