"""The default run's fingerprint: sha256 of every JSON and markdown artifact of examples/idea.json (seed 7, a fixed
run id), wall-clock timestamps and the artifact digests that cover them blanked.

The same ``ALL`` line before and after a change means the change left what a run computes and writes alone
(``make fingerprint``; run it on the commit before to compare).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path

from smvm.intake.validation import parse_request
from smvm.pipeline.runner import run_pipeline

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
DIGEST = re.compile(r'"[0-9a-f]{64}"')


def main() -> None:
    body = json.loads(Path("examples/idea.json").read_text())
    body["run_id"] = "RUN-20261204-000000-fprint01"
    body.setdefault("configuration", {})["seed"] = 7
    with tempfile.TemporaryDirectory() as root:
        _, run_dir = run_pipeline(parse_request(body), Path(root))
        total = hashlib.sha256()
        for path in sorted(run_dir.path.rglob("*")):
            # meta.json holds stage durations; the PDF embeds its creation time in compressed streams.
            if path.suffix not in (".json", ".md") or path.name == "meta.json":
                continue
            # The summary's artifact digests cover files that hold timestamps: blanked with them.
            text = DIGEST.sub('"H"', STAMP.sub("T", path.read_text()))
            digest = hashlib.sha256(text.encode()).hexdigest()
            total.update(digest.encode())
            print(digest[:16], path.relative_to(run_dir.path))
        print("ALL", total.hexdigest())


if __name__ == "__main__":
    main()
