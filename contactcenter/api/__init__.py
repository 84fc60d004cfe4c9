"""The staff JSON API: one blueprint, its routes in modules by subject."""

from contactcenter.api import export_views, mail_views, open311_views, routing_views  # noqa: F401 - register routes on bp
from contactcenter.api.views import bp

__all__ = ["bp"]
