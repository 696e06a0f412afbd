# A fresh machine: `make install` (persys on your PATH), `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# where `make install` links the `persys` command (a folder on your PATH)
BINDIR ?= $(HOME)/.local/bin

.PHONY: install uninstall demo test test-pooler test-slow e2e soak lint bench clean down

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# `persys` on the PATH: a link to the virtualenv's script (which knows its own Python), so
# `persys …` works from any folder; `make uninstall` removes the link.
install: $(STAMP)
	@mkdir -p "$(BINDIR)"
	@ln -sf "$(abspath $(BIN))/persys" "$(BINDIR)/persys"
	@echo "persys -> $(BINDIR)/persys"
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; \
	  *) echo "$(BINDIR) is not on your PATH: add  export PATH=\"$(BINDIR):\$$PATH\"  to your shell's profile";; esac

uninstall:
	rm -f "$(BINDIR)/persys"

demo: $(STAMP)
	$(BIN)/persys demo

# Two pytest-xdist workers, each with its own embedded PostgreSQL: the suite waits on the
# database and on subprocesses as much as on Python, so two cores run it in about half the
# time. `make test WORKERS=0` runs it in one process. `loadgroup`: tests marked with one
# `xdist_group` (a module whose tests share a world that each moves on) run on one worker.
# One process on a server of your own (PERSYS_TEST_DSN): some tests create cluster-wide roles.
WORKERS ?= $(if $(PERSYS_TEST_DSN),0,2)

# No system package and no root needed: the transaction-pooler tests (marker `pooler`, Debian's
# pgbouncer) run in `make test-pooler`, which `.ci/run` calls after installing pgbouncer.
test: $(STAMP)
	$(BIN)/ruff check persys_pipelines persys_pipelines_tests bench
	$(BIN)/python -m pytest -m "not slow and not e2e and not pooler" -p no:cacheprovider \
	  -n $(WORKERS) --dist loadgroup

test-pooler: $(STAMP)
	$(BIN)/python -m pytest -m "pooler" -p no:cacheprovider

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m "slow" -p no:cacheprovider

# By hand: the conservation oracle for ~3,000 ticks (>= 1,000 kills), about half an hour.
soak: $(STAMP)
	ORACLE_TICKS=$${ORACLE_TICKS:-3000} ORACLE_MIN_KILLS=$${ORACLE_MIN_KILLS:-1000} \
	  ORACLE_SEED=$${ORACLE_SEED:-17} $(BIN)/python -m pytest \
	  -m slow -p no:cacheprovider -s --timeout=5400 persys_pipelines_tests/oracle/test_oracle.py

e2e: $(STAMP)
	$(BIN)/python -m pytest -m "e2e" -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check persys_pipelines persys_pipelines_tests bench

down: $(STAMP)
	$(BIN)/persys down
	$(BIN)/persys down --demo

clean:
	-$(BIN)/persys down
	-$(BIN)/persys down --demo
	rm -rf $(VENV) .persys .persys-demo
