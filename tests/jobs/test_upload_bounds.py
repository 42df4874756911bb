"""Uploads cannot starve the server: DXF block bombs are refused, parses are rationed."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

import ezdxf
import pytest
import requests
from web_helpers import csrf_token, upload_api, upload_form

from fabserver.designs import load_design
from fabserver.designs.dxf import MAX_EXPANDED
from fabserver.errors import DesignError
from fabserver.web import create_app


def _dxf(build) -> bytes:
    doc = ezdxf.new()
    doc.header["$INSUNITS"] = 4  # mm
    build(doc)
    out = io.StringIO()
    doc.write(out)
    return out.getvalue().encode()


def fan_out_dxf(levels: int = 12, fan: int = 3) -> bytes:
    """Blocks inserting each other ``levels`` deep: ``fan ** levels`` lines from a few KB."""

    def build(doc) -> None:
        doc.blocks.new("B0").add_line((0, 0), (1, 0))
        for level in range(1, levels + 1):
            block = doc.blocks.new(f"B{level}")
            for k in range(fan):
                block.add_blockref(f"B{level - 1}", (k * 2.0**level, 0))
        doc.modelspace().add_blockref(f"B{levels}", (0, 0))

    return _dxf(build)


def minsert_dxf(rows: int = 30000, columns: int = 30000) -> bytes:
    def build(doc) -> None:
        doc.blocks.new("B0").add_line((0, 0), (1, 0))
        doc.modelspace().add_blockref("B0", (0, 0)).grid(size=(rows, columns), spacing=(2, 2))

    return _dxf(build)


@pytest.mark.parametrize("data", [fan_out_dxf(), minsert_dxf()], ids=["fan-out", "minsert"])
def test_block_bombs_are_refused_with_a_makers_message(data):
    assert len(data) < 40_000
    with pytest.raises(DesignError) as err:
        load_design(data, "bomb.dxf")
    assert "répète ses blocs trop de fois" in err.value.message.fr
    assert "Explode the blocks" in err.value.message.en
    assert str(MAX_EXPANDED) in err.value.detail


def test_blocks_within_the_budget_are_read():
    drawing = load_design(fan_out_dxf(levels=6), "ok.dxf")  # 729 lines, chained or not
    assert drawing.kind == "drawing" and len(drawing.paths) >= 1
    assert drawing.facts.details["pieces"] == 3**6


@pytest.fixture
def live_app(make_runtime):
    """The app served by waitress on a free port, as ``serve`` does."""
    import waitress.server

    runtime = make_runtime()
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, runtime=runtime)
    server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", runtime
    if thread.is_alive():
        server.trigger.pull_trigger(server.close)  # closed from its own loop, which then ends
        thread.join(timeout=30)
    else:  # its loop has already ended (and closed its trigger): release the socket
        server.close()
    server.task_dispatcher.shutdown()


def _upload(url: str, data: bytes, name: str) -> requests.Response:
    return requests.post(
        url + "/api/v1/jobs",
        files={"file": (name, data)},
        data={
            "machine": "cutter",
            "material": "test-board",
            "name": "Max",
            "email": "max@example.org",
            "consent": "1",
        },
        timeout=300,
    )


def test_ten_parallel_bomb_uploads_leave_other_requests_answered(live_app):
    url, runtime = live_app
    bomb = fan_out_dxf()
    answers: list[int] = []
    others: list[int] = []

    def send() -> None:
        answers.append(_upload(url, bomb, "bomb.dxf").status_code)

    uploads = [threading.Thread(target=send) for _ in range(10)]
    for thread in uploads:
        thread.start()
    while any(t.is_alive() for t in uploads):
        others.append(requests.get(url + "/api/v1/machines", timeout=300).status_code)
    for thread in uploads:
        thread.join()
    assert sorted(set(answers)) <= [422, 503] and len(answers) == 10
    assert others and set(others) == {200}
    # the refused files are still stored (nothing a maker sent is lost)
    assert any(runtime.files.root.joinpath("objects").rglob("*"))


def test_busy_parses_get_503_with_retry_after(make_runtime, block_stl):
    runtime = make_runtime(max_parses=1, parse_wait_s=0.2)
    app = create_app({"TESTING": True}, runtime=runtime)
    client = app.test_client()
    token = csrf_token(client)
    assert runtime.parse_slots.acquire(timeout=1)  # another upload is being parsed
    try:
        page = upload_form(
            client, block_stl, "part.stl", csrf_token=token, name="Max", email="max@example.org"
        )
        api = upload_api(client, block_stl, name="Max", email=None)
    finally:
        runtime.parse_slots.release()
    assert page.status_code == 503 and page.headers["Retry-After"] == "60"
    assert "réessayez dans une minute" in page.get_data(as_text=True)
    assert api.status_code == 503 and api.headers["Retry-After"] == "60"
    assert "try again in a minute" in api.get_json()["error"]["en"]
    # with the slot free again, the same upload goes through
    again = upload_api(client, block_stl, name="Max", email="max@example.org")
    assert again.status_code == 201, again.get_data(as_text=True)


if __name__ == "__main__":  # write the bombs for manual tries: python test_upload_bounds.py DIR
    folder = Path(sys.argv[1])
    (folder / "fan-out.dxf").write_bytes(fan_out_dxf())
    (folder / "minsert.dxf").write_bytes(minsert_dxf())
