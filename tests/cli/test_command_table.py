"""The lazy command table: every entry resolves, its help is the command's, --help stays lazy."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys

import click
import pytest

import aitrace.cli
from aitrace.cli import COMMANDS, cli, main


@pytest.mark.parametrize("name", list(COMMANDS))
def test_entry_imports_and_is_the_named_click_command(name: str) -> None:
    module_name, attribute, table_help = COMMANDS[name]
    module = importlib.import_module(f"aitrace.cli.{module_name}")
    cmd = getattr(module, attribute)
    assert isinstance(cmd, click.Command), f"{module_name}.{attribute} is not a click command"
    assert cmd.name == name
    # What `aitrace --help` prints (from the table) is what the command says of itself.
    assert cmd.get_short_help_str(limit=1000) == table_help
    ctx = click.Context(cli)
    assert cli.get_command(ctx, name) is cmd


def test_every_top_level_command_is_in_the_table() -> None:
    commands: dict[str, click.Command] = {}
    subcommands: set[int] = set()
    for info in pkgutil.iter_modules(aitrace.cli.__path__):
        module = importlib.import_module(f"aitrace.cli.{info.name}")
        for value in vars(module).values():
            if isinstance(value, click.Command):
                commands[f"{info.name}.{value.name}"] = value
                if isinstance(value, click.Group):
                    subcommands.update(id(c) for c in value.commands.values())
    top = {key for key, c in commands.items() if id(c) not in subcommands}
    listed = {f"{module}.{name}" for name, (module, _attr, _help) in COMMANDS.items()}
    assert top == listed


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bogus"]) == 2
    assert "No such command 'bogus'" in capsys.readouterr().err


def test_help_lists_the_table_and_imports_no_subcommand_module() -> None:
    code = ("import json, sys\n"
            "from aitrace.cli import main\n"
            "rc = main(['--help'])\n"
            "print(json.dumps([rc, sorted(sys.modules)]))\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    *help_lines, last = proc.stdout.strip().splitlines()
    rc, modules = json.loads(last)
    assert rc == 0
    loaded = sorted(m for m in modules if m.startswith("aitrace.cli."))
    assert loaded == [], f"`aitrace --help` imports {loaded}"
    heavy = sorted(m for m in modules
                   if m.split(".")[0] in ("mlflow", "great_expectations", "pandas",
                                          "cryptography"))
    assert heavy == [], f"`aitrace --help` imports {heavy[:5]}"
    listing = "\n".join(help_lines)
    for name, (_module, _attr, table_help) in COMMANDS.items():
        assert f"{name}  " in listing and table_help in listing
