"""Stage 10 (deployment): export the released model file; run under `aitrace run`."""

import json
import shutil
from pathlib import Path

Path("dist").mkdir(exist_ok=True)
shutil.copyfile("models/model-small.pkl", "dist/wine-classifier.pkl")
Path("dist/release.json").write_text(json.dumps(
    {"name": "wine-classifier", "version": "1.0.0", "target": "batch scoring in the quality lab"},
    indent=2) + "\n")
print("deployment: dist/wine-classifier.pkl")
