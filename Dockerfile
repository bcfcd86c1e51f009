# The partnerops binary (API, worker, migrations) and the demo payments API, for
# docker compose and production. Runs as distroless's unprivileged "nonroot"
# (uid 65532) with its data directory at /data (a volume it owns).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -tags=go_json -ldflags "-X main.version=${VERSION}" -o /out/partnerops ./cmd/partnerops \
 && CGO_ENABLED=0 go build -o /out/fakepay ./cmd/fakepay \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot AS fakepay
COPY --from=build /out/fakepay /fakepay
# Its health check ('partnerops health URL': the image has no curl).
COPY --from=build /out/partnerops /partnerops
ENTRYPOINT ["/fakepay"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/partnerops /partnerops
COPY --from=build --chown=65532:65532 /out/data /data
ENV DATA_DIR=/data FILES_DIR=/data/files PAYOUT_FILES_DIR=/data
WORKDIR /data
VOLUME /data
USER nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/partnerops"]
