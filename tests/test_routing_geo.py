"""Districts for routing: GeoJSON import and its validation, point lookup, distances."""

import json
import math
import pickle
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from contactcenter.routing.geo import (
    EARTH_RADIUS_M,
    EMPTY_INDEX,
    DistrictIndex,
    DistrictShape,
    GeometryError,
    bbox_around,
    distance_m,
    parse_districts,
)

# A grid of square wards, 0.01° on a side, whose south-west corner is in Ottawa.
WEST, SOUTH, SIDE = -75.75, 45.38, 0.01
COLUMNS, ROWS = 10, 5


def square(lon, lat, side=SIDE):
    """A closed, counter-clockwise [lon, lat] ring."""
    return [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]


def feature(code, coordinates, kind="Polygon", **properties):
    props = {"code": code, **properties} if code is not None else properties
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": kind, "coordinates": coordinates},
    }


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def ward_code(column, row):
    return f"ward-{column}-{row}"


def grid_lon(column):
    """The grid line's longitude, identical for both wards sharing it (as a GIS export has it)."""
    return round(WEST + column * SIDE, 6)


def grid_lat(row):
    return round(SOUTH + row * SIDE, 6)


def ward_ring(column, row):
    west, east = grid_lon(column), grid_lon(column + 1)
    south, north = grid_lat(row), grid_lat(row + 1)
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def ward_grid(columns=COLUMNS, rows=ROWS):
    return collection(
        *(
            feature(ward_code(c, r), [ward_ring(c, r)], layer="ward")
            for c in range(columns)
            for r in range(rows)
        )
    )


def index_of(data):
    return DistrictIndex((shape.code, shape.geometry) for shape in parse_districts(data))


@pytest.fixture(scope="module")
def wards():
    return index_of(ward_grid())


def problems_of(data, **options):
    with pytest.raises(GeometryError) as caught:
        parse_districts(data, **options)
    return caught.value.problems


# --- lookup -----------------------------------------------------------------------------------


def test_a_point_inside_a_ward_is_in_that_ward_only(wards):
    assert len(wards) == COLUMNS * ROWS
    assert wards.containing(SOUTH + 2.5 * SIDE, WEST + 3.5 * SIDE) == (ward_code(3, 2),)


def test_a_point_outside_every_ward_is_in_none(wards):
    assert wards.containing(SOUTH - SIDE, WEST + SIDE / 2) == ()
    assert wards.containing(SOUTH + SIDE / 2, WEST + (COLUMNS + 1) * SIDE) == ()
    assert wards.containing(0.0, 0.0) == ()


def test_a_point_on_the_outer_boundary_belongs_to_its_ward():
    index = index_of(collection(feature("a", [square(0, 0, 1)])))
    assert index.containing(0.5, 0.0) == ("a",)
    assert index.containing(0.0, 0.0) == ("a",)


def test_a_point_on_a_shared_edge_belongs_to_both_wards():
    index = index_of(collection(feature("b", [square(1, 0, 1)]), feature("a", [square(0, 0, 1)])))
    assert index.containing(0.5, 1.0) == ("a", "b")


def test_a_point_on_a_shared_edge_of_the_grid_belongs_to_both_wards(wards):
    assert wards.containing(SOUTH + 1.5 * SIDE, grid_lon(4)) == (ward_code(3, 1), ward_code(4, 1))
    assert wards.containing(grid_lat(3), WEST + 6.5 * SIDE) == (ward_code(6, 2), ward_code(6, 3))


def test_a_corner_shared_by_four_wards_belongs_to_all_four():
    index = index_of(
        collection(*(feature(f"w{x}{y}", [square(x, y, 1)]) for x in range(3) for y in range(3)))
    )
    assert index.containing(1.0, 1.0) == ("w00", "w01", "w10", "w11")
    assert index.containing(2.0, 1.0) == ("w01", "w02", "w11", "w12")


def test_a_corner_of_the_grid_belongs_to_the_four_wards_around_it(wards):
    around = (ward_code(2, 3), ward_code(2, 4), ward_code(3, 3), ward_code(3, 4))
    assert wards.containing(grid_lat(4), grid_lon(3)) == around


def test_a_point_inside_a_hole_is_not_covered_but_the_holes_edge_is():
    hole = [[4, 4], [4, 6], [6, 6], [6, 4], [4, 4]]
    index = index_of(collection(feature("donut", [square(0, 0, 10), hole])))
    assert index.containing(5.0, 5.0) == ()
    assert index.containing(5.0, 4.0) == ("donut",)
    assert index.containing(2.0, 2.0) == ("donut",)


def test_a_multipolygon_covers_each_of_its_parts_and_nothing_between():
    islands = [[square(0, 0, 1)], [square(5, 5, 1)]]
    index = index_of(collection(feature("islands", islands, kind="MultiPolygon")))
    assert index.containing(0.5, 0.5) == ("islands",)
    assert index.containing(5.5, 5.5) == ("islands",)
    assert index.containing(3.0, 3.0) == ()


def test_overlapping_layers_each_report_their_district():
    index = index_of(
        collection(
            feature("ward-1", [square(0, 0, 1)], layer="ward"),
            feature("zone-a", [square(0, 0, 4)], layer="zone"),
        )
    )
    assert index.containing(0.5, 0.5) == ("ward-1", "zone-a")
    assert index.containing(3.0, 3.0) == ("zone-a",)


def test_the_empty_index_contains_nothing():
    assert len(EMPTY_INDEX) == 0
    assert EMPTY_INDEX.containing(45.4, -75.7) == ()


def test_a_non_finite_point_is_in_no_district(wards):
    assert wards.containing(math.nan, WEST + SIDE / 2) == ()
    assert wards.containing(SOUTH + SIDE / 2, math.inf) == ()


def test_the_index_loads_geometries_stored_as_json():
    shapes = parse_districts(ward_grid(columns=2, rows=1))
    stored = [(shape.code, json.loads(json.dumps(shape.geometry))) for shape in shapes]
    index = DistrictIndex(stored)
    assert index.containing(SOUTH + SIDE / 2, WEST + SIDE / 2) == (ward_code(0, 0),)


def test_the_index_refuses_a_geometry_it_cannot_read():
    with pytest.raises(GeometryError, match='district "x": not a Polygon or MultiPolygon'):
        DistrictIndex([("x", {"type": "Point", "coordinates": [0, 0]})])
    with pytest.raises(GeometryError, match='district "y": unreadable geometry'):
        DistrictIndex([("y", {"type": "Polygon", "coordinates": [["not", "positions"]]})])


def test_a_code_loaded_twice_is_reported_once():
    index = DistrictIndex(
        [
            ("a", {"type": "Polygon", "coordinates": [square(0, 0, 2)]}),
            ("a", {"type": "Polygon", "coordinates": [square(1, 1, 2)]}),
        ]
    )
    assert index.containing(1.5, 1.5) == ("a",)


def test_lookups_are_fast():
    index = index_of(ward_grid())
    points = [
        (
            SOUTH + random.uniform(-0.01, ROWS * SIDE + 0.01),
            WEST + random.uniform(0, COLUMNS * SIDE),
        )
        for _ in range(10_000)
    ]
    started = time.perf_counter()
    for latitude, longitude in points:
        index.containing(latitude, longitude)
    assert time.perf_counter() - started < 1.0


def test_the_index_is_built_before_the_first_lookup():
    vertices = 300_000  # indexing a shape this detailed takes GEOS tens of milliseconds
    ring = [
        [math.cos(2 * math.pi * i / vertices), math.sin(2 * math.pi * i / vertices)]
        for i in range(vertices)
    ]
    index = DistrictIndex([("round", {"type": "Polygon", "coordinates": [[*ring, ring[0]]]})])
    for latitude, longitude in [(0.5, 0.5), (-0.5, 0.2), (0.1, -0.9)]:
        started = time.perf_counter()
        assert index.containing(latitude, longitude) == ("round",)
        assert time.perf_counter() - started < 0.01


def test_lookups_from_many_threads_agree_with_one_thread(wards):
    points = [
        (SOUTH + random.uniform(0, ROWS * SIDE), WEST + random.uniform(0, COLUMNS * SIDE))
        for _ in range(2_000)
    ]
    expected = [wards.containing(*point) for point in points]
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda point: wards.containing(*point), points, chunksize=50))
    assert found == expected


# --- import -----------------------------------------------------------------------------------


def test_import_returns_normalized_shapes_with_bounding_boxes():
    clockwise = [[0, 0], [0, 1, 12.5], [1, 1], [1, 0], [0, 0]]
    (shape,) = parse_districts(collection(feature("ward-1", [clockwise], name=" North ")))
    assert shape == DistrictShape(
        code="ward-1",
        name="North",
        layer="district",
        geometry={
            "type": "Polygon",
            "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]],
        },
        bbox=(0.0, 0.0, 1.0, 1.0),
    )


def test_a_single_feature_is_accepted():
    shapes = parse_districts(feature("ward-1", [square(0, 0)], layer="ward"))
    assert [(s.code, s.layer) for s in shapes] == [("ward-1", "ward")]


def test_the_name_falls_back_to_the_code_and_the_layer_to_the_default():
    (shape,) = parse_districts(collection(feature("ward-1", [square(0, 0)])), default_layer="zone")
    assert (shape.name, shape.layer) == ("ward-1", "zone")


def test_the_code_falls_back_to_the_feature_id_and_numbers_become_text():
    by_id = feature(None, [square(0, 0)])
    by_id["id"] = 7
    numbered = feature(12.0, [square(1, 0)])
    shapes = parse_districts(collection(by_id, numbered))
    assert [s.code for s in shapes] == ["7", "12"]


def test_property_names_can_be_chosen():
    data = collection(
        {
            "type": "Feature",
            "properties": {"WARD_NUM": "3", "WARD_NAME": "Centre", "KIND": "ward"},
            "geometry": {"type": "Polygon", "coordinates": [square(0, 0)]},
        }
    )
    (shape,) = parse_districts(
        data, code_property="WARD_NUM", name_property="WARD_NAME", layer_property="KIND"
    )
    assert (shape.code, shape.name, shape.layer) == ("3", "Centre", "ward")


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "wards.geojson",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        {"features": []},
    ],
    ids=["null", "list", "string", "bare-geometry", "untyped"],
)
def test_a_document_that_is_not_a_feature_collection_is_rejected(data):
    assert problems_of(data) == ["not a GeoJSON FeatureCollection or Feature"]


def test_a_point_geometry_is_rejected_naming_the_feature_and_the_type():
    data = collection(
        feature("ward-1", [square(0, 0)]),
        feature("ward-2", [-75.7, 45.4], kind="Point"),
        feature("ward-3", [[0, 0], [1, 1]], kind="LineString"),
    )
    assert problems_of(data) == [
        'feature 2 (code "ward-2"): geometry type "Point" is not supported;'
        " use Polygon or MultiPolygon",
        'feature 3 (code "ward-3"): geometry type "LineString" is not supported;'
        " use Polygon or MultiPolygon",
    ]


def test_a_feature_without_a_geometry_is_rejected():
    data = collection({"type": "Feature", "properties": {"code": "a"}, "geometry": None})
    assert problems_of(data) == ['feature 1 (code "a"): has no geometry']


def test_an_unclosed_ring_is_rejected_rather_than_closed_silently():
    ring = [*square(0, 0, 1)[:-1], [0, 0.5]]
    assert problems_of(collection(feature("ward-7", [ring]))) == [
        'feature 1 (code "ward-7"): exterior ring is not closed: it starts at [0.0, 0.0]'
        " but ends at [0.0, 0.5] (the last position must repeat the first)"
    ]


def test_a_ring_with_fewer_than_four_positions_is_rejected():
    data = collection(feature("a", [square(0, 0, 4), [[1, 1], [2, 2], [1, 1]]]))
    assert problems_of(data) == [
        'feature 1 (code "a"): hole 1 has 3 positions; a closed ring needs at least 4'
    ]


def test_a_self_intersecting_bowtie_is_rejected_with_the_reason():
    bowtie = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]
    assert problems_of(collection(feature("ward-7", [bowtie]))) == [
        'feature 1 (code "ward-7"): Polygon is invalid: Self-intersection[0.5 0.5]'
    ]


def test_overlapping_parts_of_a_multipolygon_are_rejected():
    parts = [[square(0, 0, 2)], [square(1, 1, 2)]]
    (problem,) = problems_of(collection(feature("z", parts, kind="MultiPolygon")))
    assert problem.startswith('feature 1 (code "z"): MultiPolygon is invalid: Self-intersection')


def test_swapped_latitude_and_longitude_are_recognized():
    seattle = [[lat, lon] for lon, lat in square(-122.33, 47.6)]
    assert problems_of(collection(feature("ward-1", [seattle]))) == [
        'feature 1 (code "ward-1"): coordinates look like [lat, lon]; GeoJSON wants [lon, lat]'
    ]


def test_out_of_range_coordinates_are_rejected():
    assert problems_of(collection(feature("far", [square(200, 95)]))) == [
        'feature 1 (code "far"): position [200.0, 95.0] is out of range:'
        " longitude must be within [-180, 180] and latitude within [-90, 90]"
    ]


@pytest.mark.parametrize(
    "bad",
    [["0", 0], [True, 0], [math.nan, 0], [0], None],
    ids=["text", "bool", "nan", "1d", "null"],
)
def test_a_position_that_is_not_a_pair_of_numbers_is_rejected(bad):
    ring = square(0, 0)
    ring[2] = bad
    (problem,) = problems_of(collection(feature("a", [ring])))
    assert problem.startswith(
        'feature 1 (code "a"): exterior ring position 3 is not a [lon, lat] pair of numbers'
    )


def test_a_broken_part_of_a_multipolygon_is_named():
    parts = [[square(0, 0)], [square(1, 1), [[1.001, 1.001], [1.002, 1.001], [1.001, 1.001]]]]
    assert problems_of(collection(feature("m", parts, kind="MultiPolygon"))) == [
        'feature 1 (code "m"): polygon 2 hole 1 has 3 positions; a closed ring needs at least 4'
    ]


def test_duplicate_codes_are_rejected_naming_both_features():
    data = collection(
        feature("ward-7", [square(0, 0)]),
        feature("ward-8", [square(1, 0)]),
        feature("ward-7", [square(2, 0)], layer="zone"),
    )
    assert problems_of(data) == ['feature 3 (code "ward-7"): code is already used by feature 1']


def test_a_duplicate_code_is_reported_even_when_the_first_feature_is_broken():
    data = collection(feature("a", [square(0, 0)[:-1]]), feature("a", [square(1, 0)]))
    problems = problems_of(data)
    assert problems[-1] == 'feature 2 (code "a"): code is already used by feature 1'


@pytest.mark.parametrize("code", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_a_feature_without_a_code_or_id_is_rejected(code):
    data = collection(feature("a", [square(0, 0)]), feature(code, [square(1, 0)]))
    if code is not None:
        data["features"][1]["properties"]["code"] = code
    assert problems_of(data) == [
        'feature 2: has no code: set the "code" property or the feature "id"'
    ]


def test_too_many_features_are_rejected_before_anything_else():
    data = collection(*([{"type": "Feature"}] * 5_001))
    assert problems_of(data) == ["too many features: 5,001 (the limit is 5,000)"]


def test_too_many_coordinate_positions_are_rejected():
    huge_ring = [[0.0, 0.0]] * 500_001
    data = collection(feature("a", [huge_ring]), feature("b", [huge_ring]))
    assert problems_of(data) == [
        "too many coordinate positions: 1,000,002 (the limit is 1,000,000)"
    ]


def test_every_problem_is_reported_at_once():
    bowtie = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]
    data = collection(
        feature("ok", [square(0, 0)]),
        feature("bowtie", [bowtie]),
        feature("dot", [0, 0], kind="Point"),
        feature(None, [square(3, 3)]),
        "not a feature",
    )
    problems = problems_of(data)
    assert [p.split(":")[0] for p in problems] == [
        'feature 2 (code "bowtie")',
        'feature 3 (code "dot")',
        "feature 4",
        "feature 5",
    ]


def test_the_problem_list_is_capped():
    data = collection(*(feature(f"p{i}", [0, 0], kind="Point") for i in range(120)))
    problems = problems_of(data)
    assert len(problems) == 51
    assert problems[0].startswith('feature 1 (code "p0")')
    assert problems[-1] == "... and 70 more"


def test_a_geometry_error_is_a_value_error_that_reads_well_and_pickles():
    error = GeometryError(["feature 1: has no geometry", "feature 2: has no geometry"])
    assert isinstance(error, ValueError)
    assert str(error) == "feature 1: has no geometry; feature 2: has no geometry"
    assert pickle.loads(pickle.dumps(error)).problems == error.problems  # noqa: S301 (our own)


# --- distances --------------------------------------------------------------------------------


def test_one_degree_of_latitude_is_about_111_km():
    assert distance_m(45.0, -75.0, 46.0, -75.0) == pytest.approx(111_195, rel=0.001)


def test_paris_to_london_is_about_343_km():
    paris, london = (48.8566, 2.3522), (51.5074, -0.1278)
    assert distance_m(*paris, *london) == pytest.approx(343_500, rel=0.01)
    assert distance_m(*london, *paris) == pytest.approx(distance_m(*paris, *london))


def test_a_point_is_zero_metres_from_itself_and_antipodes_are_half_a_circumference_apart():
    assert distance_m(45.4, -75.7, 45.4, -75.7) == 0.0
    assert distance_m(45.4, -75.7, -45.4, 104.3) == pytest.approx(math.pi * EARTH_RADIUS_M)


def destination(latitude, longitude, bearing_deg, distance):
    """The point ``distance`` metres from the start along the great circle at ``bearing_deg``."""
    phi, lam, theta = map(math.radians, (latitude, longitude, bearing_deg))
    delta = distance / EARTH_RADIUS_M
    phi2 = math.asin(
        math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(theta)
    )
    lam2 = lam + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi),
        math.cos(delta) - math.sin(phi) * math.sin(phi2),
    )
    return math.degrees(phi2), (math.degrees(lam2) + 540) % 360 - 180


def in_box(box, latitude, longitude):
    min_lat, min_lon, max_lat, max_lon = box
    return min_lat <= latitude <= max_lat and min_lon <= longitude <= max_lon


@pytest.mark.parametrize(
    ("latitude", "longitude", "radius"),
    [
        (45.4, -75.7, 500),
        (45.4, -75.7, 25_000),
        (-33.9, 151.2, 2_000),
        (0.0, 0.0, 10_000),
        (69.6, 18.9, 50_000),
        (89.99, 0.0, 5_000),
        (-89.9, 45.0, 100),
        (64.8, -179.99, 3_000),
    ],
)
def test_bbox_around_holds_the_whole_circle(latitude, longitude, radius):
    box = bbox_around(latitude, longitude, radius)
    assert -90 <= box[0] <= box[2] <= 90 and -180 <= box[1] <= box[3] <= 180
    for bearing in range(0, 360, 15):
        point = destination(latitude, longitude, bearing, radius)
        assert distance_m(latitude, longitude, *point) == pytest.approx(radius, rel=1e-6)
        assert in_box(box, *point), (bearing, point, box)


def test_bbox_around_is_tight_away_from_the_poles():
    min_lat, min_lon, max_lat, max_lon = bbox_around(45.4, -75.7, 1_000)
    assert max_lat - min_lat == pytest.approx(2 * 1_000 / 111_195, rel=0.001)
    assert max_lon - min_lon == pytest.approx(2 * 1_000 / (111_195 * math.cos(0.7924)), rel=0.01)


def test_bbox_around_a_pole_takes_every_longitude():
    min_lat, min_lon, max_lat, max_lon = bbox_around(89.99, 10.0, 5_000)
    assert (min_lon, max_lat, max_lon) == (-180.0, 90.0, 180.0)
    assert min_lat == pytest.approx(89.99 - 5_000 / 111_195, rel=1e-4)


def test_bbox_around_refuses_nonsense():
    with pytest.raises(ValueError, match="radius"):
        bbox_around(45.4, -75.7, -1)
    with pytest.raises(ValueError, match="not a coordinate"):
        bbox_around(95.0, -75.7, 100)
