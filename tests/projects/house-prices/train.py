"""Fit a gradient-boosting regressor on the prepared training split; log the model."""

import argparse
import os
from urllib.parse import urlparse

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_absolute_error

parser = argparse.ArgumentParser()
parser.add_argument("--data-run", required=True)
parser.add_argument("--n-estimators", type=int, default=80)
args = parser.parse_args()

data = urlparse(mlflow.get_run(args.data_run).info.artifact_uri).path
train = pd.read_csv(os.path.join(data, "data", "train.csv"))
X, y = train.drop(columns=["price"]), train["price"]

with mlflow.start_run(run_name="train") as run:
    params = {"n_estimators": args.n_estimators, "max_depth": 3, "learning_rate": 0.1}
    model = GradientBoostingRegressor(random_state=0, **params).fit(X, y)
    mlflow.log_params({**params, "data_run": args.data_run})
    mlflow.log_metric("train_mae", mean_absolute_error(y, model.predict(X)))
    mlflow.sklearn.log_model(model, "model")
    print(run.info.run_id)
