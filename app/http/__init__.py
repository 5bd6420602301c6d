"""The HTTP surface shared by the routes: dependencies, the one exception-to-answer mapping,
response helpers, the request log, templates and static files."""
