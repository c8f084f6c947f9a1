"""Run the vector server: `python -m micro_mcp.services.vector [--db FILE] [--http ...]`."""

from __future__ import annotations

import os

# One BLAS thread unless told otherwise, set before numpy loads (OpenBLAS reads it once): the
# encoder's matrices are small, and on a machine shared with the gateway and other services,
# OpenBLAS threads that spin for a busy core made embedding 5x slower, not faster. Concurrent
# calls still use several cores, since each embedding runs on its own worker thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import logging
import sys
from collections.abc import Sequence

from micro_mcp.services.vector.config import parse_config
from micro_mcp.services.vector.encoder import Encoder, default_model_dir
from micro_mcp.services.vector.errors import VectorError
from micro_mcp.services.vector.server import build_server, open_store


def main(argv: Sequence[str] | None = None) -> None:
    """Serve over stdio, or Streamable HTTP with `--http`."""
    config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
    # stderr only: on stdio, stdout carries the protocol.
    logging.basicConfig(level=logging.WARNING, format="vector: %(message)s", stream=sys.stderr)
    try:
        encoder = None
        if config.embeddings:
            encoder = Encoder(config.model or default_model_dir())
        store = open_store(config.database, max_documents=config.max_documents, encoder=encoder)
    except VectorError as exc:
        sys.exit(f"vector: {exc}")
    try:
        server = build_server(store, encoder=encoder)
        if config.http:
            server.run("streamable-http", host=config.host, port=config.port)
        else:
            server.run()
    finally:
        store.close()


if __name__ == "__main__":
    main()
