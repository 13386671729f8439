"""Status page (HTTP): the runs table as HTML, or JSON with `?format=json` / `?run_id=ID`."""

import json

import flask
import functions_framework

from shared import composition, status


@functions_framework.http
def status_page(request: flask.Request) -> flask.Response:
    store = composition.instance().store
    run_id = request.args.get("run_id")
    if run_id:
        run = store.get(run_id)
        if run is None:
            return flask.Response(
                json.dumps({"error": f"no run {run_id!r}"}), status=404, mimetype="application/json"
            )
        return flask.Response(
            json.dumps(status.run_view(run), ensure_ascii=False), mimetype="application/json"
        )
    try:
        limit = max(1, min(int(request.args.get("limit", "50")), 500))
    except ValueError:
        limit = 50
    runs = store.list_recent(limit=limit)
    if request.args.get("format") == "json" or "application/json" in request.headers.get(
        "Accept", ""
    ):
        body = json.dumps([status.run_view(r) for r in runs], ensure_ascii=False)
        return flask.Response(body, mimetype="application/json")
    return flask.Response(status.render_html(runs), mimetype="text/html")
