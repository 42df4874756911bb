"""Prototype or series, with reasons."""

from __future__ import annotations

from fabserver.estimate import Estimate
from fabserver.policy import decide, override
from fabserver.profiles import Policy, validated


def estimate(minutes: float, cost: float, copies: int = 1) -> Estimate:
    return Estimate(minutes * 60, minutes * 60, 0.0, copies, 1, (), cost)


POLICY = validated(
    Policy,
    {
        "prototype": {"max_copies": 2, "max_material_cost_eur": 10, "max_machine_time_min": 240},
        "plugins": {
            "fdm": {"max_copies": 3, "max_material_cost_eur": 5, "max_machine_time_min": 600}
        },
    },
)


def test_within_every_limit_is_a_prototype():
    v = decide(estimate(30, 2.0), 1, POLICY, "laser")
    assert v.kind == "prototype"
    assert len(v.reasons) == 3
    assert all(r.en.startswith("within") for r in v.reasons)


def test_each_limit_alone_makes_a_series_and_says_which():
    assert [r.en for r in decide(estimate(30, 2.0), 5, POLICY, "laser").reasons] == [
        "over: 5 copie(s), limit 2 for a prototype"
    ]
    reasons = decide(estimate(30, 12.5), 1, POLICY, "laser").reasons
    assert len(reasons) == 1 and "12.50 €" in reasons[0].en and "12,50 €" in reasons[0].fr
    reasons = decide(estimate(300, 1.0), 1, POLICY, "laser").reasons
    assert len(reasons) == 1 and "300 min" in reasons[0].en


def test_rule_per_plugin_replaces_the_lab_rule():
    assert decide(estimate(500, 4.0), 3, POLICY, "fdm").kind == "prototype"
    assert decide(estimate(500, 4.0), 3, POLICY, "laser").kind == "series"


def test_staff_override_keeps_the_reasons():
    v = decide(estimate(300, 1.0), 1, POLICY, "laser")
    o = override(v, "prototype", "camille", "school project")
    assert o.kind == "prototype" and o.reasons == v.reasons and o.overridden_by == "camille"


MAKER_POLICY = validated(
    Policy, {"max_prototypes_per_maker": 2, "window_days": 30, "prototype": {"max_copies": 2}}
)


def test_per_maker_limit_turns_the_third_prototype_into_a_series():
    first = decide(estimate(10, 1), 1, MAKER_POLICY, "laser", earlier_prototypes=0)
    second = decide(estimate(10, 1), 1, MAKER_POLICY, "laser", earlier_prototypes=1)
    third = decide(estimate(10, 1), 1, MAKER_POLICY, "laser", earlier_prototypes=2)
    assert (first.kind, second.kind, third.kind) == ("prototype", "prototype", "series")
    assert "dans la limite : 2e prototype sur 30 jours, limite 2" in [r.fr for r in second.reasons]
    assert [r.fr for r in third.reasons] == ["au-delà : 3e prototype sur 30 jours, limite 2"]
    assert [r.en for r in third.reasons] == ["over: 3rd prototype in 30 days, limit 2"]
    assert "1er prototype" in " ".join(r.fr for r in first.reasons)
    offline = decide(estimate(10, 1), 1, MAKER_POLICY, "laser")  # no maker: no such limit
    assert offline.kind == "prototype" and len(offline.reasons) == 3


def test_without_a_per_maker_limit_earlier_prototypes_do_not_matter():
    verdict = decide(estimate(10, 1), 1, POLICY, "laser", earlier_prototypes=40)
    assert verdict.kind == "prototype"
    assert not any("prototype sur" in r.fr for r in verdict.reasons)
