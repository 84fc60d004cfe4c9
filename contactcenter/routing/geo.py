"""Districts a city routes by: importing their shapes, finding the ones around a point, distances.

Cities hand us their wards, districts and zones as GeoJSON exported from whatever GIS they use,
and those exports are often subtly broken: rings left open, [lat, lon] swapped, bow-tie
polygons, codes repeated. Routing on a broken shape silently sends cases to the wrong team, so
``parse_districts`` refuses the whole upload and lists every problem at once, each naming its
feature, for the person fixing the file. What it accepts is normalized GeoJSON that is stored as
JSON and loaded back into a ``DistrictIndex``, which answers "which districts cover this point?"
in microseconds (an STRtree over prepared geometries) for every case that arrives.

Coordinates are plain WGS 84 [longitude, latitude], as GeoJSON defines them; distances are on a
sphere, which is accurate to about 0.5% and plenty for "nearest crew" or a prefilter. Districts
that cross the antimeridian are not supported (split them into a MultiPolygon at 180°).

Pure on purpose: no web framework, database or queue, so it can be used and tested anywhere.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.errors import GEOSException

MAX_FEATURES = 5_000
MAX_POSITIONS = 1_000_000
MAX_REPORTED_PROBLEMS = 50
EARTH_RADIUS_M = 6_371_008.8  # the mean earth radius (IUGG)

_POLYGONAL = ("Polygon", "MultiPolygon")
_BBOX_PAD_DEG = 1e-9  # about 0.1 mm: rounding must never push a point on the circle out of the box

_Position = tuple[float, float]
_Ring = list[_Position]
_short_repr = reprlib.Repr()
_short_repr.maxstring = 40
_short_repr.maxother = 40
_short_repr.maxlist = 4


class GeometryError(ValueError):
    """Districts that cannot be used. ``problems`` lists each one, naming the feature, e.g.
    ``'feature 3 (code "ward-7"): Polygon is invalid: Self-intersection[-73.9 40.7]'``."""

    problems: list[str]

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        return "; ".join(self.problems)


@dataclass(frozen=True)
class DistrictShape:
    """One district as imported: ``geometry`` is the normalized GeoJSON to store."""

    code: str
    name: str
    layer: str
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]  # (min_lon, min_lat, max_lon, max_lat)


@dataclass(frozen=True)
class _PropertyNames:
    code_property: str
    name_property: str
    layer_property: str
    default_layer: str


def parse_districts(
    data: Any,
    *,
    code_property: str = "code",
    name_property: str = "name",
    layer_property: str = "layer",
    default_layer: str = "district",
) -> list[DistrictShape]:
    """The districts of a GeoJSON FeatureCollection (or a single Feature), in document order.

    Every feature is checked and every problem collected before raising one ``GeometryError``;
    features are numbered from 1 in the messages. A feature's code is
    ``properties[code_property]``, else its ``id``; codes must be unique in the collection.
    """
    features = _features_of(data)
    names = _PropertyNames(code_property, name_property, layer_property, default_layer)
    problems: list[str] = []
    shapes: list[DistrictShape] = []
    first_use: dict[str, int] = {}
    for number, feature in enumerate(features, start=1):
        code, district = _parse_feature(number, feature, names, problems)
        if code in first_use:
            used_by = first_use[code]
            problems.append(f"{_label(number, code)}: code is already used by feature {used_by}")
        elif code is not None:
            first_use[code] = number
        if district is not None:
            shapes.append(district)
    if problems:
        raise GeometryError(_capped(problems))
    return shapes


def _features_of(data: Any) -> list[Any]:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "Feature":
        features: Any = [data]
    elif kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise GeometryError(['FeatureCollection has no "features" list'])
    else:
        raise GeometryError(["not a GeoJSON FeatureCollection or Feature"])
    if len(features) > MAX_FEATURES:
        raise GeometryError(
            [f"too many features: {len(features):,} (the limit is {MAX_FEATURES:,})"]
        )
    positions = sum(_count_positions(feature) for feature in features)
    if positions > MAX_POSITIONS:
        raise GeometryError(
            [f"too many coordinate positions: {positions:,} (the limit is {MAX_POSITIONS:,})"]
        )
    return list(features)


def _count_positions(feature: Any) -> int:
    """Positions in a feature's polygons, counted per ring so the count itself stays cheap."""
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if not isinstance(geometry, dict) or geometry.get("type") not in _POLYGONAL:
        return 0
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
    if not isinstance(polygons, list):
        return 0
    rings = [ring for polygon in polygons if isinstance(polygon, list) for ring in polygon]
    return sum(len(ring) for ring in rings if isinstance(ring, list))


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_REPORTED_PROBLEMS:
        return problems
    hidden = len(problems) - MAX_REPORTED_PROBLEMS
    return [*problems[:MAX_REPORTED_PROBLEMS], f"... and {hidden:,} more"]


def _parse_feature(
    number: int, feature: Any, names: _PropertyNames, problems: list[str]
) -> tuple[str | None, DistrictShape | None]:
    """The feature's code (if it has one) and its district, or None after adding its problems."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(f"feature {number}: not a GeoJSON Feature")
        return None, None
    properties = feature.get("properties")
    if properties is None:
        properties = {}
    code, code_problem = _code_of(feature, properties, names.code_property)
    label = _label(number, code)
    own: list[str] = [code_problem] if code_problem else []
    if not isinstance(properties, dict):
        own.append('"properties" must be an object')
        properties = {}
    layer = _text(properties.get(names.layer_property)) or names.default_layer
    geometry, geometry_problems = _parse_geometry(feature.get("geometry"))
    own.extend(geometry_problems)
    problems.extend(f"{label}: {problem}" for problem in own)
    if own or code is None or geometry is None:
        return code, None
    name = _text(properties.get(names.name_property)) or code
    min_lon, min_lat, max_lon, max_lat = (float(value) for value in geometry.bounds)
    normalized = _geojson_of(shapely.orient_polygons(geometry))
    return code, DistrictShape(code, name, layer, normalized, (min_lon, min_lat, max_lon, max_lat))


def _label(number: int, code: str | None) -> str:
    """How messages name a feature: 'feature 3 (code "ward-7")'."""
    if code is None:
        return f"feature {number}"
    return f"feature {number} (code {_quoted(code)})"


def _quoted(text: str) -> str:
    """Text in double quotes for a message, shortened so a huge value cannot flood it."""
    return json.dumps(text if len(text) <= 60 else text[:57] + "...", ensure_ascii=False)


def _text(value: Any) -> str | None:
    """A property as display text: strings stripped, numbers spelled out, anything else None."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _code_of(
    feature: dict[str, Any], properties: Any, code_property: str
) -> tuple[str | None, str | None]:
    """(code, problem): from the code property when it has a value, else the feature id."""
    value = properties.get(code_property) if isinstance(properties, dict) else None
    if _blank(value):
        value = feature.get("id")
    if _blank(value):
        return None, f'has no code: set the "{code_property}" property or the feature "id"'
    code = _text(value)
    if code is None:
        return None, f"code must be a string or a number, not {_short_repr.repr(value)}"
    return code, None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_geometry(geometry: Any) -> tuple[Any, list[str]]:
    """(shapely geometry or None, problems) for a feature's GeoJSON geometry."""
    if geometry is None:
        return None, ["has no geometry"]
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in _POLYGONAL:
        shown = _quoted(kind) if isinstance(kind, str) else _short_repr.repr(kind)
        return None, [f"geometry type {shown} is not supported; use Polygon or MultiPolygon"]
    coordinates = geometry.get("coordinates")
    multi = kind == "MultiPolygon"
    raw_polygons = coordinates if multi else [coordinates]
    if not isinstance(raw_polygons, list) or not raw_polygons:
        return None, ["MultiPolygon coordinates must be a non-empty list of polygons"]
    polygons, problems = _read_polygons(raw_polygons, numbered=multi)
    if problems:
        return None, problems
    range_problem = _range_problem([p for rings in polygons for ring in rings for p in ring])
    if range_problem:
        return None, [range_problem]
    built = _built(polygons, multi=multi)
    reason = shapely.is_valid_reason(built)
    if reason != "Valid Geometry":
        return None, [f"{kind} is invalid: {reason}"]
    return built, []


def _built(polygons: Sequence[Sequence[Sequence[Any]]], *, multi: bool) -> Any:
    """A shapely (Multi)Polygon from rings of [lon, lat] positions (any altitude dropped)."""
    parts = [_polygon(rings) for rings in polygons]
    return shapely.MultiPolygon(parts) if multi else parts[0]


def _polygon(rings: Sequence[Sequence[Any]]) -> Any:
    shell, *holes = (np.asarray(ring, dtype=float)[:, :2] for ring in rings)
    return shapely.Polygon(shell, holes)


def _geojson_of(geometry: Any) -> dict[str, Any]:
    """A shapely (Multi)Polygon as GeoJSON made of lists, ready to store as JSON."""
    if geometry.geom_type == "Polygon":
        return {"type": "Polygon", "coordinates": _rings_of(geometry)}
    return {"type": "MultiPolygon", "coordinates": [_rings_of(part) for part in geometry.geoms]}


def _rings_of(polygon: Any) -> list[list[list[float]]]:
    rings = (polygon.exterior, *polygon.interiors)
    return [shapely.get_coordinates(ring).tolist() for ring in rings]


def _read_polygons(raw: list[Any], *, numbered: bool) -> tuple[list[list[_Ring]], list[str]]:
    """Each polygon's rings as (lon, lat) lists, or the problems found reading them."""
    polygons: list[list[_Ring]] = []
    problems: list[str] = []
    for number, rings in enumerate(raw, start=1):
        where = f"polygon {number} " if numbered else ""
        if not isinstance(rings, list) or not rings:
            problems.append(f"{where or 'Polygon coordinates '}must be a non-empty list of rings")
            continue
        read = [_read_ring(ring, _ring_name(where, index)) for index, ring in enumerate(rings)]
        problems.extend(problem for _, problem in read if problem)
        polygons.append([ring for ring, _ in read if ring is not None])
    return polygons, problems


def _ring_name(where: str, index: int) -> str:
    return f"{where}exterior ring" if index == 0 else f"{where}hole {index}"


def _read_ring(raw: Any, name: str) -> tuple[_Ring | None, str | None]:
    if not isinstance(raw, list):
        return None, f"{name} must be a list of positions"
    ring: _Ring = []
    for number, position in enumerate(raw, start=1):
        pair = _position(position)
        if pair is None:
            shown = _short_repr.repr(position)
            return None, f"{name} position {number} is not a [lon, lat] pair of numbers: {shown}"
        ring.append(pair)
    if len(ring) < 4:
        return None, f"{name} has {len(ring)} positions; a closed ring needs at least 4"
    if ring[0] != ring[-1]:
        return None, (
            f"{name} is not closed: it starts at {_shown(ring[0])} but ends at {_shown(ring[-1])}"
            " (the last position must repeat the first)"
        )
    return ring, None


def _position(value: Any) -> _Position | None:
    """[lon, lat] (any altitude dropped), or None unless both are finite numbers."""
    if not isinstance(value, list | tuple) or len(value) < 2:
        return None
    lon, lat = value[0], value[1]
    for number in (lon, lat):
        if isinstance(number, bool) or not isinstance(number, int | float):
            return None
        if not math.isfinite(number):
            return None
    return float(lon), float(lat)


def _shown(position: _Position) -> str:
    return f"[{position[0]!r}, {position[1]!r}]"


def _in_range(lon: float, lat: float) -> bool:
    return -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0


def _range_problem(positions: Sequence[_Position]) -> str | None:
    outside = next((p for p in positions if not _in_range(*p)), None)
    if outside is None:
        return None
    if all(_in_range(lat, lon) for lon, lat in positions):
        return "coordinates look like [lat, lon]; GeoJSON wants [lon, lat]"
    return (
        f"position {_shown(outside)} is out of range: longitude must be within [-180, 180]"
        " and latitude within [-90, 90]"
    )


class DistrictIndex:
    """Which districts cover a point, answered by an STRtree over prepared geometries.

    Built once from (code, GeoJSON geometry) pairs, e.g. as stored by ``parse_districts``, which
    is where geometries are validated. Immutable after construction, and safe to share between
    threads: every lazily built GEOS structure (the tree, each prepared geometry's point
    locator) is built in the constructor, so lookups only read.
    """

    __slots__ = ("_codes", "_geometries", "_tree")

    def __init__(self, shapes: Iterable[tuple[str, dict[str, Any]]]) -> None:
        entries = sorted(((code, _load(code, geometry)) for code, geometry in shapes), key=_by_code)
        self._codes: tuple[str, ...] = tuple(code for code, _ in entries)
        self._geometries: tuple[Any, ...] = tuple(geometry for _, geometry in entries)
        for geometry in self._geometries:
            shapely.prepare(geometry)
        self._tree = shapely.STRtree(self._geometries)
        self._warm_up()

    def _warm_up(self) -> None:
        """GEOS indexes a prepared polygon on its second point test, not its first: test twice."""
        for geometry in self._geometries:
            if not geometry.is_empty:
                inside = shapely.point_on_surface(geometry)
                geometry.covers(inside)
                geometry.covers(inside)
        self._tree.query(shapely.Point(0.0, 0.0))

    def containing(self, latitude: float, longitude: float) -> tuple[str, ...]:
        """Codes of every district covering the point, sorted; a point on a border belongs to
        each district sharing it. A non-finite coordinate lies in no district."""
        if not self._codes or not (math.isfinite(latitude) and math.isfinite(longitude)):
            return ()
        point = shapely.Point(longitude, latitude)
        candidates = sorted(self._tree.query(point).tolist())
        hits = (self._codes[i] for i in candidates if self._geometries[i].covers(point))
        return tuple(dict.fromkeys(hits))

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return f"<DistrictIndex of {len(self._codes)} districts>"


def _by_code(entry: tuple[str, Any]) -> str:
    return entry[0]


def _load(code: str, geometry: dict[str, Any]) -> Any:
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in _POLYGONAL:
        raise GeometryError([f"district {_quoted(code)}: not a Polygon or MultiPolygon"])
    multi = kind == "MultiPolygon"
    try:
        coordinates = geometry["coordinates"]
        return _built(coordinates if multi else [coordinates], multi=multi)
    except (KeyError, IndexError, TypeError, ValueError, GEOSException) as error:
        raise GeometryError([f"district {_quoted(code)}: unreadable geometry: {error}"]) from None


EMPTY_INDEX = DistrictIndex(())


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine on the mean-radius sphere)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def bbox_around(
    latitude: float, longitude: float, radius_m: float
) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon) of a box holding every point within ``radius_m``.

    For a cheap ``BETWEEN`` prefilter before ``distance_m``. The longitude span is the exact
    tangent of the circle on the sphere; when the circle reaches a pole or crosses the
    antimeridian the box takes every longitude, and latitudes are clamped to [-90, 90].
    """
    if not (math.isfinite(latitude) and math.isfinite(longitude)) or abs(latitude) > 90:
        raise ValueError(f"not a coordinate: {latitude!r}, {longitude!r}")
    if not math.isfinite(radius_m) or radius_m < 0:
        raise ValueError(f"radius must be a non-negative distance, not {radius_m!r}")
    angle = radius_m / EARTH_RADIUS_M
    dlat = math.degrees(angle) + _BBOX_PAD_DEG
    min_lat, max_lat = latitude - dlat, latitude + dlat
    if min_lat <= -90 or max_lat >= 90 or angle >= math.pi / 2:
        return max(min_lat, -90.0), -180.0, min(max_lat, 90.0), 180.0
    ratio = math.sin(angle) / math.cos(math.radians(latitude))
    dlon = math.degrees(math.asin(min(1.0, ratio))) + _BBOX_PAD_DEG
    min_lon, max_lon = longitude - dlon, longitude + dlon
    if min_lon < -180 or max_lon > 180:
        return min_lat, -180.0, max_lat, 180.0
    return min_lat, min_lon, max_lat, max_lon
