"""The published JSON Schema of the activation spec, generated from the model."""

from __future__ import annotations

import json
from typing import Any

from nexus.activation.spec import ActivationSpec

SCHEMA_PATH = "schemas/business-activation-input.json"
SCHEMA_ID = "https://nexus.dev/schemas/business-activation-input.json"


def activation_schema() -> dict[str, Any]:
    schema = ActivationSpec.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def activation_schema_text() -> str:
    """Stable text: the file in git is compared byte for byte."""
    return json.dumps(activation_schema(), indent=2, ensure_ascii=False) + "\n"
