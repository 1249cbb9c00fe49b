"""The kettle assistant's development stages, recorded with the Python hooks.

Usage: python pipeline.py problem | data | model

* ``problem`` — the problem statement and its success criterion (``success.answer_accuracy``);
* ``data`` — collection (the FAQ that ships with the example, privacy pack), cleaning (a GX
  suite) and labeling (the labels pack on the intents);
* ``model`` — design, training (fine-tuning the base model chosen at selection), evaluation
  against held-out questions, optimization (pruning, before-and-after metrics).

One process per group keeps the example quick: Great Expectations and MLflow load once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ngram

import aitrace

FAQ_SOURCE = "https://support.example.org/kettle/faq"


def write_jsonl(path: str, rows: list[dict[str, object]]) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")


def problem() -> None:
    with aitrace.stage("problem", outputs=["docs/problem.md"]) as step:
        Path("docs").mkdir(exist_ok=True)
        Path("docs/problem.md").write_text(
            "# Kettle support assistant\n\nAnswer customers' questions about the kettle from "
            "the support FAQ, in a chat, without a person for the first line.\n\n"
            "Success: at least 80% of held-out questions answered with the right fact.\n",
            encoding="utf-8")
        step.log_params({"success.answer_accuracy": ">= 0.8", "owner": "support-lead",
                         "adoption_route": "fine_tune_open_model"})


def data() -> None:
    with aitrace.stage("collection", outputs=["data/raw.jsonl"]) as step:
        step.input("data/faq.jsonl", origin=FAQ_SOURCE + " (written by the support team)",
                   license="CC0-1.0", role="dataset")
        step.input("data/eval.jsonl", origin="held-out questions written by the support team",
                   license="CC0-1.0", role="dataset")
        rows = ngram.read_jsonl("data/faq.jsonl")
        write_jsonl("data/raw.jsonl", [{"id": i, **r} for i, r in enumerate(rows, 1)])
        step.check("data/raw.jsonl", pack="privacy")
        step.log_metrics({"rows": len(rows)})
    with aitrace.stage("cleaning", inputs=["data/raw.jsonl"],
                       outputs=["data/clean.jsonl"]) as step:
        seen: set[str] = set()
        clean = []
        for r in ngram.read_jsonl("data/raw.jsonl"):
            q = " ".join(str(r["question"]).split())
            if q.lower() in seen:
                continue
            seen.add(q.lower())
            a = " ".join(str(r["answer"]).split())
            clean.append({**r, "question": q, "answer": a, "answer_words": len(ngram.words(a))})
        write_jsonl("data/clean.jsonl", clean)
        step.check("data/clean.jsonl", suite="suites/clean.json")
        step.log_metrics({"rows": len(clean)})
    with aitrace.stage("labeling", inputs=["data/clean.jsonl"],
                       outputs=["data/labeled.jsonl"]) as step:
        labeled = [{**r, "label": r.pop("intent")} for r in ngram.read_jsonl("data/clean.jsonl")]
        write_jsonl("data/labeled.jsonl", labeled)
        step.check("data/labeled.jsonl", pack="labels", label_column="label",
                   min_class_share=0.05)


def model() -> None:
    chosen = json.loads(Path("docs/base-model.json").read_text(encoding="utf-8"))
    with aitrace.stage("design", inputs=["docs/base-model.json"],
                       outputs=["config/model.json"]) as step:
        config = {"order": 3, "base": chosen["path"], "base_weight": 0.2, "cache": ngram.CACHE,
                  "min_score": ngram.MIN_SCORE, "max_words": 40}
        Path("config").mkdir(exist_ok=True)
        Path("config/model.json").write_text(json.dumps(config, indent=1) + "\n")
        step.log_params(config)
    # aitrace.yaml turns the MLflow link off for speed; training, evaluation and
    # monitoring keep it.
    with aitrace.stage("training", inputs=["data/labeled.jsonl", "config/model.json",
                                           chosen["path"]], mlflow=True) as step:
        step.output("models/assistant.json", role="model")  # JSON, so say it is a model
        base = ngram.load(chosen["path"])
        faq = ngram.read_jsonl("data/labeled.jsonl")
        trained = ngram.train(faq, base, config["base_weight"])
        ngram.save(trained, "models/assistant.json")
        step.log_params({"base_model": base["name"], "base_weight": config["base_weight"]})
        step.log_metrics({"contexts": len(trained["counts"]), "faq_entries": len(faq)})
    with aitrace.stage("evaluation", inputs=["models/assistant.json", "data/eval.jsonl"],
                       outputs=["reports/evaluation.json"], mlflow=True) as step:
        accuracy = evaluate("models/assistant.json")
        write_report("reports/evaluation.json", {"answer_accuracy": accuracy})
        step.log_metrics({"answer_accuracy": accuracy})
    with aitrace.stage("optimization", inputs=["models/assistant.json",
                                               "data/eval.jsonl"]) as step:
        step.output("models/assistant-small.json", role="model")
        before = evaluate("models/assistant.json")
        ngram.save(ngram.prune(ngram.load("models/assistant.json"), 1.2),
                   "models/assistant-small.json")
        after = evaluate("models/assistant-small.json")
        step.log_params({"prune_min_count": 1.2})
        step.log_metrics({"answer_accuracy_before": before, "answer_accuracy_after": after,
                          "bytes_before": Path("models/assistant.json").stat().st_size,
                          "bytes_after": Path("models/assistant-small.json").stat().st_size})


def evaluate(model_path: str) -> float:
    m = ngram.load(model_path)
    rows = ngram.read_jsonl("data/eval.jsonl")
    return sum(r["keyword"] in ngram.answer(m, r["question"]).lower() for r in rows) / len(rows)


def write_report(path: str, data: dict[str, object]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    {"problem": problem, "data": data, "model": model}[sys.argv[1]]()
