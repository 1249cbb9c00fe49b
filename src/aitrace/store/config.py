"""``aitrace.yaml``: the project's configuration, read once and parsed at the edge.

Sections are plain mappings owned by the feature that reads them (``mlflow``, ``capture``,
``modelCard``, ``datasets``, ``sbom``…); this module only guarantees that the file is valid
YAML whose top level and sections are mappings, and names the file and key when it is not.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitrace.errors import InputError

CONFIG_NAME = "aitrace.yaml"

DEFAULT_CONFIG = """\
# aitrace project configuration — see README "Configuration".
record:
  name: {name}

mlflow:
  # Where aitrace's own step runs go. Empty: an embedded SQLite store in .aitrace/mlflow.db.
  # AITRACE_MLFLOW_TRACKING_URI overrides this. Your code's MLflow store is never changed:
  # aitrace reads the runs your code makes where your code makes them.
  tracking_uri:
  # Experiment the step runs go to (default: aitrace/<record name>).
  experiment:
  enabled: true
  # false: link your own runs but write no aitrace step run (no MLflow import per step).
  step_runs: true

capture:
  # Extra environment variables to record (secret-looking names are always redacted).
  env_allow: []

sbom:
  # Attach a CycloneDX ML-BOM to training, optimization and deployment steps.
  auto: true

# What cannot be inferred for the model card (CycloneDX modelCard), e.g.:
# modelCard:
#   considerations:
#     users: [analysts]
#     useCases: [wine cultivar classification]

# Per-dataset governance, keyed by workspace-relative path, e.g.:
# datasets:
#   data/raw.csv: {{license: BSD-3-Clause, owners: [data-team], classification: public}}
"""


@dataclass(frozen=True)
class Config:
    """The parsed ``aitrace.yaml`` (an empty config when the file does not exist)."""

    path: Path | None
    data: Mapping[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Mapping[str, Any]:
        """One top-level section as a mapping (empty when absent or null)."""
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise InputError(
                f"{self.path}: section '{name}' must be a mapping, got {type(value).__name__}",
                hint=f"write '{name}:' followed by indented 'key: value' lines",
            )
        return value

    @property
    def record_name(self) -> str | None:
        """The configured record (project) name."""
        name = self.section("record").get("name")
        return str(name) if name not in (None, "") else None


# Bounds on a user's YAML file: configuration, policies and governance files are small.
MAX_YAML_BYTES = 16 * 1024 * 1024


@functools.cache
def _strict_loader() -> type[Any]:
    """PyYAML's safe loader, refusing a key repeated in one mapping.

    YAML says keys are unique, but PyYAML keeps the last silently: ``max_age_days`` written
    twice would mean the second.
    """
    import yaml

    # libyaml's parser when present: PyYAML's pure-Python scanner takes seconds on a few
    # thousand nested brackets, libyaml refuses such nesting at once.
    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[misc, valid-type]
        pass

    def mapping(loader: Any, node: yaml.MappingNode) -> Any:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the constructor reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears more than once in one mapping",
                    key_node.start_mark)
        return loader.construct_mapping(node)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return StrictLoader


def read_yaml(path: Path, *, missing_hint: str) -> Any:
    """Parse a user's YAML file safely; every failure names the file (and line) and a fix.

    Shared by ``aitrace.yaml``, policies, risk registers and self-check tables. Safe loading
    only (no Python objects), no repeated keys, at most ``MAX_YAML_BYTES``; hostile shapes —
    nesting thousands deep, integers of 100,000 digits — are bad input (``InputError``, exit
    2), never a traceback.
    """
    import yaml  # local: keeps `aitrace --help` from paying for it

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", hint=missing_hint) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})",
                         hint="save the file as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})",
                         hint="check the path and its permissions") from None
    if len(raw) > MAX_YAML_BYTES:
        raise InputError(f"{path}: over {MAX_YAML_BYTES // (1024 * 1024)} MiB, too large for a "
                         "configuration file", hint="give the intended YAML file")
    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{path}: invalid YAML{where}: {problem}",
                         hint="fix the syntax there (YAML is indentation-sensitive)") from None
    except RecursionError:
        raise InputError(f"{path}: invalid YAML: nested too deeply to read",
                         hint="a configuration file nests a few levels; this one is damaged "
                              "or hostile") from None
    except ValueError as exc:  # int() past Python's digit limit, and the like
        raise InputError(f"{path}: invalid YAML: a value cannot be read ({exc.args[0]})"
                         .replace("; use sys.set_int_max_str_digits() to increase the limit",
                                  ""), hint="write numbers of a sensible size") from None


def load_config(path: Path) -> Config:
    """Read and check ``aitrace.yaml``; a missing file is an empty config."""
    if not path.exists():
        return Config(path=None)
    data = read_yaml(path, missing_hint="run `aitrace init`")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: the top level must be a mapping of sections",
                         hint="start the file with 'record:' / 'mlflow:' sections")
    cfg = Config(path=path, data=data)
    for name in data:
        if not isinstance(name, str):
            raise InputError(f"{path}: section name {name!r} must be a string")
    return cfg
