# tsraft: the two commands a new user needs are `make run-all` and `make test`.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
JEST_REPORT := .jest-results.json

.PHONY: install build test test-long typecheck clean-build

# Install exactly what package-lock.json pins, once.
node_modules/.install-stamp: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.install-stamp

build: install
	$(NODE_BIN)/tsc -p tsconfig.json

typecheck: install
	$(NODE_BIN)/tsc -p tsconfig.json --noEmit

# Type-check, build (integration tests run the compiled CLI), then run every test and print "N passed, N failed".
test: build
	@rm -f $(JEST_REPORT)
	-@$(NODE_BIN)/jest --ci --json --outputFile=$(JEST_REPORT) $(JEST_ARGS) 2>&1 | tail -n 200
	@node test/summary.js $(JEST_REPORT)

# The long variants: more simulation seeds, more crash trials.
test-long: build
	@rm -f $(JEST_REPORT)
	-@TSRAFT_LONG=1 $(NODE_BIN)/jest --ci --json --outputFile=$(JEST_REPORT) $(JEST_ARGS) 2>&1 | tail -n 200
	@node test/summary.js $(JEST_REPORT)

clean-build:
	rm -rf dist

# Benchmarks: each bench-* target adds itself to BENCH_TARGETS; `make bench` runs them all in turn.
.PHONY: bench bench-raft
BENCH_TARGETS := bench-raft
bench:
	@for target in $(BENCH_TARGETS); do $(MAKE) --no-print-directory $$target || exit 1; done

bench-raft: build
	node dist/bench/raft.js $(BENCH_ARGS)
