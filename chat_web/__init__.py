"""The web client's files: static HTML, CSS and JavaScript, served as they are (no build step).

`static_files()` maps each URL path the server answers to the file's bytes. Only these
paths exist for the web listener: anything else is a 404, so no path can reach outside.
"""

from __future__ import annotations

from importlib import resources

# URL path -> file in static/ ("/" is the page itself).
PATHS = {
    "/": "index.html",
    "/index.html": "index.html",
    "/app.js": "app.js",
    "/style.css": "style.css",
    "/icon.svg": "icon.svg",
    "/scheduler": "scheduler.html",  # the scheduler, live (chat_server/live_view.py)
    "/scheduler.js": "scheduler.js",
    "/scheduler.css": "scheduler.css",
}


def static_files() -> dict[str, bytes]:
    """Every path the web listener serves, with its content, read once at start."""
    folder = resources.files(__package__) / "static"
    return {path: (folder / name).read_bytes() for path, name in PATHS.items()}
