# scaleout: SSIS Scale Out as one Go binary. `make help` lists the targets.
GO       ?= go
BIN      ?= bin/scaleout
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo +dirty)
LDFLAGS  := -X main.version=$(VERSION) -X main.buildCommit=$(COMMIT)
# Tests run with the race detector and modest parallelism (2-core machines).
# The timeout only catches a hang: cmd/scaleout takes ~11 min idle and went
# past 15 min under `make test-stress` (two CPU burners), with no test failing.
TESTFLAGS ?= -race -count=1 -p 2 -timeout 40m

.PHONY: help build image compose-test demo test test-stress chaos test-short e2e e2e-docker bench bench-scale bench-slots bench-go bench-dataflow lint check dev clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/scaleout (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/scaleout

IMAGE ?= scaleout:local
image: ## the container image scaleout:local (IMAGE=name:tag) from Dockerfile: FROM scratch, the static bin/scaleout, user 10001, volume /data (no registry needed)
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/scaleout ./cmd/scaleout
	rm -rf bin/image && mkdir -p bin/image/root/tmp bin/image/data/data
	chmod 1777 bin/image/root/tmp && chmod 700 bin/image/data/data
	docker build -t $(IMAGE) .

compose-test: image ## docker-compose.yml for real: 3 servers + 1 worker from that image, a cluster forms, packages run (needs docker and docker-compose or the compose plugin)
	SCALEOUT_COMPOSE_TEST=1 SCALEOUT_IMAGE=$(IMAGE) $(GO) test -count=1 -v -timeout 10m -run 'TestE2ECompose' ./cmd/scaleout/

test: check ## lint, then every test (unit, in-process cluster, end-to-end) with -race
	$(GO) test $(TESTFLAGS) ./...

STRESS_RUNS ?= 3
test-stress: check ## the whole suite STRESS_RUNS (3) times in a row while stress-ng burns both CPUs (installed if missing); stops at the first failure
	@command -v stress-ng >/dev/null || { apt-get update -qq && apt-get install -y -qq stress-ng; }
	@stress-ng --cpu 2 --timeout 0 --quiet & burner=$$!; trap 'kill $$burner 2>/dev/null' EXIT; \
	for i in $$(seq 1 $(STRESS_RUNS)); do \
		echo "== make test-stress: run $$i of $(STRESS_RUNS) under stress-ng --cpu 2"; \
		$(GO) test $(TESTFLAGS) ./... || exit 1; \
	done

test-short: ## unit tests only (skips end-to-end tests that start processes)
	$(GO) test -short -count=1 ./...

e2e: ## end-to-end tests only: real scaleout processes
	$(GO) test $(TESTFLAGS) -run 'E2E' ./cmd/scaleout/

e2e-docker: ## the docker multi-host test only: one container per agent, real partitions and kills
	$(GO) test $(TESTFLAGS) -v -run 'E2EDocker' ./cmd/scaleout/

CHAOS_EXECUTIONS ?= 10000
CHAOS_SCENARIOS  ?=
chaos: ## the chaos suite: docker cluster (3 servers, 2 workers) per scenario, CHAOS_EXECUTIONS each, faults, history checker; table in chaos-results.md
	CHAOS_EXECUTIONS=$(CHAOS_EXECUTIONS) CHAOS_SCENARIOS=$(CHAOS_SCENARIOS) CHAOS_OUT=$(CURDIR)/chaos-results.md \
		$(GO) test -tags chaos -count=1 -timeout 40m -v -run '^TestChaos$$' ./cmd/scaleout/

BENCH_JSON ?= bench-results.json
bench: build ## start 3 local servers, run every bench scenario, print the table, write $(BENCH_JSON)
	$(BIN) bench --local 3 --json $(BENCH_JSON)

SCALE_ENDED ?= 1000000
bench-scale: build ## 3 local servers: fill the catalog to $(SCALE_ENDED) ended executions, compare dispatch, paging, snapshot, RSS
	$(BIN) bench --local 3 --scenarios scale --scale-ended $(SCALE_ENDED) --json bench-scale.json

bench-slots: build ## 1 local server with --max-tasks 1000: 1,000 executions at once on its worker, GET list p50/p99 meanwhile
	$(BIN) bench --local 1 --max-tasks 1000 --scenarios slots --json bench-slots.json

bench-go: ## Go benchmarks of the hot functions (encode/decode, FSM apply, package parse)
	$(GO) test -run '^$$' -bench . -benchmem ./fsm/ ./catalog/pkgspec/ ./api/ ./cluster/master/ ./catalog/ssis/convert/

DATAFLOW_ROWS ?= 1000000,10000000
bench-dataflow: ## data flow vs Miller (CSV transform) and vs COPY (PostgreSQL load) on generated files; installs miller if missing
	@command -v mlr >/dev/null || { apt-get update -qq && apt-get install -y -qq miller; }
	$(GO) build -o bin/dfbench ./executor/dataflow/cmd/dfbench
	bin/dfbench -rows $(DATAFLOW_ROWS)

lint: check ## alias of check

check: ## gofmt, go vet (Linux, Windows, macOS; the chaos suite too), and the import-boundary rules
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags chaos ./cmd/scaleout/
	GOOS=windows $(GO) build ./... && GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) build ./... && GOOS=darwin $(GO) vet ./...
	@./.ci/check-imports

dev: build ## build and run a dev agent (one-node cluster on 127.0.0.1:8391) until Ctrl-C
	$(BIN) agent --dev

DEMO_ADDR ?= 127.0.0.1:8391
demo: build ## start a dev agent, run testdata/hello.yaml through it, stop the agent
	@set -e; log=$$(mktemp); \
	$(BIN) agent --dev --http-addr $(DEMO_ADDR) 2>$$log & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -f $$log' EXIT; \
	for i in $$(seq 100); do grep -q 'agent started' $$log && break; \
		kill -0 $$pid 2>/dev/null || { cat $$log; exit 1; }; sleep 0.1; done; \
	echo "==> dev agent on http://$(DEMO_ADDR); running: $(BIN) run testdata/hello.yaml --param who=scaleout --wait"; \
	$(BIN) run testdata/hello.yaml --param who=scaleout --wait --address http://$(DEMO_ADDR)

clean: ## remove build output
	rm -rf bin
