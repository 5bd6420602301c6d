"""stepgrad's web service: FastAPI routes, schemas, the graph store and settings."""

__version__ = "0.1.0"
