"""`gemini-tuning models [--json] [--check]`: the model catalog and where each model is in life.

Status is as of today (UTC): available, retiring (warned: tuning is blocked within 60 days),
blocked (Vertex refuses new tuning in the last month before retirement), retired. `--check`
(with BACKEND=gcp) asks Vertex AI whether each listed model exists for this project and region,
and makes one free `countTokens` call per tunable model at the location the pipeline will call
it (exit 1 when one fails: a wrong serving location shows here, not after a paid job).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "models",
        help="list the tunable Gemini models: limits, regions, lifecycle, sources",
        description=__doc__,
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--check",
        action="store_true",
        help="ask Vertex AI which models exist in GCP_PROJECT / VERTEX_LOCATION (BACKEND=gcp)",
    )
    p.add_argument(
        "--vertex-endpoint",
        default=None,
        help=argparse.SUPPRESS,  # tests: an http:// fake instead of the catalog's hosts
    )
    p.set_defaults(func=run)


KINDS = ("base", "tuned")


def _serving(catalog: Any, name: str, location: str) -> dict[str, Any]:
    """Where the base model and a model tuned on it answer for this deployment (location and
    host, no scheme), so a team can see where its data goes."""
    return {
        kind: [
            {"location": p.location, "host": p.host}
            for p in catalog.serving_places(name, kind, location)
        ]
        for kind in KINDS
    }


def _row(info: Any, today: Any, location: str, catalog: Any) -> dict[str, Any]:
    lc = info.lifecycle
    lim = info.limits
    return {
        "name": info.name,
        "display_name": info.display_name,
        "status": info.status(today),
        "released": lc.released.isoformat() if lc.released else None,
        "retires": lc.retires.isoformat() if lc.retires else None,
        "tuning_blocked_from": (
            lc.tuning_blocked_from.isoformat() if lc.tuning_blocked_from else None
        ),
        "replacement": lc.replacement,
        "tuning_regions": list(info.tuning_regions) if info.tuning_regions else None,
        "tunable_in_deployment_region": (
            None if info.tuning_regions is None else location in info.tuning_regions
        ),
        "serving": _serving(catalog, info.name, location),
        #: The one location the pipeline calls for each (`Catalog.serving_location`).
        "serving_used": {k: catalog.serving_location(info.name, k, location) for k in KINDS},
        "adapter_sizes": list(lim.adapter_sizes),
        "max_tokens_per_example": lim.max_tokens_per_example,
        "max_validation_examples": lim.max_validation_examples,
        "max_training_file_bytes": lim.max_training_file_bytes,
        "thinking": (
            {"control": info.thinking.control, "lowest": info.thinking.lowest}
            if info.thinking
            else None
        ),
        "price_per_million_training_tokens": lim.training_price_per_million_tokens,
        "checkpoints_per_epoch": info.checkpoints_per_epoch,
        "sources": dict(info.sources),
    }


def run(args: argparse.Namespace) -> int:
    from shared.clock import today
    from shared.errors import ConfigError, PipelineError
    from shared.settings import Settings

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    day = today()
    catalog = settings.catalog
    try:
        rows = [_row(m, day, settings.location, catalog) for m in catalog]
    except ConfigError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    checks: dict[str, Any] = {}
    differences: list[Any] = []
    if args.check:
        try:
            differences = _catalog_check(settings, args, day)
        except PipelineError as e:  # the per-model checks below still run
            print(f"warning: the catalog check failed: {e.message}", file=sys.stderr)
    if args.check and settings.backend == "gcp":
        checks = _vertex_checks(settings, args, rows)
    failed = sorted(n for n, c in checks.items() if not c.get("count_tokens", {}).get("ok", True))
    if args.json:
        doc = {
            "as_of": day.isoformat(),
            "default_model": settings.defaults.source_model_name,
            "deployment_region": settings.location,
            "models": [{**r, **({"vertex": checks[r["name"]]} if checks else {})} for r in rows],
            "sources": dict(catalog.sources),
        }
        if args.check:
            doc["catalog_check"] = {
                "simulated": settings.backend != "gcp",
                "differences": [{**d.to_dict(day), "kind": d.kind} for d in differences],
            }
        print(json.dumps(doc, ensure_ascii=False, indent=1))
        return 1 if failed else 0
    print(f"Gemini models for supervised tuning, as of {day} (region {settings.location}):")
    for r in rows:
        print(_model_line(r, settings, checks.get(r["name"])))
    print(
        "* default model; a * after a location: the one the pipeline calls from "
        f"{settings.location}. Sources and dates: gemini-tuning models --json "
        "(shared/catalog.json, docs/catalog.md)."
    )
    if any(s.get("url") is None for s in catalog.sources.values()):
        print("Some 3.5 limits are assumed from 3.1 Flash-Lite until checked; see the sources.")
    if args.check:
        _print_differences(differences, simulated=settings.backend != "gcp")
    if failed:
        print(
            f"countTokens failed for {', '.join(failed)} at the location the pipeline would use: "
            "check the catalog's serving locations (MODEL_CATALOG_OVERRIDES) and that the Vertex "
            "AI API is enabled in this project.",
            file=sys.stderr,
        )
        return 1
    return 0


def _vertex_checks(
    settings: Any, args: argparse.Namespace, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Per model: does Vertex AI know it in this project and region, and does one free
    `countTokens` call answer at the location the pipeline will call it?"""
    from shared.gcp.vertex_catalog import check_publisher_models
    from shared.gcp.vertex_models import VertexModels
    from shared.gcp.vertex_probe import probe_models

    checks: dict[str, Any] = {}
    for c in check_publisher_models(
        [r["name"] for r in rows],
        project=settings.project,
        location=settings.location,
        api_endpoint=args.vertex_endpoint,
    ):
        checks[c.name] = {"exists": c.exists, "detail": c.detail}
    models = VertexModels(
        settings.project,
        settings.location,
        api_endpoint=args.vertex_endpoint,
        catalog=settings.catalog,
    )
    tunable = [r["name"] for r in rows if r["status"] in ("available", "retiring")]
    for probe in probe_models(tunable, models):
        checks[probe.name]["count_tokens"] = {
            "ok": probe.ok,
            "location": probe.location,
            "host": probe.host,
            "detail": probe.detail,
        }
    return checks


def _model_line(r: dict[str, Any], settings: Any, c: dict[str, Any] | None) -> str:
    """One model's line of `models`: status, retirement, adapters, regions, price, where the
    base and the tuned model answer, and what Vertex AI said (with --check)."""
    mark = "*" if r["name"] == settings.defaults.source_model_name else " "
    retires = r["retires"] or ("shut down" if r["status"] == "retired" else "not announced")
    regions = ", ".join(r["tuning_regions"] or ["not recorded"])
    price = r["price_per_million_training_tokens"]
    line = (
        f"{mark} {r['name']:24} {r['status']:10} retires {retires:13} "
        f"adapters {','.join(map(str, r['adapter_sizes'])):12} regions {regions}"
        + (f"   ${price}/M tokens" if price is not None else "")
    )
    if r["replacement"] and r["status"] != "available":
        line += f"   -> use {r['replacement']}"
    used = r["serving_used"]
    line += "\n    serves base in " + ", ".join(
        f"{p['location']} ({p['host']})" + ("*" if p["location"] == used["base"] else "")
        for p in r["serving"]["base"]
    )
    line += "; tuned in " + ", ".join(
        f"{p['location']} ({p['host']})" + ("*" if p["location"] == used["tuned"] else "")
        for p in r["serving"]["tuned"]
    )
    if c is not None:
        line += "   Vertex: " + (
            "exists" if c["exists"] else "NOT FOUND" if c["exists"] is False else "unknown"
        )
        line += f" ({c['detail']})" if c["detail"] else ""
        if "count_tokens" in c:
            ct = c["count_tokens"]
            line += f"; countTokens in {ct['location']}: " + (
                "ok" if ct["ok"] else f"FAILED ({ct['detail']})"
            )
    return line


def _catalog_check(settings: Any, args: argparse.Namespace, day: Any) -> list[Any]:
    """The catalog check's differences (`shared.pipeline.catalog_check`), asked of Vertex AI
    with BACKEND=gcp and of the simulator (`SIM_CATALOG_*`) locally; shown, not stored."""
    from shared.pipeline.catalog_check import ask

    directory: Any
    if settings.backend == "gcp":
        from shared.gcp.vertex_catalog import VertexModelDirectory

        directory = VertexModelDirectory(
            settings.project, settings.location, api_endpoint=args.vertex_endpoint
        )
    else:
        from shared.simulator.directory import SimulatedDirectory

        directory = SimulatedDirectory(settings.catalog, settings.simulator_env)
    return list(ask(settings.catalog, directory, day, {}).differences)


def _print_differences(differences: list[Any], *, simulated: bool) -> None:
    where = "the local simulator (SIM_CATALOG_*)" if simulated else "Vertex AI"
    if not differences:
        print(f"catalog check against {where}: no difference")
    else:
        print(f"catalog check against {where}: {len(differences)} difference(s)")
        for d in differences:
            print(f"  {d.kind.upper():13} {d.message()}")
    if simulated:
        print("(set BACKEND=gcp, GCP_PROJECT and VERTEX_LOCATION to ask Vertex AI and probe "
              "countTokens)")  # fmt: skip
