"""Evidence: the real tools' native outputs, attached to steps and read back by views and checks.

Every kind of evidence implements one interface (``interface.EvidenceSource``): Great
Expectations results (``gx``), CycloneDX ML-BOMs (``sbom``), MLflow runs (``mlflow``), the
environment (``environment``), governance documents (``governance``) and model descriptions
(``model``); ``registry`` maps kinds to sources, plug-ins included. Each source is its own
module and the heavy libraries (GX, mlflow, cyclonedx) are imported only when used.
"""
