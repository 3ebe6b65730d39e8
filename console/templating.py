"""The Jinja2 environment of the console's pages (autoescaped) and its static folder."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
# An id as one path segment of a link (ids may hold "/", "?" or spaces).
templates.env.filters["id_segment"] = lambda value: quote(str(value), safe="")
# A share (precision, recall) as a percentage; "–" when there is nothing to divide by.
templates.env.filters["share"] = lambda value: "–" if value is None else f"{value:.1%}"
