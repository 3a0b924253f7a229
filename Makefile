# Two commands on a fresh machine:  `make pipeline` runs everything, `make test` runs the tests.
# Both first create .venv and install the pinned dependencies from requirements.lock.
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup pipeline test test-all docs docs-serve params lock ui serve server server-stop demo slurm slurm-stop

setup: $(VENV)/.installed

# uv installs the lock several times faster than pip (parallel downloads, docs/speed.md): the venv gets
# the locked uv first, with pip, then uv installs the rest. Where uv cannot be had, pip installs it all.
UV_VERSION := $(shell sed -n 's/^uv==\([^ ;]*\).*/\1/p' requirements.lock)

$(VENV)/.installed: requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	# --no-deps: the lock pins every package (uv resolved it, honouring pyproject's [tool.uv] override of
	# hydra-optuna-sweeper's optuna<3), and pip's own resolver would refuse that override.
	# requirements.lock holds the test, dev and docs extras too (make lock).
	if $(VENV)/bin/pip install --quiet uv==$(UV_VERSION); then \
		$(VENV)/bin/uv pip install --quiet --no-deps --python $(VENV)/bin/python -r requirements.lock && \
		$(VENV)/bin/uv pip install --quiet --no-deps --python $(VENV)/bin/python -e . ; \
	else \
		$(VENV)/bin/pip install --quiet --no-deps -r requirements.lock && \
		$(VENV)/bin/pip install --quiet --no-deps -e . ; \
	fi
	touch $@

pipeline: setup  ## download -> prepare -> train -> evaluate, skipping what is up to date
	dvc repro

test: setup  ## the quick loop: lint, unit tests and a few end-to-end smoke runs (dvc repro, predict, a sweep)
	ruff check src tests benchmarks
	pytest -n 2 --dist loadfile -m "not slow or smoke"

test-all: setup  ## lint, then every test, two test modules at a time (what CI runs)
	ruff check src tests benchmarks
	pytest -n 2 --dist loadfile

# mkdocs 1.6 prints a notice about Material's 2.0 plans; this is its documented switch.
export NO_MKDOCS_2_WARNING := 1
docs: setup  ## build the documentation site from docs/ into site/; broken links fail (--strict)
	mkdocs build --strict

docs-serve: setup  ## the documentation site on http://127.0.0.1:8000, rebuilt on every edit
	mkdocs serve --dev-addr 127.0.0.1:8000

params: setup  ## rewrite params.yaml after editing conf/ (dvc repro never does)
	python -m mnist_pipeline.params

UI_PORT ?= 5000
ui: setup  ## the MLflow UI on the project's store, opened on the mnist experiment's training runs
	@scripts/port_free.sh 127.0.0.1 $(UI_PORT) UI_PORT
	@python -c "import mlflow; mlflow.set_tracking_uri('sqlite:///$(CURDIR)/mlflow.db'); \
	e = mlflow.get_experiment_by_name('mnist'); \
	print('open http://127.0.0.1:$(UI_PORT)/#/experiments' + (f'/{e.experiment_id}' if e else '') + '?workflowType=machine_learning')"
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --port $(UI_PORT)

DATASET ?= mnist
# Every prediction served (make serve, make demo) is appended to this SQLite file (docs/serving.md).
REQUEST_LOG ?= $(CURDIR)/logs/requests.db
SERVE_PORT ?= 5001
serve: setup  ## serve models:/$(DATASET)-classifier@champion on http://127.0.0.1:$(SERVE_PORT) (POST /invocations)
	@scripts/port_free.sh 127.0.0.1 $(SERVE_PORT) SERVE_PORT
	MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db} \
	MNIST_REQUEST_LOG=$(REQUEST_LOG) MNIST_SERVED_MODEL=$(DATASET)-classifier@champion mlflow models serve \
		-m models:/$(DATASET)-classifier@champion --env-manager local --host 127.0.0.1 --port $(SERVE_PORT)

DEMO_PORT ?= 7860
demo: setup  ## a page on http://127.0.0.1:$(DEMO_PORT) where you draw a digit and see the champion's answer
	@scripts/port_free.sh 127.0.0.1 $(DEMO_PORT) DEMO_PORT
	MNIST_REQUEST_LOG=$(REQUEST_LOG) python -m mnist_pipeline.demo --model $(DATASET)-classifier --port $(DEMO_PORT)

# A tracking server for a team (README: Working as a team); make server SERVER_PORT=5001 ... to change.
SERVER_DIR ?= .server
SERVER_HOST ?= 127.0.0.1
SERVER_PORT ?= 5000
SERVER_PG_PORT ?= 5433
export SERVER_DIR SERVER_HOST SERVER_PORT SERVER_PG_PORT

server: setup  ## MLflow server on PostgreSQL (installed if missing), data in .server/; prints MLFLOW_TRACKING_URI
	scripts/tracking_server.sh start

server-stop:  ## stop what `make server` started (the runs stay in .server/)
	scripts/tracking_server.sh stop

# A one-node SLURM cluster on this machine (docs/cluster.md); settings as for the script, e.g.
# make slurm LOCAL_SLURM_PARTITION=debug (not exported to other targets: srun reads SLURM_* variables).
slurm:  ## munge, slurmctld and slurmd (installed if missing), state in .slurm/; prints SLURM_CONF
	scripts/slurm_cluster.sh start

slurm-stop:  ## cancel its jobs and stop what `make slurm` started (job records and logs stay in .slurm/)
	scripts/slurm_cluster.sh stop

lock: setup  ## re-resolve requirements.lock from pyproject.toml
	uv pip compile pyproject.toml --extra test --extra dev --extra docs --python-version 3.11 --universal -o requirements.lock
