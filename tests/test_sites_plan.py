"""A site's own prices and rule apply to what ``fabserver plan`` says, as on the server."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from fabserver.cli import main
from fabserver.profiles import DEFAULT_PROFILE_DIR
from fabserver.testing import SAMPLES


def _plan(profiles, tmp_path) -> dict:
    result = CliRunner().invoke(
        main,
        [
            *("--profiles", str(profiles), "plan", str(SAMPLES / "vinyl-sticker.svg")),
            *("--machine", "vinyl", "--material", "vinyl-adhesive", "--json"),
            *("-o", str(tmp_path / "sticker.hpgl")),
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_site_prices_and_policy_apply_to_a_plan(tmp_path):
    root = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILE_DIR, root)
    lab = _plan(root, tmp_path)
    assert lab["cost_eur"] > 0 and lab["verdict"]["kind"] == "prototype"
    site = root / "sites" / "saint-omer.toml"
    prices = next(
        line
        for line in (root / "materials" / "vinyl-adhesive.toml").read_text().splitlines()
        if line.startswith("prices")
    )
    doubled = {unit: 2 * price for unit, price in _inline_prices(prices).items()}
    site.write_text(
        site.read_text()
        + "\n[policy.prototype]\nmax_material_cost_eur = 0\n"
        + "[prices.vinyl-adhesive]\n"
        + "".join(f"{unit} = {price}\n" for unit, price in doubled.items())
    )
    at_site = _plan(root, tmp_path)
    assert abs(at_site["cost_eur"] - 2 * lab["cost_eur"]) < 1e-6
    assert at_site["verdict"]["kind"] == "series"


def _inline_prices(line: str) -> dict[str, float]:
    import tomllib

    return tomllib.loads(line)["prices"]
