"""Write the activation JSON Schema to schemas/, or with --check fail when it is out of date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nexus.activation.schema import SCHEMA_PATH, activation_schema_text

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    arguments = parser.parse_args()
    path = ROOT / SCHEMA_PATH
    text = activation_schema_text()
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if arguments.check:
        if current != text:
            print(f"{SCHEMA_PATH} is out of date: run python scripts/activation_schema.py")
            return 1
        print(f"{SCHEMA_PATH} is up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
