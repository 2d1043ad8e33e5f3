"""Animations: frames of one palette in one ``.kmq`` file, each coded against the one before.

Spec: ``spec/kmq.md`` section 2.8; the byte layout is :mod:`kmcodec.format.animation`. Design
and measurements: ``docs/design/animation.md``.

A frame is stored as what changed: the bounding box of the pixels that differ from the
previous frame, as one or more *layers*. A layer is a still index plane (coded by coding 2 or
coding 0, whichever is smaller, or the coding asked for) over at most 256 symbols: a PLAIN
layer's symbols name palette entries, a DELTA layer's symbol 0 says "as in the previous frame"
(so unchanged pixels inside the box cost almost nothing: coding 2's spans and coding 0's zstd
see long runs of one symbol). The encoder codes both and keeps the smaller. More than 256
colours in a frame (a GIF's local palettes over the whole animation) take more layers, each
painting its share of the colours. Where the picture scrolls or pans (:func:`find_move`), a
MOVE layer first copies the canvas from where it was. A frame whose first layer is PLAIN over
the whole canvas is a key frame: a reader seeking backwards starts there.

Decoding holds one canvas of indices and one frame's bytes, never the whole animation.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from . import options as _options
from ._text import plural
from .codec import PILLOW_LIMIT, code_plane, options_with_metadata
from .errors import (
    CorruptError,
    IndexRangeError,
    KmqError,
    LimitError,
    OptionError,
    TruncatedError,
    UnsupportedError,
)
from .format import animation as fmt
from .format import codings
from .format.codings._fast_coder import lookup as _lookup
from .format.codings._fast_coder import paint as _paint
from .format.codings._fast_coder import shift_votes as _shift_votes
from .format.layout import (
    CHUNK_EXIF,
    CHUNK_ICC,
    FLAG_ALPHA,
    FLAG_ANIMATION,
    MAX_ANIMATION_COLORS,
    MAX_PIXELS,
    Coding,
    Head,
    Header,
    build_file,
    exif_to_chunk,
    index_bits_allowed,
    split_file,
)
from .options import EncodeOptionValues

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: A layer's coding 0 is finished at its final zstd level only if its screening level already
#: beats coding 2 (a still image's rule allows 1.25x, :data:`kmcodec.options.SCREEN_MARGIN`):
#: an animation has hundreds of layers, and the final level rarely wins where the screening
#: did not. On the 8 GIFs of the animation corpus: files 0-0.4% larger, encoding up to 4x
#: faster (a 268-frame sprite animation: 4.1 s -> 1.0 s).
ANIMATION_SCREEN_MARGIN = 1.0
#: A frame tries a MOVE layer (a scroll or a pan, :func:`find_move`) when one shift of the
#: previous canvas gets this share of its changed pixels right, and at least
#: :data:`MOVE_MIN_PIXELS` of them, found by :data:`MOVE_MIN_LINES` whole rows or columns
#: or more; the MOVE is kept only if it makes the frame smaller.
MOVE_SHARE = 0.3
#: ... and only if it leaves at most this share of the changed pixels different (on the
#: animation corpus the moves that left more gained under 4%, for twice the coding time).
MOVE_LEFT = 0.8
MOVE_MIN_PIXELS = 64
MOVE_MIN_LINES = 2
#: The most times a row (column) may be found in the previous canvas and still vote for a
#: shift: pixel art drawn at 2x (every row doubled) still shows its shift, blank lines do not.
MOVE_REPEATS = 8
#: Threads the encoder codes frames on: None is one per core, at most :data:`MAX_THREADS`
#: (:func:`_code_frames`).
THREADS: int | None = None
#: The most threads the encoder starts when not told: each holds up to two frames in flight,
#: and the Python between the compiled loops shares one interpreter lock.
MAX_THREADS = 4

__all__ = ["Animation", "AnimationReader", "encode_animation", "index_frames", "read_animation"]

#: Colours a frame may bring for ``encode_animation`` to keep an animation exactly when no
#: ``colors`` is given: what one GIF frame can hold (its palette of 256, and the transparency a
#: disposal leaves). More, and the animation is quantised.
LOSSLESS_FRAME_COLORS = 257


# -- frames to one palette -------------------------------------------------------------------


def _codes(rgba: np.ndarray) -> np.ndarray:
    """One uint32 per pixel (R, G, B, A from the high byte); every transparent pixel is 0."""
    a = np.ascontiguousarray(rgba, dtype=np.uint8)
    return _transparent_as_zero(a.view(">u4").reshape(a.shape[:2]).astype(np.uint32))


def _transparent_as_zero(codes: np.ndarray) -> np.ndarray:
    """``codes`` with every pixel of alpha 0 set to 0 (in place)."""
    transparent = (codes & 0xFF) == 0  # alpha 0: one contiguous pass, not a strided one
    if transparent.any():
        codes[transparent] = 0
    return codes


@dataclass
class _Changes:
    """An animation read once, frame by frame, kept as what changes: the first frame's codes
    (:func:`_codes`) and, for each later frame, the flat positions of the pixels that differ
    from the frame before and their codes. A screen recording's frames change a few percent of
    their pixels, so this is a small fraction of every frame kept whole."""

    first: np.ndarray
    changes: list[tuple[np.ndarray, np.ndarray]]
    #: Whether each frame's changed pixels (the first frame's all) have at most
    #: :data:`LOSSLESS_FRAME_COLORS` colours, as every frame of a GIF does.
    palette_like: bool
    #: The distinct codes of each frame's changed pixels.
    distinct: list[np.ndarray]

    @classmethod
    def read(cls, codes: Iterable[np.ndarray]) -> _Changes:
        it = iter(codes)
        first = next(it)
        distinct = [np.unique(first)]
        changes: list[tuple[np.ndarray, np.ndarray]] = []
        prev = first
        for c in it:
            at = np.flatnonzero(c != prev)
            values = c.ravel()[at]
            changes.append((at, values))
            distinct.append(np.unique(values))
            prev = c
        like = all(len(d) <= LOSSLESS_FRAME_COLORS for d in distinct)
        return cls(first, changes, like, distinct)

    def __len__(self) -> int:
        return 1 + len(self.changes)

    def codes(self) -> Iterator[np.ndarray]:
        """Every frame's codes in turn, each a new array."""
        c = self.first.copy()
        yield c
        for at, values in self.changes:
            c = c.copy()
            c.ravel()[at] = values
            yield c

    def planes(self, distinct: np.ndarray) -> Iterator[np.ndarray]:
        """Every frame as indices into ``distinct`` (sorted, holding every code), each a new
        array."""
        dtype = np.uint8 if len(distinct) <= 256 else np.uint16
        plane = np.searchsorted(distinct, self.first).astype(dtype)
        yield plane
        for at, values in self.changes:
            plane = plane.copy()
            plane.ravel()[at] = np.searchsorted(distinct, values)
            yield plane


def _frame_codes(frame: Any) -> np.ndarray:
    """A frame (PIL image or array) as one uint32 per pixel, as :func:`_codes`. A PIL image's
    words are read from Pillow's own bytes (RGB as Pillow holds it, four bytes a pixel, its
    fourth set to 255): a seventh to a tenth of the time of an RGBA array and its codes."""
    if not hasattr(frame, "convert"):
        return _codes(_rgba(frame))
    width, height = frame.size
    if frame.mode == "RGB":
        codes = np.frombuffer(frame.tobytes("raw", "RGBX"), ">u4").astype(np.uint32)
        codes |= 0xFF  # opaque, whatever Pillow left in the pad byte
        return codes.reshape(height, width)
    rgba = frame if frame.mode == "RGBA" else frame.convert("RGBA")
    codes = np.frombuffer(rgba.tobytes(), ">u4").astype(np.uint32)
    return _transparent_as_zero(codes).reshape(height, width)


def _rgba(frame: Any) -> np.ndarray:
    """A frame (an array) as an (H, W, 4) uint8 array."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        msg = f"frames must be uint8 arrays, got {a.dtype}"
        raise ValueError(msg)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        msg = f"a frame must have shape (H, W), (H, W, 3) or (H, W, 4), got {a.shape}"
        raise ValueError(msg)
    if a.shape[2] == 3:
        a = np.concatenate([a, np.full((*a.shape[:2], 1), 255, np.uint8)], axis=2)
    return a


def index_frames(codes: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every colour of every frame in one palette, and each frame as indices into it.

    Parameters
    ----------
    codes : sequence of ndarray of uint32
        Per frame, one code per pixel (see :func:`_codes`).

    Returns
    -------
    palette : ndarray of uint8, shape (K, 4)
        Sorted by colour; K <= 65535.
    planes : list of ndarray of uint8 or uint16
    """
    frames = _Changes.read(codes)
    palette, distinct = _palette_of(frames)
    return palette, list(frames.planes(distinct))


def _palette_of(frames: _Changes) -> tuple[np.ndarray, np.ndarray]:
    """Every code of the animation, sorted, and as a palette (RGBA rows; it may have more
    than the :data:`MAX_ANIMATION_COLORS` a file holds)."""
    distinct = np.unique(np.concatenate(frames.distinct))
    palette = np.stack([(distinct >> s) & 0xFF for s in (24, 16, 8, 0)], axis=1).astype(np.uint8)
    return palette, distinct


def _quantize_frames(
    rgba: list[np.ndarray], codes: list[np.ndarray], colors: int, opts: dict[str, Any]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One k-means palette over all frames (quantised as one tall image), then every pixel whose
    colour is the same as in the previous frame keeps the previous frame's index, so that a
    dither does not flicker where the picture stands still; where a scroll or a pan moved the
    picture (:func:`find_move`), a pixel whose colour moved with it takes the index it had
    before it moved, so that the encoder's MOVE layer gets it right."""
    from .codec import quantize

    height = rgba[0].shape[0]
    if sum(a.shape[0] * a.shape[1] for a in rgba) > MAX_PIXELS:
        msg = f"quantising {len(rgba)} frames together is more than {MAX_PIXELS} pixels"
        raise LimitError(msg)
    q = quantize(np.concatenate(rgba, axis=0), colors, **opts)
    planes = [q.indices[t * height : (t + 1) * height] for t in range(len(rgba))]
    for t in range(1, len(planes)):
        same = codes[t] == codes[t - 1]
        changed = ~same
        box = _box(changed)
        move = None if box is None else find_move(codes[t - 1], codes[t], changed, box)
        if move is not None:
            here, there = _rects(move)
            moved = codes[t][here] == codes[t - 1][there]
            planes[t][here] = np.where(moved, planes[t - 1][there], planes[t][here])
        planes[t] = np.where(same, planes[t - 1], planes[t])
    palette = q.palette
    if palette.shape[1] == 3:
        palette = np.concatenate([palette, np.full((len(palette), 1), 255, np.uint8)], axis=1)
    return palette, planes


# -- the encoder -----------------------------------------------------------------------------


def _layer(
    sub: np.ndarray,
    inside: np.ndarray | None,
    group: np.ndarray,
    kind: int,
    origin: tuple[int, int],
    colors: int,
    opts: Any,
) -> fmt.Layer:
    """One layer over the box ``sub`` (at ``origin``): the pixels where ``inside`` is set (None:
    every pixel) take their colour's symbol in ``group`` (sorted); the others symbol 0."""
    lut = np.zeros(colors, np.uint8)
    lut[group] = np.arange(len(group)) + (kind == fmt.DELTA)
    symbols = np.take(lut, sub)  # a third of the time of lut[sub] and np.where
    if inside is not None:
        np.multiply(symbols, inside, out=symbols)
    count = len(group) + (kind == fmt.DELTA)
    coding, stream, index_bits = code_plane(symbols, count, opts)
    height, width = sub.shape
    mapping = tuple(int(v) for v in group)
    return fmt.Layer(kind, *origin, width, height, mapping, int(coding), index_bits, stream)


def _layers(
    sub: np.ndarray, need: np.ndarray | None, origin: tuple[int, int], colors: int, opts: Any
) -> list[fmt.Layer]:
    """The layers that paint ``sub``: PLAIN first when ``need`` is None (every pixel is painted),
    DELTA otherwise (only where ``need`` is set). Colours are taken most frequent first, 256
    (PLAIN) or 255 (DELTA) a layer; a later layer covers the box of its own colours' pixels."""
    values = sub if need is None else sub[need]
    counts = np.bincount(values.ravel(), minlength=colors)
    present = np.flatnonzero(counts)
    first = 256 if need is None else 255
    if len(present) <= first:
        groups = [present]
    else:
        ranked = present[np.argsort(-counts[present], kind="stable")]
        groups = [ranked[:first]] + [ranked[i : i + 255] for i in range(first, len(ranked), 255)]
    layers = []
    for n, group in enumerate(groups):
        group = np.sort(group)
        kind = fmt.PLAIN if need is None and n == 0 else fmt.DELTA
        member: np.ndarray | None
        if len(groups) == 1:
            member = need
        else:
            in_group = np.zeros(colors, bool)
            in_group[group] = True
            member = in_group[sub] if need is None else in_group[sub] & need
        if n == 0:
            layers.append(_layer(sub, member, group, kind, origin, colors, opts))
            continue
        assert member is not None  # several groups: each has its own member mask
        rows = np.flatnonzero(member.any(axis=1))
        cols = np.flatnonzero(member.any(axis=0))
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        box = (origin[0] + int(x0), origin[1] + int(y0))
        part = (slice(y0, y1), slice(x0, x1))
        layers.append(_layer(sub[part], member[part], group, kind, box, colors, opts))
    return layers


def _box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) bounding the set pixels of ``mask``, or None if there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _rects(move: fmt.Layer) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """A MOVE layer's destination and source rectangles, as (rows, columns) slices."""
    rows, cols = slice(move.y, move.y + move.height), slice(move.x, move.x + move.width)
    fy, fx = move.from_y, move.from_x
    return (rows, cols), (slice(fy, fy + move.height), slice(fx, fx + move.width))


def find_move(
    prev: np.ndarray, cur: np.ndarray, changed: np.ndarray, box: tuple[int, int, int, int]
) -> fmt.Layer | None:
    """A candidate MOVE layer for the frame ``cur`` over the canvas ``prev``: a vertical shift
    found by whole rows of the changed box (a scroll) or a horizontal one by whole columns (a
    pan), whichever more of the lines vote for, over the rectangle bounding the changed pixels
    the shift gets right; None unless it gets :data:`MOVE_SHARE` of the changed pixels right
    (and :data:`MOVE_MIN_PIXELS`) and leaves at most :data:`MOVE_LEFT` of them different."""
    y0, y1, x0, x1 = box
    height, width = cur.shape
    total = int(np.count_nonzero(changed[y0:y1, x0:x1]))
    need = max(MOVE_MIN_PIXELS, MOVE_SHARE * total)
    prev, cur = np.ascontiguousarray(prev), np.ascontiguousarray(cur)
    shifts: list[tuple[float, int, int]] = []
    for axis, lines in ((0, y1 - y0), (1, x1 - x0)):
        # each line of the box (a row for axis 0, a column for axis 1) looked up among the
        # previous canvas's lines by a hash of up to 64 of its values; every equal pair votes
        # for its offset, lines found more than MOVE_REPEATS times (blank lines) do not
        found = _shift_votes(
            prev, cur, width, height, cur.itemsize, x0, y0, x1, y1, axis, MOVE_REPEATS
        )
        if found is not None and found[1] >= MOVE_MIN_LINES:
            dx, dy = (0, found[0]) if axis == 0 else (found[0], 0)
            shifts.append((found[1] / lines, dx, dy))
    if not shifts:
        return None
    _, dx, dy = max(shifts)  # only the axis on which more lines voted for it is counted
    # destination rows and columns of the box whose source is inside the canvas
    ty0, ty1 = max(y0, -dy), min(y1, height - dy)
    tx0, tx1 = max(x0, -dx), min(x1, width - dx)
    if ty0 >= ty1 or tx0 >= tx1:
        return None
    # every fourth row first: most candidates are coincidences, and this rejects them in a
    # quarter of the time
    rows, cols = slice(ty0, ty1, 4), slice(tx0, tx1)
    some = cur[rows, cols] == prev[ty0 + dy : ty1 + dy : 4, tx0 + dx : tx1 + dx]
    if 4 * np.count_nonzero(some & changed[rows, cols]) < need / 2:
        return None
    same = cur[ty0:ty1, tx0:tx1] == prev[ty0 + dy : ty1 + dy, tx0 + dx : tx1 + dx]
    was_changed = changed[ty0:ty1, tx0:tx1]
    right = same & was_changed
    matched = int(np.count_nonzero(right))
    if matched < need:
        return None
    r = _box(right)
    assert r is not None
    # what the move leaves different: the changed pixels it does not get right, and the
    # pixels inside its rectangle that were right and that it gets wrong
    inside = (slice(r[0], r[1]), slice(r[2], r[3]))
    broken = int(np.count_nonzero(~(same[inside] | was_changed[inside])))
    if total - matched + broken > MOVE_LEFT * total:
        return None
    ry0, ry1, rx0, rx1 = r[0] + ty0, r[1] + ty0, r[2] + tx0, r[3] + tx0
    return fmt.Layer.move(rx0, ry0, rx1 - rx0, ry1 - ry0, rx0 + dx, ry0 + dy)


def _cost(layers: list[fmt.Layer], colors: int) -> int:
    return sum(
        fmt.MOVE_SIZE
        if la.kind == fmt.MOVE
        else len(la.stream) + len(fmt.map_bytes(la.mapping, colors)[1])
        for la in layers
    )


def _changed_layers(
    cur: np.ndarray,
    changed: np.ndarray,
    box: tuple[int, int, int, int],
    colors: int,
    opts: Any,
) -> list[fmt.Layer]:
    """The smaller of PLAIN and DELTA layers over the changed pixels' ``box``."""
    y0, y1, x0, x1 = box
    sub = cur[y0:y1, x0:x1]
    need = changed[y0:y1, x0:x1]

    def cost(layers: list[fmt.Layer]) -> int:
        return _cost(layers, colors)

    # PLAIN or DELTA, chosen on coding 2 alone (fast to code); then, with no coding asked
    # for, coding 0 where it is smaller: at the screening zstd level first, and at the final
    # level only where that already beats coding 2 (ANIMATION_SCREEN_MARGIN).
    ranking = opts if opts.coding is not None else _options.update(opts, coding=Coding.FAST)
    plain = _layers(sub, None, (x0, y0), colors, ranking)
    delta = _layers(sub, need, (x0, y0), colors, ranking)
    best, kind = (plain, None) if cost(plain) < cost(delta) else (delta, need)
    if opts.coding is not None:
        return best
    zstd_rows = _options.update(opts, coding=Coding.ROWS)
    screen = opts.preset.screen_level
    if screen is not None and opts.compress_level is None:
        screened = _layers(
            sub, kind, (x0, y0), colors, _options.update(zstd_rows, compress_level=screen)
        )
        if cost(screened) >= ANIMATION_SCREEN_MARGIN * cost(best):
            return best
    return min(best, _layers(sub, kind, (x0, y0), colors, zstd_rows), key=cost)


def frame_layers(
    prev: np.ndarray | None, cur: np.ndarray, colors: int, opts: Any
) -> list[fmt.Layer]:
    """The layers that turn the canvas ``prev`` (None: the first frame) into ``cur``: none if
    nothing changed, else the smaller of PLAIN and DELTA layers over the changed pixels' box,
    or, where a scroll or a pan moved much of the picture (:func:`find_move`), a MOVE layer
    and the layers that paint what it left different, if that is smaller."""
    if prev is None:
        return _layers(cur, None, (0, 0), colors, opts)
    changed = cur != prev
    box = _box(changed)
    if box is None:
        return []
    best = _changed_layers(cur, changed, box, colors, opts)
    move = find_move(prev, cur, changed, box)
    if move is not None:
        # what differs after the move: as before outside its rectangle, compared inside it
        here, there = _rects(move)
        left = changed.copy()
        np.not_equal(cur[here], prev[there], out=left[here])
        rest_box = _box(left)
        rest = [] if rest_box is None else _changed_layers(cur, left, rest_box, colors, opts)
        if _cost([move, *rest], colors) < _cost(best, colors):
            best = [move, *rest]
    return best


def _code_frames(planes: Iterable[np.ndarray], colors: int, opts: Any) -> list[bytes]:
    """Every frame's bytes, coded on up to :data:`THREADS` threads: a frame depends only on its
    own plane and the one before, and the codings' compiled loops and zstd release the GIL
    (measured: 0.55-0.8x the time on two cores for the animation corpus' larger GIFs).
    At most two frames a thread are in flight, so memory stays a few canvases, whatever the
    number of frames; the bytes do not depend on the number of threads."""

    def code(prev: np.ndarray | None, plane: np.ndarray) -> bytes:
        return fmt.build_frame(frame_layers(prev, plane, colors, opts), colors)

    threads = THREADS or min(os.cpu_count() or 1, MAX_THREADS)
    out: list[bytes] = []
    prev = None
    if threads == 1:
        for plane in planes:
            out.append(code(prev, plane))
            prev = plane
        return out
    pending: deque[Future[bytes]] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="kmq-encode") as pool:
        try:
            for plane in planes:
                pending.append(pool.submit(code, prev, plane))
                prev = plane
                if len(pending) >= 2 * threads:
                    out.append(pending.popleft().result())
            out.extend(job.result() for job in pending)
        finally:
            for job in pending:
                job.cancel()
    return out


def _durations(duration: int | Sequence[int], count: int) -> list[int]:
    values = [duration] * count if isinstance(duration, (int, np.integer)) else list(duration)
    if len(values) != count:
        msg = f"{len(values)} durations for {count} frames"
        raise OptionError(msg)
    for v in values:
        if not isinstance(v, (int, np.integer, float)) or not 0 <= v <= 0xFFFFFFFF:
            msg = f"a frame's duration is a number of milliseconds, 0 to 2**32 - 1, got {v!r}"
            raise OptionError(msg)
    return [round(v) for v in values]


def encode_animation(
    frames: Iterable[Any],
    duration: int | Sequence[int] = 100,
    loop: int | None = 0,
    colors: int | None = None,
    **options: Unpack[EncodeOptionValues],
) -> bytes:
    """Encode frames as one animated ``.kmq`` file.

    Parameters
    ----------
    frames : iterable of PIL.Image.Image or array_like
        The frames as shown (composited), all the same size: PIL images of any mode, or uint8
        arrays of shape (H, W), (H, W, 3) or (H, W, 4).
    duration : int or sequence of int, default=100
        Milliseconds each frame shows: one for all, or one per frame.
    loop : int or None, default=0
        Times to play (0: for ever); None: no loop count is stored (played once, as a GIF
        without one).
    colors : int, optional
        Without it the frames are kept exactly when the pixels each frame changes have at most
        257 colours (any GIF: a local palette and a disposal's transparency) and the animation
        as a whole has at most 65535, else they are quantised to 256 colours. With
        it (1 to 65535), kept exactly when the whole animation has at most ``colors`` colours,
        else quantised to ``min(colors, 256)`` with one palette for every frame.
    **options
        Encode options (those of :func:`kmcodec.encode`): the quantiser's when quantising,
        ``coding`` and ``compress_level`` for every layer, ``icc_profile`` and ``exif``.

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        No frames, or frames of different sizes.
    OptionError, LimitError
    """
    first: dict[str, Any] = {}  # the first frame's info (ICC profile, EXIF)
    shape: tuple[int, ...] = ()

    def other_size(n: int, got: tuple[int, ...]) -> ValueError:
        return ValueError(
            f"every frame must be {shape[1]}x{shape[0]} like the first, got {got[1]}x{got[0]}"
            f" in frame {n} (a TIFF's pages of different sizes, or a GIF frame outside its"
            " canvas, which Pillow grows; gif2webp refuses those)"
        )

    def codes_of_frames() -> Iterator[np.ndarray]:
        nonlocal shape
        for n, frame in enumerate(frames):
            if n == fmt.MAX_FRAMES:
                msg = f"more than the {fmt.MAX_FRAMES} frames of an animation"
                raise LimitError(msg)
            # A PIL frame's size is checked before its pixels are read: Pillow 10.2 reports a
            # GIF frame outside the canvas at the grown size but still holds the old pixels.
            if n and hasattr(frame, "convert") and (size := frame.size[::-1]) != shape:
                raise other_size(n, size)
            codes = _frame_codes(frame)
            if n == 0:
                first.update(getattr(frame, "info", None) or {})
                shape = codes.shape
            elif codes.shape != shape:
                raise other_size(n, codes.shape)
            yield codes

    # Each frame is read once and kept as what it changes; only quantising (every frame's
    # pixels in one k-means) needs them all whole.
    try:
        changes = _Changes.read(codes_of_frames())
    except StopIteration:
        raise ValueError("an animation needs at least one frame") from None
    height, width = shape[:2]
    durations = _durations(duration, len(changes))
    if loop is not None and not (isinstance(loop, (int, np.integer)) and 0 <= loop <= 0xFFFF):
        msg = f"loop must be 0 (for ever) to 65535, or None; got {loop!r}"
        raise OptionError(msg)
    if colors is not None and (
        isinstance(colors, bool)
        or not isinstance(colors, (int, np.integer))
        or not 1 <= colors <= MAX_ANIMATION_COLORS
    ):
        msg = f"colors must be an integer from 1 to {MAX_ANIMATION_COLORS}, got {colors!r}"
        raise OptionError(msg)
    quantized_colors = min(colors or 256, 256)
    meta = SimpleNamespace(info=first)
    opts = _options.resolve(**options_with_metadata(meta, {"colors": quantized_colors, **options}))
    lossless = colors is not None or changes.palette_like
    planes: Iterable[np.ndarray] = ()
    if lossless:
        palette, distinct = _palette_of(changes)
        lossless = len(palette) <= (colors or MAX_ANIMATION_COLORS)
        planes = changes.planes(distinct)
    if not lossless:
        quant = {k: v for k, v in options.items() if _options.stage(k) == "quantize"}
        codes = list(changes.codes())
        rgba = [c.astype(">u4").view(np.uint8).reshape(height, width, 4) for c in codes]
        palette, planes = _quantize_frames(rgba, codes, opts.colors, quant)
        del rgba, codes
    if (palette[:, 3] == 255).all():
        palette = np.ascontiguousarray(palette[:, :3])
    frame_bytes = _code_frames(planes, len(palette), _options.update(opts, index_bits=None))
    header = Header(
        width=width,
        height=height,
        colors=len(palette),
        index_bits=0,
        flags=FLAG_ANIMATION | (FLAG_ALPHA if palette.shape[1] == 4 else 0),
        coding=0,
    )
    chunks: dict[bytes, bytes] = {}
    if opts.icc_profile:
        chunks[CHUNK_ICC] = opts.icc_profile
    if opts.exif:
        chunks[CHUNK_EXIF] = exif_to_chunk(opts.exif)
    stream = fmt.build_stream(frame_bytes, durations, loop)
    return build_file(header, palette.tobytes(), chunks, stream)


# -- the decoder -----------------------------------------------------------------------------


def _layer_header(la: fmt.Layer) -> Header:
    """The still header a layer's stream is decoded with, checked as the spec says."""
    if la.coding not in tuple(Coding):
        msg = f"unsupported index coding {la.coding} in a layer"
        raise UnsupportedError(msg)
    if la.index_bits not in index_bits_allowed(la.symbols):
        msg = f"{la.index_bits} bits per index cannot code a layer's {la.symbols} symbols"
        raise CorruptError(msg)
    return Header(
        width=la.width,
        height=la.height,
        colors=la.symbols,
        index_bits=la.index_bits,
        coding=Coding(la.coding),
        stream_size=len(la.stream),
    )


def apply_layer(canvas: np.ndarray, la: fmt.Layer) -> None:
    """Decode a layer's stream and paint it onto the canvas (in place)."""
    if la.kind == fmt.MOVE:  # numpy reads the source wholly before writing when they overlap
        fx, fy = la.from_x, la.from_y
        canvas[la.y : la.y + la.height, la.x : la.x + la.width] = canvas[
            fy : fy + la.height, fx : fx + la.width
        ]
        return
    h = _layer_header(la)
    codings.check_start(la.stream[: codings.START_BYTES], len(la.stream), h)
    # paint unpacks coding 0's rows, and checks that every symbol is below the layer's count
    plane = codings.decode(la.stream, h, check_indices=False)
    lut = np.asarray(la.mapping if la.kind == fmt.PLAIN else (0, *la.mapping), np.uint16)
    height, width = canvas.shape
    delta = la.kind == fmt.DELTA
    args = (la.x, la.y, la.width, la.height, lut, delta)
    if _paint(canvas, width, height, canvas.itemsize, plane.data, plane.index_bits, *args) != 0:
        msg = f"a palette index is out of range for {la.symbols} colours"
        raise IndexRangeError(msg)


def _palette_words(palette: np.ndarray) -> np.ndarray:
    """A palette of (K, 3) or (K, 4) bytes as K uint32 words of R, G, B, A in memory order
    (A = 255 for an RGB palette)."""
    rgba = np.full((len(palette), 4), 255, np.uint8)
    rgba[:, : palette.shape[1]] = palette
    return rgba.view(np.uint32).ravel()


class AnimationReader:
    """Decode an animated file's frames one at a time, in any order.

    Holds one canvas of indices; going back starts again at the last key frame at or before the
    frame asked for (the frames after it are decoded, never stored).

    Parameters
    ----------
    head : kmcodec.format.layout.Head
        The file's head (:func:`~kmcodec.format.layout.read_head`).
    read_at : callable
        ``read_at(offset, size)`` returns ``size`` bytes of the index stream from ``offset``
        (fewer if the file ends sooner).
    """

    def __init__(self, head: Head, read_at: Callable[[int, int], bytes | memoryview]) -> None:
        h = head.header
        self.header = h
        self._read_at = read_at
        start = bytes(read_at(0, fmt.HEAD_SIZE))
        size = fmt.table_size(start)
        if size > h.stream_size:
            self.table = fmt.parse_table(start, h.stream_size)  # raises the error that says why
        self.table = fmt.parse_table(read_at(0, size), h.stream_size)
        self.palette = np.frombuffer(head.palette, np.uint8).reshape(h.colors, h.channels)
        self._words = _palette_words(self.palette)
        self._canvas = np.zeros((h.height, h.width), np.uint8 if h.colors <= 256 else np.uint16)
        self._at = -1
        self._pixels: np.ndarray | None = None  # the canvas's colours, kept by :meth:`pixels`
        self._painted: list[tuple[int, int, int, int]] = []  # boxes (x, y, w, h) painted since

    @property
    def n_frames(self) -> int:
        return len(self.table)

    @property
    def durations(self) -> list[int]:
        return [f.duration for f in self.table.frames]

    def duration(self, n: int) -> int:
        """Milliseconds frame ``n`` shows (a seek asks for one, not the list of all)."""
        return self.table.frames[n].duration

    def _layers(self, n: int) -> list[fmt.Layer]:
        entry = self.table.frames[n]
        data = self._read_at(entry.offset, entry.size)
        if len(data) < entry.size:
            msg = f"truncated frame {n}: {len(data)} of {entry.size} bytes"
            raise TruncatedError(msg)
        layers = fmt.parse_frame(data, (self.header.width, self.header.height), self.header.colors)
        if n == 0 and not fmt.is_key(layers, (self.header.width, self.header.height)):
            raise CorruptError("the first frame must be a key frame (PLAIN over the canvas)")
        return layers

    def _is_key(self, n: int) -> bool:
        entry = self.table.frames[n]
        prefix = self._read_at(entry.offset, min(entry.size, fmt.KEY_PREFIX))
        return fmt.is_key_prefix(prefix, (self.header.width, self.header.height))

    def frame(self, n: int) -> np.ndarray:
        """The canvas of indices after frame ``n`` (a view: copy it to keep it).

        Raises
        ------
        IndexError
            ``n`` out of range.
        kmcodec.errors.KmqError
            The frame (or one it is coded against) is corrupt; the message names it.
        """
        if not 0 <= n < self.n_frames:
            msg = f"frame {n} is out of range (the animation has {self.n_frames})"
            raise IndexError(msg)
        if n < self._at or self._at < 0:
            start = n
            while start > 0 and not self._is_key(start):
                start -= 1
            self._at = start - 1
        while self._at < n:
            t = self._at + 1
            try:
                for la in self._layers(t):
                    apply_layer(self._canvas, la)
                    self._painted.append((la.x, la.y, la.width, la.height))
            except KmqError as exc:
                self._at = -1  # the canvas is half painted: start again next time
                self._pixels = None
                raise type(exc)(f"frame {t}: {exc}") from None
            self._at = t
        return self._canvas

    def pixels(self, n: int) -> np.ndarray:
        """Frame ``n`` as (height, width) uint32 words, R G B A in memory order (A = 255 for
        an RGB palette); a view, as :meth:`frame`. Only the boxes painted since the last call
        are looked up again (one word a pixel: ten times faster than three bytes)."""
        canvas = self.frame(n)
        if self._pixels is None:
            self._pixels = self._words[canvas]
        else:
            height, width = canvas.shape
            item = canvas.itemsize
            for box in self._painted:  # paint() kept every index below the palette's size
                if _lookup(canvas, width, height, item, self._words, self._pixels, *box):
                    raise CorruptError("a pixel's index has no palette entry")
        self._painted.clear()
        return self._pixels


@dataclass
class Animation:
    """A decoded animated ``.kmq`` file, frame by frame.

    Attributes
    ----------
    palette : ndarray of uint8, shape (K, 3) or (K, 4)
    durations : list of int
        Milliseconds per frame.
    loop : int or None
        0: for ever; None: no loop count stored.
    header : kmcodec.format.layout.Header
    """

    palette: np.ndarray
    durations: list[int]
    loop: int | None
    header: Header
    _reader: AnimationReader

    @property
    def n_frames(self) -> int:
        return len(self.durations)

    def indices(self, n: int) -> np.ndarray:
        """Frame ``n`` as a (height, width) plane of palette indices (a copy)."""
        return self._reader.frame(n).copy()

    def frame(self, n: int) -> np.ndarray:
        """Frame ``n`` as (height, width, 3 or 4) pixels (a copy)."""
        if isinstance(self._reader, AnimationReader):
            words = self._reader.pixels(n)
            rgba = words.view(np.uint8).reshape(*words.shape, 4)
            return np.array(rgba[..., : self.palette.shape[1]])  # a copy, RGBA's too
        return self.palette[self._reader.frame(n)]

    def words(self, n: int) -> np.ndarray:
        """Frame ``n`` as (height, width) uint32 words, each pixel's R, G, B, A bytes in memory
        order (A = 255 for an RGB palette): a view, valid until another frame is asked for.
        Viewed as ``">u4"``, a pixel is ``R << 24 | G << 16 | B << 8 | A``; no copy a frame,
        where :meth:`frame` makes one."""
        if isinstance(self._reader, AnimationReader):
            return self._reader.pixels(n)
        return _palette_words(self.palette)[self._reader.frame(n)]

    def __iter__(self) -> Iterator[np.ndarray]:
        """The frames' pixels in order."""
        return (self.frame(n) for n in range(self.n_frames))

    def __repr__(self) -> str:
        h = self.header
        return (
            f"<Animation {h.width}x{h.height}, {plural(self.n_frames, 'frame')},"
            f" {plural(h.colors, 'colour')}>"
        )


def read_animation(
    data: bytes | bytearray | memoryview, *, max_pixels: int | str | None = PILLOW_LIMIT
) -> Animation:
    """Open an animated ``.kmq`` file (a still file reads as one frame of no duration).

    Parameters
    ----------
    data : bytes-like
        The whole file.
    max_pixels : int, "pillow" or None, default="pillow"
        Largest width x height x frames (see :func:`kmcodec.read`), checked before any frame is
        decoded.

    Raises
    ------
    kmcodec.errors.KmqError
    """
    from .codec import check_pixels

    head, stream = split_file(data)
    h = head.header
    if not h.is_animated:
        from .codec import read

        still = read(data, max_pixels=max_pixels)
        still_reader = _StillReader(still.indices)
        return Animation(still.palette, [0], None, h, still_reader)  # type: ignore[arg-type]
    reader = AnimationReader(head, lambda offset, size: stream[offset : offset + size])
    check_pixels(h, max_pixels, frames=reader.n_frames)
    return Animation(reader.palette.copy(), reader.durations, reader.table.loop, h, reader)


class _StillReader:
    def __init__(self, indices: np.ndarray) -> None:
        self._indices = indices

    def frame(self, n: int) -> np.ndarray:
        if n != 0:
            msg = f"frame {n} is out of range (the file is a still image)"
            raise IndexError(msg)
        return self._indices
