"""Duplicate detection and grouping when more examples share one lookup key than SQLite
accepts variables in one statement (a 1 GB export crashed with 'too many SQL variables')."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shared.prepare.run import Report, _drop_duplicates, _group
from shared.prepare.spill import FINAL, WHOLE, Spill, pack

N = 1_200
LIMIT = 999  # SQLite's default variable limit in older builds; this one may allow more


def _spill(tmp_path: Path) -> Spill:
    spill = Spill(tmp_path)
    spill.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, LIMIT)
    sk = pack(frozenset(range(1, 49)))  # one sketch for all: every pair is a near-duplicate
    qa = pack(frozenset(range(1, 17)))
    for i in range(N):
        digest = i.to_bytes(16, "big")  # distinct: none is an exact duplicate
        values = (f"s{i:05d}", 0, b"{}", digest, digest, sk, qa, qa, "q", "a", 5)
        spill.add_conv(values, [(WHOLE, 7), (FINAL, 9)])
    spill.flush_convs()
    return spill


def test_a_band_larger_than_the_variable_limit_drops_all_but_the_first(tmp_path: Path) -> None:
    spill = _spill(tmp_path)
    report = Report(model="m", token_budget=1000, seed=0)
    _drop_duplicates(spill, report)
    # pieces after the first are compared with the first piece's kept example
    assert report.dropped["near_duplicate"] == N - 1
    kept = spill.db.execute("SELECT id FROM convs WHERE dropped IS NULL").fetchall()
    assert kept == [(1,)]
    spill.close()


def test_a_final_exchange_band_larger_than_the_limit_is_grouped(tmp_path: Path) -> None:
    spill = _spill(tmp_path)
    report = Report(model="m", token_budget=1000, seed=0)
    groups = _group(spill, report, N, N)
    links = report.split_groups
    assert links["near_duplicate_links"] + links["links_refused_at_cap"] == N - 1
    assert links["near_duplicate_links"] > 0
    assert groups.root(N) in (groups.root(1), N)  # linked to the first, or refused at the cap
    spill.close()
