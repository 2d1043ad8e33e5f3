"""What the benchmark tools share: which images to run on, and reading kmcodec options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kmcodec.files import expand

ROOT = Path(__file__).resolve().parent.parent
#: The 24 Kodak images beside the project (a user's clone may not have them).
KODAK = ROOT.parent / "shared" / "corpus" / "kodak"


def corpus_files(corpus: Path | None, limit: int = 0) -> tuple[Path, list[Path]]:
    """The corpus folder (the Kodak set if present, else the repository's samples) and its
    images in name order, the first ``limit`` only if ``limit`` is set."""
    folder = corpus or (KODAK if KODAK.is_dir() else ROOT / "samples")
    files = [Path(p) for p in expand([folder])]
    return folder, files[:limit] if limit else files


def parse_options(text: str) -> dict[str, object]:
    """'speed=1,color_space=oklab' -> {'speed': 1, 'color_space': 'oklab'}."""
    options: dict[str, object] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        for kind in (int, float):
            try:
                options[key] = kind(value)
                break
            except ValueError:
                continue
        else:
            options[key] = value
    return options


def rewrite_between(path: Path, marker: str, content: str) -> bool:
    """Replace what stands between ``<!-- marker -->`` and ``<!-- /marker -->`` in ``path``
    with ``content`` (tables that tools keep in README.md and the docs); whether it changed."""
    import re

    text = path.read_text()
    new = re.sub(
        rf"<!-- {marker} -->\n.*?<!-- /{marker} -->",
        lambda _: f"<!-- {marker} -->\n{content}<!-- /{marker} -->",
        text,
        flags=re.S,
    )
    path.write_text(new)
    return new != text


# --- what a tool measured, kept: --json FILE and --markdown FILE ---


def add_report_arguments(parser: Any, json: bool = True) -> None:
    """``--json FILE`` (every figure, for tests and scripts; ``json=False`` for a tool that has
    its own) and ``--markdown FILE`` (a page of the documentation site: what the tool printed,
    stamped, with its plots)."""
    if json:
        parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="also write what is printed as a documentation page, stamped with the date,"
        " machine, commit and command, with the plots as images beside it (docs/benchmarks/)",
    )


def machine() -> str:
    """One line about this machine: processor, cores, memory, OS and Python."""
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()};"
        f" Python {platform.python_version()}"
    )


def commit() -> str:
    """The repository's commit (short hash, ``+changes`` if the work tree differs)."""
    import subprocess

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


class _Tee:
    def __init__(self, stream: Any) -> None:
        self.stream, self.parts = stream, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


class Report:
    """What a benchmark measured: printed as it goes, and kept when asked for.

    ``record(key, value)`` keeps a figure for ``--json``; ``plot(figure, name, caption)`` keeps a
    matplotlib figure for ``--markdown``. Used as a context manager around the measuring: on
    leaving, the JSON file and the page are written (the page holds what was printed, in a
    fenced block, so that no figure is retyped).
    """

    def __init__(self, tool: str, title: str, about: str, args: Any, json: bool = True) -> None:
        import datetime
        import sys

        self.tool, self.title, self.about = tool, title, about
        # json=False: the tool writes its own --json file
        self.json_path: Path | None = getattr(args, "json", None) if json else None
        self.markdown: Path | None = getattr(args, "markdown", None)
        self.data: dict[str, Any] = {}
        self.plots: list[tuple[str, str]] = []
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.command = "python tools/" + tool + ".py " + " ".join(sys.argv[1:])
        self._tee: _Tee | None = None

    def record(self, key: str, value: Any) -> None:
        self.data[key] = value

    def plot(self, figure: Any, name: str, caption: str) -> None:
        if self.markdown is None:
            return
        folder = self.markdown.parent / "img"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.tool}-{name}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        self.plots.append((f"img/{path.name}", caption))

    def __enter__(self) -> Report:
        import sys

        if self.markdown is not None:
            self._tee = _Tee(sys.stdout)
            sys.stdout = self._tee  # type: ignore[assignment]
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        import json
        import sys

        printed = ""
        if self._tee is not None:
            sys.stdout = self._tee.stream
            printed = "".join(self._tee.parts)
        if kind is not None:
            return
        if self.json_path is not None:
            payload = {"tool": self.tool, "command": self.command, **self.data}
            self.json_path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
        if self.markdown is not None:
            self.markdown.parent.mkdir(parents=True, exist_ok=True)
            lines = [
                f"# {self.title}",
                "",
                "<!-- Written by the tool; run it again to update this page, never edit the"
                " figures by hand. -->",
                "",
                self.about.strip(),
                "",
                f"- **Date:** {self.started:%Y-%m-%d %H:%M} UTC",
                f"- **Machine:** {machine()}",
                f"- **Commit:** `{commit()}`",
                f"- **Command:** `{self.command.strip()}`",
                "",
                "## What it printed",
                "",
                "```text",
                printed.rstrip("\n"),
                "```",
            ]
            for src, caption in self.plots:
                lines += ["", f"![{caption}]({src})", "", f"*{caption}*"]
            self.markdown.write_text("\n".join(lines) + "\n")
