# One image for the controller manager and the per-tenant sync runtime (`tenantwire sync`).
# Build: make docker-build IMG=registry.example/tenantwire:v0.1.0 (needs a Docker engine).
FROM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/tenantwire .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tenantwire /tenantwire
USER 65532:65532
ENTRYPOINT ["/tenantwire"]
CMD ["manager"]
