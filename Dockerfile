# The partnerops binary (API, worker, migrations) for docker-compose and production.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /partnerops ./cmd/partnerops

FROM gcr.io/distroless/static-debian12
COPY --from=build /partnerops /partnerops
USER nonroot
ENTRYPOINT ["/partnerops"]
