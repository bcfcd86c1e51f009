# partnerops — the targets a newcomer can guess. Every tool used here is built by
# this Makefile from a pinned module (tools/), so a fresh machine needs only Go,
# gcc (for sqlc) and, for `make run`, a PostgreSQL (or its binaries).
SHELL := /bin/bash
BIN   := $(CURDIR)/.bin
GO    ?= go
export GOTOOLCHAIN := local

TEMPORAL      := $(BIN)/temporal
# make cluster: a real Temporal server, its schema tool and its Web UI, pinned
# in the same module as the CLI (they share its build cache).
TEMPORAL_SERVER := $(BIN)/temporal-server
TEMPORAL_SQL    := $(BIN)/temporal-sql-tool
TEMPORAL_UI     := $(BIN)/temporal-ui-server
SQLC          := $(BIN)/sqlc
WORKFLOWCHECK := $(BIN)/workflowcheck
OAPICODEGEN   := $(BIN)/oapi-codegen
PARTNEROPS    := $(BIN)/partnerops
# Gin renders JSON with goccy/go-json instead of encoding/json (Gin's own build
# tag): 7 % less CPU per conversion answered (docs/performance.md). Requests
# are still decoded by encoding/json (api/bind.go: its errors are the API's).
TAGS          := -tags=go_json
# The end-to-end suite (cmd/partnerops: real PostgreSQL, Temporal and Chromium)
# carries the e2e build tag; a plain `go test ./...` is the fast suite that runs
# on any machine.
E2E           := -tags=go_json,e2e
# The checks across replicas (cmd/partnerops/cluster_test.go) carry their own
# tag: make test-cluster runs them against partnerops cluster.
CLUSTER_TAGS  := -tags=go_json,cluster

.PHONY: cluster cluster-tools haproxy test-cluster bench-cluster previous-build soak check-alerts bench-make-run wrk screenshots browser run build test lint generate check-generated migrate bench tools clean help walkthroughs walkthrough-tools compose-check
.DEFAULT_GOAL := help

help:
	@echo "make run       start everything (Temporal dev server + UI, migrations, API on :8080, worker)"
	@echo "make cluster   the production topology: Temporal server on PostgreSQL, 2 API replicas, 2 workers, HAProxy"
	@echo "make test      lint, check generated code, run every test against real PostgreSQL and Temporal (go test ./... alone is the fast suite)"
	@echo "make test-cluster  the checks across replicas against make cluster's topology (CI runs it)"
	@echo "make bench-cluster  clicks and conversions on make cluster's topology, with wrk"
	@echo "make generate  regenerate db/ from sql/ with sqlc"
	@echo "make migrate   apply migrations to DATABASE_URL"
	@echo "make lint      gofmt, go vet, go mod tidy -diff, workflowcheck"
	@echo "make bench     measure the click path and conversion ingest against real PostgreSQL"
	@echo "make bench-make-run  the click path under partnerops dev (what make run runs) against a bare Gin 302, with wrk"
	@echo "make walkthroughs  run the walkthroughs of docs/ twice against partnerops dev (part of make test)"

run: $(TEMPORAL) build
	$(PARTNEROPS) dev

# The production topology on this machine: a Temporal server on PostgreSQL,
# two API replicas and two workers behind HAProxy (docs/production.md).
cluster: build cluster-tools
	TEMPORAL_CLI=$(TEMPORAL) $(PARTNEROPS) cluster

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

build:
	$(GO) build $(TAGS) -ldflags "-X main.version=$(VERSION)" -o $(PARTNEROPS) ./cmd/partnerops

migrate: build
	$(PARTNEROPS) migrate

tools: $(TEMPORAL) $(SQLC) $(WORKFLOWCHECK) $(OAPICODEGEN)

# The Temporal CLI's first build takes 5–10 minutes on 2 cores; it is cached afterwards.
$(TEMPORAL): tools/temporal/go.mod
	@echo "building the Temporal CLI (first time: several minutes)…"
	cd tools/temporal && $(GO) build -o $@ github.com/temporalio/cli/cmd/temporal

$(TEMPORAL_SERVER): tools/temporal/go.mod
	@echo "building the Temporal server (first time: several minutes)…"
	cd tools/temporal && $(GO) build -o $@ go.temporal.io/server/cmd/server

$(TEMPORAL_SQL): tools/temporal/go.mod
	cd tools/temporal && $(GO) build -o $@ go.temporal.io/server/cmd/tools/sql

$(TEMPORAL_UI): tools/temporal/go.mod
	cd tools/temporal && $(GO) build -o $@ github.com/temporalio/ui-server/v2/cmd/server

cluster-tools: $(TEMPORAL_SERVER) $(TEMPORAL_SQL) $(TEMPORAL_UI) haproxy

# HAProxy, the cluster's balancer, from Debian's packages where we can.
haproxy:
	@command -v haproxy >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get install -y -qq haproxy >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq haproxy >/dev/null; }; \
	  else echo "make cluster needs HAProxy: sudo apt-get install haproxy"; exit 1; fi; }

$(SQLC): tools/sqlc/go.mod
	cd tools/sqlc && $(GO) build -o $@ github.com/sqlc-dev/sqlc/cmd/sqlc

$(OAPICODEGEN): tools/oapi-codegen/go.mod
	cd tools/oapi-codegen && $(GO) build -o $@ github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen

$(WORKFLOWCHECK): tools/workflowcheck/go.mod
	cd tools/workflowcheck && $(GO) build -o $@ go.temporal.io/sdk/contrib/tools/workflowcheck

generate: $(SQLC) $(OAPICODEGEN)
	$(SQLC) generate
	$(OAPICODEGEN) -config client/oapi-codegen.yaml api/openapi.yaml

# Fails when db/ is not what sql/ generates (someone edited SQL without `make
# generate`), or client/ is not what api/openapi.yaml generates.
check-generated: $(SQLC) $(OAPICODEGEN)
	$(SQLC) diff
	@tmp=$$(mktemp -d); sed "s#^output: .*#output: $$tmp/client.gen.go#" client/oapi-codegen.yaml > $$tmp/config.yaml && \
	  $(OAPICODEGEN) -config $$tmp/config.yaml api/openapi.yaml && \
	  if ! cmp -s $$tmp/client.gen.go client/client.gen.go; then rm -rf $$tmp; echo "client/ is stale: run make generate"; exit 1; fi; rm -rf $$tmp

lint: $(WORKFLOWCHECK)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet $(E2E) ./...
	$(GO) vet $(CLUSTER_TAGS) ./cmd/partnerops
	$(GO) mod tidy -diff
	$(WORKFLOWCHECK) ./workflows/...

# Integration tests start their own Temporal dev server (from the CLI built here)
# and create a private database on TEST_DATABASE_URL's server, so they never share
# state with `make run`.
test: lint check-generated check-alerts $(TEMPORAL) browser
	TEMPORAL_CLI=$(TEMPORAL) $(GO) test $(E2E) -count=1 -timeout 12m ./...
	$(MAKE) compose-check walkthroughs

# The checks that matter across replicas — throttles, rate limits, volume
# tiers, link changes, concurrent decisions, a rolling restart under load,
# Temporal only over mTLS — then the walkthroughs of docs/ twice, against
# partnerops cluster on a private database (needs make cluster's ports:
# stop make run and make cluster first). CI runs it after make test.
test-cluster: build previous-build cluster-tools $(TEMPORAL) walkthrough-tools
	PARTNEROPS=$(PARTNEROPS) PARTNEROPS_PREVIOUS=$(PREVIOUS) $(GO) test $(CLUSTER_TAGS) -count=1 -timeout 20m -run 'TestCluster' -v ./cmd/partnerops
	PARTNEROPS=$(PARTNEROPS) WALKTHROUGH_CMD=cluster .ci/walkthroughs

# The previous commit's build, for the rolling deploy of test-cluster (from
# that build to this one, with this one's migrations in between).
PREVIOUS := $(BIN)/partnerops-previous
previous-build:
	@rm -rf $(BIN)/previous-src && mkdir -p $(BIN)/previous-src
	git archive HEAD~1 | tar -x -C $(BIN)/previous-src
	cd $(BIN)/previous-src && $(GO) build $(TAGS) -ldflags "-X main.version=$$(git -C $(CURDIR) rev-parse --short HEAD~1)" -o $(PREVIOUS) ./cmd/partnerops
	@rm -rf $(BIN)/previous-src

# The portal pictures of docs/portal.md, taken by the browser tests.
screenshots: $(TEMPORAL) browser
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots TEMPORAL_CLI=$(TEMPORAL) $(GO) test $(E2E) -count=1 -run 'TestPortal' ./cmd/partnerops

# The alert rules parse as Prometheus loads them (promtool, from Debian's
# prometheus package, installed with apt where we can; its service is not
# started). That each function gets the metric type it needs is checked by
# TestDashboardAndAlertsNameServedMetrics against a live /metrics.
check-alerts:
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; \
	  else echo "check-alerts needs promtool: sudo apt-get install prometheus"; exit 1; fi; }
	promtool check rules docs/ops/prometheus-alerts.yml

# Debian's Chromium for the browser tests (cmd/partnerops/browser_test.go),
# installed with apt where we can; the tests fail, never skip, without it.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "the browser tests need Chromium: sudo apt-get install chromium"; exit 1; fi; }

# docker-compose.yml and its balancer's configuration are valid (no Docker
# engine needed: the compose CLI only parses and validates it, HAProxy checks
# its file); docker-compose comes from apt where we can.
compose-check: haproxy
	@haproxy -c -q -f deploy/haproxy.cfg 2>&1 | grep -v "could not resolve address" | grep -E "ALERT|error" && exit 1 || true
	@if docker compose version >/dev/null 2>&1; then docker compose -f docker-compose.yml config -q; \
	else command -v docker-compose >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get install -y -qq docker-compose >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }; \
	  else echo "compose-check needs docker compose or docker-compose (sudo apt-get install docker-compose)"; exit 1; fi; }; \
	docker-compose -f docker-compose.yml config -q; fi
	@echo "docker-compose.yml is valid"

# The walkthroughs of docs/, twice in a row, against `partnerops dev` on a fresh
# database (they need the ports make run uses: stop make run first).
walkthroughs: build $(TEMPORAL) walkthrough-tools
	PARTNEROPS=$(PARTNEROPS) .ci/walkthroughs

# curl, jq and openssl for the walkthroughs: installed with apt where we can.
walkthrough-tools:
	@missing=""; for t in curl jq openssl; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq $$missing; \
	  else echo "the walkthroughs need:$$missing (sudo apt-get install$$missing)"; exit 1; fi; \
	fi

# The click path against a bare Gin 302 (separate processes, same load generator,
# alternating rounds), then 100,000 conversions through the API; needs PostgreSQL
# at DATABASE_URL's server (a private database is created and dropped).
bench:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	  else echo "make bench reports wrk's figures (the headline) when wrk is installed: sudo apt-get install wrk"; fi; }
	$(GO) test $(TAGS) -run '^$$' -bench BenchmarkClickHandler -count 3 ./api
	$(GO) build $(TAGS) -o $(BIN)/clickbench ./cmd/clickbench
	$(BIN)/clickbench -duration 10s -conns 64 -conversions 100000

# The same comparison against what `make run` runs (partnerops dev on a fresh
# database, Temporal dev server and worker beside the API); needs make run's ports.
bench-make-run: build $(TEMPORAL) wrk
	$(GO) build $(TAGS) -o $(BIN)/clickbench ./cmd/clickbench
	PARTNEROPS=$(PARTNEROPS) CLICKBENCH=$(BIN)/clickbench .ci/bench-make-run

# What make cluster runs, measured with wrk: the click path on an API replica
# against a bare handler, clicks and conversions through the balancer with two
# replicas and with one (docs/capacity.md); needs make cluster's ports.
bench-cluster: build cluster-tools $(TEMPORAL) wrk walkthrough-tools
	$(GO) build $(TAGS) -o $(BIN)/clickbench ./cmd/clickbench
	PARTNEROPS=$(PARTNEROPS) CLICKBENCH=$(BIN)/clickbench .ci/bench-cluster

# A soak of make run: constant clicks and conversions, each second's postback
# latency, every review started (clickbench -soak); needs make run's ports.
soak: build $(TEMPORAL)
	$(GO) build $(TAGS) -o $(BIN)/clickbench ./cmd/clickbench
	PARTNEROPS=$(PARTNEROPS) CLICKBENCH=$(BIN)/clickbench .ci/soak

wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	  else echo "bench-make-run needs wrk: sudo apt-get install wrk"; exit 1; fi; }

clean:
	rm -rf $(BIN)
