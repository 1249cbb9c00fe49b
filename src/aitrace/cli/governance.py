"""Governance commands: ``assess risk``, ``assess checklist`` and ``approve``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import click

from aitrace.cli._common import emit_json, short
from aitrace.cli.options import (
    Passphrases,
    json_option,
    passphrase_option,
    signing_key_option,
    stage_option,
)

_STAGE_HELP = "The stage the assessment belongs to (usually 'problem')."


def _interactive_ok() -> bool:
    return sys.stdin.isatty()


def _no_file_error(kind: str) -> Exception:
    from aitrace.errors import InputError

    return InputError(f"no --file given and stdin is not a terminal, so the {kind} cannot be "
                      "asked interactively",
                      hint=f"write a YAML file from `aitrace assess {kind} --template` and pass "
                           f"--file, or run on a terminal to be prompted")


def _ask_text(label: str) -> str:
    value: str = click.prompt(label, default="", show_default=False)
    return value.strip()


def _prompt_risk() -> dict[str, Any]:
    from aitrace.evidence.governance.models import (
        RATING_LABELS,
        RISK_IDS,
        RISK_LABELS,
        RISK_RATINGS,
    )

    click.echo("Risk register — the seven risk items of the guide (ch. 3). "
               "Press Enter to keep a default.\n")
    risks: dict[str, Any] = {}
    for rid in RISK_IDS:
        label = RISK_LABELS[rid]
        click.secho(f"{label.en} / {label.zh}", bold=True)
        click.echo(f"  {label.asks}")
        ratings = ", ".join(f"{r} ({RATING_LABELS[r].zh})" for r in RISK_RATINGS)
        rating = click.prompt(f"  rating [{ratings}]", default="not_assessed",
                              type=click.Choice(RISK_RATINGS), show_choices=False)
        entry: dict[str, Any] = {"rating": rating}
        if rating != "not_assessed":
            entry["description"] = _ask_text("  description")
            entry["mitigation"] = _ask_text("  mitigation")
            entry["owner"] = _ask_text("  owner")
            links = _ask_text("  evidence links (comma separated, e.g. gx-validation@collection)")
            entry["evidence"] = [x.strip() for x in links.split(",") if x.strip()]
        risks[rid] = entry
        click.echo()
    return {"assessed_by": _ask_text("Assessed by"), "risks": risks}


def _prompt_checklist() -> dict[str, Any]:
    from aitrace.evidence.governance.models import (
        READINESS_ASPECT_LABELS,
        READINESS_ASPECTS,
        READINESS_VALUES,
        ROUTE_IDS,
        ROUTE_LABELS,
        STRATEGY_IDS,
        STRATEGY_LABELS,
        STRATEGY_STATUSES,
    )

    click.echo("Self-check table (表1). Press Enter to keep a default.\n")
    strategy: dict[str, Any] = {}
    for sid in STRATEGY_IDS:
        label = STRATEGY_LABELS[sid]
        status = click.prompt(f"{label.en} / {label.zh} [{', '.join(STRATEGY_STATUSES)}]",
                              default="not_assessed", type=click.Choice(STRATEGY_STATUSES),
                              show_choices=False)
        strategy[sid] = {"status": status}
    adoption: dict[str, Any] = {}
    for rid in ROUTE_IDS:
        label = ROUTE_LABELS[rid]
        chosen = click.confirm(f"\nRoute '{label.en} / {label.zh}': does this project take it?",
                               default=False)
        entry: dict[str, Any] = {"chosen": chosen}
        if chosen:
            for aspect in READINESS_ASPECTS:
                a_label = READINESS_ASPECT_LABELS[aspect]
                entry[aspect] = click.prompt(
                    f"  {a_label.en} / {a_label.zh} [{', '.join(READINESS_VALUES)}]",
                    default="not_assessed", type=click.Choice(READINESS_VALUES),
                    show_choices=False)
        adoption[rid] = entry
    return {"assessed_by": _ask_text("\nAssessed by"), "strategy": strategy,
            "adoption": adoption}


def _record(kind: str, stage: str, file: Path | None, as_json: bool) -> None:
    from aitrace.evidence.governance.parse import (
        load_checklist,
        load_risk_register,
        parse_checklist,
        parse_risk_register,
    )
    from aitrace.evidence.governance.record import record_governance
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    document: Any
    if file is not None:
        document = load_risk_register(file) if kind == "risk" else load_checklist(file)
    else:
        if not _interactive_ok():
            raise _no_file_error(kind)
        answers = _prompt_risk() if kind == "risk" else _prompt_checklist()
        parse = parse_risk_register if kind == "risk" else parse_checklist
        document = parse(answers, source="your answers")
    from aitrace.evidence.governance.models import checklist_gaps, risk_gaps

    gaps = risk_gaps(document) if kind == "risk" else checklist_gaps(document)
    step, ref = record_governance(ws, stage, document, source_file=file)
    if gaps:
        what = "risk register" if kind == "risk" else "self-check table"
        shown = "; ".join(gaps[:8]) + (" …" if len(gaps) > 8 else "")
        click.echo(f"aitrace: warning: the {what} leaves {len(gaps)} item(s) open — {shown}. "
                   "An unassessed item is not an assessment: the default policy fails until "
                   + ("every risk is rated with a mitigation and an owner"
                      if kind == "risk" else "every strategy aspect is assessed")
                   + "; fill them in and record the file again", err=True)
    if as_json:
        emit_json({"step": {"seq": step.seq, "id": step.id, "stage": step.stage,
                            "digest": step.digest},
                   "evidence": {"kind": ref.kind, "sha256": ref.sha256, "size": ref.size,
                                "summary": dict(ref.summary)},
                   "gaps": gaps})
        return
    click.echo(f"Recorded {ref.kind} on step {step.seq} ({step.stage}), evidence "
               f"{short(ref.sha256)}")


@click.group("assess", short_help="Record a risk register or self-check table.")
def assess_group() -> None:
    """Record governance evidence: the risk register or the self-check table (表1)."""


@assess_group.command("risk")
@stage_option(_STAGE_HELP, default="problem")
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="A risk-register YAML file (see --template). Without it: prompts.")
@click.option("--template", is_flag=True, help="Print a commented YAML template and exit.")
@json_option
def risk_cmd(stage: str, file: Path | None, template: bool, as_json: bool) -> None:
    """Record the risk register: the guide's seven risk items, each rated, with evidence."""
    if template:
        from aitrace.evidence.governance.templates import risk_template

        click.echo(risk_template(), nl=False)
        return
    _record("risk", stage, file, as_json)


@assess_group.command("checklist")
@stage_option(_STAGE_HELP, default="problem")
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="A self-check YAML file (see --template). Without it: prompts.")
@click.option("--template", is_flag=True, help="Print a commented YAML template and exit.")
@json_option
def checklist_cmd(stage: str, file: Path | None, template: bool, as_json: bool) -> None:
    """Record the self-check table (表1): strategy aspects and adoption-route readiness."""
    if template:
        from aitrace.evidence.governance.templates import checklist_template

        click.echo(checklist_template(), nl=False)
        return
    _record("checklist", stage, file, as_json)


@click.command("approve", short_help="Sign off a stage as a reviewer.")
@stage_option("The stage under review.", required=True)
@signing_key_option("The reviewer's private key (from `aitrace keygen`).")
@click.option("--name", "--reviewer", "name", required=True,
              help="Who signs, e.g. 'Ana Lee <ana@example.com>'.")
@click.option("--comment", "-m", default="", help="The reviewer's remark.")
@click.option("--reject", is_flag=True, help="Record a rejection instead of an approval.")
@click.option("--step", "step_ref", help="A step number or id (default: the stage's latest "
                                         "succeeded step).")
@passphrase_option
@json_option
def approve_cmd(stage: str, key: Path, name: str, comment: str, reject: bool,
                step_ref: str | None, passphrases: Passphrases, as_json: bool) -> None:
    """Sign off a stage as a reviewer: a signed statement over the step's digest."""
    from aitrace.signing.approvals import create_approval
    from aitrace.signing.keys import load_signer
    from aitrace.store.workspace import Workspace

    ws = Workspace.find()
    signer = load_signer(key, passphrases.for_key(key))
    decision: Literal["approved", "rejected"] = "rejected" if reject else "approved"
    path = create_approval(ws, stage, signer, name, comment, decision=decision,
                           step_ref=step_ref)
    if as_json:
        emit_json({"path": str(path), "stage": stage, "decision": decision,
                   "reviewer": name, "keyid": signer.keyid})
        return
    click.echo(f"{decision.capitalize()} stage '{stage}' as {name} (key {short(signer.keyid, 16)})"
               f": {path}")
