"""Fixtures for the store tests: append raw steps through the workspace lock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aitrace.record.models import STEP_FORMAT, Actor, Step
from aitrace.record.times import utc_now
from aitrace.store.workspace import Workspace, new_id
from tests.helpers.bundle import bundle_path, keys, project

__all__ = ["append_step", "bundle_path", "keys", "project"]

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
