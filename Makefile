# The commands a maintainer runs, each a thin wrapper over one the README gives. `make` lists them.
PYTHON ?= .venv/bin/python
# The test command is the line after <!-- test-command --> in README.md, read as .ci/run reads it.
README_TEST_COMMAND = awk '/<!-- test-command -->/{getline; while ($$0 ~ /^```/) getline; print; exit}' README.md

.DEFAULT_GOAL := help
.PHONY: help setup test test-command notebooks navigation clean student site browser-test

help:  ## list these targets
	@echo "make TARGET, where TARGET is one of:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup:  ## create .venv and install the course with the tested versions (bash setup.sh --install-only)
	bash setup.sh --install-only

test:  ## the README's test command: unit tests and every notebook under nbval, in quick mode
	@command="$$($(README_TEST_COMMAND))"; \
	[ -n "$$command" ] || { echo "error: no test command after <!-- test-command --> in README.md" >&2; exit 1; }; \
	echo "running: $$command"; eval "$$command"

test-command:  ## print the test command that make test and CI run
	@$(README_TEST_COMMAND)

notebooks:  ## re-execute every notebook and solution in full mode, in place (hours: the README's command)
	PSEUDO_QUICK=0 .venv/bin/jupyter nbconvert --to notebook --execute --inplace notebooks/[01]*.ipynb notebooks/solutions/*.ipynb

navigation:  ## rewrite the notebooks' navigation lines and Colab cell (python tools/navigation.py)
	$(PYTHON) tools/navigation.py

clean:  ## remove quick-mode runs (outputs/quick/, retrained by the tests) and Python and Jupyter caches; never data/ or full-mode outputs
	rm -rf outputs/quick .pytest_cache
	find . -path ./.venv -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -exec rm -rf {} +

student:  ## write the student edition (python tools/student_edition.py)
	$(PYTHON) tools/student_edition.py

site:  ## build the web edition (python tools/build_site.py)
	$(PYTHON) tools/build_site.py

browser-test:  ## run notebooks 00, 01 and 03 in JupyterLab in headless Chromium (pytest tests/test_browser.py)
	$(PYTHON) -m pytest tests/test_browser.py
