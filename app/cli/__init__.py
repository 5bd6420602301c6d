"""The `stepgrad` command line: `serve` and `train`, how uvicorn is run, and its logging."""
