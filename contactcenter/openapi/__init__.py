"""The OpenAPI 3.1 description of the staff API (``/api/v1``) and the Open311 GeoReport v2 API
(``/open311/v2``), assembled once at start-up from the app's own routes and the pydantic models
that validate their input, so it cannot drift from what the app serves.

``init_app`` must run after every blueprint is registered (the end of ``create_app``).
"""

from contactcenter.openapi.views import init_app

__all__ = ["init_app"]
