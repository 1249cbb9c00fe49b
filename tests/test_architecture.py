"""The architecture holds: no import cycles, imports flow one way, small modules (issue 9).

The rules and the AST checker live in ``tools/importgraph_check.py`` (run it directly for a
report); this file asserts each rule on ``src/aitrace`` and checks that the checker itself sees
what it must (imports inside functions, ``TYPE_CHECKING`` exemption, relative imports, ...).
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _load_checker() -> ModuleType:
    path = ROOT / "tools" / "importgraph_check.py"
    spec = importlib.util.spec_from_file_location("importgraph_check", path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ig = _load_checker()


@pytest.fixture(scope="module")
def modules() -> dict[str, Any]:
    found: dict[str, Any] = ig.load_modules(SRC, "aitrace")
    return found


def _report(violations: list[Any]) -> str:
    return "\n".join(map(str, violations))


# ---------------------------------------------------------------- the rules, on src/aitrace


def test_the_checker_sees_the_whole_package(modules: dict[str, Any]) -> None:
    areas = {ig.area(name) for name in modules}
    packages = {a for layer in ig.LAYERS for a in layer} | {ig.INTEGRATIONS}
    assert packages <= areas, f"packages the checker did not find: {sorted(packages - areas)}"
    assert {"errors", "__init__"} <= areas
    assert sum(len(m.imports) for m in modules.values()) > 100


def test_no_import_cycles(modules: dict[str, Any]) -> None:
    found = ig.check_cycles(modules)
    assert found == [], f"{len(found)} import cycle(s):\n{_report(found)}"


def test_no_cycles_between_packages(modules: dict[str, Any]) -> None:
    found = ig.check_package_cycles(modules)
    assert found == [], _report(found)


def test_packages_import_only_packages_to_their_right(modules: dict[str, Any]) -> None:
    found = ig.check_layering(modules)
    assert found == [], (
        "imports must flow cli → report → publish → verify → bundle/signing → evidence → hooks → "
        "store → record (integrations: anything but cli; errors, _version: everyone):\n"
        f"{_report(found)}")


def test_every_package_has_a_place_in_the_layering(modules: dict[str, Any]) -> None:
    found = ig.check_unknown_areas(modules)
    assert found == [], _report(found)


def test_at_most_ten_modules_directly_in_the_package() -> None:
    found = ig.check_top_level(SRC, "aitrace")
    assert found == [], _report(found)


def test_no_module_over_600_lines(modules: dict[str, Any]) -> None:
    found = ig.check_sizes(modules)
    assert found == [], _report(found)


# ---------------------------------------------------------------- the checker itself


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "src"
    for rel, text in {"aitrace/__init__.py": "", **files}.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for pkg in {p.parent for p in (src / "aitrace").rglob("*.py")}:
        (pkg / "__init__.py").touch()
    return src


def test_checker_counts_function_imports_and_exempts_only_type_checking(tmp_path: Path) -> None:
    src = _tree(tmp_path, {
        "aitrace/store/a.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from aitrace.store import b          # exempt
            else:
                from aitrace.store import c          # counts: runs at import time
            def f():
                from aitrace.store.d import thing    # counts: inside a function
        """,
        "aitrace/store/b.py": "import aitrace.store.a\n",
        "aitrace/store/c.py": "",
        "aitrace/store/d.py": """
            import importlib
            def g():
                try:
                    importlib.import_module("aitrace.store.a")
                except ImportError:
                    pass
        """,
    })
    mods = ig.load_modules(src, "aitrace")
    assert set(mods["aitrace.store.a"].imports) == {"aitrace.store.c", "aitrace.store.d"}
    assert set(mods["aitrace.store.b"].imports) == {"aitrace.store.a"}
    assert [str(v).split(": ")[1] for v in ig.check_cycles(mods)] == [
        "aitrace.store.a ↔ aitrace.store.d"]
    assert "aitrace.store.a → aitrace.store.d → aitrace.store.a" in str(ig.check_cycles(mods)[0])


def test_checker_resolves_relative_and_from_package_imports(tmp_path: Path) -> None:
    src = _tree(tmp_path, {
        "aitrace/evidence/__init__.py": "from .gx import quality\nfrom . import registry\n",
        "aitrace/evidence/registry.py": "",
        "aitrace/evidence/gx/quality.py": "from ..registry import x\nfrom . import helper\n",
        "aitrace/evidence/gx/helper.py": "from aitrace.evidence.gx import quality\n",
        "aitrace/evidence/gx/__init__.py": "SOMETHING = 1\n",
        "aitrace/hooks/t.py": "from aitrace.evidence.gx import SOMETHING\n",
    })
    mods = ig.load_modules(src, "aitrace")
    assert set(mods["aitrace.evidence"].imports) == {"aitrace.evidence.gx.quality",
                                                     "aitrace.evidence.registry"}
    assert set(mods["aitrace.evidence.gx.quality"].imports) == {
        "aitrace.evidence.registry", "aitrace.evidence.gx.helper"}
    assert set(mods["aitrace.hooks.t"].imports) == {"aitrace.evidence.gx"}  # the package
    assert len(ig.check_cycles(mods)) == 1  # quality ↔ helper
    (layering,) = ig.check_layering(mods)
    assert "aitrace.hooks.t imports aitrace.evidence.gx (evidence is above hooks" in str(layering)


@pytest.mark.parametrize(("src_mod", "target", "allowed"), [
    ("aitrace.store.x", "aitrace.record.y", True),
    ("aitrace.record.y", "aitrace.store.x", False),
    ("aitrace.cli.x", "aitrace.record.y", True),
    ("aitrace.bundle.x", "aitrace.signing.y", True),
    ("aitrace.verify.x", "aitrace.report.y", False),
    ("aitrace.record.y", "aitrace.errors", True),
    ("aitrace.record.y", "aitrace._version", True),
    ("aitrace.errors", "aitrace.record.y", False),
    ("aitrace.integrations.x", "aitrace.hooks.y", True),
    ("aitrace.integrations.x", "aitrace.cli.y", False),
    ("aitrace.evidence.x", "aitrace.integrations.y", False),
    ("aitrace.evidence.x", "aitrace.plugins", False),
    ("aitrace.verify.x", "aitrace.schemas", False),
    ("aitrace.store.x", "aitrace", False),
    ("aitrace.plugins", "aitrace.evidence.x", True),
    ("aitrace", "aitrace.cli.x", True),
    ("aitrace.newpkg.x", "aitrace.record.y", False),
])
def test_layering_rule(src_mod: str, target: str, allowed: bool) -> None:
    problem = ig.layering_problem(ig.area(src_mod), ig.area(target))
    assert (problem is None) is allowed, problem


def test_checker_finds_package_cycles_sizes_and_crowding(tmp_path: Path) -> None:
    src = _tree(tmp_path, {
        "aitrace/bundle/w.py": "from aitrace.signing import s\n",
        "aitrace/signing/s.py": "def f():\n    import aitrace.bundle.r\n",
        "aitrace/bundle/r.py": "x = 1\n" * 601,
        "aitrace/newpkg/z.py": "",
        **{f"aitrace/m{i}.py": "" for i in range(10)},
    })
    mods = ig.load_modules(src, "aitrace")
    assert ig.check_cycles(mods) == []  # no module cycle ...
    assert [v.where for v in ig.check_package_cycles(mods)] == ["bundle ↔ signing"]  # ... but
    assert [v.where.endswith("r.py") for v in ig.check_sizes(mods)] == [True]
    assert "601 lines" in str(ig.check_sizes(mods)[0])
    assert "11 modules (at most 10)" in str(ig.check_top_level(src, "aitrace")[0])
    unknown = {str(v).split(": ")[-1].split()[0] for v in ig.check_unknown_areas(mods)}
    assert unknown == {"newpkg", *(f"m{i}" for i in range(10))}
    assert ig.main([str(src), "aitrace"]) == 1
