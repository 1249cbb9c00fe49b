"""Stage 8 (evaluation): the decorator form of the hooks."""

import pickle

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

import aitrace


@aitrace.stage("evaluation", inputs=["models/model.pkl", "data/test.csv"])
def evaluate() -> None:
    step = aitrace.current_step()
    assert step is not None
    with open("models/model.pkl", "rb") as fh:
        model = pickle.load(fh)  # our own artefact, produced by the training stage
    test = pd.read_csv("data/test.csv")
    X, y = test.drop(columns=["label"]), test["label"]
    pred = model.predict(X)
    metrics = {"accuracy": accuracy_score(y, pred), "f1_macro": f1_score(y, pred, average="macro")}
    for label in sorted(y.unique()):  # per-class slices for the fairness/robustness view
        mask = y == label
        metrics[f"accuracy/slice=label:{label}"] = accuracy_score(y[mask], pred[mask])
    step.log_metrics(metrics)
    print("evaluation:", {k: round(v, 3) for k, v in metrics.items()})


evaluate()
