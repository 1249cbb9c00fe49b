"""Stage 9 (optimization): a smaller model with before-and-after metrics."""

import json
import pickle
from pathlib import Path

import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score

import aitrace

INPUTS = ["models/model.pkl", "data/labeled.csv", "data/test.csv", "config/model.json"]
with aitrace.stage("optimization", inputs=INPUTS) as step:
    cfg = json.loads(Path("config/model.json").read_text())
    with open("models/model.pkl", "rb") as fh:
        big = pickle.load(fh)
    test = pd.read_csv("data/test.csv")
    df = pd.read_csv("data/labeled.csv")
    train = df.drop(index=df.index[df.apply(tuple, axis=1).isin(test.apply(tuple, axis=1))])
    Xt, yt = test.drop(columns=["label"]), test["label"]
    before = accuracy_score(yt, big.predict(Xt))
    if isinstance(big, RandomForestClassifier):
        small = RandomForestClassifier(n_estimators=25, max_depth=4, random_state=0)
    else:
        small = clone(big)
    small.fit(train.drop(columns=["label"]), train["label"])
    after = accuracy_score(yt, small.predict(Xt))
    with open("models/model-small.pkl", "wb") as fh:
        pickle.dump(small, fh)
    step.output("models/model-small.pkl", role="model")
    step.log_metrics({"accuracy_before": before, "accuracy_after": after,
                      "size_before": Path("models/model.pkl").stat().st_size,
                      "size_after": Path("models/model-small.pkl").stat().st_size})
    try:
        import aitrace_sklearn

        aitrace_sklearn.record(step, small, path="models/model-small.pkl")
    except ImportError:
        pass
