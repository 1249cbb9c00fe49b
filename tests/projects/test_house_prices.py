"""A real user's project, wrapped unchanged: its own venv, its own MLflow 2.x, its own store.

``tests/projects/house-prices`` is an MLflow project nobody here would write for aitrace: an
older MLflow 2.x, pandas and scikit-learn in a virtualenv of its own (``make project-venvs``),
scripts that call ``mlflow.start_run()`` on MLflow's default store, write their outputs into the
run's artifact folder and print the run id, and ``mlflow run . --env-manager local``. aitrace runs
from its own environment (the developer's venv, as pipx would install it).

The same pipeline runs twice — bare, and under ``aitrace run`` — and the record must describe
the user's world: every step succeeds, the user's ``mlruns/`` store is the same bytes as
without aitrace (apart from the ids and times MLflow itself makes up), each step's environment
is the project's Python and MLflow 2.x, the runs are linked, ``test_mae`` is in the evaluation
step and checked by the success criteria, the model folder is a product and a file inside it
passes chain of custody.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass

import pytest

from aitrace.record.models import Step
from aitrace.store.workspace import Workspace
from tests.projects.conftest import Project, make_project

pytestmark = pytest.mark.slow

MLFLOW_VERSION = "2.4.2"
SOURCE = "data/houses.csv,origin=https://example.org/open-data/houses.csv,license=CC-BY-4.0"


@dataclass(frozen=True)
class Pipeline:
    """The wrapped project, its record, and the bare run it is compared with."""

    wrapped: Project
    bare: Project
    steps: dict[str, Step]
    ids: dict[str, str]


def _run_pipeline(p: Project, wrap: bool) -> dict[str, str]:
    """prepare → train → evaluate (by ``mlflow run``); each wrapped in ``aitrace run`` or not."""
    def step(stage: str, *argv: str, inputs: tuple[str, ...] = ()) -> str:
        pre = ["aitrace", "run", "--stage", stage,
               *(a for i in inputs for a in ("--input", i)), "--"] if wrap else []
        return p.last_line(*pre, *argv)

    ids = {"prepare": step("cleaning", "python", "prepare.py", inputs=("data/houses.csv",))}
    data = f"mlruns/0/{ids['prepare']}/artifacts/data"
    ids["train"] = step("training", "python", "train.py", "--data-run", ids["prepare"],
                        inputs=(f"{data}/train.csv",))
    model = f"mlruns/0/{ids['train']}/artifacts/model"
    ids["evaluate"] = step("evaluation", "mlflow", "run", ".", "-e", "evaluate",
                           "--env-manager", "local", "-P", f"model_run={ids['train']}",
                           "-P", f"data_run={ids['prepare']}",
                           inputs=(f"{model}/model.pkl", f"{data}/test.csv"))
    return ids


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    base = tmp_path_factory.mktemp("house-prices")
    bare = make_project("house-prices", base / "bare", base / "bin")
    bare_ids = _run_pipeline(bare, wrap=False)
    p = make_project("house-prices", base / "wrapped", base / "bin")
    p.sh("aitrace", "init", "--name", "house-prices")
    p.sh("aitrace", "run", "--stage", "problem", "--param", "success.test_mae=<= 40000",
         "-m", "predict sale prices within 40k on average", "--", "true")
    p.sh("aitrace", "run", "--stage", "collection", "--source", SOURCE, "--", "true")
    ids = _run_pipeline(p, wrap=True)
    steps = {s.stage: s for s in Workspace(p.root).steps()}
    del bare_ids
    return Pipeline(wrapped=p, bare=bare, steps=steps, ids=ids)


def test_every_step_succeeds(pipeline: Pipeline) -> None:
    assert {stage: s.status for stage, s in pipeline.steps.items()} == {
        "problem": "succeeded", "collection": "succeeded", "cleaning": "succeeded",
        "training": "succeeded", "evaluation": "succeeded"}
    assert not (pipeline.wrapped.root / "mlflow.db").exists()  # no MLflow 3 default appeared


def _normalised(project: Project) -> dict[str, bytes]:
    """The user's store with what MLflow makes up per run (ids, names, times, paths) replaced."""
    store = project.root / "mlruns"
    runs = []
    for meta in store.glob("*/*/meta.yaml"):
        text = meta.read_text()
        start = re.search(r"^start_time: (\d+)", text, re.MULTILINE)
        name = re.search(r"^run_name: (.+)$", text, re.MULTILINE)
        runs.append((int(start.group(1)) if start else 0, meta.parent.name,
                     name.group(1).strip() if name else ""))
    swaps = [(str(project.root), "<ROOT>")]
    for i, (_t, run_id, name) in enumerate(sorted(runs)):
        swaps.append((run_id, f"<RUN{i}>"))
        if name:
            swaps.append((name, f"<NAME{i}>"))
    volatile = re.compile(r"^(start_time|end_time|creation_time|last_update_time|"
                          r"utc_time_created|model_uuid): .*$"
                          r'|"(utc_time_created|model_uuid)": "[^"]*"', re.MULTILINE)
    out: dict[str, bytes] = {}
    for path in sorted(store.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(store))
        data = path.read_bytes()
        for old, new in swaps:
            rel = rel.replace(old, new)
        if rel.endswith(".pkl"):
            out[rel] = data
            continue
        text = data.decode("utf-8")
        for old, new in swaps:
            text = text.replace(old, new)
        text = volatile.sub("", text)
        if "/metrics/" in f"/{rel}":
            text = "\n".join(line.split(" ", 1)[1] for line in text.splitlines() if line)
        out[rel] = text.encode()
    return out


def test_the_users_store_is_as_without_aitrace(pipeline: Pipeline) -> None:
    bare, wrapped = _normalised(pipeline.bare), _normalised(pipeline.wrapped)
    assert sorted(wrapped) == sorted(bare), "aitrace added or removed files in mlruns/"
    differing = [k for k in bare if bare[k] != wrapped[k]]
    assert differing == [], f"aitrace changed the user's store: {differing[:5]}"
    assert not any("aitrace" in v.decode("utf-8", "replace") for k, v in wrapped.items()
                   if "/tags/" in f"/{k}")


def test_each_step_records_the_projects_python_and_mlflow(pipeline: Pipeline) -> None:
    p = pipeline.wrapped
    ws = Workspace(p.root)
    version = p.sh(str(p.python), "-c", "import platform; print(platform.python_version())"
                   ).stdout.strip()
    for stage in ("cleaning", "training", "evaluation"):
        env = pipeline.steps[stage].environment
        assert env is not None and env.distributions_sha256
        assert env.python == version
        assert env.executable == (p.venv / "bin" / "python").as_uri()  # outside: a file: URI
        doc = json.loads(ws.read_object(env.distributions_sha256))
        dists = {d["name"].lower(): d["version"] for d in doc["distributions"]}
        assert dists["mlflow"] == MLFLOW_VERSION
        assert dists["scikit-learn"] == "1.2.2" and dists["pandas"] == "2.0.3"
        assert "aitrace" not in dists
    assert pipeline.steps["cleaning"].environment.detected_by == "argv"  # type: ignore[union-attr]
    evaluation = pipeline.steps["evaluation"].environment
    assert evaluation is not None and evaluation.detected_by == "mlflow-run"
    # `true` is not a Python program: with the project's venv activated, the `python` it would
    # start is recorded, and the record says that is what it is.
    problem = pipeline.steps["problem"].environment
    assert problem is not None and problem.detected_by == "path"
    note = json.loads(ws.read_object(problem.distributions_sha256 or ""))["note"]
    assert "true is not a Python program" in note and "activated" in note


def test_the_users_runs_are_linked_with_their_values(pipeline: Pipeline) -> None:
    for stage, script in (("cleaning", "prepare"), ("training", "train"),
                          ("evaluation", "evaluate")):
        (user,) = [m for m in pipeline.steps[stage].mlflow if m.role == "user"]
        assert user.run_id == pipeline.ids[script]
        assert user.tracking_uri == "mlruns" and user.linked_by == "time-window"
        assert user.data_sha256
    evaluation = pipeline.steps["evaluation"]
    assert 0 < evaluation.metrics["mlflow.test_mae"] < 1e6
    assert evaluation.params["mlflow.model_run"] == pipeline.ids["train"]
    assert pipeline.steps["training"].metrics["mlflow.train_mae"] > 0


def test_success_criteria_read_the_runs_metrics(pipeline: Pipeline) -> None:
    from aitrace.verify.rules import PolicyContext, SuccessCriteria

    (check,) = SuccessCriteria().evaluate(PolicyContext(steps=list(pipeline.steps.values())))
    assert check.status == "passed", check.message
    assert "test_mae <= 40000" in check.message


def test_model_folder_is_a_product_and_custody_holds(pipeline: Pipeline) -> None:
    from aitrace.verify.custody import custody_gaps

    ws = Workspace(pipeline.wrapped.root)
    training = pipeline.steps["training"]
    model = f"mlruns/0/{pipeline.ids['train']}/artifacts/model"
    (folder,) = [a for a in training.products if a.path == model]
    assert folder.type == "directory" and folder.role == "model"
    assert any(a.role == "mlflow-artifacts" for a in training.products)
    evaluation = pipeline.steps["evaluation"]
    assert f"{model}/model.pkl" in {a.path for a in evaluation.materials}
    assert custody_gaps(ws.steps(), ws.read_object) == []


def test_the_ml_bom_names_the_projects_libraries_and_data_licence(pipeline: Pipeline) -> None:
    ws = Workspace(pipeline.wrapped.root)
    training = pipeline.steps["training"]
    (ref,) = [e for e in training.evidence if e.kind == "cyclonedx-sbom"]
    bom = json.loads(ws.read_object(ref.sha256))
    libs = {c["name"].lower(): c.get("version") for c in bom["components"]
            if c["type"] == "library"}
    assert libs["mlflow"] == MLFLOW_VERSION and libs["scikit-learn"] == "1.2.2"
    top = bom["metadata"]["component"]
    assert top["type"] == "machine-learning-model" and top["name"] == "model"
    data = {c["name"]: c for c in bom["components"] if c["type"] == "data"}
    # train.csv sits inside the cleaning step's folder; its licence comes from --source.
    (train,) = [c for name, c in data.items() if name.endswith("/data/train.csv")]
    assert train["licenses"] == [{"license": {"id": "CC-BY-4.0"}}]


def test_a_users_mlflow2_sqlite_store_is_read_not_migrated(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """MLFLOW_TRACKING_URI=sqlite:///mlflow.db with MLflow 2.x: aitrace reads it read-only."""
    base = tmp_path_factory.mktemp("house-prices-sqlite")
    p = make_project("house-prices", base / "project", base / "bin")
    env = {"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}
    p.sh("aitrace", "init", "--name", "house-prices-sqlite")
    done = p.sh("aitrace", "run", "--stage", "cleaning", "--", "python", "prepare.py", env=env)
    run_id = done.stdout.strip().splitlines()[-1]
    db = p.root / "mlflow.db"
    revision = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(
        "SELECT version_num FROM alembic_version").fetchone()[0]
    (step,) = Workspace(p.root).steps()
    assert step.status == "succeeded"
    (user,) = [m for m in step.mlflow if m.role == "user"]
    assert (user.run_id, user.tracking_uri) == (run_id, "sqlite:///mlflow.db")
    assert step.metrics["mlflow.rows_clean"] > 0
    # The project's MLflow still opens its store and starts new runs in it (MLflow 3's client
    # would have migrated the schema, after which MLflow 2.x refuses the file).
    p.sh("python", "-c", f"import mlflow; mlflow.get_run('{run_id}');"
         "mlflow.start_run(); mlflow.end_run()", env=env)
    head = p.last_line("python", "-c", "from mlflow.store.db.utils import "
                       "_get_latest_schema_revision as head; print(head())")
    again = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(
        "SELECT version_num FROM alembic_version").fetchone()[0]
    assert revision == again == head  # still the project's MLflow 2.x schema
