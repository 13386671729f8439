"""Terraform deploys exactly the routing table of `shared.routes`: the same functions, entry
points, trigger kinds, topics, subscription names and retry behaviour the local host runs."""

from __future__ import annotations

from typing import Any

import pytest

from shared.routes import FIXED_TOPICS, ROUTES, FunctionRoute, hop_of_subscription, route
from tests.infra.hcl import FUNCTION_MODULE, literal, load, ref, roles_table

ROOT = load()


def _modules() -> dict[str, dict[str, Any]]:
    return {
        literal(b["function"]): b
        for b in ROOT.modules.values()
        if literal(b["source"]) == "./modules/function"
    }


MODULES = _modules()


def test_terraform_deploys_exactly_the_routed_functions() -> None:
    assert set(MODULES) == {r.name for r in ROUTES}


@pytest.mark.parametrize("r", ROUTES, ids=lambda r: r.name)
def test_each_module_matches_its_route(r: FunctionRoute) -> None:
    body = MODULES[r.name]
    assert literal(body["entry_point"]) == r.entry_point
    trigger = body["trigger"]
    assert literal(trigger["type"]) == r.trigger
    if r.trigger == "pubsub":
        target = ref(trigger["topic_id"])
        assert target == f"google_pubsub_topic.{r.topic}.id", f"{r.name} consumes {target}"
    # The roles table keeps the same trigger facts for the IAM checks: it must not drift.
    row = roles_table()[r.name]["trigger"]
    assert row["type"] == r.trigger and row.get("topic") == r.topic


def test_fixed_topic_names_are_the_terraform_suffixes() -> None:
    topics = ROOT.locals["topics"]
    for key, name in FIXED_TOPICS.items():
        assert literal(topics[key]).endswith(f"-{name}"), (key, topics[key])


def test_the_push_subscription_name_maps_back_to_its_hop() -> None:
    # modules/function names its push subscription "${local.name}-push" with
    # local.name = "${var.name_prefix}-${var.function}" (read from the module itself).
    fn = load(FUNCTION_MODULE)
    assert literal(fn.locals["name"]) == "${var.name_prefix}-${var.function}"
    push = fn.of_type("google_pubsub_subscription")["push"]
    assert literal(push["name"]) == "${local.name}-push"
    for r in ROUTES:
        got = hop_of_subscription(f"projects/p/subscriptions/gtp-{r.name}-push")
        assert got == (r.name if r.hop else None), r.name


def test_routes_know_their_names() -> None:
    assert route("launcher").topic == "dataset_validated"
    with pytest.raises(KeyError, match="known: validator"):
        route("nope")
