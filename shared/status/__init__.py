"""What people see about runs: the JSON view (`view`), the terminal table (`terminal`), the status
web page (`html_page`) and its HTTP answer (`http_answer`).

One view feeds all of them, so the CLI, the HTTP status function and anything reading the JSON
agree. The names the hosts, the CLI and the status function use are importable from here.
"""

from __future__ import annotations

from shared.status.html_page import REFRESH_SECONDS, Link, public_link, render_html, render_run_html
from shared.status.http_answer import HTML, JSON, Page, respond
from shared.status.terminal import render_run_detail, render_table
from shared.status.view import is_stuck, run_view, stage_seconds, summary_line

__all__ = [
    "HTML",
    "JSON",
    "REFRESH_SECONDS",
    "Link",
    "Page",
    "is_stuck",
    "public_link",
    "render_html",
    "render_run_detail",
    "render_run_html",
    "render_table",
    "respond",
    "run_view",
    "stage_seconds",
    "summary_line",
]
