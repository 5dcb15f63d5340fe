# One image with every Pinchwork binary; docker-compose picks the command.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bins \
 && mkdir /out \
 && find target/release -maxdepth 1 -type f -perm -u+x -name 'pinchwork*' -exec cp {} /out/ \;

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 pinchwork
COPY --from=build /out/ /usr/local/bin/
USER pinchwork
ENV PINCHWORK_HOST=0.0.0.0 PINCHWORK_PORT=8000
EXPOSE 8000
CMD ["pinchwork-api"]
