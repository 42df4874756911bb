"""``make serve``'s command on the embedded defaults: a relative ``./data`` still speaks French."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests
from servers import fabserver_command, free_port

pytestmark = pytest.mark.slow


def test_serve_with_the_default_relative_data_dir_serves_french_pages(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABSERVER_")}
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [*fabserver_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,  # the default data directory is ./data, relative to here
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        page = None
        deadline = time.monotonic() + 60
        while page is None:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "server did not start"
            try:
                page = requests.get(url, timeout=5)
            except requests.ConnectionError:
                time.sleep(0.2)
        assert (tmp_path / "data").is_dir()
        assert page.status_code == 200
        # Message ids are English: a catalogue not found shows them on a French page.
        assert "Nouvelle demande" in page.text and "New job" not in page.text
        english = requests.get(url, params={"lang": "en"}, timeout=5).text
        assert "New job" in english and "Nouvelle demande" not in english
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
