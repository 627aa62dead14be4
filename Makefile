# Husky order service. `make run` starts it with demo partners; `make test`
# runs every test. cgo is required (mattn/go-sqlite3): gcc must be installed.
export CGO_ENABLED := 1
GO ?= go
BIN := bin/husky

.PHONY: run build test bench bench-go crash fuzz lint axe clean

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/husky

# The demo has a database of its own, so that husky.db is never a demo one.
run: build
	HUSKY_DB=demo.db ./$(BIN) serve --demo

# Every test on SQLite, then every test that touches the database again on
# PostgreSQL when HUSKY_TEST_POSTGRES names a server to create test
# databases on (postgres://user@host:5432/postgres?sslmode=disable).
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	@if [ -n "$$HUSKY_TEST_POSTGRES" ]; then \
		echo "PostgreSQL half: the suite again, each test on a database of its own"; \
		HUSKY_TEST_ENGINE=postgres $(GO) test -count=1 -timeout 20m ./...; \
	fi
	@# What did not run, and how to run it (the browser tests look where
	@# TestConsoleInABrowser looks).
	@if [ -z "$$HUSKY_TEST_POSTGRES" ]; then \
		echo "SKIPPED: the PostgreSQL half. Set HUSKY_TEST_POSTGRES=postgres://user@host:5432/postgres?sslmode=disable to run it."; \
	fi
	@found="$$HUSKY_TEST_CHROMIUM"; for b in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do \
		[ -x "$$b" ] && found="$$b"; done; \
	if [ -z "$$found" ]; then \
		echo "SKIPPED: the console's browser tests (no Chromium). apt-get install chromium, or set HUSKY_TEST_CHROMIUM to a browser."; \
	elif [ -z "$$HUSKY_TEST_AXE" ] && [ ! -f .lint/node_modules/axe-core/axe.min.js ]; then \
		echo "SKIPPED: the console's accessibility check (no axe-core). Run make axe (npm), or set HUSKY_TEST_AXE to axe.min.js."; \
	fi

# The real binary on loopback, every figure beside its floor from the same
# run (BENCH_FLAGS=-backlog 100000 for a quicker run).
bench: build
	$(GO) run ./bench -bin $(BIN) $(BENCH_FLAGS)

# In-process Go benchmarks of the pieces.
bench-go:
	$(GO) test -run '^$$' -bench 'SubmitOrder' -benchtime 5s ./cmd/husky
	$(GO) test -run '^$$' -bench 'CommitToArrival' -benchtime 3000x ./cmd/husky
	$(GO) test -run '^$$' -bench 'Dispatch' -benchtime 20000x ./sharing
	$(GO) test -run '^$$' -bench 'Send$$|PlainClientFloor' -benchtime 100000x ./sharing
	$(GO) test -run '^$$' -bench 'Append' -benchtime 5000x ./audit

# SIGKILL the server at random while clients submit orders (CRASH_KILLS times).
crash:
	$(GO) test -count=1 -v -run TestCrashSIGKILL ./bench -crash.kills=$${CRASH_KILLS:-25} -timeout 30m

# A count, not a duration: Go 1.26's fuzz coordinator can fail a run that ends
# on a -fuzztime deadline with "context deadline exceeded" (golang/go#75804).
FUZZTIME ?= 300000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./orders
	$(GO) test -run '^$$' -fuzz '^FuzzImportLine$$' -fuzztime $(FUZZTIME) ./orders
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCallback$$' -fuzztime $(FUZZTIME) ./orders
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./partners
	$(GO) test -run '^$$' -fuzz '^FuzzProjectionLeaksNothing$$' -fuzztime $(FUZZTIME) ./sharing
	$(GO) test -run '^$$' -fuzz '^FuzzLeafDataMatchesEncodingJSON$$' -fuzztime $(FUZZTIME) ./audit

# gofmt, go vet, and openapi.json under Spectral's spectral:oas (no error,
# no warning) and Redocly's recommended rules (no error), at pinned versions
# installed once under .lint/ (npm).
SPECTRAL := @stoplight/spectral-cli@6.16.3
REDOCLY := @redocly/cli@2.77.0
lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@[ -x .lint/node_modules/.bin/spectral ] && [ -x .lint/node_modules/.bin/redocly ] || \
		npm install --prefix .lint --no-audit --no-fund --silent $(SPECTRAL) $(REDOCLY)
	.lint/node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity warn app/openapi.json
	.lint/node_modules/.bin/redocly lint --extends recommended app/openapi.json

# axe-core, for the console's accessibility check in the browser tests
# (TestConsoleInABrowser), at a pinned version under .lint/ (npm).
AXE := axe-core@4.14.1
axe:
	@[ -f .lint/node_modules/axe-core/axe.min.js ] && grep -q "axe v4.14.1" .lint/node_modules/axe-core/axe.min.js || \
		npm install --prefix .lint --no-audit --no-fund --silent $(AXE)

clean:
	rm -rf bin
