# Stubs of the compiled k-means loops (_kmeans.c). Array arguments are C-contiguous buffers of
# the dtypes kmcodec.quantization.kmeans passes; outputs are written in place.
def distances(
    points: object, n: int, centers: object, k: int, dims: int, labels: object, out: object
) -> None: ...
def cheaper(
    points: object,
    lab: object,
    weights: object,
    n: int,
    dims: int,
    centers: object,
    center_lab: object,
    k: int,
    lam: float,
    a: object,
    b: object,
    chosen: object,
    other: object,
    gap: object,
    near: object,
    count: object,
    sums: object,
    inv: object,
    inv_sums: object,
) -> None: ...
def split(points: object, weights: object, n: int, dims: int, k: int, out: object) -> int: ...
def nearest_two(
    points: object,
    n: int,
    centers: object,
    k: int,
    dims: int,
    guess: object,
    first: object,
    second: object,
    d1: object,
    d2: object,
) -> None: ...
def lloyd(
    points: object,
    weights: object,
    n: int,
    centers: object,
    k: int,
    dims: int,
    labels: object,
    upper: object,
    lower: object,
    max_iter: int,
    tol: float,
) -> int: ...
def move_two(
    points: object,
    n: int,
    centers: object,
    k: int,
    dims: int,
    a: object,
    b: object,
    labels: object,
    upper: object,
    lower: object,
) -> None: ...
