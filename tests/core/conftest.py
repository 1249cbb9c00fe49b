"""Fixtures for the spine's unit tests: raw step builders and the step schema validator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aitrace.record.models import STEP_FORMAT, Actor, Step
from aitrace.record.times import utc_now
from aitrace.store.workspace import Workspace, new_id

AppendStep = Callable[..., Step]


@pytest.fixture
def append_step(workspace: Workspace) -> AppendStep:
    """``append_step(stage="cleaning", **fields)``: append a minimal step through the lock."""

    def _append(stage: str = "collection", ws: Workspace | None = None, **fields: Any) -> Step:
        target = ws or workspace

        def build(seq: int, prev: str | None) -> Step:
            now = utc_now()
            return Step(format=STEP_FORMAT, id=new_id(), record_id=target.record.id, seq=seq,
                        stage=stage, status=fields.pop("status", "succeeded"),  # type: ignore[arg-type]
                        started_at=now, ended_at=now, actor=Actor(user="tester", host="h"),
                        prev=prev, **fields)

        return target.append(build)

    return _append


@pytest.fixture(scope="session")
def step_validator() -> Any:
    """A jsonschema validator for the checked-in ``schemas/step.schema.json``."""
    from aitrace.schemas import validator

    return validator("step.schema.json")


@pytest.fixture
def assert_valid_step(step_validator: Any) -> Callable[[dict[str, Any]], None]:
    """Assert that a step document (as written to disk) validates against the step schema."""

    def _check(doc: dict[str, Any]) -> None:
        errors = sorted(step_validator.iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)

    return _check
