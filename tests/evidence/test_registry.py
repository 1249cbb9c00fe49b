"""The evidence registry: every built-in kind mapped, checked kinds exact, sources loaded lazily."""

from __future__ import annotations

import subprocess
import sys

from aitrace.evidence.registry import BUILTIN, CHECKED_BUILTINS, checked_sources, source_for
from aitrace.record.stages import EVIDENCE_KINDS


def test_builtin_map_is_exhaustive_and_ordered() -> None:
    assert set(BUILTIN) == set(EVIDENCE_KINDS) and len(BUILTIN) == len(EVIDENCE_KINDS)
    order = list(BUILTIN)
    assert order[0] == "environment" and order[-1] == "mlflow-run"
    for kind, cls in BUILTIN.items():
        assert cls.kind == kind or kind in ("document", "note", "config")
        assert source_for(kind).kind == cls.kind


def test_checked_builtins_are_exactly_those_with_a_check_id() -> None:
    assert set(CHECKED_BUILTINS) == {k for k, cls in BUILTIN.items() if cls.check_id}
    assert [s.check_id for s in checked_sources()][:1] == ["evidence.sbom-schema"]


def test_unknown_kinds_are_opaque() -> None:
    assert "no-such-kind" not in BUILTIN
    assert source_for("no-such-kind").title == "Unknown evidence"


def test_checked_sources_load_only_their_modules() -> None:
    code = ("import sys; from aitrace.evidence.registry import checked_sources; "
            "checked_sources(); print(sorted(m for m in sys.modules if m.startswith("
            "('aitrace.evidence.gx', 'aitrace.evidence.mlflow', 'aitrace.evidence.scan', "
            "'aitrace.evidence.governance', 'aitrace.evidence.sbom.build'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip() == "[]"


def test_contributing_kinds_are_exactly_the_sources_that_add_evidence_to_steps() -> None:
    """``CONTRIBUTING`` spares a step the other kinds' imports; it must not forget a source."""
    from aitrace.evidence.interface import EvidenceSource
    from aitrace.evidence.registry import BUILTIN, CONTRIBUTING, contributors

    hooks = ("begin", "applies", "contribute")
    adds = {kind for kind, cls in BUILTIN.items()
            if any(getattr(cls, h) is not getattr(EvidenceSource, h) for h in hooks)}
    assert set(CONTRIBUTING) == adds - {"environment", "mlflow-run"}
    kinds = [s.kind for s in contributors()]
    assert kinds[0] == "environment" and kinds[-1] == "mlflow-run"
    assert set(CONTRIBUTING) <= set(kinds)
