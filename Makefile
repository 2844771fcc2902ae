# Batik.Net NOC stack: installation, checks, tests and the demo.
#
# Every target that runs something depends on `install`, which is idempotent: it installs only the Debian
# packages that are missing (running `apt-get update` first only then) and reinstalls the virtual
# environment only when pyproject.toml or the lock (requirements/dev.lock) changed.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed-from-pyproject
DEV_LOCK := requirements/dev.lock
RUNTIME_LOCK := requirements/runtime.lock
LOCK_OPTIONS := --quiet --generate-hashes --allow-unsafe --strip-extras --build-deps-for wheel \
	--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade)

# What the stack, the lab and the test suite run: the distribution's Prometheus and Alertmanager, the lab's
# simulated devices (snmpd, dnsmasq) and probing tools, PostgreSQL for the database tests, Chromium for the
# browser tests, poppler-utils to inspect generated PDFs, WeasyPrint's Pango and HarfBuzz, the system tools
# the lab and the tests use (ip, flock, systemd-analyze), python3-venv for the virtual environment, and for the
# tracker's fault tests haproxy (a proxy alternating deliveries between two servers) and strace (the spool's
# fsyncs come before the answer).
DEBIAN_PACKAGES := prometheus prometheus-alertmanager snmpd snmp dnsmasq fping iputils-ping \
	prometheus-blackbox-exporter prometheus-snmp-exporter postgresql chromium poppler-utils \
	iproute2 procps util-linux systemd libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
	python3-venv haproxy strace

# On a machine where systemd runs, installing these packages also starts their services on the ports the
# demo uses. The stack runs them in the foreground with its own configuration, so the services that this
# installation just started are disabled again (a setup that had them before is left alone).
PACKAGED_SERVICES := prometheus prometheus-alertmanager haproxy

RULE_FILES = $(wildcard prometheus/rules/*.yml)
RULE_TESTS = $(wildcard prometheus/tests/*.yml)

.PHONY: install debian-packages lock test check lint check-configs pytest demo dashboards translations messages bench clean

install: debian-packages $(VENV_STAMP)

debian-packages:
	@missing=""; \
	for package in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q; \
		apt-get install -y -q --no-install-recommends $$missing; \
		if [ -d /run/systemd/system ]; then \
			for service in $(PACKAGED_SERVICES); do \
				case " $$missing " in *" $$service "*) systemctl disable --now "$$service";; esac; \
			done; \
		fi; \
	fi

# Exact versions with their hashes from the lock (what CI and the image install, so that a new release
# elsewhere cannot change a fresh install), then the project itself without dependencies. check_lock.py
# stops here when pyproject.toml asks for something the lock does not pin: run `make lock`.
# The packages come first: python3-venv is among them.
$(VENV_STAMP): pyproject.toml $(DEV_LOCK) | debian-packages
	test -x $(VENV_PYTHON) || $(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(VENV_PYTHON) requirements/check_lock.py
	$(VENV_PYTHON) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Refresh the lock files after changing the dependencies in pyproject.toml: versions already locked are
# kept when they still fit; `make lock UPGRADE=1` moves everything to the newest versions that fit.
# runtime.lock (the image) is constrained by dev.lock, so both pin the same versions.
lock: | debian-packages
	test -x $(VENV_PYTHON) || $(PYTHON) -m venv $(VENV)
	test -x $(VENV)/bin/pip-compile || $(VENV_PYTHON) -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(VENV)/bin/pip-compile $(LOCK_OPTIONS) --extra dev -o $(DEV_LOCK) pyproject.toml
	$(VENV)/bin/pip-compile $(LOCK_OPTIONS) -c $(DEV_LOCK) -o $(RUNTIME_LOCK) pyproject.toml
	$(VENV_PYTHON) requirements/check_lock.py

# Python code blocks in Markdown are illustrations laid out for the reader (aligned comments, several calls
# on a line); recent ruff versions would format them too, so the format check covers the code only.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check --extend-exclude '*.md' .

# The committed Prometheus and Alertmanager configuration, checked by the distribution's own tools.
check-configs: install
	promtool check config --syntax-only prometheus/prometheus.yml
	$(if $(RULE_FILES),promtool check rules $(RULE_FILES))
	$(if $(RULE_TESTS),promtool test rules $(RULE_TESTS))
	amtool check-config alertmanager/alertmanager.yml

# Two pytest processes side by side: the lab's tests (one lab session, mostly waiting for alerts to fire)
# and the rest; the lab's report follows the rest's. (pytest-xdist's --dist loadgroup would be the usual
# way, but under pytest 9 it no longer keeps a group in one process, and a lab test elsewhere waits for
# the lab's lock.) Each fails (exit 5) when it collected no test: a suite that ran nothing has proved
# nothing; PYTEST_ARGS goes to both. The slowest tests are printed, to keep the suite's time in view.
pytest: install
	@lab_log=$$(mktemp); \
	$(VENV)/bin/pytest -m lab --durations=10 $(PYTEST_ARGS) >$$lab_log 2>&1 & lab=$$!; \
	$(VENV)/bin/pytest -m "not lab" --durations=25 $(PYTEST_ARGS); rest=$$?; \
	wait $$lab; lab_status=$$?; \
	echo "=== the lab's tests (pytest -m lab, run beside the above) ==="; cat $$lab_log; rm -f $$lab_log; \
	echo "pytest: the rest exited $$rest, the lab's tests $$lab_status"; \
	test $$rest -eq 0 && test $$lab_status -eq 0

test: lint check-configs pytest

# The quick loop while working: lint, then every test that needs no root, lab, PostgreSQL, browser or real
# service (markers in pyproject.toml), spread over the machine's cores. `make test` runs everything.
CHECK_MARKERS := not (lab or postgres or browser or root or system)
check: lint
	$(VENV)/bin/pytest -q -n auto -m "$(CHECK_MARKERS)" --durations=10 $(PYTEST_ARGS)

demo: install
	$(VENV_PYTHON) -m lab.demo

dashboards: install
	$(VENV_PYTHON) grafana/generate.py

# The pages' message catalogues: compile each edited .po into the .mo committed beside it
# (docs/tracker.md, "Text and translations"; tests/tracker/test_i18n.py checks that they agree).
translations: install
	$(VENV)/bin/pybabel compile --directory alert_webhook/translations --domain messages --statistics

# The message ids the code and templates use, as a template in build/; ngettext takes one id and a count.
messages: install
	mkdir -p build
	$(VENV)/bin/pybabel extract --mapping-file babel.cfg --no-default-keywords --keyword _ \
		--keyword gettext --keyword ngettext:1,1 --sort-output --no-location --output-file build/messages.pot .

# Each benchmark prints a Markdown table for docs/benchmarks.md (bench/README.md says what each measures).
bench: install
	for script in bench/*.py; do echo "== $$script"; $(VENV_PYTHON) "$$script"; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis run
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
