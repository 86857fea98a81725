"""A local Hub server for the session, and how a fresh process talks to it."""

import os
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.hub.local_hub import LocalHub

USER = "alice"
WRITE_TOKEN = "hf_alice_write"
READ_TOKEN = "hf_alice_read"
BOB_TOKEN = "hf_bob_write"


@pytest.fixture(scope="session")
def hub():
    with LocalHub(
        tokens={WRITE_TOKEN: (USER, "write"), READ_TOKEN: (USER, "read"), BOB_TOKEN: ("bob", "write")}
    ) as server:
        yield server


def hub_env(hub: LocalHub, tmp_path: Path, token: str | None = WRITE_TOKEN) -> dict:
    """The environment of a fresh process that talks to `hub`, with a cache of its own."""
    env = {
        "HF_ENDPOINT": hub.endpoint,
        "HF_HUB_OFFLINE": "0",
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
    }
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def hfnets_cli(args: list[str], env: dict):
    """Run the `hfnets` command in a fresh process with `env` added and HF_TOKEN unset unless `env` sets it."""
    base = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "hfnets.cli", *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def in_process_hub(hub, monkeypatch, tmp_path):
    """Point this process's huggingface_hub at the local server (HfApi objects made from now on use it)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no_saved_token"))
    return hub
