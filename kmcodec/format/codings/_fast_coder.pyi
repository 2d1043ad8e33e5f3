# Stubs of coding 2's compiled model and rANS coder (_fast_coder.c).
ERR_ENDS_EARLY: int
ERR_LEFT_OVER: int
ERR_INDEX: int
ERR_TABLE_SUM: int
ERR_SYMBOL: int
ERR_TABLE: int
ERR_EMPTY: int
ERR_SPAN: int
ERR_STATE: int

def encode(
    indices: object, width: int, height: int, colors: int, part_rows: int
) -> tuple[bytes, list[bytes]]: ...
def parse_tables(table_bytes: object, colors: int) -> bytes | int: ...
def decode_part(
    tables: object, part_bytes: object, width: int, rows: int, colors: int, out: object
) -> int: ...
def decode_pair(
    tables: object,
    part0: object,
    part1: object,
    width: int,
    rows0: int,
    rows1: int,
    colors: int,
    out0: object,
    out1: object,
) -> int: ...
def paint(
    canvas: object,
    width: int,
    height: int,
    item: int,
    plane: object,
    bits: int,
    x: int,
    y: int,
    w: int,
    h: int,
    lut: object,
    delta: int,
) -> int: ...
def lookup(
    canvas: object,
    width: int,
    height: int,
    item: int,
    words: object,
    pixels: object,
    x: int,
    y: int,
    w: int,
    h: int,
) -> int: ...
def shift_votes(
    before: object,
    after: object,
    width: int,
    height: int,
    item: int,
    x0: int,
    y0: int,
    x1: int,
    y1: int,
    axis: int,
    repeats: int,
) -> tuple[int, int] | None: ...
