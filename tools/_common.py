"""What the benchmark tools share: which images to run on, and reading kmcodec options."""

from __future__ import annotations

from pathlib import Path

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
