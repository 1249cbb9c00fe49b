"""Stage 5 (selection): choose the base model and declare it with its origin and licence.

Usage (under ``aitrace run --stage selection``): python select_model.py base/NAME.json
The base model files ship with the example (nothing is downloaded); the origin says where such
a model would come from. The choice is written to docs/base-model.json for the design stage.
"""

import json
import sys
from pathlib import Path

import aitrace

path = sys.argv[1]
base = json.loads(Path(path).read_text(encoding="utf-8"))
step = aitrace.current_step()
if step is not None:
    step.input(path, origin=f"https://models.example.org/{base['name']}", license=base["license"],
               role="base-model")
    step.log_params({"base_model": base["name"], "base_license": base["license"]})
Path("docs").mkdir(exist_ok=True)
Path("docs/base-model.json").write_text(json.dumps(
    {"path": path, "name": base["name"], "version": base["version"], "license": base["license"],
     "candidates": ["base/community-chat-ngram.json", "base/open-chat-ngram.json"],
     "note": base["note"]}, indent=1) + "\n", encoding="utf-8")
print(f"selected {base['name']} ({base['license']})")
