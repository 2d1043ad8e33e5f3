"""The ``.kmq`` file format: its byte layout (:mod:`.layout`) and the codings of its index
stream (:mod:`.codings`). Nothing here knows of colours or quantisation."""
