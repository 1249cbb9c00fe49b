"""CycloneDX evidence: ML-BOMs of models, data and libraries, built with cyclonedx-python-lib."""
