"""The reviewer (a script standing in for a person): fills the review sheet's verdicts.

Usage: python fill_review.py review/sheet.csv
For each sampled output it finds the production prompt it answers (the sheet shows prompts
redacted, so "[REDACTED:…]" matches anything) and checks the answer against the support team's
answer key: correct when it states the expected fact, incorrect when not, unsure when the
prompt cannot be told. Every answer seen here is appropriate in tone. One note mentions a
customer's e-mail address, as notes do; aitrace redacts it.
"""

import csv
import re
import sys

import ngram

KEY = ngram.read_jsonl("data/production-prompts.jsonl")


def expected(shown: str) -> str | None:
    parts = re.split(r"\[REDACTED:[a-z_]+\]", shown)
    pattern = re.compile(".*?".join(re.escape(p) for p in parts), re.DOTALL)
    found = [r["keyword"] for r in KEY if pattern.fullmatch(r["prompt"])]
    return found[0] if len(found) == 1 else None


path = sys.argv[1]
with open(path, newline="", encoding="utf-8") as fh:
    rows = list(csv.DictReader(fh))
for i, row in enumerate(rows):
    keyword = expected(row["prompt"])
    if keyword is None:
        row["verdict"], row["notes"] = "unsure", "could not tell which question this was"
    else:
        row["verdict"] = "correct" if keyword in row["response"].lower() else "incorrect"
    row["appropriate"] = "yes"
    if i == 0:
        row["notes"] = "customer bob.lin@example.net asked the same last week"
with open(path, "w", newline="", encoding="utf-8") as fh:
    writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
print(f"reviewed {len(rows)} outputs: " + ", ".join(
    f"{v} {sum(r['verdict'] == v for r in rows)}" for v in ("correct", "incorrect", "unsure")))
