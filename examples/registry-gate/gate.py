"""A CI gate: promote an MLflow model version to an alias only when its record verifies.

A release job publishes the model with its signed bundle (``aitrace publish``); this step runs
before deployment, in a job that holds only the release *public* key::

    python examples/registry-gate/gate.py models:/fraud/3 --alias champion \
        --key keys/release.pub --policy policy.yaml --tracking-uri "$MLFLOW_TRACKING_URI"

It runs ``aitrace verify models:/fraud/3`` — the bundle's signatures, hash chain, custody,
evidence and policy, and every file of the registered version against the released artifacts
(MLflow lets registered files be overwritten after registration) — and moves the alias only if
every check passed. Exit codes, for the CI system: 0 promoted, 1 refused (the alias is left
where it was and every failed check is printed), 2 usage or registry problems.

Deployments that load ``models:/fraud@champion`` then only ever see verified versions. The
same gate for an OCI registry is one line: ``aitrace verify oci://REGISTRY/REPO:TAG --key K``
before the deploy step (the record is found as a referrer of the model's artifact).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="models:/NAME/VERSION to promote")
    parser.add_argument("--alias", required=True, help="the alias deployments load, e.g. champion")
    parser.add_argument("--key", action="append", required=True, help="trusted public key (.pub)")
    parser.add_argument("--policy", help="policy file (default: aitrace's default policy)")
    parser.add_argument("--no-policy", action="store_true", help="integrity and signatures only")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    args = parser.parse_args(argv)
    name, _, version = args.model.removeprefix("models:/").rpartition("/")
    if not args.model.startswith("models:/") or not name or not version.isdigit():
        parser.error(f"{args.model}: give the version to promote, models:/NAME/VERSION")

    cmd = [sys.executable, "-m", "aitrace", "verify", args.model, "--json"]
    for key in args.key:
        cmd += ["--key", key]
    if args.policy:
        cmd += ["--policy", args.policy]
    if args.no_policy:
        cmd.append("--no-policy")
    if args.tracking_uri:
        cmd += ["--tracking-uri", args.tracking_uri]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):  # not a verdict: a usage or registry problem
        sys.stderr.write(proc.stderr)
        return 2
    report = json.loads(proc.stdout)
    if not report["ok"] or proc.returncode != 0:
        print(f"REFUSED: {args.model} stays off @{args.alias}: {report['verdict']}")
        for check in report["failed"]:
            print(f"  FAIL {check['id']}: {check['message']}")
        return 1

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=args.tracking_uri, registry_uri=args.tracking_uri)
    client.set_registered_model_alias(name, args.alias, version)
    print(f"PROMOTED: models:/{name}@{args.alias} -> version {version} ({report['verdict']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
