"""Stage 3 (cleaning): drop duplicates and rows with missing values; run under `aitrace run`."""

import pandas as pd

raw = pd.read_csv("data/raw.csv")
clean = raw.drop_duplicates().dropna().reset_index(drop=True)
clean.columns = [c.replace("/", "_") for c in clean.columns]
clean.to_csv("data/clean.csv", index=False)
print(f"cleaning: {len(raw)} -> {len(clean)} rows")
