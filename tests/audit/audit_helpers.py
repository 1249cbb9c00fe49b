"""Constants and types shared by the audit tests (the fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

INJECTION = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'

# A GX Core 1.x validation result (the shape `res.to_json_dict()` returns, SUMMARY format).
GX_RESULT = {
    "success": False,
    "suite_name": "raw-privacy",
    "statistics": {"evaluated_expectations": 3, "successful_expectations": 2,
                   "unsuccessful_expectations": 1, "success_percent": 66.7},
    "meta": {"great_expectations_version": "1.24.1"},
    "suite_parameters": {},
    "id": None,
    "results": [
        {"success": True,
         "expectation_config": {"type": "expect_column_values_to_not_be_null",
                                "kwargs": {"column": "alcohol", "batch_id": "p-df"}, "meta": {}},
         "result": {"element_count": 178, "unexpected_count": 0, "unexpected_percent": 0.0,
                    "partial_unexpected_list": []},
         "meta": {}, "exception_info": {"raised_exception": False}},
        {"success": False,
         "expectation_config": {"type": "expect_column_values_to_not_match_regex",
                                "kwargs": {"column": "note", "regex": "@"}, "meta": {}},
         "result": {"element_count": 178, "unexpected_count": 2,
                    "unexpected_percent": 1.12,
                    "partial_unexpected_list": ["ROW-SECRET-jane@example.org"]},
         "meta": {}, "exception_info": {"raised_exception": False}},
        {"success": True,
         "expectation_config": {"type": "expect_table_row_count_to_be_between",
                                "kwargs": {"min_value": 100, "max_value": 1000}, "meta": {}},
         "result": {"observed_value": 178}, "meta": {}, "exception_info": {}},
    ],
}


@dataclass
class Pipeline:
    root: Path
    release_key: Path
    release_pub: Path
    reviewer_key: Path
    reviewer_pub: Path
    bundle_a: Path
    bundle_b: Path
