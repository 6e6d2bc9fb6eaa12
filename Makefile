# Projectboard — the two set-up commands are `make run` and `make test` (see README.md).

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
GO_PACKAGES := ./...
HAVE_FRONTEND := $(wildcard frontend/package.json)

.PHONY: bench soak cluster crashtest crashtest-short crashtest-cluster crashtest-cluster-short run build test test-go test-frontend ui deps-frontend check-fmt vet clean fuzz screenshots

## run: build what changed (UI, binary) and start the server on the bundled data (http://localhost:8080)
run: build
	bin/projectboard serve

## build: the single binary, UI embedded, version stamped, in bin/
build: ui
	go build -ldflags "$(LDFLAGS)" -o bin/projectboard .

## test: formatting, vet, Go tests with the race detector, short crash tests (one server; a
## cluster of three instances on three etcd members), the frontend's type check, unit tests
## and browser tests against the real binary
test: check-fmt vet test-go crashtest-short crashtest-cluster-short test-frontend

## crashtest: 50 SIGKILL cycles under 8 concurrent editors and a live screen (docs/reliability.md)
crashtest:
	go run ./scripts/crashtest --cycles 50 --first-start-kills 20

## crashtest-cluster: 24 SIGKILL cycles of instances and etcd members under 3 instances on 3 members (docs/scale-out.md)
crashtest-cluster:
	go run ./scripts/crashtest --cluster --cycles 24 --timeout 20m

## bench: a short run of every performance measurement, as one table (docs/performance.md)
bench:
	scripts/bench

## soak: 10 minutes of 300 screens (10 % dropped each minute, 3 that never read) and 20 racing editors
SOAK ?= --duration 10m
soak:
	go run ./scripts/soak $(SOAK)

## cluster: 3 instances on a 3-member etcd cluster behind a round-robin proxy on :8080, to watch
## failover with kill -9 (docs/scale-out.md); CLUSTER="--port 18480" passes flags
# Built and run rather than `go run`, which exits 1 on Ctrl-C whatever the demo's own status.
CLUSTER ?=
cluster: build
	go build -o bin/etcdmember ./scripts/etcdmember
	go build -o bin/cluster ./scripts/cluster
	bin/cluster --bin bin/projectboard --etcdmember bin/etcdmember $(CLUSTER)

crashtest-short:
	go run ./scripts/crashtest --cycles 3 --first-start-kills 3

crashtest-cluster-short:
	go run ./scripts/crashtest --cluster --cycles 4

check-fmt:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './frontend/*' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	go vet $(GO_PACKAGES)

test-go:
	go test -race -count=1 $(GO_PACKAGES)

ifneq ($(HAVE_FRONTEND),)
# npm ci runs again only when the lock file changes.
frontend/node_modules/.installed: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

deps-frontend: frontend/node_modules/.installed

# The UI is built again only when its sources change: vite rewrites assets/dist/index.html
# on every build (a failed build leaves it older or removes it, so the next make retries).
# Directories are listed too, so removing a file counts as a change.
UI_SOURCES := $(shell find frontend/src frontend/public 2>/dev/null) \
	$(wildcard frontend/index.html frontend/env.d.ts frontend/vite.config.ts frontend/package.json frontend/tsconfig*.json)

assets/dist/index.html: frontend/node_modules/.installed $(UI_SOURCES)
	cd frontend && npm run build
	@touch $@

ui: assets/dist/index.html

test-frontend: deps-frontend
	cd frontend && npm run typecheck
	cd frontend && npm run test:unit
	$(MAKE) build
	scripts/ensure-chromium
	cd frontend && PROJECTBOARD_BIN=$(CURDIR)/bin/projectboard npm run test:e2e

## screenshots: the browser tests, writing the README's screenshots to docs/screenshots
## (a plain `make test` leaves them in frontend/test-results/screenshots)
screenshots: deps-frontend build
	scripts/ensure-chromium
	cd frontend && UPDATE_SCREENSHOTS=1 PROJECTBOARD_BIN=$(CURDIR)/bin/projectboard npm run test:e2e
else
ui:
	@echo "no frontend/package.json: serving the API without a UI"
test-frontend:
	@echo "no frontend yet"
endif

## fuzz: run every fuzz target for FUZZTIME each (their seed corpora run in `make test`)
FUZZTIME ?= 60s
fuzz:
	go test -run '^$$' -fuzz '^FuzzDecodePatch$$' -fuzztime $(FUZZTIME) ./server/
	go test -run '^$$' -fuzz '^FuzzDecodeNewProject$$' -fuzztime $(FUZZTIME) ./server/
	go test -run '^$$' -fuzz '^FuzzReadProjectsCSV$$' -fuzztime $(FUZZTIME) ./store/
	go test -run '^$$' -fuzz '^FuzzLoginBody$$' -fuzztime $(FUZZTIME) ./server/
	go test -run '^$$' -fuzz '^FuzzQueryParams$$' -fuzztime $(FUZZTIME) ./server/
	go test -run '^$$' -fuzz '^FuzzForwardedFor$$' -fuzztime $(FUZZTIME) ./server/
	go test -run '^$$' -fuzz '^FuzzReadCSV$$' -fuzztime $(FUZZTIME) ./server/sheet/
	go test -run '^$$' -fuzz '^FuzzParseValues$$' -fuzztime $(FUZZTIME) ./server/sheet/
	go test -run '^$$' -fuzz '^FuzzDecodeCycleBody$$' -fuzztime $(FUZZTIME) ./server/

clean:
	rm -rf bin frontend/node_modules
	find assets/dist -mindepth 1 ! -name .gitkeep -delete
