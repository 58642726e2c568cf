"""The dashboard's web side: FastAPI routes, Jinja2 templates rendered on the server, a few
small scripts, and the server-sent event stream of the rooms page."""
