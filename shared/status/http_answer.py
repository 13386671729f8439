"""One HTTP answer of the status page for any host (the Cloud Function or `local --port`):
`?run_id=` and `?format=` or the Accept header choose the run and JSON or HTML."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.ports import RunStore
from shared.status.html_page import (
    Link,
    document,
    escape,
    public_link,
    render_html,
    render_run_html,
)
from shared.status.view import run_view

HTML = "text/html; charset=utf-8"
JSON = "application/json"


@dataclass(frozen=True)
class Page:
    """One HTTP answer of the status page, for any host (Cloud Function or local server)."""

    status: int
    content_type: str
    body: str


def respond(
    store: RunStore,
    params: Mapping[str, str],
    *,
    accept: str = "",
    link: Link = public_link,
    banners: Callable[[], Sequence[str]] = tuple,
) -> Page:
    """The status page: `?run_id=ID` one run, else the runs table; `?format=json|html` or the
    Accept header chooses JSON or HTML (without either: the table as HTML, one run as JSON,
    as before). `banners` gives the deployment's warnings for the runs table (read only when
    the table is shown)."""
    fmt = params.get("format", "")
    wants_html = fmt == "html" or (fmt != "json" and "text/html" in accept)
    wants_json = not wants_html and (fmt == "json" or "application/json" in accept)
    run_id = params.get("run_id")
    if run_id:
        run = store.get(run_id)
        if run is None:
            if wants_html:
                return Page(404, HTML, document("No such run", f"<p>No run {escape(run_id)}.</p>"))
            return Page(404, JSON, json.dumps({"error": f"no run {run_id!r}"}))
        if wants_html:
            return Page(200, HTML, render_run_html(run, link=link))
        return Page(200, JSON, json.dumps(run_view(run), ensure_ascii=False))
    try:
        limit = max(1, min(int(params.get("limit", "50")), 500))
    except ValueError:
        limit = 50
    runs = store.list_recent(limit=limit)
    if wants_json:
        return Page(200, JSON, json.dumps([run_view(r) for r in runs], ensure_ascii=False))
    return Page(200, HTML, render_html(runs, banners=banners()))
