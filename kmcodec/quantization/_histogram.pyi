# Stub of the compiled pixel-to-distinct-colour ranks (_histogram.c).
def rank24(
    codes: object, n_codes: int, pixel_codes: object, n_pixels: int, out: object
) -> None: ...
