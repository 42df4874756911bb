"""Every choice a maker or staff member picks from reads as words in both languages."""

from __future__ import annotations

import pytest

from fabserver.registry import load_registry

PLUGINS = load_registry().plugins


@pytest.mark.parametrize("plugin_id", sorted(PLUGINS))
def test_every_choice_has_a_label_in_french_and_english(plugin_id):
    for option in PLUGINS[plugin_id].option_schema():
        if option.type != "choice":
            continue
        assert len(option.choice_labels) == len(option.choices), (plugin_id, option.name)
        for label in option.choice_labels:
            assert label.fr and label.en, (plugin_id, option.name, label)
