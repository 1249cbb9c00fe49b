"""Errors a registry answers with, named so a user (or a CI gate) can tell them apart.

Every message names the registry or model reference and what it said; none ever contains a
credential. Exit codes follow ``aitrace.errors``: 2 for usage, access and addressing problems,
1 when bytes from a registry do not match their digest (that is a failed check, not a typo).
"""

from __future__ import annotations

from aitrace.errors import EXIT_CHECK_FAILED, AitraceError


class RegistryError(AitraceError):
    """A registry could not be reached or refused a request (other than the cases below)."""


class RegistryAuthError(RegistryError):
    """The registry wants credentials, or refused the ones given (401/403)."""


class RegistryNotFound(RegistryError):
    """The repository, tag, digest, registered model or version does not exist."""


class NotAnAitraceArtifact(RegistryError):
    """The reference exists but holds no aitrace bundle (and nothing that refers to one)."""


class RegistryIntegrityError(RegistryError):
    """Bytes from the registry do not match the digest they were fetched by."""

    exit_code = EXIT_CHECK_FAILED


class PublishRefused(AitraceError):
    """The bundle or the released files failed a check, so nothing was published or promoted."""

    exit_code = EXIT_CHECK_FAILED
