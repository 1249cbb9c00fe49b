"""The deployed assistant: answers customers' prompts, each call an MLflow trace.

Usage: python app.py TRACKING_URI
This is the application in production, not a recorded step: it logs to its own MLflow store
(the tracking URI given, experiment ``assistant-prod``), as any traced LLM app does. Some
prompts carry personal data and a credential, as real prompts do; aitrace must never keep them.
"""

import sys
import time
from pathlib import Path

import mlflow
import ngram
from mlflow.entities import SpanType

EXPERIMENT = "assistant-prod"


def main(uri: str) -> None:
    mlflow.set_tracking_uri(uri)
    exp = mlflow.get_experiment_by_name(EXPERIMENT)
    exp_id = exp.experiment_id if exp else mlflow.create_experiment(
        EXPERIMENT, artifact_location=str(Path("app/traces").resolve()))
    mlflow.set_experiment(experiment_id=exp_id)
    model = ngram.load("dist/assistant.json")
    for row in ngram.read_jsonl("data/production-prompts.jsonl"):
        prompt = row["prompt"]
        with mlflow.start_span(name="kettle-chat", span_type=SpanType.CHAT_MODEL) as span:
            span.set_inputs({"messages": [{"role": "user", "content": prompt}]})
            span.set_attribute("mlflow.llm.model", "kettle-assistant-1.0")
            started = time.perf_counter()
            reply = ngram.answer(model, prompt)
            span.set_attribute("aitrace.example.compute_ms",
                               round((time.perf_counter() - started) * 1000, 3))
            n_in, n_out = len(ngram.words(prompt)), len(ngram.words(reply))
            span.set_attribute("mlflow.chat.tokenUsage", {
                "input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out})
            span.set_outputs({"choices": [{"message": {"role": "assistant",
                                                       "content": reply}}]})
    mlflow.flush_trace_async_logging()
    print(f"answered {len(ngram.read_jsonl('data/production-prompts.jsonl'))} prompts; traces "
          f"in {uri} (experiment {EXPERIMENT})")


if __name__ == "__main__":
    main(sys.argv[1])
