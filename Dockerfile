# One image for every service of the project: the `lifecycle` CLI and its locked dependencies,
# which include the MLflow, Prefect and Evidently servers. deploy/compose.yaml runs it with a
# different command per service (serving API, MLflow server, Prefect server and worker,
# Evidently UI); alone, it serves the champion:
#
#   docker build -t lifecycle .
#   docker run -p 8000:8000 --user "$(id -u):$(id -g)" \
#     -v "$PWD/.lifecycle:/srv/lifecycle" lifecycle
#
# The run home (MLflow store, logs) is a volume, so the container serves whatever champion the
# mounted store holds; LIFECYCLE_TRACKING_URI points it at an MLflow server instead. The home
# may come from any folder: the first command that opens it at LIFECYCLE_HOME rewrites the
# paths its MLflow store recorded (pipelines/relocate.py). It must be writable by the user the
# container runs as (--user above: the owner of the host folder).
#
# Two stages: the builder has uv and resolves nothing (the lock is the whole truth); the runtime
# has neither uv nor pip's caches, only the interpreter, the virtualenv and the code.

# Both stages must use the same interpreter: the virtualenv's python is a symlink to it.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

# The same uv as the Makefile's UV_VERSION, so the image resolves the lock as `make setup` does.
ARG UV_VERSION=0.13.8
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# Dependencies first, from the lock only, so a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY data ./data
COPY features ./features
COPY training ./training
COPY serving ./serving
COPY monitoring ./monitoring
COPY pipelines ./pipelines
# The project is installed editable at /app, the path the runtime keeps: deployments load their
# flows from this folder (pipelines/deployments.py), so the worker and `lifecycle deploy` must
# agree on it. Its own modules are compiled here because the runtime user cannot write to /app.
RUN uv sync --frozen --no-dev \
    && python -m compileall -q data features training serving monitoring pipelines


FROM ${PYTHON_IMAGE} AS runtime

# HOME is where Prefect (~/.prefect) and MLflow keep their per-user files: it must be writable.
ENV PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    HOME=/home/lifecycle \
    LIFECYCLE_HOME=/srv/lifecycle \
    HEALTHCHECK_URL=http://127.0.0.1:8000/health

# A numeric UID, so the host and any orchestrator can tell that the process is not root without
# reading /etc/passwd (Kubernetes' runAsNonRoot needs a number). The code stays root-owned:
# the service can write its home and volumes, never its own code.
RUN useradd --create-home --home-dir /home/lifecycle --uid 10001 --user-group lifecycle \
    && mkdir -p /srv/lifecycle /srv/artifacts \
    && chown 10001:10001 /srv/lifecycle /srv/artifacts

WORKDIR /app
COPY --from=builder /app /app

USER 10001
EXPOSE 8000
# Exec form (no shell in the probe). The one image runs several servers: each service sets
# HEALTHCHECK_URL to its own endpoint (deploy/compose.yaml); the default is the serving API.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4)"]
CMD ["lifecycle", "serve", "--host", "0.0.0.0", "--port", "8000"]
