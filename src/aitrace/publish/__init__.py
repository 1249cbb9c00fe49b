"""Where models travel, their records travel: OCI registries and the MLflow Model Registry.

A signed bundle is only useful where the model is deployed from. This package puts the bundle
next to the model and gets it back, so deployment can gate on ``aitrace verify``:

* ``refs`` parses the two remote references (``oci://HOST[:PORT]/REPO:TAG|@sha256:…`` and
  ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``);
* ``credentials`` finds registry credentials (environment, Docker's ``config.json`` and its
  credential helpers) without ever showing them;
* ``oci`` is a small client of the OCI Distribution HTTP API; ``referrers`` attaches and finds
  artifacts that refer to another (the OCI 1.1 referrers API, or the referrers-tag fallback for
  registries without it); ``artifact`` stores a bundle as an OCI artifact and pulls it back
  byte-identical, its digest checked;
* ``mlflow_registry`` registers the released model files as a new MLflow model version with the
  bundle attached, and checks every file of a registered version against the bundle's released
  subjects (an overwritten or added file is named);
* ``remote`` verifies a bundle straight from either registry: pull to a temp file, the same
  checks as a local bundle, plus the registry's own (the digest pulled is the digest verified).

Nothing here trusts a registry: every byte fetched is checked against a digest, and the verdict
comes from ``aitrace.verify`` on the bytes that were checked.
"""
