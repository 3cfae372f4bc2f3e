# capsol build targets. `make run` starts a registry on ./registry-data with
# the embedded defaults; `make test` is the test command CI runs.

GO      ?= go
BIN     := bin
PKGS    := ./...

.PHONY: build run test test-short bench lint completions man clean

build:
	$(GO) build -o $(BIN)/ ./cmd/capsol ./cmd/capsold

run:
	$(GO) run ./cmd/capsold

test: e2e/tsclient/node_modules
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 45m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# The official MCP TypeScript SDK, for the cross-SDK end-to-end test.
e2e/tsclient/node_modules: e2e/tsclient/package-lock.json
	npm ci --prefix e2e/tsclient --no-audit --no-fund
	@touch $@

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s $(PKGS)

# The completion scripts and man pages are generated from the command tree
# and committed. A test of internal/cli fails when they are stale.
completions:
	$(GO) run ./scripts/gen-docs -completions completions

man:
	$(GO) run ./scripts/gen-docs -man man

lint:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed on:"; gofmt -l .; exit 1)

clean:
	rm -rf $(BIN)
