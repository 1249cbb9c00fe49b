"""Great Expectations plumbing: an ephemeral context, one validation, the registry.

Everything here imports GX, so this module is imported only by the functions that validate.
Validation always runs through GX itself, in an *ephemeral* Data Context (nothing written to
disk); the user's own current GX context, if any, is restored afterwards so a Checkpoint they
run next still resolves through their project.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

with warnings.catch_warnings():
    # pyspark, when installed, warns about pandas 3 while GX probes for it.
    warnings.simplefilter("ignore")
    import great_expectations as gx
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.exceptions.exceptions import (
        DataContextRequiredError,
        ExpectationNotFoundError,
    )
    from great_expectations.expectations.registry import get_expectation_impl

from aitrace.evidence.gx import expectations as _gx_expectations  # noqa: F401 - registers aitrace's expectations with GX

# The result format aitrace asks GX for: BASIC (counts, percentages, observed values) with no
# sample of unexpected values — those are raw data and are never stored (and never computed).
RESULT_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 0}

GX_VERSION: str = str(gx.__version__)


def expectation_class(type_name: str) -> Any | None:
    """The GX class registered for an expectation type, or None when GX does not know it."""
    try:
        return get_expectation_impl(type_name)
    except ExpectationNotFoundError:
        return None


def build_suite(doc: Mapping[str, Any]) -> Any:
    """A ``gx.ExpectationSuite`` from suite JSON (the caller has checked every expectation)."""
    with _quiet():
        return gx.ExpectationSuite(**dict(doc))


def build_expectation(item: Mapping[str, Any]) -> Any:
    """One expectation object from its JSON (raises GX's / pydantic's errors as they come)."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    config = ExpectationConfiguration(type=item["type"], kwargs=dict(item.get("kwargs") or {}),
                                      meta=item.get("meta"))
    return config.to_domain_obj()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep GX's log lines and warnings off the user's terminal while it works."""
    logger = logging.getLogger("great_expectations")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def ephemeral_context() -> Iterator[Any]:
    """A fresh in-memory GX Data Context; the previous current context is put back after."""
    try:
        previous = project_manager.get_current_project()
    except DataContextRequiredError:
        previous = None
    with _quiet():
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        try:
            yield ctx
        finally:
            project_manager.set_project(previous)


def _run(ctx: Any, batch_def: Any, suite: Any, frame: Any) -> dict[str, Any]:
    # A ValidationDefinition builds the batch once; ``batch.validate()`` builds it twice (and
    # GX fingerprints a pandas batch each time), so this is GX's cheaper documented path.
    suite = ctx.suites.add(suite)
    vd = ctx.validation_definitions.add(
        gx.ValidationDefinition(name="aitrace", data=batch_def, suite=suite))
    result = vd.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT)
    doc: dict[str, Any] = result.to_json_dict()
    return doc


def validate_pandas(suite: Any, frame: Any) -> dict[str, Any]:
    """Validate a pandas DataFrame; return GX's own result JSON (``to_json_dict()``)."""
    with ephemeral_context() as ctx:
        batch_def = (ctx.data_sources.add_pandas(name="aitrace")
                     .add_dataframe_asset(name="data")
                     .add_batch_definition_whole_dataframe("all"))
        return _run(ctx, batch_def, suite, frame)


def validate_spark(suite: Any, frame: Any) -> dict[str, Any]:
    """Validate a Spark DataFrame through GX's Spark datasource."""
    with ephemeral_context() as ctx:
        batch_def = (ctx.data_sources.add_spark(name="aitrace")
                     .add_dataframe_asset(name="data")
                     .add_batch_definition_whole_dataframe("all"))
        return _run(ctx, batch_def, suite, frame)
