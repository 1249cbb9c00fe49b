"""Evaluate the trained model on the held-out split (run standalone or by `mlflow run`)."""

import argparse
import os
from urllib.parse import urlparse

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.metrics import mean_absolute_error, r2_score

parser = argparse.ArgumentParser()
parser.add_argument("--model-run", required=True)
parser.add_argument("--data-run", required=True)
args = parser.parse_args()

model_dir = urlparse(mlflow.get_run(args.model_run).info.artifact_uri).path
data_dir = urlparse(mlflow.get_run(args.data_run).info.artifact_uri).path
model = mlflow.sklearn.load_model(os.path.join(model_dir, "model"))
test = pd.read_csv(os.path.join(data_dir, "data", "test.csv"))
X, y = test.drop(columns=["price"]), test["price"]

with mlflow.start_run(run_name="evaluate") as run:
    predicted = model.predict(X)
    mlflow.log_metrics({"test_mae": mean_absolute_error(y, predicted),
                        "test_r2": r2_score(y, predicted)})
    mlflow.log_params({"model_run": args.model_run, "data_run": args.data_run})
    print(run.info.run_id)
