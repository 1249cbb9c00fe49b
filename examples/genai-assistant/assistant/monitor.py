"""Monitoring (under ``aitrace run --stage monitoring``): drift and metrics on production use.

Usage: python monitor.py TRACKING_URI
Reads the application's traces (read-only, with MLflow's client), turns each call into numbers
only — prompt and answer length, latency, the FAQ intent answered — in
monitoring/production.csv, checks them with a GX suite of distribution expectations
(suites/drift.json), and measures the deployed model again against the problem stage's success
criterion (answer_accuracy on the held-out questions).
"""

import csv
import sys
from pathlib import Path

import ngram
from mlflow import MlflowClient

import aitrace

uri = sys.argv[1]
client = MlflowClient(tracking_uri=uri)
exp = client.get_experiment_by_name("assistant-prod")
traces = client.search_traces(locations=[exp.experiment_id], max_results=500)
model = ngram.load("dist/assistant.json")
intents = {r["question"]: r["label"] for r in ngram.read_jsonl("data/labeled.jsonl")}
rows = []
for t in traces:
    root = next(s for s in t.data.spans if s.parent_id is None)
    prompt = root.inputs["messages"][-1]["content"]
    reply = root.outputs["choices"][0]["message"]["content"]
    match = ngram.closest(model, prompt)
    rows.append({"prompt_words": len(ngram.words(prompt)), "answer_words": len(ngram.words(reply)),
                 "latency_ms": t.info.execution_duration or 0,
                 "intent": intents.get(match, "none") if match else "none"})
Path("monitoring").mkdir(exist_ok=True)
with open("monitoring/production.csv", "w", newline="", encoding="utf-8") as fh:
    writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
eval_rows = ngram.read_jsonl("data/eval.jsonl")
accuracy = sum(r["keyword"] in ngram.answer(model, r["question"]).lower()
               for r in eval_rows) / len(eval_rows)
answered = sum(1 for r in rows if r["intent"] != "none") / len(rows)
step = aitrace.current_step()
if step is not None:
    step.log_metrics({"answer_accuracy": accuracy, "answered_rate": answered,
                      "production_calls": len(rows)})
    step.check("monitoring/production.csv", suite="suites/drift.json")
print(f"{len(rows)} production calls, answer_accuracy {accuracy:.2f}, answered {answered:.0%}")
