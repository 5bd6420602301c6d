"""The Jinja2 templates of the pages and of the API docs, with the static prefix in their
context."""

from __future__ import annotations

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from stepgrad.app.http import static_assets

# the pages and their assets ship inside the package, so an installed wheel serves them
templates = Jinja2Templates(
    env=Environment(
        loader=PackageLoader("stepgrad.templates", "."), autoescape=select_autoescape()
    ),
    context_processors=[static_assets.template_context],
)
