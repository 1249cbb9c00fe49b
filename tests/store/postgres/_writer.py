"""A writer process for the shared-store tests: ``python -m tests.store.postgres._writer``.

``ROOT N``: append N steps through the workspace at ROOT.
``ROOT hang``: start one append and, inside its transaction (the lock held), print ``locked``
and wait on stdin for ever — the test SIGKILLs it there.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aitrace.record.models import STEP_FORMAT, Actor, Step
from aitrace.record.times import utc_now
from aitrace.store.workspace import Workspace, new_id


def main() -> None:
    """Append as told."""
    ws = Workspace(Path(sys.argv[1]))
    hang = sys.argv[2] == "hang"

    def build(seq: int, prev: str | None) -> Step:
        if hang:
            print("locked", flush=True)
            sys.stdin.read()  # killed here, the transaction open and the lock held
        now = utc_now()
        return Step(format=STEP_FORMAT, id=new_id(), record_id=ws.record.id, seq=seq,
                    stage="training", status="succeeded", started_at=now, ended_at=now,
                    actor=Actor(user="w", host="h"), prev=prev)

    for _ in range(1 if hang else int(sys.argv[2])):
        ws.append(build)


if __name__ == "__main__":
    main()
