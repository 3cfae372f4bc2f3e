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

test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 45m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s $(PKGS)

lint:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed on:"; gofmt -l .; exit 1)

clean:
	rm -rf $(BIN)
