"""The README and the docs/ pages say only what is true of the code.

Every `gemini-tuning …` command a page shows is parsed by the CLI's own argparse parser (only
`validate`, which reads local files, is run as written: no paid or slow call); every flag a
synopsis names exists on that subcommand, and docs/cli.md names every flag; every ```yaml block
is a `tuning.yaml` that the real parser accepts as written; every `make TARGET` is a target;
every relative link, anchor and repository path in backticks exists; the README stays short
with every docs/ page reachable from it; and docs/ARCHITECTURE.md's "Bounds" table lists every
bound the code has, with its value.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from shared.cli import build_parser
from shared.cli import main as cli_main
from shared.errors import ConfigError
from shared.tuning_config import DATASET_KEYS, EvaluationConfig, TuningConfig, parse_tuning_yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = tuple(sorted((REPO / "docs").glob("*.md")))
#: Every page checked; the README must reach each of DOCS through links.
PAGES = (README, *DOCS, REPO / "examples" / "README.md", REPO / "infra/modules/function/README.md")
#: The README is the five-minute page; reference goes to docs/ (issue 18: at most 170 lines).
README_MAX_LINES = 170
#: Top-level folders a path in backticks may start with to count as "a file in this repository".
REPO_DIRS = ("shared", "functions", "tests", "infra", "examples", "bench", "tools", "docs", "mk")

_FENCE = re.compile(r"^```([\w-]*)\s*$")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: its info string, first line number and text."""

    page: Path
    lang: str
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    lang: str | None = None
    start, body = 0, list[str]()
    for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        m = _FENCE.match(line)
        if lang is None and m:
            lang, start, body = m.group(1), n + 1, []
        elif lang is not None and line.strip() == "```":
            yield Block(page, lang, start, "\n".join(body) + "\n")
            lang = None
        elif lang is not None:
            body.append(line)


def prose(page: Path) -> str:
    """The page without its fenced blocks."""
    text = page.read_text(encoding="utf-8")
    for b in blocks(page):
        text = text.replace(b.text, "")
    return text


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("gemini-tuning has no subcommands")


PARSER = build_parser()
SUBCOMMANDS = _subparsers(PARSER)


@dataclass(frozen=True)
class Command:
    """One `gemini-tuning` line of a fenced shell block."""

    where: str
    argv: list[str]  # after `gemini-tuning`
    comment: str  # what the page says about it after `#`


def command_lines() -> Iterator[Command]:
    """Every shell line of a fenced block that runs `gemini-tuning`."""
    for page in PAGES:
        for b in blocks(page):
            if b.lang not in ("sh", "bash", "console", "shell"):
                continue
            for n, line in shell_lines(b):
                words = shlex.split(line.removeprefix("$ "), comments=True)
                while words and _ENV.match(words[0]):  # `BACKEND=gcp gemini-tuning status`
                    words.pop(0)
                if words and words[0].rsplit("/", 1)[-1] == "gemini-tuning":
                    comment = line.partition(" # ")[2].strip()
                    yield Command(f"{page.relative_to(REPO)}:{n}", words[1:], comment)


def shell_lines(block: Block) -> Iterator[tuple[int, str]]:
    """(line number, command) with backslash continuations joined."""
    start, parts = 0, list[str]()
    for i, line in enumerate(block.text.splitlines()):
        if not parts:
            start = block.line + i
        parts.append(line.removesuffix("\\"))
        if not line.endswith("\\"):
            yield start, " ".join(parts)
            parts = []


def parse_error(argv: list[str]) -> str | None:
    """What argparse says about `argv`, or None when it parses."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            PARSER.parse_args(argv)
    except SystemExit as e:
        return err.getvalue().strip().splitlines()[-1] if e.code else None
    return None


def synopses() -> Iterator[tuple[str, str, list[str]]]:
    """Every command synopsis in prose: (page, subcommand, the --flags it names). Inline code
    `gemini-tuning SUB …`, and code in the first column of a table whose first word is a
    subcommand (in docs/cli.md, the command table, every such code must be one)."""
    for page in PAGES:
        text, name = prose(page), str(page.relative_to(REPO))
        for code in _INLINE_CODE.findall(text):
            words = code.split()
            if len(words) > 1 and words[0] == "gemini-tuning" and not words[1].startswith("-"):
                yield name, words[1], re.findall(r"--[\w-]+", code)
        for row in re.findall(r"^\|.*\|\s*$", text, flags=re.M):
            first_cell = re.split(r"(?<!\\)\|", row)[1]
            for code in _INLINE_CODE.findall(first_cell):
                sub = code.split()[0]
                if sub in SUBCOMMANDS or page.name == "cli.md":
                    yield name, sub, re.findall(r"--[\w-]+", code)


def flags_of(sub: str) -> set[str]:
    """The flags a user can see: hidden test hooks (help=SUPPRESS) are not documented."""
    return {
        s
        for a in SUBCOMMANDS[sub]._actions
        if a.help != argparse.SUPPRESS
        for s in a.option_strings
    }


def test_every_command_shown_parses_with_the_cli_parser() -> None:
    lines = list(command_lines())
    assert len(lines) >= 10, "the pages show commands; the extractor found too few"
    bad = []
    for c in lines:
        error = parse_error(c.argv)
        if error:
            bad.append(f"{c.where}: gemini-tuning {shlex.join(c.argv)}\n    {error}")
    assert not bad, "\n".join(bad)


def _validate_commands() -> list[Command]:
    return [c for c in command_lines() if c.argv[:1] == ["validate"]]


@pytest.mark.parametrize("command", _validate_commands(), ids=lambda c: c.where)
def test_every_validate_command_shown_runs_as_written(
    command: Command, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`validate` only reads local files, so it runs from the repository root as a user would
    type it: no usage or I/O error (exit 2), and a count the page states is the count printed."""
    monkeypatch.chdir(REPO)
    code = cli_main(command.argv)
    out = capsys.readouterr().out
    assert code in (0, 1), f"{command.where}: exit {code}"
    said = re.search(r"(\d+) (warnings|errors)", command.comment)
    if said:
        assert f"{said.group(1)} {said.group(2)}" in out, (
            f"{command.where} says {said.group(0)!r}; the validator printed:\n{out[-400:]}"
        )


def test_every_flag_a_synopsis_names_exists() -> None:
    found = list(synopses())
    assert {sub for _, sub, _ in found} >= set(SUBCOMMANDS), (
        "docs/cli.md lists every subcommand: missing "
        f"{sorted(set(SUBCOMMANDS) - {sub for _, sub, _ in found})}"
    )
    bad = []
    for page, sub, flags in found:
        if sub not in SUBCOMMANDS:
            bad.append(f"{page}: `gemini-tuning {sub}` is not a subcommand")
            continue
        bad += [f"{page}: `{sub} {f}`: no such flag" for f in flags if f not in flags_of(sub)]
    assert not bad, "\n".join(bad)


def test_docs_cli_names_every_flag_of_every_command() -> None:
    """The reverse: a flag added to a command is added to its row in docs/cli.md too."""
    named: dict[str, set[str]] = {}
    for page, sub, flags in synopses():
        if page == "docs/cli.md":
            named.setdefault(sub, set()).update(flags)
    missing = [
        f"{sub} {flag}"
        for sub in SUBCOMMANDS
        for flag in sorted(flags_of(sub) - {"-h", "--help"})
        if flag.startswith("--") and flag not in named.get(sub, set())
    ]
    assert not missing, "docs/cli.md's command table does not name: " + ", ".join(missing)


def tuning_yaml_blocks() -> list[Block]:
    return [b for page in PAGES for b in blocks(page) if b.lang in ("yaml", "yml")]


@pytest.mark.parametrize("block", tuning_yaml_blocks(), ids=lambda b: b.where)
def test_every_yaml_block_is_a_tuning_yaml_the_parser_accepts(block: Block) -> None:
    try:
        parse_tuning_yaml(block.text.encode(), source=block.where, base=TuningConfig())
    except ConfigError as e:
        pytest.fail(f"{block.where}: the tuning.yaml shown is refused: {e.message}")


def test_the_pages_show_tuning_yaml_examples() -> None:
    pages = {b.page.name for b in tuning_yaml_blocks()}
    assert {"README.md", "tuning-yaml.md", "evaluation.md", "validator.md"} <= pages


def _key_table() -> dict[str, str]:
    """docs/tuning-yaml.md's "Every key" table: key -> its default cell."""
    rows = re.findall(
        r"^\| `([\w.]+)` \| `([^`]*)` \|", prose(REPO / "docs" / "tuning-yaml.md"), re.M
    )
    return dict(rows)


def _type_cells() -> dict[str, str]:
    """docs/tuning-yaml.md's "Every key" table: key -> its "type and range" cell."""
    rows = re.findall(
        r"^\| `([\w.]+)` \| `[^`]*` \| ((?:[^|\n]|\\\|)*?) \|",
        prose(REPO / "docs" / "tuning-yaml.md"),
        re.M,
    )
    return dict(rows)


#: The words a cell starts with for a field of each annotation (the dataclasses' own types).
_TYPE_WORDS = {
    "bool": "true or false",
    "int | None": "whole number",
    "int": "whole number",
    "float | None": "number",
    "str | None": "text",
    "str": "text",
    "tuple[str, ...]": "non-empty list",
}


def _fields() -> dict[str, str]:
    """Every tuning.yaml key -> its annotation."""
    top = {
        f.name: str(f.type)
        for f in dataclasses.fields(TuningConfig)
        if f.name not in DATASET_KEYS and f.name != "evaluation"
    }
    ev = {f"evaluation.{f.name}": str(f.type) for f in dataclasses.fields(EvaluationConfig)}
    return top | ev


def test_the_key_table_gives_each_keys_type() -> None:
    cells, bad = _type_cells(), []
    for key, annotation in _fields().items():
        words = _TYPE_WORDS.get(annotation, "mapping")  # a dataclass or Mapping: a block
        if not cells.get(key, "").startswith(words):
            bad.append(f"{key} ({annotation}): the page says {cells.get(key)!r}, not {words!r}")
    assert not bad, "\n".join(bad)


_RANGE = re.compile(r"(\d+)\.\.(\d+)|([\[(])(-?[\d,.]+), (-?[\d,.]+)\]|at most (\d+) characters")
#: Where a key's value goes when it is not the key itself.
_VALUE_AT = {"budget": "budget.max_run_usd"}
#: The model's own list narrows it (checked against the catalog on catalog.md's test).
_RANGE_NOT_ALONE = {"adapter_size"}


def _accepted(path: str, value: object) -> bool:
    *outer, last = path.split(".")
    doc: object = {last: value}
    for k in reversed(outer):
        doc = {k: doc}
    try:
        parse_tuning_yaml(yaml.safe_dump(doc).encode(), source="t", base=TuningConfig())
    except ConfigError:
        return False
    return True


def _edges(m: re.Match[str]) -> list[tuple[object, bool]]:
    """(value, should be accepted) at and just past each end of the range `m` names."""
    if m.group(1):
        lo, hi = int(m.group(1)), int(m.group(2))
        return [(lo, True), (hi, True), (lo - 1, False), (hi + 1, False)]
    if m.group(6):
        n = int(m.group(6))
        return [("a" * n, True), ("a" * (n + 1), False)]
    lo_f, hi_f = (float(m.group(i).replace(",", "")) for i in (4, 5))
    step = (hi_f - lo_f) / 1000
    return [
        (lo_f, m.group(3) == "["),
        (lo_f - step, False) if m.group(3) == "[" else (lo_f + step, True),
        (hi_f, True),
        (hi_f + step, False),
    ]


def test_the_ranges_the_key_table_states_are_the_parsers() -> None:
    """Each range a row states is checked at its edges through the real parser."""
    checked, bad = 0, []
    for key, cell in _type_cells().items():
        ranges = list(_RANGE.finditer(cell))
        if len(ranges) != 1 or key in _RANGE_NOT_ALONE:
            continue  # gates: several, checked in tests/unit/core
        checked += 1
        for value, ok in _edges(ranges[0]):
            if _accepted(_VALUE_AT.get(key, key), value) != ok:
                shown = f"{len(value)} characters" if isinstance(value, str) else value
                bad.append(f"{key}: {shown} is {'refused' if ok else 'accepted'} ({cell})")
    assert checked >= 8, "the extractor found too few ranges"
    assert not bad, "\n".join(bad)


def _yaml_default(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    return "-" if value is None else value


def test_the_key_table_names_every_tuning_yaml_key_with_its_default() -> None:
    table = _key_table()
    defaults: dict[str, object] = {
        f.name: getattr(TuningConfig(), f.name)
        for f in dataclasses.fields(TuningConfig)
        if f.name not in DATASET_KEYS and f.name != "evaluation"
    }
    defaults |= {
        f"evaluation.{f.name}": getattr(EvaluationConfig(), f.name)
        for f in dataclasses.fields(EvaluationConfig)
    }
    assert set(table) == set(defaults), (
        f"docs/tuning-yaml.md's key table lacks {sorted(set(defaults) - set(table))} "
        f"and names keys the parser does not take: {sorted(set(table) - set(defaults))}"
    )
    bad = []
    for key, default in defaults.items():
        if dataclasses.is_dataclass(default):  # privacy, budget: a block of their own
            continue
        shown = table[key]
        if (yaml.safe_load(shown) if shown != "-" else "-") != _yaml_default(default):
            bad.append(f"{key}: the page says {shown}, the code {default!r}")
    assert not bad, "\n".join(bad)


def test_the_validator_page_names_real_finding_codes_and_every_personal_data_kind() -> None:
    """docs/validator.md: each finding code it names is one the validator emits, and its
    personal-data table lists exactly the kinds the detector knows."""
    from shared.datasets.findings import CODES
    from shared.datasets.privacy import KINDS

    text = prose(REPO / "docs" / "validator.md")
    # Named as codes: "the code `x`", "(`x`)", "`x` — what it means".
    found = re.findall(r"code `([a-z_]+)`|\(`([a-z_]+)`\)|`([a-z_]+)` —", text)
    codes = {c for groups in found for c in groups if c}
    assert len(codes) >= 5
    assert codes <= set(CODES), f"not finding codes: {sorted(codes - set(CODES))}"
    table = re.findall(r"^\| (`[^|]*`) \|", text, flags=re.M)
    kinds = {k for cell in table for k in _INLINE_CODE.findall(cell)}
    assert kinds == set(KINDS), f"the table shows {sorted(kinds)}; the detector knows {KINDS}"


def test_the_numbers_the_pages_state_are_the_codes() -> None:
    """A constant changed in code is changed on its page (the phrase names where to look)."""
    from shared.bounds import MAX_UNEXPECTED_FAILURES
    from shared.evaluation.chunks import CHUNK_SIZE
    from shared.evaluation.stats import RESAMPLES
    from shared.pipeline.evaluate import TIME_BUDGET_SECONDS
    from shared.status import REFRESH_SECONDS

    evaluation = prose(REPO / "docs" / "evaluation.md").replace("\n", " ")
    cli = prose(REPO / "docs" / "cli.md").replace("\n", " ")
    phrases = [
        (evaluation, "evaluation.md", f"({RESAMPLES:,} resamples"),
        (evaluation, "evaluation.md", f"in chunks of {CHUNK_SIZE} examples"),
        (evaluation, "evaluation.md", f"After {TIME_BUDGET_SECONDS:.0f} s an invocation"),
        (cli, "cli.md", f"reloads itself every {REFRESH_SECONDS} s"),
        (cli, "cli.md", f"of {MAX_UNEXPECTED_FAILURES}`; failure {MAX_UNEXPECTED_FAILURES} ends"),
    ]
    missing = [f"docs/{page}: {phrase!r}" for text, page, phrase in phrases if phrase not in text]
    assert not missing, "the page no longer states the code's figure:\n" + "\n".join(missing)


def make_targets() -> set[str]:
    text = "\n".join(p.read_text() for p in (REPO / "Makefile", *sorted(REPO.glob("mk/*.mk"))))
    return set(re.findall(r"^([a-z][\w-]*)\s*:(?!=)", text, flags=re.M))


def test_every_make_target_shown_exists() -> None:
    targets = make_targets()
    shown = {
        (f"{b.where}", m)
        for page in PAGES
        for b in blocks(page)
        for m in re.findall(r"^make ([a-z][\w-]*)", b.text, flags=re.M)
    }
    shown |= {
        (str(page.relative_to(REPO)), m)
        for page in PAGES
        for m in re.findall(r"`make ([a-z][\w-]*)", prose(page))
    }
    assert len(shown) >= 5
    bad = [f"{where}: make {t}" for where, t in sorted(shown) if t not in targets]
    assert not bad, "no such make target:\n" + "\n".join(bad)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", prose(page), flags=re.M)}


def test_every_relative_link_and_anchor_exists() -> None:
    bad = []
    for page in PAGES:
        for target in _LINK.findall(prose(page)):
            if re.match(r"^[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                bad.append(f"{page.relative_to(REPO)}: link {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{page.relative_to(REPO)}: link {target}: no such heading")
    assert not bad, "\n".join(bad)


def test_every_repository_path_named_exists() -> None:
    named = set()
    for page in PAGES:
        for code in _INLINE_CODE.findall(prose(page)):
            if re.fullmatch(rf"(?:{'|'.join(REPO_DIRS)})/[\w./-]*", code) and "<" not in code:
                named.add((str(page.relative_to(REPO)), code))
    assert len(named) >= 10
    bad = [f"{page}: `{p}`" for page, p in sorted(named) if not (REPO / p).exists()]
    assert not bad, "no such file or folder in the repository:\n" + "\n".join(bad)


def test_the_readme_is_short_and_reaches_every_reference_page() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move reference to docs/"
    reached, todo = {README}, [README]
    while todo:
        page = todo.pop()
        for target in _LINK.findall(prose(page)):
            dest = (page.parent / target.partition("#")[0]).resolve()
            if dest.suffix == ".md" and dest.exists() and dest not in reached:
                reached.add(dest)
                todo.append(dest)
    missing = [str(p.relative_to(REPO)) for p in DOCS if p.resolve() not in reached]
    assert not missing, f"not linked from README.md (add them to its Reference table): {missing}"


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The checks above fail on a wrong page: an unknown flag, a refused tuning.yaml key."""
    assert parse_error(["status", "--no-such-flag"]) is not None
    assert parse_error(["promote", "RUN_ID", "--reason", "x", "[--by", "alice]"]) is not None
    assert "--limit" in flags_of("status") and "--frobnicate" not in flags_of("status")
    with pytest.raises(ConfigError):
        parse_tuning_yaml(b"epochs: 3\n", source="t", base=TuningConfig())
    page = tmp_path / "p.md"
    page.write_text("a\n```yaml\nepoch: 3\n```\n`make nope`\n", encoding="utf-8")
    assert [(b.lang, b.line, b.text) for b in blocks(page)] == [("yaml", 3, "epoch: 3\n")]
    assert "epoch" not in prose(page) and "`make nope`" in prose(page)


#: Bounds kept outside shared/bounds.py and json_shape.py (whose every constant is checked):
#: the module and the constant's name.
OTHER_BOUNDS = (
    ("shared.tuning_config", "MAX_TUNING_YAML_BYTES"),
    ("shared.tuning_config", "MAX_TUNING_YAML_WEIGHT"),
    ("shared.datasets.lines", "MAX_LINE_BYTES"),
    ("shared.pipeline.chat", "MAX_FIRST_LINE_BYTES"),
    ("shared.pipeline.validation", "FINDINGS_ON_RUN"),
    ("shared.pipeline.validation", "FINDINGS_PER_CODE"),
    ("shared.pipeline.launch", "CLAIM_STALE_SECONDS"),
    ("shared.runs", "MAX_CURVE_POINTS"),
    ("shared.evaluation.runner", "MAX_ERRORS_IN_REPORT"),
    ("shared.evaluation.runner", "MAX_HIGHLIGHTS"),
    ("shared.notify", "MAX_LINE"),
    ("shared.datasets.convert", "MAX_LINES_PER_REASON"),
    ("shared.datasets.privacy", "PATTERN_TIMEOUT_SECONDS"),
)


def code_bounds() -> dict[str, float]:
    """Every bound the ARCHITECTURE page must list: each public numeric constant of
    shared/bounds.py and json_shape.py (a new one is caught without editing this test), and
    OTHER_BOUNDS."""
    import importlib

    out: dict[str, float] = {}
    for name in ("shared.bounds", "shared.datasets.json_shape"):
        module = importlib.import_module(name)
        for key, value in vars(module).items():
            if key.isupper() and not key.startswith("_") and isinstance(value, int | float):
                out[key] = value
    for name, key in OTHER_BOUNDS:
        out[key] = getattr(importlib.import_module(name), key)
    return out


def bounds_table(page: Path) -> dict[str, str]:
    """The "Bounds" section's table: constant -> its value cell."""
    text = prose(page)
    section = text.partition("\n## Bounds\n")[2].partition("\n## ")[0]
    rows = re.findall(r"^\|[^|\n]*\| `([A-Z][A-Z0-9_]*)` \| ([^|\n]*) \|", section, re.M)
    return dict(rows)


def _first_number(cell: str) -> float | None:
    m = re.search(r"\d[\d,]*(?:\.\d+)?", cell)
    return float(m.group(0).replace(",", "")) if m else None


def test_architecture_lists_every_bound_with_the_codes_value() -> None:
    table, bounds = bounds_table(REPO / "docs" / "ARCHITECTURE.md"), code_bounds()
    assert len(bounds) >= 15
    missing = sorted(set(bounds) - set(table))
    assert not missing, f"docs/ARCHITECTURE.md's Bounds table does not list {missing}"
    wrong = [
        f"{k}: the page says {table[k]!r}, the code {v}"
        for k, v in bounds.items()
        if _first_number(table[k]) != v
    ]
    assert not wrong, "\n".join(wrong)
    unknown = sorted(set(table) - set(bounds))
    assert not unknown, f"the Bounds table names constants the code does not have: {unknown}"


def test_the_bounds_check_catches_a_missing_or_wrong_row(tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text(
        "# A\n## Bounds\n| what | constant | value |\n|---|---|---|\n"
        "| depth | `MAX_JSON_DEPTH` | 65 levels |\n| size | `MAX_X` | 1,024 bytes |\n## Next\n"
        "| x | `MAX_Y` | 1 |\n",
        encoding="utf-8",
    )
    table = bounds_table(page)
    assert table == {"MAX_JSON_DEPTH": "65 levels", "MAX_X": "1,024 bytes"}
    assert _first_number(table["MAX_X"]) == 1024
    assert _first_number(table["MAX_JSON_DEPTH"]) != code_bounds()["MAX_JSON_DEPTH"]
    assert "MAX_MESSAGE_CHARS" in code_bounds() and "MAX_MESSAGE_CHARS" not in table
