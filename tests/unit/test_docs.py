"""Doc checks for what a new user met: the docs must not tell them to do what cannot work."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    REPO / "README.md",
    REPO / "CONTRIBUTING.md",
    REPO / "SECURITY.md",
    *REPO.glob("docs/**/*.md"),
]


def test_extras_are_installed_from_the_clone_since_micro_mcp_is_not_on_pypi() -> None:
    for doc in DOCS:
        assert "micro-mcp[" not in doc.read_text(encoding="utf-8"), doc


def test_scripts_test_installs_debian_packages_without_recommends_and_says_so_first() -> None:
    script = (REPO / "scripts" / "test").read_text(encoding="utf-8")
    installs = re.findall(r"apt-get install[^\n]*", script)
    assert installs and all("--no-install-recommends" in line for line in installs)
    assert script.index("installing Debian packages") < script.index("apt-get update")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "--no-install-recommends" in readme and "MICRO_MCP_NO_APT=1" in readme


def test_docs_and_examples_write_the_camel_case_audit_key() -> None:
    for path in [*DOCS, *REPO.glob("examples/*.json")]:
        assert "include_arguments" not in path.read_text(encoding="utf-8"), path
