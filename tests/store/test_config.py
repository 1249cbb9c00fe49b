"""A user's YAML files (aitrace.yaml, policies, risk registers): hostile shapes are bad input.

Deep nesting, 100,000-digit integers and repeated keys exit 2 with one clear line naming the
file — never a traceback, never a silently chosen value.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aitrace.cli import main
from aitrace.errors import InputError
from aitrace.store.config import read_yaml
from tests.helpers.bundle import Keys

# libyaml (when PyYAML has it) refuses deep nesting itself; the pure-Python parser recurses.
DEEP = r"(nested too deeply to read|exceeded maximum nesting depth)"
HOSTILE = {
    "deep": ("[" * 10_000 + "]" * 10_000, DEEP),
    "deep-mapping": ("".join(" " * i + "k:\n" for i in range(3000)) + " " * 3000 + "v\n", DEEP),
    "huge-int": ("format: aitrace.policy/v1\nmax_age_days: " + "9" * 100_000 + "\n",
                 r"Exceeds the limit \(4300 digits\)"),
    "repeated-key": ("format: aitrace.policy/v1\nmax_age_days: 3\nmax_age_days: 3000\n",
                     "line 3, column 1: the key 'max_age_days' appears more than once"),
    "repeated-nested-key": ("licenses:\n  deny: [MIT]\n  deny: []\n",
                            "the key 'deny' appears more than once"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_yaml_is_input_error(tmp_path: Path, name: str) -> None:
    text, message = HOSTILE[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_yaml(path, missing_hint="")
    assert re.search(message, err.value.message) and str(path) in err.value.message
    assert "set_int_max_str_digits" not in err.value.message


def test_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("base: &b {k: 1, j: 2}\nover:\n  <<: *b\n  k: 3\n")
    assert read_yaml(path, missing_hint="") == {"base": {"k": 1, "j": 2},
                                                "over": {"k": 3, "j": 2}}


@pytest.mark.parametrize("name", ["deep", "huge-int", "repeated-key"])
def test_verify_policy_exits_2_with_one_line(bundle_path: Path, keys: Keys, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             name: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(HOSTILE[name][0])
    assert main(["verify", str(bundle_path), "--key", str(keys.pub),
                 "--policy", str(path)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    assert captured.err.startswith(f"aitrace: error: {path}") and len(captured.err) < 400


def test_a_policy_number_beyond_float_range(tmp_path: Path) -> None:
    from aitrace.verify.policy import load_policy

    path = tmp_path / "p.yaml"
    path.write_text("format: aitrace.policy/v1\nmax_age_days: " + "9" * 4000 + "\n")
    with pytest.raises(InputError, match="field 'max_age_days' is too large a number"):
        load_policy(path)
    path.write_text("format: aitrace.policy/v1\nmax_age_days: .nan\n")
    with pytest.raises(InputError, match="field 'max_age_days' must be a finite number"):
        load_policy(path)


def test_aitrace_yaml_and_assess_file(workspace: object, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path / "risk.yaml"
    deep.write_text("[" * 10_000 + "]" * 10_000)
    assert main(["assess", "risk", "--stage", "problem", "--file", str(deep)]) == 2
    assert re.search(DEEP, capsys.readouterr().err)
    cfg = Path("aitrace.yaml")
    cfg.write_text(cfg.read_text() + "record:\n  name: twice\n")
    assert main(["status"]) == 2
    assert "the key 'record' appears more than once" in capsys.readouterr().err
