"""The staff JSON API: one blueprint, its routes in modules by subject."""

from contactcenter.api import routing_views  # noqa: F401 - registers its routes on bp
from contactcenter.api.views import bp

__all__ = ["bp"]
