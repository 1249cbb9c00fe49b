"""One error hierarchy, caught once by the CLI.

Every error carries a user-facing message that names the file and field at fault and a
``hint`` that says how to fix it; the CLI prints both and maps the class to an exit code, so
no traceback ever reaches a user for a problem they can fix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

# Documented, stable exit codes (README "Exit codes").
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


class AitraceError(Exception):
    """Root of every error aitrace raises on purpose."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """The text shown to a user: the message, then the hint on its own line."""
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class InputError(AitraceError):
    """Bad input from the user: a missing file, a malformed document, a wrong option."""


class WorkspaceError(AitraceError):
    """The ``.aitrace/`` workspace is missing, unreadable or inconsistent."""


class IntegrityError(AitraceError):
    """Stored history does not match its digests (an edited step, a broken chain)."""

    exit_code = EXIT_CHECK_FAILED


class InvalidBundle(AitraceError):
    """An archive is unsafe or malformed; raised while reading untrusted input."""


class MissingDependencyError(AitraceError):
    """An optional extra is needed for this command but is not installed."""


class StepFailed(AitraceError):
    """A recorded step ended badly (e.g. a declared output was never produced)."""

    exit_code = EXIT_CHECK_FAILED


class WriteError(AitraceError, OSError):
    """A file could not be written: a full disk, a quota, a file-size limit, a permission.

    Raised by the crash-safe writers (``aitrace.store.files``) after removing their temporary
    file, so nothing half-written is left. It is also an ``OSError``, so code that tolerates a
    failed write (a cache) keeps doing so.
    """


class StepNotRecorded(AitraceError):
    """``aitrace run`` ran the command but could not record its step (e.g. a full disk).

    Its exit code is the command's own: a failure to record never hides the command's result.
    """

    def __init__(self, message: str, *, exit_code: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code


_F = TypeVar("_F", bound=Callable[..., Any])


def user_facing(func: _F) -> _F:
    """Raise this library's errors from the caller's frame, with the hint as a note.

    Used on the Python hooks (``aitrace.stage()``, the step handle): a user whose script names
    a missing input should see their own line and aitrace's message and hint — not a dozen
    frames of aitrace's internals that end in the same message without the hint.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AitraceError as exc:
            if exc.hint and not any("hint:" in n for n in getattr(exc, "__notes__", ())):
                exc.add_note(f"  hint: {exc.hint}")
            raise exc.with_traceback(None) from None

    return wrapper  # type: ignore[return-value]
