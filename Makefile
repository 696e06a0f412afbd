# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow e2e soak lint bench clean down pgbouncer

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/persys demo

# The transaction-pooler tests run against Debian's pgbouncer (installed here as root when
# missing; the test set-up does the same itself).
pgbouncer:
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
	        --no-install-recommends pgbouncer; \
	    else echo "pgbouncer is missing: run 'apt-get install -y pgbouncer' as root"; exit 1; fi; }

test: $(STAMP) pgbouncer
	$(BIN)/ruff check persys_pipelines persys_pipelines_tests bench
	$(BIN)/python -m pytest -m "not slow and not e2e" -p no:cacheprovider

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m "slow" -p no:cacheprovider

# By hand: the conservation oracle for ~1,700 ticks (>= 1,000 kills), about an hour.
soak: $(STAMP)
	ORACLE_TICKS=$${ORACLE_TICKS:-1700} ORACLE_SEED=$${ORACLE_SEED:-17} $(BIN)/python -m pytest \
	  -m slow -p no:cacheprovider -s persys_pipelines_tests/oracle/test_oracle.py

e2e: $(STAMP)
	$(BIN)/python -m pytest -m "e2e" -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check persys_pipelines persys_pipelines_tests bench

down: $(STAMP)
	$(BIN)/persys down

clean:
	-$(BIN)/persys down
	rm -rf $(VENV) .persys
