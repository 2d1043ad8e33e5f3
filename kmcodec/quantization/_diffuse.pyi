# Stubs of the compiled error diffusion (_diffuse.c); buffers as kmcodec.quantization.remap
# passes them, outputs written in place.
def diffuse(
    pixels: object,
    width: int,
    height: int,
    channels: int,
    lut: object,
    palette: object,
    palette8: object,
    colors: int,
    weights: object,
    kernel: int,
    strength: float,
    clamp: float,
    out: object,
    scale: float = ...,
    edge_start: float = ...,
    edge_ramp: float = ...,
) -> float: ...
def maps(
    pixels: object,
    width: int,
    height: int,
    channels: int,
    edge_start: float,
    edge_ramp: float,
    noise_half: float,
    dmap: object,
    noise: object,
) -> None: ...
