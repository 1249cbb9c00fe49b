"""``aitrace check`` and ``aitrace suite init``: Great Expectations evidence from the CLI.

``aitrace check DATA --stage STAGE (--suite FILE | --pack privacy|labels)...`` records one step
of STAGE with DATA as its input and one ``gx-validation`` evidence per suite or pack, all from
a single read of DATA. Everything that can be wrong with the input (unreadable or unsupported
data, malformed suite JSON, an unknown expectation type, a column the data lacks, bad options)
is found *before* the step starts: exit 2 and nothing is written to ``.aitrace/``.

A failed validation is a result, not a broken step: the step is recorded with status
``succeeded`` (the check ran), its evidence says ``success: false``, and the command exits 1 —
or 0 with ``--warn-only``, which changes only the exit code. ``--stage`` is required: a check
filed under the wrong stage would satisfy the wrong stage's evidence requirements.

``--json`` prints ``{"step": {"seq", "id", "stage"}, "success", "checks": [{"suite_name",
"pack", "success", "evidence_sha256", "bound", "summary"}]}``.

The work is :func:`aitrace.evidence.gx.run.check_data`; this module parses and formats.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from aitrace.cli._common import emit_json
from aitrace.cli.options import json_option, stage_option
from aitrace.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from aitrace.report.terminal import terminal_safe

if TYPE_CHECKING:
    from aitrace.evidence.gx.run import CheckOutcome


def _labels(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(v.strip() for v in text.split(",") if v.strip())


def _range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"--label-range {text!r} is not MIN,MAX",
                         hint="write e.g. --label-range 0,2000000") from None
    return low, high


@click.command("check", short_help="Validate data with Great Expectations as evidence.")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--suite", "suites", multiple=True, type=click.Path(path_type=Path),
              help="A GX Core 1.x ExpectationSuite JSON file (repeatable).")
@click.option("--pack", "packs", multiple=True, type=click.Choice(["privacy", "labels"]),
              help="A built-in suite: privacy (personal data) or labels (repeatable).")
@stage_option("The stage the check belongs to (collection, cleaning, labeling, ...).",
              required=True)
@click.option("--label-column", help="labels pack: the label column (default: inferred).")
@click.option("--labels", "labels", help="labels pack: the expected classes, comma-separated.")
@click.option("--min-class-share", type=float, default=0.05, show_default=True,
              help="labels pack: the smallest share of labels any class may have.")
@click.option("--task", type=click.Choice(["classification", "regression"]), default=None,
              help="labels pack: the kind of target (default: a numeric label with many "
                   "values is a regression target).")
@click.option("--label-range", metavar="MIN,MAX",
              help="labels pack, regression: the allowed range of the target.")
@click.option("--privacy-columns", help="privacy pack: columns to scan, comma-separated "
                                        "(default: every text column).")
@click.option("--redact", is_flag=True,
              help="Store counts only for every suite (the privacy pack always does).")
@click.option("--engine", type=click.Choice(["pandas", "spark"]), default="pandas",
              show_default=True, help="Validate with pandas, or Spark (needs aitrace[spark]).")
@click.option("--warn-only", is_flag=True,
              help="Exit 0 even when validation fails (the evidence still says it failed).")
@click.option("--description", "-m", help="What this step checks, in a sentence.")
@click.option("--mlflow/--no-mlflow", default=None, help="Link the step to an MLflow run.")
@json_option
def check_cmd(data: Path, suites: tuple[Path, ...], packs: tuple[str, ...], stage: str,
              label_column: str | None, labels: str | None, min_class_share: float,
              task: str | None, label_range: str | None, privacy_columns: str | None,
              redact: bool, engine: str, warn_only: bool,
              description: str | None, mlflow: bool | None, as_json: bool) -> int:
    """Validate DATA with Great Expectations and record the result as evidence.

    Exit codes: 0 all checks passed (or --warn-only) · 1 a check failed (recorded) ·
    2 bad input (nothing recorded).
    """
    from aitrace.evidence.gx.run import CheckOptions, check_data
    from aitrace.store.workspace import Workspace

    options = CheckOptions(label_column=label_column, labels=_labels(labels),
                           min_class_share=min_class_share,
                           privacy_columns=_labels(privacy_columns), redact=redact, task=task,
                           label_range=_range(label_range))
    run = check_data(Workspace.find(), data, stage=stage, suites=suites, packs=packs,
                     options=options, engine=engine, description=description, mlflow=mlflow)
    if as_json:
        emit_json(run.to_dict())
    else:
        for check in run.checks:
            _print_check(check)
        click.echo(f"aitrace: recorded step {run.step.seq} ({run.step.stage}) id {run.step.id}",
                   err=True)
    return EXIT_OK if run.success or warn_only else EXIT_CHECK_FAILED


def _print_check(check: CheckOutcome) -> None:
    """One check's outcome; every value (suite names, columns, labels) comes from user data."""
    t = terminal_safe
    s: Any = check.summary
    verdict = "PASSED" if check.success else "FAILED"
    if not s.get("evaluated"):
        verdict = "NOTHING CHECKED"  # 0 expectations evaluated is no pass
    label = t(s["suite_name"]) + (f" (pack {t(s['pack'])})" if s.get("pack") else "")
    click.echo(f"{verdict}  {label}: {s['successful']}/{s['evaluated']} expectations met, "
               f"{t(s.get('rows', '?'))} rows, data sha256:{t(str(s['data_sha256'])[:16])}")
    for f in s.get("failed_expectations", []):
        where = f.get("column") or ",".join(map(str, f.get("columns", []))) or "table"
        extra = ""
        if "unexpected_count" in f:
            extra = f" — {f['unexpected_count']} value(s)"
        if "observed_value" in f:
            extra += f" — observed {f['observed_value']!r}"
        if f.get("detector"):
            extra += f" [{f['detector']}]"
        click.echo(f"    ✗ {t(f['type'])} on {t(where)}{t(extra)}")
    for finding in s.get("findings", []):
        click.echo(f"    personal data: {finding['count']} value(s) with "
                   f"{t(finding['detector'])} in column {t(finding['column'])}")
    for cls, share in (s.get("classes") or {}).items():
        click.echo(f"    class {t(cls)}: {share['count']} ({share['share']:.1%})")
    if not s.get("evaluated"):
        why = (" (the data has no text columns to scan)" if s.get("pack") == "privacy"
               and not s.get("columns_scanned") else "")
        click.echo(f"    0 expectations were evaluated{why}: this result is recorded, but it is "
                   "not evidence that the data passed — policies do not count it")


@click.group("suite", short_help="Scaffold Great Expectations suites from data.")
def suite_group() -> None:
    """Scaffold Great Expectations suites from data."""


@suite_group.command("init")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path),
              help="Where to write the suite JSON.")
@click.option("--name", help="Suite name (default: the data file's stem).")
@click.option("--max-categories", type=int, default=20, show_default=True,
              help="Columns with at most this many distinct values get a value set.")
@click.option("--row-tolerance", type=float, default=0.5, show_default=True,
              help="Allowed row-count change, as a fraction of today's rows.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@json_option
def init_suite_cmd(data: Path, output: Path, name: str | None, max_categories: int,
                   row_tolerance: float, force: bool, as_json: bool) -> None:
    """Profile DATA into a starter GX ExpectationSuite JSON to edit and commit."""
    from aitrace.evidence.gx.profile import init_suite

    doc = init_suite(data, output, name=name, force=force, max_categories=max_categories,
                     row_tolerance=row_tolerance)
    if as_json:
        emit_json({"output": str(output), "name": doc["name"],
                   "expectations": len(doc["expectations"]), "suite": doc})
        return
    import shlex

    click.echo(f"wrote {output}: suite '{terminal_safe(doc['name'])}' with "
               f"{len(doc['expectations'])} "
               f"expectations over {len(doc['expectations'][0]['kwargs']['column_list'])} "
               f"columns — review it, then `aitrace check {shlex.quote(str(data))} --suite "
               f"{shlex.quote(str(output))} --stage STAGE`")
