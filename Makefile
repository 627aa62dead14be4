# Husky order service. `make run` starts it with demo partners; `make test`
# runs every test. cgo is required (mattn/go-sqlite3): gcc must be installed.
export CGO_ENABLED := 1
GO ?= go
BIN := bin/husky

.PHONY: run build test bench crash fuzz lint clean

build:
	$(GO) build -o $(BIN) ./cmd/husky

run: build
	HUSKY_ALLOW_PRIVATE_ENDPOINTS=true ./$(BIN) serve --demo

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

bench: build
	$(GO) test -run '^$$' -bench 'SubmitOrder' -benchtime 5s ./cmd/husky
	$(GO) test -run '^$$' -bench 'CommitToArrival' -benchtime 3000x ./cmd/husky
	$(GO) test -run '^$$' -bench 'Dispatch|PlainClientFloor' -benchtime 20000x ./sharing

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $${FUZZTIME:-30s} ./orders

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...

clean:
	rm -rf bin
