# Stubs of coding 1's compiled model and coder (_context_coder.c).
ERR_ENDS_EARLY: int
ERR_LEFT_OVER: int
ERR_INDEX: int

def encode(indices: object, width: int, height: int, colors: int) -> bytes: ...
def decode(stream: object, width: int, height: int, colors: int, out: object) -> int: ...
