"""BentoML as the serving benchmark's peer: its environment's spec and cache, and its protocol.

Nothing here creates an environment, starts BentoML or downloads anything: uv is never called
(a test that would call it points at a uv that does not exist, and expects no call).
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from benchmarks import peers

SHARED = {"numpy": "2.4.6", "pandas": "2.3.3", "scikit-learn": "1.8.0", "skops": "0.16.0"}
MISSING_UV = "/nonexistent/uv"


def env_in(root: Path) -> peers.PeerEnv:
    return peers.bentoml_env(root, "1.4.40", SHARED, "3.11.7")


def make_complete(env: peers.PeerEnv, marker: str | None = None) -> None:
    """A folder that looks like a finished environment: an interpreter and the marker."""
    env.python.parent.mkdir(parents=True)
    env.python.write_text("")
    (env.folder / peers.MARKER_FILE).write_text(env.marker_text() if marker is None else marker)


def test_the_spec_pins_bentoml_and_the_shared_libraries_in_a_versioned_folder(
    tmp_path: Path,
) -> None:
    env = env_in(tmp_path)
    assert env.folder == tmp_path / "bentoml-1.4.40", env.folder
    assert env.requirements == (
        "bentoml==1.4.40",
        "numpy==2.4.6",
        "pandas==2.3.3",
        "scikit-learn==1.8.0",
        "skops==0.16.0",
    ), "sorted name==version pins"
    assert env.marker_text().splitlines()[0] == "python==3.11.7", "the interpreter is pinned too"
    assert env.script("bentoml") == tmp_path / "bentoml-1.4.40" / "bin" / "bentoml"


def test_a_missing_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pandas"):
        peers.bentoml_env(tmp_path, "1.4.40", {**SHARED, "pandas": ""}, "3.11.7")


def test_the_shared_versions_are_read_from_this_interpreter() -> None:
    versions = peers.installed_versions(["pytest"])
    assert versions == {"pytest": pytest.__version__}, versions
    with pytest.raises(peers.PeerEnvError, match="not installed"):
        peers.installed_versions(["no-such-distribution-here"])


def test_a_complete_environment_is_reused_without_calling_uv(tmp_path: Path) -> None:
    env = env_in(tmp_path)
    make_complete(env)
    assert peers.is_current(env), "marker and interpreter present"
    assert peers.ensure_env(env, MISSING_UV) is False, "reused: uv is never called"


@pytest.mark.parametrize(
    "marker", ["", "python==3.11.7\nbentoml==1.4.39\n"], ids=["interrupted", "other-pins"]
)
def test_an_environment_with_another_marker_is_not_current(tmp_path: Path, marker: str) -> None:
    env = env_in(tmp_path)
    make_complete(env, marker)
    assert not peers.is_current(env), "must be made again"
    with pytest.raises(peers.PeerEnvError, match="uv not found"):
        peers.ensure_env(env, MISSING_UV)
    assert (env.folder / peers.MARKER_FILE).read_text() == marker, "no marker without an install"


def test_an_empty_folder_is_not_current(tmp_path: Path) -> None:
    assert not peers.is_current(env_in(tmp_path))


def test_uv_makes_a_fresh_venv_from_this_interpreter_then_installs_the_pins(
    tmp_path: Path,
) -> None:
    env = env_in(tmp_path)
    venv, install = peers.uv_commands(env, "uv", "/usr/bin/python3.11")
    expected = ["uv", "venv", "--clear", "--quiet", "--python", "/usr/bin/python3.11"]
    assert venv == [*expected, str(env.folder)], venv
    assert install[:5] == ["uv", "pip", "install", "--quiet", "--python"], install
    assert install[5] == str(env.python), "installs into the new venv, never the project's"
    assert install[6:] == list(env.requirements), install


def test_an_explicit_uv_that_does_not_exist_is_an_error() -> None:
    with pytest.raises(peers.PeerEnvError, match="uv not found"):
        peers.find_uv(MISSING_UV)
    assert peers.find_uv(sys.executable) == sys.executable, "an existing file is taken as is"


def write_mlmodel(folder: Path, flavor: dict[str, object]) -> None:
    folder.mkdir(exist_ok=True)
    text = json.dumps({"flavors": {"sklearn": flavor}})  # JSON is YAML
    (folder / "MLmodel").write_text(text)


def test_the_skops_file_is_the_one_mlmodel_names(tmp_path: Path) -> None:
    write_mlmodel(tmp_path, {"pickled_model": "model.skops", "serialization_format": "skops"})
    (tmp_path / "model.skops").write_bytes(b"x")
    assert peers.skops_file(tmp_path) == tmp_path / "model.skops"


@pytest.mark.parametrize(
    ("flavor", "message"),
    [
        ({"pickled_model": "model.pkl", "serialization_format": "cloudpickle"}, "no skops"),
        ({"serialization_format": "skops"}, "no skops"),
        ({"pickled_model": "gone.skops", "serialization_format": "skops"}, "missing"),
    ],
    ids=["pickle", "no-file-named", "file-missing"],
)
def test_a_folder_without_a_skops_file_is_refused(
    tmp_path: Path, flavor: dict[str, object], message: str
) -> None:
    write_mlmodel(tmp_path, flavor)
    with pytest.raises(ValueError, match=message):
        peers.skops_file(tmp_path)


def test_the_server_environment_names_the_model_and_puts_its_own_venv_first(
    tmp_path: Path,
) -> None:
    env = env_in(tmp_path)
    base = {"PATH": "/usr/bin", "PYTHONPATH": "/src", "VIRTUAL_ENV": "/project/.venv", "X": "1"}
    child = peers.bentoml_environment(
        base, env, tmp_path / "model.skops", ["a.B"], ["amount", "channel"], tmp_path / "bento"
    )
    assert child["PATH"].split(":")[0] == str(env.folder / "bin"), child["PATH"]
    assert "PYTHONPATH" not in child, "the project's path must not leak into BentoML's"
    assert child["VIRTUAL_ENV"] == str(env.folder)
    assert child[peers.MODEL_FILE_ENV] == str(tmp_path / "model.skops")
    assert json.loads(child[peers.TRUSTED_TYPES_ENV]) == ["a.B"]
    assert json.loads(child[peers.FEATURES_ENV]) == ["amount", "channel"]
    assert child["BENTOML_HOME"] == str(tmp_path / "bento")
    assert child["BENTOML_DO_NOT_TRACK"] == "true"
    assert child["X"] == "1", "the rest is inherited"


def test_the_command_serves_the_service_on_loopback_from_the_repository(tmp_path: Path) -> None:
    command = peers.bentoml_command(env_in(tmp_path))
    assert command[:3] == (
        str(tmp_path / "bentoml-1.4.40/bin/bentoml"),
        "serve",
        peers.SERVICE_TARGET,
    )
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "{port}", "filled in when started"
    working = Path(command[command.index("--working-dir") + 1])
    assert (working / "benchmarks" / "bentoml_service.py").is_file(), working


def test_the_body_carries_the_features_of_the_row_only() -> None:
    row = {"id": "tx-1", "amount": 12.5, "channel": "web"}
    body = json.loads(peers.bentoml_body(row, ["amount", "channel"]))
    assert body == {"rows": [{"amount": 12.5, "channel": "web"}]}, body


def test_the_answer_is_one_probability() -> None:
    assert peers.bentoml_output([0.25]) == 0.25
    for payload in ([], [0.1, 0.2], {"p": 0.1}, ["0.1"], [True]):
        with pytest.raises(ValueError, match="not one probability"):
            peers.bentoml_output(payload)


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0] if node.level == 0 else ".")
    return names


def test_what_the_service_imports_exists_in_bentomls_environment() -> None:
    folder = Path(peers.__file__).parent
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    peers_imports = top_level_imports(folder / "peers.py")
    assert peers_imports - stdlib == {"yaml"}, "stdlib and PyYAML only: " + str(peers_imports)
    service_imports = top_level_imports(folder / "bentoml_service.py") - stdlib
    expected = {"bentoml", "pandas", "skops", "benchmarks"}
    assert service_imports == expected, service_imports


def test_peer_threads_are_pinned_to_one_unless_left_to_the_library() -> None:
    assert peers.thread_environment("1") == {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    assert peers.thread_environment("default") == {}, "inherit whatever is set"
    with pytest.raises(ValueError, match="expected one of"):
        peers.thread_environment("2")
