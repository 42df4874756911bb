"""Fixtures for the end-to-end tests: a real server, a browser."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Lab,
    add_staff,
    choose_lab,
    start_server,
)

from fabserver.testing import require


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    return choose_lab(tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, lab):
    tmp = tmp_path_factory.mktemp("server")
    data = tmp / "data"
    add_staff(data, lab.env)
    srv = start_server(data, lab.env, tmp / "server.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    require(shutil.which(CHROMIUM), f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
