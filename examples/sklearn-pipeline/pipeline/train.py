"""Stage 7 (training): fit the model with the Python hooks and a user MLflow run."""

import json
import pickle
from pathlib import Path

import mlflow
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import aitrace

with aitrace.stage("training", inputs=["data/labeled.csv", "config/model.json"]) as step:
    cfg = json.loads(Path("config/model.json").read_text())
    df = pd.read_csv("data/labeled.csv")
    train, test = train_test_split(df, test_size=cfg["test_size"],
                                   random_state=cfg["split_seed"], stratify=df["label"])
    test.to_csv("data/test.csv", index=False)
    X, y = train.drop(columns=["label"]), train["label"]
    family = cfg["family"]
    params = cfg[family]
    if family == "random_forest":
        model = RandomForestClassifier(**params)
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression(**params))
    with mlflow.start_run(run_name="fit"):  # tagged with the step by aitrace's context provider
        model.fit(X, y)
        train_acc = float(model.score(X, y))
        mlflow.log_params({"family": family, **params})
        mlflow.log_metric("train_accuracy", train_acc)
    Path("models").mkdir(exist_ok=True)
    with open("models/model.pkl", "wb") as fh:
        pickle.dump(model, fh)
    step.output("models/model.pkl", role="model")
    step.output("data/test.csv", license="CC-BY-4.0", role="dataset")
    step.log_params({"family": family, **params})
    step.log_metrics({"train_accuracy": train_acc, "train_rows": len(train)})
    try:  # the scikit-learn plug-in records class, hyper-parameters and features
        import aitrace_sklearn

        aitrace_sklearn.record(step, model, path="models/model.pkl")
    except ImportError:
        pass
