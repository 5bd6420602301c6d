"""stepgrad's web service: FastAPI routes, schemas, the graph store and settings."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stepgrad")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
