"""The GX expectations aitrace adds: values that must not hold a checksum-valid identifier.

A regex alone cannot tell a payment-card number from any 16 digits, nor a Taiwan ID number from
any letter and nine digits, so these are real GX ``ColumnMapExpectation`` classes over column
map metrics whose condition is "regex candidate *and* valid checksum". GX registers both the
metrics and the expectations when this module is imported (GX's registry is filled by class
definition), which :mod:`aitrace.evidence.gx._context` does before any suite is built — so a
suite JSON naming these types resolves instead of being silently dropped. Importing this module
imports GX.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine
from great_expectations.execution_engine.sparkdf_execution_engine import SparkDFExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider.column_condition_partial import (
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.column_map_metric_provider import (  # noqa: E501
    ColumnMapMetricProvider,
)

from aitrace.evidence.gx.packs import (
    CARD_CANDIDATE_RE,
    TW_ID_CANDIDATE_RE,
    contains_card_number,
    contains_tw_id,
)

_LIBRARY_METADATA: dict[str, Any] = {
    "maturity": "production",
    "tags": ["aitrace", "privacy", "column map expectation"],
    "contributors": ["aitrace"],
    "requirements": [],
}


def _pandas_condition(column: Any, candidate: str, check: Any) -> Any:
    """True where a value holds no valid identifier; the checksum runs on regex hits only."""
    text = column.astype(str)
    hits = text.str.contains(candidate, regex=True)
    ok = ~hits
    if hits.any():
        ok[hits] = ~text[hits].map(check).astype(bool)
    return ok


def _spark_condition(column: Any, check: Any) -> Any:
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
    from pyspark.sql.types import BooleanType

    udf = F.udf(lambda v: v is None or not check(str(v)), BooleanType())
    return udf(column)


class ColumnValuesNoPaymentCard(ColumnMapMetricProvider):
    """Condition metric: the value holds no Luhn-valid 13–19 digit number."""

    condition_metric_name = "column_values.aitrace_no_payment_card"

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[misc]
    def _pandas(cls, column: Any, **kwargs: Any) -> Any:  # noqa: N805
        return _pandas_condition(column, CARD_CANDIDATE_RE, contains_card_number)

    @column_condition_partial(engine=SparkDFExecutionEngine)  # type: ignore[misc]
    def _spark(cls, column: Any, **kwargs: Any) -> Any:  # noqa: N805
        return _spark_condition(column, contains_card_number)


class ColumnValuesNoTaiwanId(ColumnMapMetricProvider):
    """Condition metric: the value holds no Taiwan ID number with a valid check digit."""

    condition_metric_name = "column_values.aitrace_no_taiwan_national_id"

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[misc]
    def _pandas(cls, column: Any, **kwargs: Any) -> Any:  # noqa: N805
        return _pandas_condition(column, TW_ID_CANDIDATE_RE, contains_tw_id)

    @column_condition_partial(engine=SparkDFExecutionEngine)  # type: ignore[misc]
    def _spark(cls, column: Any, **kwargs: Any) -> Any:  # noqa: N805
        return _spark_condition(column, contains_tw_id)


class ExpectColumnValuesToNotContainPaymentCardNumber(ColumnMapExpectation):  # type: ignore[misc]
    """Expect column values to hold no payment-card number (13–19 digits, valid Luhn sum)."""

    map_metric = "column_values.aitrace_no_payment_card"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, Any]] = _LIBRARY_METADATA


class ExpectColumnValuesToNotContainTaiwanNationalId(ColumnMapExpectation):  # type: ignore[misc]
    """Expect column values to hold no Taiwan national ID / resident certificate number."""

    map_metric = "column_values.aitrace_no_taiwan_national_id"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, Any]] = _LIBRARY_METADATA


EXPECTATION_TYPES = (
    "expect_column_values_to_not_contain_payment_card_number",
    "expect_column_values_to_not_contain_taiwan_national_id",
)
