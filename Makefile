# Two commands on a fresh machine:  `make pipeline` runs everything, `make test` runs the tests.
# Both first create .venv and install the pinned dependencies from requirements.lock.
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup pipeline test params lock ui serve server server-stop slurm slurm-stop

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	# --no-deps: the lock pins every package (uv resolved it, honouring pyproject's [tool.uv] override of
	# hydra-optuna-sweeper's optuna<3), and pip's own resolver would refuse that override.
	$(VENV)/bin/pip install --quiet --no-deps -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

pipeline: setup  ## download -> prepare -> train -> evaluate, skipping what is up to date
	dvc repro

test: setup  ## lint, then every test, two test modules at a time (pytest -m "not slow" for the quick loop)
	ruff check src tests
	pytest -n 2 --dist loadfile

params: setup  ## rewrite params.yaml after editing conf/ (dvc repro never does)
	python -m mnist_pipeline.params

ui: setup  ## the MLflow UI on the project's store, opened on the mnist experiment's training runs
	@python -c "import mlflow; mlflow.set_tracking_uri('sqlite:///$(CURDIR)/mlflow.db'); \
	e = mlflow.get_experiment_by_name('mnist'); \
	print('open http://127.0.0.1:5000/#/experiments' + (f'/{e.experiment_id}' if e else '') + '?workflowType=machine_learning')"
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --port 5000

DATASET ?= mnist
serve: setup  ## serve models:/$(DATASET)-classifier@champion on http://127.0.0.1:5001 (POST /invocations)
	MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db} mlflow models serve \
		-m models:/$(DATASET)-classifier@champion --env-manager local --host 127.0.0.1 --port 5001

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

# A one-node SLURM cluster on this machine (docs/slurm.md); settings as for the script, e.g.
# make slurm LOCAL_SLURM_PARTITION=debug (not exported to other targets: srun reads SLURM_* variables).
slurm:  ## munge, slurmctld and slurmd (installed if missing), state in .slurm/; prints SLURM_CONF
	scripts/slurm_cluster.sh start

slurm-stop:  ## cancel its jobs and stop what `make slurm` started (job records and logs stay in .slurm/)
	scripts/slurm_cluster.sh stop

lock: setup  ## re-resolve requirements.lock from pyproject.toml
	uv pip compile pyproject.toml --extra test --extra dev --python-version 3.11 --universal -o requirements.lock
