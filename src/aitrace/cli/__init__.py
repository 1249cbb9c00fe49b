"""The ``aitrace`` command line: parse, call the library, format — nothing else.

Sub-commands live in small modules (``aitrace.cli.<module>``) and are imported only when used,
so ``aitrace --help`` never pays for mlflow, Great Expectations or cryptography.
"""

from __future__ import annotations

import errno
import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from aitrace._version import __version__
from aitrace.errors import EXIT_USAGE, AitraceError

# command name -> (module under aitrace.cli, attribute, one-line help shown by --help).
# The help is each command's own ``short_help`` (tests/cli/test_command_table.py checks it).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("record", "init_cmd", "Create aitrace.yaml and the .aitrace/ workspace."),
    "run": ("record", "run_cmd", "Run a command as a recorded stage step."),
    "log": ("record", "log_cmd", "List the record's steps."),
    "show": ("record", "show_cmd", "Show one step in full."),
    "status": ("record", "status_cmd", "The ten stages and whether the hash chain holds."),
    "digest": ("record", "digest_cmd", "Print digests exactly as the record computes them."),
    "migrate": ("migrate", "migrate_cmd", "Carry a format v1 record over into format v2."),
    "doctor": ("record", "doctor_cmd", "Explain damage to the workspace and repair it safely."),
    "sync": ("shared", "sync_cmd", "Append spooled steps to the shared record store."),
    "check": ("quality", "check_cmd", "Validate data with Great Expectations as evidence."),
    "suite": ("quality", "suite_group", "Scaffold Great Expectations suites from data."),
    "sbom": ("sbom", "sbom_cmd", "Write a CycloneDX 1.6 ML-BOM."),
    "keygen": ("sign", "keygen_cmd", "Create a signing key pair."),
    "bundle": ("sign", "bundle_cmd", "Assemble and sign the record as a .aitrace archive."),
    "verify": ("sign", "verify_cmd", "Verify a .aitrace archive: signatures, digests, policy."),
    "unpack": ("sign", "unpack_cmd", "Safely extract a .aitrace archive."),
    "push": ("publish", "push_cmd", "Push a bundle to an OCI registry as an artifact."),
    "pull": ("publish", "pull_cmd", "Get a bundle back from an OCI registry or a model version."),
    "publish": ("publish", "publish_cmd",
                "Register the released model as an MLflow model version."),
    "inspect": ("audit", "inspect_cmd", "Summarise a verified bundle in the terminal."),
    "report": ("audit", "report_cmd", "Write a self-contained HTML report of a bundle."),
    "diff": ("audit", "diff_cmd", "Compare two bundles."),
    "assess": ("governance", "assess_group", "Record a risk register or self-check table."),
    "approve": ("governance", "approve_cmd", "Sign off a stage as a reviewer."),
    "monitor": ("monitor", "monitor_group",
                "Record monitoring after deployment: traces, review, feedback."),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module = importlib.import_module(f"{__name__}.{spec[0]}")
        cmd: click.Command = getattr(module, spec[1])
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text comes from the table above so --help imports no sub-command module.
        rows = [(name, spec[2]) for name, spec in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="aitrace")
def cli() -> None:
    """Aitrace — AI production records.

    Record the ten stages of a model's life (problem → deployment) and its monitoring after
    deployment as immutable, hash-chained steps with evidence (Great Expectations, CycloneDX,
    MLflow), bundle them into a signed archive, and verify it offline.

    Exit codes: 0 ok · 1 a check failed · 2 usage or bad input · `aitrace run`: the command's.
    """


def _safe_diagnostics(exc: AitraceError) -> str:
    """The error's message and hint, each neutralised: they may quote a hostile value."""
    from aitrace.report.terminal import terminal_safe

    text = terminal_safe(exc.message)
    return f"{text}\n  hint: {terminal_safe(exc.hint)}" if exc.hint else text


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the CLI and turn every ``AitraceError`` into a message and exit code.

    Without ``argv`` (the console script, ``python -m aitrace``) the process ends right after,
    so the interpreter is spared its final sweep for garbage cycles (see ``_ending``).
    """
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    finally:
        if argv is None:
            _ending()


def _ending() -> None:
    """Let the process exit without one last cycle search over every object it ever made.

    With Great Expectations or MLflow loaded, interpreter shutdown spends ~0.8 s of CPU
    traversing their millions of long-lived objects for cycles, after the command is done.
    Recent garbage is collected now; everything else is frozen (``gc.freeze``), which shutdown's
    collections skip. ``atexit`` handlers, thread joins, stream flushing and module teardown run
    as usual; aitrace's own files are already written, flushed and synced.
    """
    import gc

    gc.collect(1)
    gc.freeze()


def _run(args: list[str]) -> int:
    from aitrace.hooks.ownenv import set_own_default

    set_own_default("MLFLOW_DISABLE_TELEMETRY", "true")
    set_own_default("DO_NOT_TRACK", "true")
    try:
        rv: Any = cli.main(args=args, prog_name="aitrace", standalone_mode=False)
    except AitraceError as exc:
        click.echo(f"aitrace: error: {_safe_diagnostics(exc)}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aitrace: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE if exc.exit_code == 1 else exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("aitrace: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A full disk or a size limit met where no writer turned it into an error of ours.
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"aitrace: error: {exc.strerror}{where}\n  hint: free some space (or raise "
                   "`ulimit -f`) and run the command again", err=True)
        return EXIT_USAGE
    return int(rv) if isinstance(rv, int) else 0
