"""A bad day: full disks (ENOSPC), ``ulimit -f`` (EFBIG) and killed writers.

Every failure is exit 2 with one clear line naming the file, nothing half-written is left, and
``aitrace run`` still runs the command and exits with its code. The disks are real: a tmpfs
filled to the last byte in a private mount namespace, and ``RLIMIT_FSIZE`` in a child process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.bundle import Keys
from tests.helpers.disk import SRC, full_disk_available, run_limited, run_on_full_disk

needs_full_disk = pytest.mark.skipif(not full_disk_available(),
                                     reason="cannot mount a tmpfs here (unshare -rm)")


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert lines[0].startswith("aitrace: error: "), stderr
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("  hint: ")), stderr
    return lines[0]


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob(".tmp-*"))


def test_atomic_write_past_the_file_size_limit(tmp_path: Path) -> None:
    code = ("from pathlib import Path\nfrom aitrace.store.files import atomic_write\n"
            "from aitrace.errors import WriteError\n"
            "try:\n    atomic_write(Path('out.bin'), b'x' * 100_000)\n"
            "except WriteError as e:\n    print(e.message)\n    print(e.hint)\n")
    done = run_limited(["-c", code], limit=4096, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    message, hint = done.stdout.strip().splitlines()
    assert message == "cannot write out.bin: File too large"
    assert "ulimit -f" in hint and "nothing was changed" in hint
    assert list(tmp_path.iterdir()) == []


def test_bundle_past_the_file_size_limit(project: Path, keys: Keys, tmp_path: Path) -> None:
    out = tmp_path / "m.aitrace"
    done = run_limited(["bundle", "--key", str(keys.key), "-o", str(out)], limit=8192,
                       cwd=project)
    assert done.returncode == 2
    assert _one_error_line(done.stderr) == f"aitrace: error: cannot write {out}: File too large"
    assert list(tmp_path.iterdir()) == []


def test_run_keeps_the_exit_code_when_the_step_cannot_be_written(project: Path,
                                                                tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    steps = sorted((project / ".aitrace" / "steps").iterdir())
    done = run_limited(["run", "--stage", "problem", "--no-sbom", "--", "sh", "-c",
                        f"echo ran > {ran}; exit 7"], limit=64, cwd=project)
    assert ran.read_text() == "ran\n"  # the command ran (4 bytes are within its limit too)
    assert done.returncode == 7
    line = _one_error_line(done.stderr)
    assert "the command ran (exit 7) but its step was not recorded: cannot write" in line
    assert "File too large" in line
    assert sorted((project / ".aitrace" / "steps").iterdir()) == steps
    assert _temps(project / ".aitrace") == []


@needs_full_disk
def test_run_on_a_full_disk_runs_the_command_and_keeps_its_code(project: Path,
                                                               tmp_path: Path) -> None:
    outside = tmp_path / "ran.txt"
    done = run_on_full_disk(f"$AITRACE run --stage problem --no-sbom -- sh -c "
                            f"'echo ran > {outside}; exit 7'; echo rc=$?; "
                            "ls .aitrace/steps | wc -l; find . -name '.tmp-*' | wc -l",
                            project=project, mount=tmp_path / "disk")
    out = done.stdout.split()
    assert outside.read_text() == "ran\n"
    assert out[0] == "rc=7", (done.stdout, done.stderr)
    assert out[1] == str(len(list((project / ".aitrace" / "steps").iterdir())))
    assert out[2] == "0"
    line = _one_error_line(done.stderr)
    assert "the command ran (exit 7) but its step was not recorded" in line
    assert "No space left on device" in line


@needs_full_disk
@pytest.mark.parametrize("command", [
    "$AITRACE init .",
    "$AITRACE bundle --key {key} -o out.aitrace",
    "$AITRACE sbom -o bom.json",
    "$AITRACE keygen -o newkey",
])
def test_commands_on_a_full_disk_exit_2_with_one_line(project: Path, keys: Keys,
                                                      tmp_path: Path, command: str) -> None:
    script = command.format(key=keys.key) + "; echo rc=$?; find . -name '.tmp-*' | wc -l"
    use_project = None if command.startswith("$AITRACE init") else project
    done = run_on_full_disk(script, project=use_project, mount=tmp_path / "disk")
    rc, temps = done.stdout.split()[-2:]
    assert rc == "rc=2", (done.stdout, done.stderr)
    assert temps == "0"
    assert "No space left on device" in _one_error_line(done.stderr)


# ----------------------------------------------------------------------------- killed writers


def _killed_writer(target: Path) -> None:
    """A process SIGKILLed in the middle of writing ``target`` (its temporary file stays)."""
    code = ("import os, signal, sys\nfrom pathlib import Path\n"
            "from aitrace.store.files import atomic_writer\n"
            "with atomic_writer(Path(sys.argv[1])) as fh:\n"
            "    fh.write(b'half a bundle' * 1000)\n    fh.flush()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", code, str(target)],
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert done.returncode == -signal.SIGKILL


def test_killed_bundles_temporary_files_are_reclaimed(project: Path, keys: Keys,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from aitrace.cli import main

    out_dir = tmp_path / "dist"
    out_dir.mkdir()
    out = out_dir / "model.aitrace"
    for _ in range(3):
        _killed_writer(out)
    _killed_writer(out_dir / "other.aitrace")  # another output's: not ours to remove
    assert len(_temps(out_dir)) == 4
    # a writer still at work on the same output holds its lock: never removed
    live = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom pathlib import Path\n"
         "from aitrace.store.files import atomic_writer\n"
         "with atomic_writer(Path(sys.argv[1])) as fh:\n"
         "    fh.write(b'in progress')\n    fh.flush()\n    print('ready', flush=True)\n"
         "    sys.stdin.readline()\n", str(out)],
        env={**os.environ, "PYTHONPATH": SRC}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert live.stdout is not None and live.stdout.readline() == "ready\n"
        monkeypatch.chdir(project)
        assert main(["bundle", "--key", str(keys.key), "-o", str(out)]) == 0
        left = _temps(out_dir)
        assert len(left) == 2 and any(n.startswith(".tmp-other.aitrace.") for n in left)
    finally:
        assert live.stdin is not None
        live.stdin.write("\n")
        live.stdin.close()
        live.wait(timeout=60)
    assert out.exists()
