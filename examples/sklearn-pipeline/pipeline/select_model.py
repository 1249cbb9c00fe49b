"""Stage 5 (selection): compare candidate model families by cross-validation."""

import json
from pathlib import Path

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

df = pd.read_csv("data/labeled.csv")
X, y = df.drop(columns=["label"]), df["label"]
candidates = {
    "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
    "random_forest": RandomForestClassifier(n_estimators=50, random_state=0),
}
scores = {name: float(cross_val_score(m, X, y, cv=5).mean()) for name, m in candidates.items()}
chosen = max(scores, key=lambda k: scores[k])
Path("docs").mkdir(exist_ok=True)
Path("docs/selection.json").write_text(json.dumps({
    "candidates": scores, "chosen": chosen,
    "base_model": None, "reason": "trained from scratch; no pre-trained base model",
}, indent=2) + "\n")
print(f"selection: {scores} -> {chosen}")
