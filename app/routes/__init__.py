"""One module per resource of the REST API and the pages; each route is a thin call into
the live graphs, the stores or the engine."""
