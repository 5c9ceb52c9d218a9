"""Validates the native job files of the repository against the job file's
JSON Schema (docs/hydrant.schema.json) with an independent validator, and
checks that the schema refuses what hydrant refuses.

Usage: python .ci/schema_check.py ROOT
"""

import glob
import json
import os
import sys
import tomllib

import jsonschema

root = sys.argv[1] if len(sys.argv) > 1 else "."
with open(os.path.join(root, "docs/hydrant.schema.json")) as f:
    schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)

jobs = sorted(
    glob.glob(os.path.join(root, "examples/**/*.toml"), recursive=True)
    + glob.glob(os.path.join(root, "fixtures/dialects/dataphin/*.toml"))
)
assert len(jobs) >= 20, f"too few example jobs found: {jobs}"
failed = []
for path in jobs:
    with open(path, "rb") as f:
        job = tomllib.load(f)
    errors = list(validator.iter_errors(job))
    if errors:
        failed.append(f"{path}: {errors[0].message} at {list(errors[0].path)}")

# The job files shown in the docs: each TOML block that is a whole job
# (it has [request] or [write]).
docs = [os.path.join(root, "README.md")] + sorted(
    glob.glob(os.path.join(root, "docs/**/*.md"), recursive=True)
)
shown = 0
for path in docs:
    text = open(path).read()
    for n, block in enumerate(text.split("```toml\n")[1:], 1):
        block = block.split("```")[0]
        try:
            job = tomllib.loads(block)
        except tomllib.TOMLDecodeError:
            continue
        if "request" not in job and "write" not in job:
            continue
        shown += 1
        errors = list(validator.iter_errors(job))
        if errors:
            failed.append(f"{path}, TOML block {n}: {errors[0].message} at {list(errors[0].path)}")
assert shown >= 5, f"too few whole jobs found in the docs: {shown}"

# What hydrant refuses, the schema refuses too.
refused = [
    {"request": {"url": "https://a.example/x", "verb": "GET"}},
    {"request": {"url": "https://a.example/x"}, "paginate": {"type": "pages"}},
    {"request": {"url": "https://a.example/x"}, "limits": {"concurrency": "four"}},
    {"request": {"url": "https://a.example/x"}, "columns": [{"path": "id"}]},
]
for job in refused:
    if validator.is_valid(job):
        failed.append(f"the schema accepts {job}")

if failed:
    print("\n".join(failed))
    sys.exit(1)
print(
    f"{len(jobs)} job files and {shown} jobs in the docs valid against the schema; "
    f"{len(refused)} bad ones refused"
)
