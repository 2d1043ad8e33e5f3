"""``python -m kmcodec`` runs the ``kmq`` command (:mod:`kmcodec.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
