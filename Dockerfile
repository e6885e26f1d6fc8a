# syntax=docker/dockerfile:1
# warroom's server in a container: the portable binary (glibc 2.17, scripts/build-portable.sh)
# on a minimal runtime image (distroless: glibc, CA certificates, a non-root user, no shell).
#
#   docker build -t warroom .
#   docker run -d --name warroom -p 7878:7878 -v warroom-data:/var/lib/warroom warroom
#   docker exec warroom warroom token create --name alice --role commander
#
# Several replicas on one PostgreSQL: contrib/compose.yaml. The image logs to stderr only
# (WARROOM_LOG_TARGET=stderr): `docker logs warroom`.

FROM rust:1-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv binutils \
    && rm -rf /var/lib/apt/lists/*
# cargo-zigbuild links against glibc 2.17 with zig (both from PyPI), the installed Rust does the rest.
RUN python3 -m venv /opt/zig \
    && /opt/zig/bin/pip install --no-cache-dir cargo-zigbuild==0.24.1 ziglang==0.17.1
ENV PATH="/opt/zig/bin:${PATH}"
WORKDIR /src
COPY . .
# Builds dist/warroom-<version>-x86_64-linux-gnu and checks it (glibc, size, a round trip).
RUN scripts/build-portable.sh \
    && install -D -m 0755 dist/warroom-*-linux-gnu /out/warroom \
    && install -d -m 0750 /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/warroom /usr/local/bin/warroom
COPY --from=build --chown=65532:65532 /out/data /var/lib/warroom
ENV WARROOM_DATA_DIR=/var/lib/warroom \
    WARROOM_CONFIG_DIR=/etc/warroom \
    WARROOM_LOG_TARGET=stderr
USER 65532:65532
VOLUME ["/var/lib/warroom"]
EXPOSE 7878
ENTRYPOINT ["/usr/local/bin/warroom"]
CMD ["serve", "--listen", "0.0.0.0:7878"]
