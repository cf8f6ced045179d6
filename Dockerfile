# The serving image: the `lifecycle` CLI and its locked dependencies, serving the champion.
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
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH \
    LIFECYCLE_HOME=/srv/lifecycle

WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.8"

# Dependencies first, from the lock only, so code changes do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY data ./data
COPY features ./features
COPY training ./training
COPY serving ./serving
COPY monitoring ./monitoring
COPY pipelines ./pipelines
RUN uv sync --frozen --no-dev

# A numeric UID, so the host and any orchestrator can resolve who the process runs as.
RUN useradd --create-home --uid 10001 lifecycle && mkdir -p "$LIFECYCLE_HOME" \
    && chown 10001 "$LIFECYCLE_HOME"
USER 10001
EXPOSE 8000
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"]
CMD ["lifecycle", "serve", "--host", "0.0.0.0", "--port", "8000"]
