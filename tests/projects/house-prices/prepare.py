"""Clean the raw house data and split it; the splits go into this run's artifact folder."""

import argparse
import os
from urllib.parse import urlparse

import mlflow
import pandas as pd
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--data", default="data/houses.csv")
parser.add_argument("--test-size", type=float, default=0.25)
args = parser.parse_args()

with mlflow.start_run(run_name="prepare") as run:
    out = urlparse(mlflow.get_artifact_uri()).path
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    with open(os.path.join(out, "log.log"), "w") as log:  # opened at once, as the project does
        raw = pd.read_csv(args.data)
        clean = raw.dropna().drop_duplicates()
        log.write(f"rows {len(raw)} -> {len(clean)}\n")
        train, test = train_test_split(clean, test_size=args.test_size, random_state=7)
        train.to_csv(os.path.join(out, "data", "train.csv"), index=False)
        test.to_csv(os.path.join(out, "data", "test.csv"), index=False)
    mlflow.log_params({"test_size": args.test_size, "source": args.data})
    mlflow.log_metrics({"rows_raw": len(raw), "rows_clean": len(clean)})
    print(run.info.run_id)
