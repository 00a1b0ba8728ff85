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
	$(NODE_BIN)/tsc -p docs/sim/tsconfig.json

# Type-check, build (integration tests run the compiled CLI), then run every test and print "N passed, N failed".
test: build
	$(NODE_BIN)/tsc -p docs/sim/tsconfig.json
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

# A local three-member cluster, run in the background. Logs and pid files go to $(RUN_DIR); data to $(DATA_ROOT).
# Every address and directory is a variable, e.g. `make run-all RUN_DIR=/tmp/c NODE1_CLIENT=3379 ...`.
.PHONY: run-all run-single start-node1 start-node2 start-node3 stop-node1 stop-node2 stop-node3 stop-all \
	put-node get-node del-node status clean bench-e2e
RUN_DIR ?= run
DATA_ROOT ?= $(RUN_DIR)/data
HOST ?= 127.0.0.1
NODE1_CLIENT ?= 2379
NODE1_PEER ?= 2380
NODE2_CLIENT ?= 12379
NODE2_PEER ?= 12380
NODE3_CLIENT ?= 22379
NODE3_PEER ?= 22380
SERVE_ARGS ?=
PORT ?= $(NODE1_CLIENT)
CLI := dist/kvstore/cli.js
TSRAFT := node $(CLI)
# Members make no TLS connection: NODE_EXTRA_CA_CERTS would only make every start parse a certificate bundle; and
# each runs with one V8 worker thread (kvstore/defaults.ts, memberProcessEnv).
MEMBER := env -u NODE_EXTRA_CA_CERTS node --v8-pool-size=1 $(CLI)
INITIAL_CLUSTER = 1=http://$(HOST):$(NODE1_PEER),2=http://$(HOST):$(NODE2_PEER),3=http://$(HOST):$(NODE3_PEER)
ALL_ENDPOINTS = http://$(HOST):$(NODE1_CLIENT),http://$(HOST):$(NODE2_CLIENT),http://$(HOST):$(NODE3_CLIENT)

dist/kvstore/cli.js:
	$(MAKE) --no-print-directory build

run-all: build
	@$(MAKE) --no-print-directory start-node1 start-node2 start-node3
	@$(TSRAFT) --endpoints $(ALL_ENDPOINTS) health --wait 30000
	@echo "Cluster up. Try: make put-node PORT=$(NODE1_CLIENT) DATA=greeting=hello; make get-node PORT=$(NODE3_CLIENT) DATA=greeting"
	@echo "Dashboard: http://$(HOST):$(NODE1_CLIENT)/dashboard (any member serves it)"

# One member that is a whole cluster by itself.
run-single: build
	@$(MAKE) --no-print-directory start-node1 INITIAL_CLUSTER=1=http://$(HOST):$(NODE1_PEER)
	@$(TSRAFT) --endpoints http://$(HOST):$(NODE1_CLIENT) health --wait 30000

start-node1 start-node2 start-node3: start-node%: dist/kvstore/cli.js
	@mkdir -p $(RUN_DIR) $(DATA_ROOT)
	@if [ -f $(RUN_DIR)/node$*.pid ] && kill -0 $$(cat $(RUN_DIR)/node$*.pid) 2>/dev/null; then \
		echo "node $* is already running (pid $$(cat $(RUN_DIR)/node$*.pid))"; \
	else \
		nohup $(MEMBER) serve --id $* --data-dir $(DATA_ROOT)/node$* \
			--listen-client http://$(HOST):$(NODE$*_CLIENT) --listen-peer http://$(HOST):$(NODE$*_PEER) \
			--initial-cluster $(INITIAL_CLUSTER) $(SERVE_ARGS) >> $(RUN_DIR)/node$*.log 2>&1 < /dev/null & \
		echo $$! > $(RUN_DIR)/node$*.pid; \
		echo "node $* started (pid $$!, client http://$(HOST):$(NODE$*_CLIENT), log $(RUN_DIR)/node$*.log)"; \
	fi

stop-node1 stop-node2 stop-node3: stop-node%:
	@if [ -f $(RUN_DIR)/node$*.pid ] && kill -0 $$(cat $(RUN_DIR)/node$*.pid) 2>/dev/null; then \
		pid=$$(cat $(RUN_DIR)/node$*.pid); kill $$pid; \
		for i in $$(seq 100); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
		if kill -0 $$pid 2>/dev/null; then kill -9 $$pid; fi; \
		echo "node $* stopped"; \
	else \
		echo "node $* is not running"; \
	fi
	@rm -f $(RUN_DIR)/node$*.pid

stop-all: stop-node1 stop-node2 stop-node3

put-node: dist/kvstore/cli.js
	@d='$(DATA)'; $(TSRAFT) --endpoints http://$(HOST):$(PORT) put "$${d%%=*}" "$${d#*=}"

get-node: dist/kvstore/cli.js
	@$(TSRAFT) --endpoints http://$(HOST):$(PORT) get '$(DATA)'

del-node: dist/kvstore/cli.js
	@$(TSRAFT) --endpoints http://$(HOST):$(PORT) del '$(DATA)'

status: dist/kvstore/cli.js
	@$(TSRAFT) --endpoints $(ALL_ENDPOINTS) status

# Removes logs, pid files and every member's data. Stops nothing: run `make stop-all` first.
clean:
	rm -rf $(RUN_DIR) $(DATA_ROOT)

BENCH_TARGETS += bench-e2e
bench-e2e: build
	node dist/bench/e2e.js $(BENCH_ARGS)

# Replay scenario files (etcd's own and random ones recorded from etcd by default; DIR=... for others): one PASS/FAIL
# line per file, then "N passed, N failed".
conformance: DIR ?= raft/testdata/etcd raft/testdata/etcd-random
conformance: build ; node dist/raft/rafttest/conformance.js $(DIR)

# The WAL against the raw disk: 256-byte entries in batches of 1, 16 and 256 per fdatasync (BENCH_ARGS: --dir,
# --seconds, --runs).
.PHONY: bench-wal
BENCH_TARGETS += bench-wal
bench-wal: build
	node dist/bench/wal.js $(BENCH_ARGS)

# The annotated source: the `//` prose beside the code it explains, one page per file, for reading with the paper.
.PHONY: annotated
ANNOTATED_DIR ?= dist/annotated
annotated: install
	$(NODE_BIN)/docco -o $(ANNOTATED_DIR) raft/*.ts raft/quorum/*.ts raft/tracker/*.ts raft/confchange/*.ts \
		raft/rafttest/*.ts wal/*.ts snap/*.ts transport/*.ts kvstore/*.ts kvstore/recipes/*.ts
	@echo "Open $(ANNOTATED_DIR)/raft/raft.html"

# tsraft beside etcd 3.4 (Debian's etcd-server), same load generator, same run, alternating (bench/vs-etcd.ts;
# BENCH_ARGS: --seconds, --warmup, --settle, --rounds, --rows). Installs etcd with apt-get if it is missing and it can.
.PHONY: bench-vs-etcd bench-failover bench-scale etcd-installed
BENCH_TARGETS += bench-vs-etcd
etcd-installed:
	@command -v etcd >/dev/null 2>&1 || { echo "etcd is not installed: trying apt-get install -y etcd-server etcd-client"; \
		apt-get install -y etcd-server etcd-client >/dev/null 2>&1 || echo "could not install etcd; the etcd side will be skipped"; }

bench-vs-etcd: build etcd-installed
	node dist/bench/vs-etcd.js $(BENCH_ARGS)

# kill -9 the leader under load, tsraft beside etcd (bench/failover.ts; BENCH_ARGS: --kills, --batch, --clients,
# --client-timeout-ms): time to the next write, longest client gap, restarted member's time to serve.
BENCH_TARGETS += bench-failover
bench-failover: build etcd-installed
	node dist/bench/failover.js $(BENCH_ARGS)

# tsraft beside etcd under the same seeded faults (kill a member, kill the leader, restart all, pause; one every 4 s)
# with the chaos suite's clients and checker (bench/chaos-vs-etcd.ts). BENCH_ARGS: --seconds (20; 45 for the long
# form), --rounds, --seed, --clients, --op-timeout-ms, --fault-every-ms.
# How soon a member restarted under load is fast again: ok/s and CPU per operation in the seconds after every member
# restarts, with V8's default tier-up beside the one `tsraft serve` sets (bench/warmup.ts; BENCH_ARGS: --rounds,
# --phases, --phase-ms).
.PHONY: bench-warmup
BENCH_TARGETS += bench-warmup
bench-warmup: build
	node dist/bench/warmup.js $(BENCH_ARGS)

.PHONY: bench-chaos-vs-etcd
BENCH_TARGETS += bench-chaos-vs-etcd
bench-chaos-vs-etcd: build etcd-installed
	node dist/bench/chaos-vs-etcd.js $(BENCH_ARGS)

# Chaos: real members behind fault-injecting proxies, seeded nemeses, a linearizability check per run (docs/faults.md).
# One line per run, then "N passed, N failed". CHAOS_ARGS: --runs, --seconds, --members, --family, --seed, --mutant.
.PHONY: chaos
chaos: build
	node dist/test/chaos/run.js $(CHAOS_ARGS)

# The browser simulator (docs/sim/): the real core bundled into one script beside its page, linked to the annotated
# source. Static files that also work from the file system: open $(SIM_DIR)/index.html.
.PHONY: docs
SIM_DIR ?= dist/sim
# The build script itself is bundled by esbuild too, so no full compile is needed first.
docs: install annotated
	$(NODE_BIN)/esbuild docs/sim/build.ts --bundle --platform=node --external:esbuild --external:docco \
		--log-level=warning --outfile=dist/docs/sim-build.js
	node dist/docs/sim-build.js $(SIM_DIR)

# Figure 16 of the Raft paper on the simulator: the time from a leader's crash to a new leader, 1,000 trials per
# election-timeout range, as charts (SVG, PNG) and tables in docs/fig16/. A few minutes; FIG16_ARGS="--trials 100".
.PHONY: paper-fig16
FIG16_ARGS ?=
paper-fig16: build
	node dist/bench/fig16/main.js $(FIG16_ARGS)

# Restart with 1 M entries in the WAL or a 100 MiB snapshot, memory with 1 M keys, a member 1 M entries behind
# (bench/scale.ts; BENCH_ARGS: --entries, --snapshot-mib, --only wal,snapshot,catchup, --serve-timeout-s, --keep).
# Writes about 1 GiB and runs for many minutes, so it is in neither `make test` nor `make bench`.
bench-scale: build
	node dist/bench/scale.js $(BENCH_ARGS)
