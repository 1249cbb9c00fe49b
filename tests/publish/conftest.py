"""Fixtures of the registry tests: a recorded project and its bundle, real servers."""

from tests.helpers.bundle import bundle_path, keys, project
from tests.helpers.servers import mlflow_remote, registry

__all__ = ["bundle_path", "keys", "mlflow_remote", "project", "registry"]
