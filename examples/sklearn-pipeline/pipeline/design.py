"""Stage 6 (design): write the model configuration the training stage reads.

Run under `aitrace run`, so `aitrace.current_step()` is the parent's step: the hyper-parameters
chosen here are recorded as the design step's params.
"""

import json
from pathlib import Path

import aitrace

selection = json.loads(Path("docs/selection.json").read_text())
config = {
    "family": selection["chosen"],
    "random_forest": {"n_estimators": 200, "max_depth": 6, "random_state": 0},
    "logistic_regression": {"C": 1.0, "max_iter": 500},
    "test_size": 0.25,
    "split_seed": 42,
}
Path("config").mkdir(exist_ok=True)
Path("config/model.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
step = aitrace.current_step()
if step is not None:
    step.log_params({"family": config["family"], "test_size": config["test_size"],
                     **{f"{config['family']}.{k}": v for k, v in config[config["family"]].items()}})
