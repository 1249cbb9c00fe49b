"""How tests/assets/bundles/v2 was made (kept for the record; the asset itself never changes).

    PYTHONPATH=src python tests/assets/bundles/v2/make_asset.py /tmp/v2-asset

runs the sklearn example through its ten stages, then re-deploys the model as a folder
(``dist/wine-classifier-model/``: an MLflow-style model directory, so the bundle has an in-toto
``dirHash`` subject), has the reviewer approve that deployment, bundles, and copies the bundle,
both public keys and the released files and folder here. A later aitrace must
keep verifying these bytes exactly as they are (tests/verify/test_format_v2.py,
tests/test_reproducible.py): never regenerate them to make a test pass.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
AITRACE = [sys.executable, "-m", "aitrace"]
FOLDER = "dist/wine-classifier-model"
REDEPLOY = (
    "python deploy.py"
    f" && mkdir -p {FOLDER}/data"
    f" && cp models/model-small.pkl {FOLDER}/data/model.pkl"
    " && printf 'flavors:\\n  python_function:\\n    loader_module: mlflow.sklearn\\n'"
    f" > {FOLDER}/MLmodel"
    f" && printf 'scikit-learn\\n' > {FOLDER}/requirements.txt"
)


def main() -> None:
    work = Path(sys.argv[1]).resolve()
    subprocess.run([sys.executable, str(ROOT / "examples" / "sklearn-pipeline" / "run_pipeline.py"),
                    "--workdir", str(work)], check=True)

    def sh(*argv: str) -> None:
        subprocess.run(list(argv), cwd=work, check=True)

    sh(*AITRACE, "run", "--stage", "deployment", "-i", "models/model-small.pkl",
       "-o", "dist/wine-classifier.pkl", "-o", "dist/release.json", "-o", FOLDER,
       "--", "sh", "-c", REDEPLOY.replace("python", sys.executable))
    sh(*AITRACE, "approve", "--stage", "deployment", "--key", "keys/reviewer.key",
       "--name", "Quality reviewer", "--comment", "model folder reviewed")
    sh(*AITRACE, "bundle", "--key", "keys/release.key", "-o", "wine-classifier-2.0.0.aitrace")
    sh(*AITRACE, "verify", "wine-classifier-2.0.0.aitrace", "--key", "keys/release.pub",
       "--key", "keys/reviewer.pub", "--artifact", "dist/wine-classifier.pkl")
    shutil.copyfile(work / "wine-classifier-2.0.0.aitrace", HERE / "wine-classifier-2.0.0.aitrace")
    for name in ("release.pub", "reviewer.pub"):
        shutil.copyfile(work / "keys" / name, HERE / name)
    for name in ("wine-classifier.pkl", "release.json"):
        shutil.copyfile(work / "dist" / name, HERE / name)
    if (HERE / "wine-classifier-model").exists():
        shutil.rmtree(HERE / "wine-classifier-model")
    shutil.copytree(work / FOLDER, HERE / "wine-classifier-model")


if __name__ == "__main__":
    main()
