"""The handover documents under docs/ agree with the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.cli import app
from pipelines.settings import REPO_ROOT, load_settings

DOCS = REPO_ROOT / "docs"
SYSTEM_MAP = DOCS / "system-map.md"


def cli_commands() -> list[str]:
    """Every command as a user types it after `lifecycle`, groups included."""
    names = [c.name or c.callback.__name__ for c in app.registered_commands if c.callback]
    for group in app.registered_groups:
        typer_group = group.typer_instance
        assert typer_group is not None
        prefix = group.name or typer_group.info.name
        assert isinstance(prefix, str), group
        names += [
            f"{prefix} {c.name or c.callback.__name__}"
            for c in typer_group.registered_commands
            if c.callback
        ]
    return names


def home_folders(home: Path) -> list[str]:
    """The run home's stores, relative to it, as `Paths` defines them."""
    paths = load_settings(home=home).paths
    names = [n for n in dir(type(paths)) if isinstance(getattr(type(paths), n), property)]
    found = [getattr(paths, n) for n in names]
    return sorted({str(p.relative_to(home)) for p in found if isinstance(p, Path)})


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_code_path_a_page_names_exists(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    named = set(re.findall(r"\b((?:[a-z_]+/)+[a-z_]+\.py)\b", text))
    missing = sorted(p for p in named if not (REPO_ROOT / p).is_file())
    assert not missing, f"{page.name} names files that do not exist: {missing}"


def test_the_system_map_shows_every_command() -> None:
    text = SYSTEM_MAP.read_text(encoding="utf-8")
    commands = cli_commands()
    assert len(commands) >= 12, commands
    missing = [c for c in commands if f"lifecycle {c}" not in text]
    assert not missing, f"commands missing from the system map: {missing}"


def test_the_system_map_shows_every_store_of_the_home(tmp_path: Path) -> None:
    text = SYSTEM_MAP.read_text(encoding="utf-8")
    folders = home_folders(tmp_path)
    assert "data/raw" in folders, folders
    missing = [f for f in folders if f"`{f}`" not in text]
    assert not missing, f"stores missing from the system map: {missing}"


def test_cli_commands_helper_sees_the_contract_group() -> None:
    assert "contract init" in cli_commands(), "sub-commands are listed with their group"
