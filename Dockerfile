# Pinchwork's images. The default (last) target is the all-in-one image:
#   docker build -t pinchwork . && docker run -p 8000:8000 -v pinchwork:/var/lib/pinchwork pinchwork
# `--target service` is the cluster's image (every binary; docker-compose.yml picks the command).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bins \
 && mkdir /out \
 && find target/release -maxdepth 1 -type f -perm -u+x -name 'pinchwork*' -exec cp {} /out/ \;

# One service per container: every Pinchwork binary.
FROM debian:bookworm-slim AS service
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 pinchwork
COPY --from=build /out/ /usr/local/bin/
USER pinchwork
ENV PINCHWORK_HOST=0.0.0.0 PINCHWORK_PORT=8000
EXPOSE 8000
CMD ["pinchwork-api"]

# All in one: pinchwork-server with a private PostgreSQL and NATS JetStream
# (Debian's packages), started by ops/standalone, everything in one volume.
FROM debian:bookworm-slim AS standalone
# The package would create and start a cluster of its own: ops/standalone makes one in the volume.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/pinchwork.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl postgresql nats-server \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 pinchwork \
 && mkdir -p /var/lib/pinchwork \
 && chown pinchwork:pinchwork /var/lib/pinchwork
COPY --from=build /out/pinchwork-server /out/pinchwork-migrate /usr/local/bin/
COPY ops/standalone /usr/local/bin/pinchwork-standalone
# Not root: PostgreSQL, NATS and the server all run as pinchwork.
USER pinchwork
ENV PINCHWORK_HOST=0.0.0.0 PINCHWORK_PORT=8000
VOLUME /var/lib/pinchwork
EXPOSE 8000
HEALTHCHECK --start-period=60s CMD curl -fsS "http://127.0.0.1:${PINCHWORK_PORT}/health" || exit 1
# The server drains in-flight requests, then NATS and PostgreSQL stop: give
# `docker stop` time (`docker stop -t 60`, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
ENTRYPOINT ["pinchwork-standalone", "/var/lib/pinchwork"]
