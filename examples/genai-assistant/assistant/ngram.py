"""A tiny generative assistant: a word trigram language model with a retrieval prompt.

Small enough to train in a blink from the FAQ that ships with the example, and a real generative
model all the same: to answer, it finds the FAQ entry closest to the prompt (character
trigrams, so "limescale" finds "descale") and writes the answer word by word from a mixture of
two trigram models — a *cache* model of that entry's answer (weight ``CACHE``) and the
fine-tuned model of every answer and the base model — backing off to bigrams, never repeating
a trigram. Deterministic: the most probable next word wins (ties by word).

A *base model* is the same kind of count table trained on general text; fine-tuning adds the
FAQ's counts to it. Models are JSON files (counts, never pickles).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

_WORD = re.compile(r"[a-z0-9']+|[.,;?!]")
STOP = {"the", "a", "an", "is", "it", "i", "my", "do", "does", "to", "of", "can", "how",
        "what", "and", "or", "in", "on", "for", "be", "me", "you", "your", "with", "when",
        "where", "why", "which", "there"}
END = "."
CACHE = 0.8
MIN_SCORE = 0.1


def words(text: str) -> list[str]:
    """Lower-case words and punctuation."""
    return _WORD.findall(text.lower())


def _grams(text: str) -> Counter[str]:
    out: Counter[str] = Counter()
    for w in words(text):
        if w in STOP or not w[0].isalnum():
            continue
        padded = f" {w} "
        out.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return out


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def count_table(texts: list[str]) -> dict[str, dict[str, int]]:
    """Trigram and bigram counts: context ("w1 w2" or "w1") -> next word -> count."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        toks = ["<s>", "<s>", *words(text)]
        for i in range(2, len(toks)):
            table[f"{toks[i - 2]} {toks[i - 1]}"][toks[i]] += 1
            table[toks[i - 1]][toks[i]] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(table.items())}


def train(faq: list[dict[str, str]], base: dict[str, Any], base_weight: float) -> dict[str, Any]:
    """Fine-tune ``base`` on the FAQ: its counts (scaled) plus the FAQ answers' counts."""
    counts: dict[str, dict[str, float]] = {}
    for ctx, nxt in base["counts"].items():
        counts[ctx] = {w: c * base_weight for w, c in nxt.items()}
    for ctx, nxt in count_table([e["answer"] for e in faq]).items():
        row = counts.setdefault(ctx, {})
        for w, c in nxt.items():
            row[w] = row.get(w, 0.0) + c
    return {"format": "ngram-assistant/v1", "order": 3, "base": base["name"],
            "counts": {k: dict(sorted(v.items())) for k, v in sorted(counts.items())},
            "index": [{"question": e["question"], "answer": words(e["answer"])} for e in faq]}


def prune(model: dict[str, Any], min_count: float) -> dict[str, Any]:
    """Drop continuations seen less than ``min_count`` times (a smaller, faster model)."""
    counts = {ctx: {w: c for w, c in nxt.items() if c >= min_count}
              for ctx, nxt in model["counts"].items()}
    return {**model, "counts": {k: v for k, v in counts.items() if v}, "pruned": min_count}


def _dist(table: dict[str, dict[str, float]], w1: str, w2: str) -> dict[str, float]:
    for ctx in (f"{w1} {w2}", w2):
        nxt = table.get(ctx)
        if nxt:
            total = sum(nxt.values())
            return {w: c / total for w, c in nxt.items()}
    return {}


def _best(model: dict[str, Any], prompt: str) -> dict[str, Any] | None:
    q = _grams(prompt)
    scored = [(_cosine(q, _grams(e["question"])), -i) for i, e in enumerate(model["index"])]
    score, best = max(scored) if scored else (0.0, 1)
    return model["index"][-best] if score >= MIN_SCORE else None


def closest(model: dict[str, Any], prompt: str) -> str | None:
    """The FAQ question the prompt is answered from (None: out of scope)."""
    entry = _best(model, prompt)
    return entry["question"] if entry else None


def answer(model: dict[str, Any], prompt: str, max_words: int = 40) -> str:
    """Generate an answer to ``prompt``."""
    entry = _best(model, prompt)
    if entry is None:
        return "Sorry, I can only answer questions about the kettle."
    cache = count_table([" ".join(entry["answer"])])
    out = ["<s>", "<s>"]
    while len(out) < max_words + 2:
        mix: dict[str, float] = {}
        for table, weight in ((cache, CACHE), (model["counts"], 1 - CACHE)):
            for w, p in _dist(table, out[-2], out[-1]).items():
                mix[w] = mix.get(w, 0.0) + weight * p
        # No trigram twice (as generators' no_repeat_ngram_size=3): no loops.
        seen = {tuple(out[i:i + 3]) for i in range(len(out) - 2)}
        mix = {w: p for w, p in mix.items() if (out[-2], out[-1], w) not in seen}
        if not mix:
            break
        w = min(mix.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        out.append(w)
        if w == END:
            break
    text = re.sub(r" ([.,;?!])", r"\1", " ".join(out[2:]))
    return text[:1].upper() + text[1:]


def load(path: str | Path) -> dict[str, Any]:
    """A model or base model from its JSON file."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def save(model: dict[str, Any], path: str | Path) -> None:
    """Write a model as JSON (sorted, so the same model gives the same bytes)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(model, sort_keys=True, indent=1) + "\n", encoding="utf-8")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
