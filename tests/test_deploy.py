"""The compose stack and the image are valid by construction (this machine has no Docker engine).

`docker compose config` and `docker build` cannot run here, so these tests check what they would
catch and more: every service of deploy/compose.yaml has an image or a build and a healthcheck
(or is a one-shot job), every command names a `lifecycle` command or a tool that exists with the
options it is given, no secret is written down, every variable is documented in
deploy/.env.example, the Grafana dashboard queries only metrics the serving API exports and
tables and columns the log store creates (its SQL panels run on a real PostgreSQL as Grafana's
read-only role), the database init script works on a real PostgreSQL, and the Dockerfile passes
hadolint and runs as a numeric non-root user.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from features.contract import load_contract
from pipelines.cli import app
from pipelines.settings import DEFAULT_CONTRACT, REPO_ROOT, unknown_variables
from serving.log_store import PostgresLogStore, WindowRecord
from serving.metrics import ServingMetrics
from tests.postgres import PostgresServer, postgres_unavailable, running_postgres

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
PROMETHEUS = DEPLOY / "prometheus.yml"
GRAFANA = DEPLOY / "grafana"
INIT_SCRIPT = DEPLOY / "postgres" / "init-databases.sh"
DOCKERFILE = REPO_ROOT / "Dockerfile"
MAKEFILE = REPO_ROOT / "Makefile"
VENV_BIN = REPO_ROOT / ".venv" / "bin"

#: Jobs that run once and exit: a healthcheck would mark them unhealthy for having finished.
ONE_SHOT = {"deploy": "registers the deployments and exits; the worker waits for exit 0"}
#: What each official image is known to ship, for the commands and probes compose runs in it.
#: An image's entrypoint maps to None when compose's `command` is only arguments to it.
OFFICIAL_IMAGES: dict[str, dict[str, Any]] = {
    "postgres": {"entrypoint": None, "tools": {"pg_isready", "psql", "pg_dump"}},
    "prom/prometheus": {"entrypoint": "/bin/prometheus", "tools": {"wget", "promtool"}},
    "grafana/grafana": {"entrypoint": None, "tools": {"wget", "grafana"}},
}
#: Tools of the project's image that are commands of their own (in the locked virtualenv).
IMAGE_TOOLS = {"mlflow", "prefect", "evidently", "python"}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
VARIABLE_NAMES = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN", re.IGNORECASE)
#: Grafana's type for its core PostgreSQL datasource (Grafana 10.3+; ``postgres`` is the alias).
POSTGRES_DATASOURCE = "grafana-postgresql-datasource"
#: Grafana's SQL macros the panels use, as Grafana expands them (a fixed, wide time range).
GRAFANA_MACROS = {
    r"\$__timeFilter\(([^()]+)\)": r"\1 BETWEEN '2000-01-01T00:00:00Z' AND '2100-01-01T00:00:00Z'",
    r"\$__timeFrom\(\)": "'2000-01-01T00:00:00Z'",
    r"\$__timeTo\(\)": "'2100-01-01T00:00:00Z'",
}


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def compose_strings(node: Any) -> list[str]:
    """Every key and value of the parsed file (comments excluded), as strings."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (str(k), *compose_strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in compose_strings(item)]
    return [str(node)]


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def interpolate(value: str) -> str:
    """A string as compose fills it in: ``${X:-d}`` becomes d, any other ``${X}`` a stand-in."""
    return VARIABLE.sub(lambda m: m.group(3) if m.group(2) in (":-", "-") else "value", value)


def as_list(command: str | list[str]) -> list[str]:
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def official_image(service: dict[str, Any]) -> dict[str, Any]:
    repository = str(service["image"]).split(":")[0]
    assert repository in OFFICIAL_IMAGES, f"no notes on what the image {repository} ships"
    return OFFICIAL_IMAGES[repository]


def built_here(service: dict[str, Any]) -> bool:
    return "build" in service


def split_command(words: list[str]) -> tuple[list[str], list[str]]:
    """A command's sub-command path (words before the first option) and its long options."""
    path: list[str] = []
    for word in words[1:]:
        if word.startswith("-"):
            break
        path.append(word)
    options = [w.split("=", 1)[0] for w in words if w.startswith("--")]
    return path, options


def lifecycle_commands() -> dict[str, set[str]]:
    """Every `lifecycle` command (groups as "group command") with its option names."""
    group = typer.main.get_command(app)
    found: dict[str, set[str]] = {}

    def walk(prefix: str, command: Any) -> None:
        for name, child in getattr(command, "commands", {}).items():
            full = f"{prefix} {name}".strip()
            found[full] = {o for p in child.params for o in (*p.opts, *p.secondary_opts)}
            walk(full, child)

    walk("", group)
    return found


def tool_helps(calls: set[tuple[str, ...]], scratch: Path) -> dict[tuple[str, ...], str]:
    """The `--help` text of each (tool, *sub-command) in the virtualenv, all run at once.

    Importing MLflow, Prefect or Evidently takes 4-15 s each: in parallel, the wait is the
    slowest one, not the sum.
    """
    # Prefect creates its home folder on any command: not the user's.
    environ = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1", "TERM": "dumb"}
    environ["PREFECT_HOME"] = str(scratch / "prefect")
    running = {
        call: subprocess.Popen(
            [str(VENV_BIN / call[0]), *call[1:], "--help"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )
        for call in calls
    }
    outputs = {}
    try:
        for call, process in running.items():
            outputs[call] = (*process.communicate(timeout=180), process.returncode)
    finally:
        for process in running.values():
            process.kill()
            process.wait()
    for call, (_, err, code) in outputs.items():
        assert code == 0, f"`{' '.join(call)}` does not exist: {err[-500:]}"
    return {call: out for call, (out, _, _) in outputs.items()}


def has_option(help_text: str, option: str) -> bool:
    """Whether a help text lists an option, as a whole word (--host is not --allowed-hosts)."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


def test_every_service_has_an_image_or_a_build() -> None:
    for name, service in services().items():
        assert "image" in service or "build" in service, name
        if built_here(service):
            build = service["build"]
            assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
            stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", DOCKERFILE.read_text(), re.M | re.I)
            assert build["target"] in stages, (name, build["target"], stages)
        else:
            official_image(service)
            tag = str(service["image"]).partition(":")[2]
            assert tag, f"{name}: pin the image's version"
            assert tag != "latest", f"{name}: pin the image's version, not latest"


def test_every_server_has_a_healthcheck_and_one_shots_do_not_restart() -> None:
    for name, service in services().items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"{name} is a one-shot: {ONE_SHOT[name]}"
            assert "healthcheck" not in service, name
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check.get("test"), f"{name}'s healthcheck has no test"
        test = as_list(check["test"])
        assert test[0] == "CMD", f"{name}: exec-form probe (no shell in the image needed)"
        executable = test[1]
        if built_here(service):
            assert executable in IMAGE_TOOLS, name
            assert (VENV_BIN / executable).exists(), name
            assert environment(service).get("HEALTHCHECK_URL", "").startswith("http://127.0.0.1")
        else:
            assert executable in official_image(service)["tools"], (name, executable)


def test_depends_on_waits_for_health_where_it_matters() -> None:
    for name, service in services().items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services(), (name, dependency)
            wanted = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            if name == "prometheus":  # records a target that is down: worth seeing
                wanted = "service_started"
            assert rule["condition"] == wanted, (name, dependency, rule)
    waits = {n: set(s.get("depends_on") or {}) for n, s in services().items()}
    assert {"postgres"} <= waits["mlflow"]
    assert {"postgres"} <= waits["prefect-server"]
    assert {"mlflow", "postgres", "deploy"} <= waits["worker"]
    assert {"mlflow", "postgres"} <= waits["serving"]


def test_every_command_exists_with_the_options_it_is_given(tmp_path: Path) -> None:
    commands = lifecycle_commands()
    tools: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    for name, service in services().items():
        if "command" not in service:
            continue
        # Compose's schema wants strings: an unquoted port (- 5000) fails `docker compose config`.
        assert all(isinstance(w, str) for w in service["command"]), f"{name}: quote numbers"
        words = [interpolate(w) for w in as_list(service["command"])]
        if not built_here(service):
            entrypoint = official_image(service)["entrypoint"]
            assert entrypoint is not None, f"{name}: the image's command is its own"
            assert all(w.startswith("--") for w in words), f"{name}: arguments to {entrypoint}"
            continue
        tool = words[0]
        path, options = split_command(words)
        if tool == "lifecycle":
            command = " ".join(path)
            assert command in commands, f"{name}: `lifecycle {command}` is no command"
            unknown = sorted(set(options) - commands[command])
            assert not unknown, f"{name}: `lifecycle {command}` has no option {unknown}"
        else:
            assert tool in IMAGE_TOOLS, (name, tool)
            assert (VENV_BIN / tool).exists(), (name, tool)
            tools[name] = ((tool, *path), options)
    assert {"mlflow", "prefect-server", "worker", "evidently"} <= set(tools), sorted(tools)
    helps = tool_helps({call for call, _ in tools.values()}, tmp_path)
    for name, (call, options) in tools.items():
        unknown = sorted(o for o in options if not has_option(helps[call], o))
        assert not unknown, f"{name}: `{' '.join(call)}` has no option {unknown}"


def test_the_pieces_agree_on_names_and_ports() -> None:
    all_services = services()
    worker = as_list(all_services["worker"]["command"])
    deploy = as_list(all_services["deploy"]["command"])
    pool = worker[worker.index("--pool") + 1]
    assert deploy[deploy.index("--pool") + 1] == pool, "deploy registers where the worker polls"
    mlflow = as_list(all_services["mlflow"]["command"])
    port = mlflow[mlflow.index("--port") + 1]
    for name in ("worker", "serving"):
        env = environment(all_services[name])
        assert env["LIFECYCLE_TRACKING_URI"] == f"http://mlflow:{port}", name
        assert env["LIFECYCLE_LOG_DATABASE_URL"].startswith("postgresql://lifecycle:"), name
    prefect = as_list(all_services["prefect-server"]["command"])
    api = f"http://prefect-server:{prefect[prefect.index('--port') + 1]}/api"
    assert environment(all_services["worker"])["PREFECT_API_URL"] == api
    assert environment(all_services["deploy"])["PREFECT_API_URL"] == api
    evidently = as_list(all_services["evidently"]["command"])
    workspace = evidently[evidently.index("--workspace") + 1]
    # The monitor (run by the worker) writes the workspace under the home the UI reads.
    assert workspace.startswith("/srv/lifecycle/")
    homes = {v for n in ("worker", "evidently") for v in all_services[n]["volumes"]}
    assert homes == {"lifecycle-home:/srv/lifecycle"}


def test_lifecycle_variables_are_settings_the_cli_accepts() -> None:
    # The settings refuse unknown LIFECYCLE_* variables: a typo would stop the container.
    for name, service in services().items():
        env = {k: interpolate(v) for k, v in environment(service).items()}
        assert not unknown_variables(env), (name, unknown_variables(env))


def test_no_secret_is_written_down() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_KEY.search(key):
                assert VARIABLE.fullmatch(value), f"{name}: {key} must come from deploy/.env"
                assert VARIABLE.fullmatch(value).group(2) == ":?", f"{name}: {key} has a default"
    # A password inside a URL (scheme://user:password@host) must be a variable too.
    for path in [p for p in DEPLOY.rglob("*") if p.is_file()]:
        lines = path.read_text(encoding="utf-8").splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        for user_password in re.findall(r"://([^/@\s]+)@", text):
            password = user_password.partition(":")[2]
            assert not password or VARIABLE.fullmatch(password), f"{path}: {user_password}"
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#") and SECRET_KEY.search(key):
            assert value == "", f".env.example gives {key} a value: leave secrets empty"


def test_secrets_stay_out_of_git_and_out_of_the_image() -> None:
    ignored = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "deploy/.env" in ignored
    docker_ignored = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".env", "**/.env"} <= set(docker_ignored)
    for name, service in services().items():
        assert "env_file" not in service, f"{name}: pass variables one by one, not deploy/.env"


def test_every_variable_is_documented_in_the_env_example() -> None:
    text = "\n".join(compose_strings(compose()))
    used = set(VARIABLE_NAMES.findall(text))
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M)
    )
    assert used - documented == set(), "document these in deploy/.env.example"
    assert documented - used == set(), "deploy/.env.example documents unused variables"
    required = {m.group(1) for m in VARIABLE.finditer(text) if m.group(2) == ":?"}
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    assert required <= listed, "a required variable is an uncommented line of .env.example"
    for name in compose().get("secrets", {}).values():
        assert name["environment"] in required, name


def metric_families() -> dict[str, tuple[str, set[str]]]:
    """Each family the serving API exports: its type and label names."""
    metrics = ServingMetrics()
    # A labelled series shows its labels only once a child exists: make one of each.
    metrics.observe_request("/v1/predict", "POST", 200, 0.01)
    metrics.model_info.labels(model_name="model", model_version="1").set(1)
    families: dict[str, tuple[str, set[str]]] = {}
    for family in metrics.registry.collect():
        labels = {label for sample in family.samples for label in sample.labels} - {"le"}
        families[family.name] = (family.type, labels)
    return families


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_series() -> dict[str, set[str]]:
    """Every series name a query may use, with the labels it carries."""
    series: dict[str, set[str]] = {}
    for name, (kind, labels) in metric_families().items():
        for suffix in SUFFIXES[kind]:
            series[name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


def dashboard_panels() -> list[dict[str, Any]]:
    """Every panel of every provisioned dashboard (rows included)."""
    panels = []
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        panels += json.loads(path.read_text(encoding="utf-8"))["panels"]
    return panels


def dashboard_queries() -> list[str]:
    """The PromQL of the Prometheus panels and variables."""
    queries = []
    for panel in dashboard_panels():
        queries += [target["expr"] for target in panel.get("targets", []) if "expr" in target]
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for variable in board.get("templating", {}).get("list", []):
            queries.append(variable["definition"])
    return queries


def test_the_dashboard_queries_only_metrics_the_api_exports() -> None:
    series = exported_series()
    assert "serving_http_requests_total" in series, sorted(series)
    queries = dashboard_queries()
    assert len(queries) >= 10, queries
    used: set[str] = set()
    for query in queries:
        names = set(re.findall(r"\b(serving_[a-z0-9_]+)", query))
        assert names, f"no serving metric in {query}"
        unknown = sorted(names - set(series))
        assert not unknown, f"{query}: not exported by serving/metrics.py: {unknown}"
        used |= names
        labels: set[str] = set()
        for name in names:
            labels |= series[name]
        grouped = re.findall(r"by \(([^)]*)\)", query) + re.findall(r"\{([^}]*)\}", query)
        for group in grouped:
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!=|=|,|$)", group):
                assert label in labels, f"{query}: no label {label!r} on {sorted(names)}"
    # The panels the brief asks for: requests, latency, decisions, model version, batch size.
    for wanted in (
        "serving_http_requests_total",
        "serving_http_request_duration_seconds_bucket",
        "serving_predictions_total",
        "serving_model_info",
        "serving_batch_rows_bucket",
    ):
        assert wanted in used, wanted


def datasources() -> dict[str, dict[str, Any]]:
    """Every provisioned Grafana datasource, by uid."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((GRAFANA / "provisioning/datasources").glob("*.yaml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]:
            assert source["uid"] not in found, f"{path.name}: uid {source['uid']} twice"
            found[source["uid"]] = source
    return found


def sql_panels() -> list[dict[str, Any]]:
    return [
        p for p in dashboard_panels() if p.get("datasource", {}).get("uid") == "lifecycle-postgres"
    ]


def test_grafana_is_provisioned_with_the_datasources_the_dashboard_uses() -> None:
    sources = datasources()
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert [uid for uid, s in sources.items() if s.get("isDefault")] == ["prometheus"]
    used = set()
    for panel in dashboard_panels():
        if panel["type"] == "row":
            continue
        wanted = panel["datasource"]
        assert wanted["uid"] in sources, panel["title"]
        assert wanted["type"] == sources[wanted["uid"]]["type"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == wanted, panel["title"]
        used.add(wanted["uid"])
    assert used == set(sources), "every datasource is used, every panel's is provisioned"
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/lifecycle.yaml").read_text())
    mounts = services()["grafana"]["volumes"]
    folder = providers["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{folder}:ro" in mounts


def test_prometheus_scrapes_the_serving_api_with_its_key() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "serving"]
    serving = as_list(services()["serving"]["command"])
    (target,) = job["dns_sd_configs"]
    assert target["names"] == ["serving"]
    assert str(target["port"]) == serving[serving.index("--port") + 1]
    assert job["metrics_path"] == "/metrics"
    (secret,) = services()["prometheus"]["secrets"]
    assert job["http_headers"]["X-API-Key"]["files"] == [f"/run/secrets/{secret}"]
    mounts = services()["prometheus"]["volumes"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = VENV_BIN / "hadolint"
    assert hadolint.exists(), "hadolint comes with the dev dependencies (make setup)"
    done = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_as_a_numeric_non_root_user_with_an_exec_form_healthcheck() -> None:
    instructions = dockerfile_instructions()
    stages = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    assert len(stages) >= 2, "a builder stage and a slim runtime stage"
    final = instructions[stages[-1] :]
    users = [arg for op, arg in final if op == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]}: a numeric UID"
    assert int(uid) != 0, f"USER {users[-1]}: not root"
    (healthcheck,) = [arg for op, arg in final if op == "HEALTHCHECK"]
    assert re.search(r"\bCMD \[", healthcheck), "exec form: CMD [...]"
    assert not [arg for op, arg in final if op == "RUN" and "uv " in arg], "no uv at run time"


def test_the_builder_uses_the_makefiles_uv_and_the_lock() -> None:
    pinned = re.search(r"^UV_VERSION := (\S+)", MAKEFILE.read_text(encoding="utf-8"), re.M)
    assert pinned
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert f"ARG UV_VERSION={pinned.group(1)}" in text
    syncs = re.findall(r"uv sync ([^\n&]*)", text)
    assert syncs
    assert all("--frozen" in s and "--no-dev" in s for s in syncs), syncs


def test_the_init_script_creates_one_private_database_per_client(
    initialised: PostgresServer,
) -> None:
    import psycopg

    # The image executes an executable init file and sources any other, in its own shell.
    assert os.access(INIT_SCRIPT, os.X_OK), "chmod +x deploy/postgres/init-databases.sh"
    server = initialised
    with psycopg.connect(server.url()) as connection:
        owners = dict(
            connection.execute(
                "SELECT datname, pg_get_userbyid(datdba) FROM pg_database"
                " WHERE datname IN ('mlflow', 'prefect', 'lifecycle')"
            ).fetchall()
        )
    assert owners == {"mlflow": "mlflow", "prefect": "prefect", "lifecycle": "lifecycle"}
    with psycopg.connect(server.url("prefect")) as connection:
        extensions = {row[0] for row in connection.execute("SELECT extname FROM pg_extension")}
    assert "pg_trgm" in extensions, "Prefect's migrations need pg_trgm"
    own = f"postgresql://lifecycle@127.0.0.1:{server.port}/lifecycle"
    with psycopg.connect(own) as connection:
        connection.execute("CREATE TABLE probe (id int)")
    other = f"postgresql://lifecycle@127.0.0.1:{server.port}/mlflow"
    with pytest.raises(psycopg.OperationalError, match="CONNECT"):
        psycopg.connect(other)


def test_the_lifecycle_datasource_is_read_only_and_its_secret_comes_from_the_env_file() -> None:
    source = datasources()["lifecycle-postgres"]
    assert source["type"] == POSTGRES_DATASOURCE
    postgres = services()["postgres"]
    assert source["url"] == f"postgres:{postgres['ports'][0].rsplit(':', 1)[1]}"
    assert source["jsonData"]["database"] == "lifecycle"
    assert source["user"] == "grafana", "the read-only role of deploy/postgres/init-databases.sh"
    assert "password" not in source, "a password belongs in secureJsonData"
    # Grafana fills ${NAME} from its environment; compose fills that from deploy/.env.
    (name,) = VARIABLE_NAMES.findall(source["secureJsonData"]["password"])
    for service in ("grafana", "postgres"):
        assert environment(services()[service])[name] == f"${{{name}:?set {name} in deploy/.env}}"
    assert re.search(rf"^{name}=$", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M)
    assert f'"${{{name}:?' in INIT_SCRIPT.read_text(encoding="utf-8")
    assert "postgres" in services()["grafana"]["depends_on"]
    titles = " ".join(p["title"] for p in sql_panels())
    for wanted in ("Drift share", "PR-AUC", "verdict"):
        assert wanted in titles, f"no panel on {wanted}: {titles}"


def expand_macros(sql: str) -> str:
    """A panel's SQL as Grafana sends it (its macros expanded to a fixed time range)."""
    for macro, expansion in GRAFANA_MACROS.items():
        sql = re.sub(macro, expansion, sql)
    assert "$" not in sql, f"a Grafana macro or variable the test does not know: {sql}"
    return sql


def init_databases(server: PostgresServer) -> None:
    """Run deploy/postgres/init-databases.sh as the image would, passwords with quotes in."""
    env_names = set(environment(services()["postgres"])) - {"POSTGRES_USER", "POSTGRES_PASSWORD"}
    # Quotes and a backslash: the script passes them as psql variables, never as SQL text.
    passwords = {name: f"p'w\"{i}\\x" for i, name in enumerate(sorted(env_names))}
    environ = {
        **os.environ,
        **passwords,
        "POSTGRES_USER": server.user,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(server.port),
    }
    done = subprocess.run(
        ["bash", str(INIT_SCRIPT)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def initialised() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL after the init script ran (auth is trust: any password works)."""
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed (Debian: postgresql-client)")
    with running_postgres() as server:
        init_databases(server)
        yield server


def test_every_sql_panel_runs_on_the_store_schema_as_grafana(initialised: PostgresServer) -> None:
    import psycopg

    port = initialised.port
    # The monitor writes as the lifecycle role (its store creates the tables on first use).
    store = PostgresLogStore(
        f"postgresql://lifecycle@127.0.0.1:{port}/lifecycle", load_contract(DEFAULT_CONTRACT)
    )
    store.record_window(
        WindowRecord(
            window_id="2026-03-01",
            window_start=dt.date(2026, 3, 1),
            window_end=dt.date(2026, 3, 1),
            n_rows=1500,
            drift_share=0.4,
            drift_share_threshold=0.3,
            n_drifted_features=4,
            data_drift_detected=True,
            score_drift=0.12,
            score_drift_method="Wasserstein distance (normed)",
            score_drifted=True,
            n_labelled=800,
            pr_auc=0.55,
            reference_pr_auc=0.6,
            champion_version="3",
            verdict="retrain",
            reason="drift share 0.40 >= 0.30",
            trigger="drift",
        )
    )
    store.close()
    panels = sql_panels()
    assert len(panels) >= 3, [p["title"] for p in panels]
    grafana = f"postgresql://grafana@127.0.0.1:{port}/lifecycle"
    with psycopg.connect(grafana, autocommit=True) as connection:
        for panel in panels:
            (target,) = panel["targets"]
            cursor = connection.execute(expand_macros(target["rawSql"]))
            rows = cursor.fetchall()
            columns = [c.name for c in cursor.description or []]
            assert len(rows) == 1, (panel["title"], rows)
            if target["format"] == "time_series":
                assert columns[0] == "time", panel["title"]
                assert all(isinstance(v, float) for v in rows[0][1:]), (panel["title"], rows)
            for override in panel["fieldConfig"]["overrides"]:
                assert override["matcher"]["options"] in columns, (panel["title"], override)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            connection.execute("DELETE FROM lifecycle_windows")
        connection.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("DELETE FROM lifecycle_windows")
    with pytest.raises(psycopg.OperationalError, match="CONNECT"):
        psycopg.connect(f"postgresql://grafana@127.0.0.1:{port}/mlflow")
