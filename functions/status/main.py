"""Status page (HTTP): the runs table, one run (`?run_id=ID`), HTML or JSON (`?format=`);
the same renderer as `gemini-tuning local --port N` (`shared.status.respond`)."""

import flask
import functions_framework

from shared import composition, status
from shared.pipeline.watch import banner_lines


@functions_framework.http
def status_page(request: flask.Request) -> flask.Response:
    deps = composition.instance()
    page = status.respond(
        deps.store,
        request.args,
        accept=request.headers.get("Accept", ""),
        banners=lambda: banner_lines(deps),
    )
    return flask.Response(page.body, status=page.status, content_type=page.content_type)
