"""A contact center's history, set-based: millions of cases, interactions and contacts.

Every table is filled by ``INSERT ... SELECT`` (from ``generate_series`` or from the rows just
made), never row by row, so 5,000,000 cases and 20,000,000 interactions take minutes. While it
runs, foreign-key triggers are off (``session_replication_role = replica``: the rows are
consistent by construction) and the big tables' secondary indexes are dropped and made again
at the end (faster than keeping them up to date row by row); the database is then the
migrated schema with data, as a city's would be.

Ids are given explicitly where other rows point at them: the case ``i`` has the work item
``i`` (its contact), its first interaction is ``i`` and, for a phone case, its call is ``i``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.dashboard_bench import QUANTA, quantized

SLUG = "nyc"
TIMEZONE = "America/New_York"

# The sample (New York, 2011) predates texts and web chat: phone keeps its share, the rest
# (online, other, unknown) is spread over the channels a contact center has today.
NON_VOICE = {"webchat": 3, "sms": 3, "email": 2, "open311": 2, "other": 1}

# One queue per channel group, with its service-level target (contract: ServiceTarget).
QUEUES = [
    ("phone", "Phone", ["voice"], {"voice": {"seconds": 20, "percent": 80}}),
    ("chat", "Web chat", ["webchat"], {"webchat": {"seconds": 60, "percent": 80}}),
    ("text", "Text messages", ["sms"], {"sms": {"seconds": 900, "percent": 80}}),
    ("email", "Email", ["email"], {"email": {"seconds": 86400, "percent": 85}}),
    ("web", "Web and apps", ["open311", "other", "walk_in"], {}),
]
SUPERVISOR_QUEUE = ("supervisors", "Supervisors")

# Per channel: work kind, mean answer wait (s), abandon share (calls and chats; other kinds
# are cancelled, not abandoned), minimum and mean extra handle time (s), transfer shares
# (one, two), resolved-on-contact share.
CHANNEL_WORK = {
    "voice": ("call", 42.0, 0.07, 90.0, 210.0, 0.06, 0.01, 0.68),
    "webchat": ("chat", 50.0, 0.05, 120.0, 420.0, 0.03, 0.005, 0.58),
    "sms": ("first_response", 480.0, 0.01, 30.0, 150.0, 0.01, 0.0, 0.45),
    "email": ("first_response", 5 * 3600.0, 0.01, 60.0, 260.0, 0.01, 0.0, 0.40),
    "open311": ("first_response", 9 * 3600.0, 0.01, 40.0, 120.0, 0.01, 0.0, 0.30),
    "other": ("first_response", 9 * 3600.0, 0.01, 40.0, 120.0, 0.01, 0.0, 0.30),
}
WORKING_AGENTS = 36  # agents 1..36 take contacts, in three shifts of 12 (7:00, 11:00, 15:00)
SHORT_ABANDON_SHARE = 0.25  # of abandons, within the first 5 seconds
CALLBACK_SHARE = 0.03  # of queued calls, the caller asks to be called back
SELF_SERVED_SHARE = 0.15  # IVR calls that need no agent, per phone case
SURVEY = {"suppressed": 0.05, "sent": 0.30, "answered": 0.35}  # shares: of closed, of sent
SCORES = [(0.15, 1), (0.23, 2), (0.35, 3), (0.60, 4), (1.01, 5)]  # cumulative shares

BIG_TABLES = (
    "cases",
    "interactions",
    "work_items",
    "calls",
    "offers",
    "agent_presence_changes",
    "satisfaction_surveys",
)


def contact_channels(channels: dict[str, float]) -> dict[str, float]:
    """The sample's phone share, with its other share spread as :data:`NON_VOICE` says."""
    total = sum(channels.values()) or 1.0
    voice = channels.get("voice", 0.0) / total
    rest = 1.0 - voice
    spread = sum(NON_VOICE.values())
    return {"voice": voice, **{ch: rest * w / spread for ch, w in NON_VOICE.items()}}


@contextmanager
def bulk_load(conn: Any, tables: tuple[str, ...]) -> Iterator[None]:
    """Foreign-key triggers off, secondary indexes and unique constraints (not primary keys)
    dropped, then made again as they were."""
    indexes = conn.execute(
        "SELECT i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public'"
        " AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
        " WHERE c.conname = i.indexname)",
        (list(tables),),
    ).fetchall()
    constraints = conn.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)"
        " FROM pg_constraint c WHERE c.contype = 'u' AND c.conrelid::regclass::text = ANY(%s)",
        (list(tables),),
    ).fetchall()
    for table, name, _definition in constraints:
        conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for (definition,) in indexes:
        name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
        conn.execute(f"DROP INDEX {name}")
    conn.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        conn.execute("SET session_replication_role = DEFAULT")
        conn.execute("SET maintenance_work_mem = '512MB'")
        for table, name, definition in constraints:
            conn.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        for (definition,) in indexes:
            conn.execute(definition)


def _setval(conn: Any, table: str) -> None:
    conn.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608 - our names
        f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
    )


def reference_data(conn: Any, dist: dict[str, Any], agents: int, rng: random.Random) -> dict:
    """The jurisdiction, its departments (the sample's agencies), service types, districts,
    queues with targets, and agents (36 who take contacts, supervisors, an admin)."""
    jid = conn.execute(
        "INSERT INTO jurisdictions (slug, name, timezone, country, languages, created_at,"
        " routing_version, settings) VALUES (%s, 'New York City', %s, 'US', '[\"en\"]',"
        " now(), 1, '{}') RETURNING id",
        (SLUG, TIMEZONE),
    ).fetchone()[0]
    departments: dict[str, int] = {}
    for n, code in enumerate(sorted(set(dist["agencies"].values()))):
        departments[code] = conn.execute(
            "INSERT INTO departments (jurisdiction_id, code, name, is_default, head_email)"
            " VALUES (%s, %s, %s, %s, '') RETURNING id",
            (jid, code, dist["agency_names"].get(code, code), n == 0),
        ).fetchone()[0]
    types: dict[str, tuple[int, int, float | None]] = {}
    for n, name in enumerate(sorted(dist["types"])):
        target = None if n % 5 == 4 else float(rng.choice([2, 3, 5, 7, 10, 14, 30]))
        dept = departments[dist["agencies"][name]]
        type_id = conn.execute(
            'INSERT INTO service_types (jurisdiction_id, code, name, "group", description,'
            " keywords, department_id, target_days, active, open311_type, name_translations)"
            " VALUES (%s, %s, %s, '', '', '[]', %s, %s, true, 'realtime', '{}') RETURNING id",
            (jid, f"t{n}", name[:200], dept, target),
        ).fetchone()[0]
        types[name] = (type_id, dept, target)
    for code in sorted(d for d in dist["districts"] if d):
        conn.execute(
            "INSERT INTO districts (jurisdiction_id, layer, code, name, geometry, min_lon,"
            " min_lat, max_lon, max_lat) VALUES (%s, 'borough', %s, %s,"
            ' \'{"type": "Polygon", "coordinates": []}\', 0, 0, 0, 0)',
            (jid, code[:64], code.title()),
        )
    queues: dict[str, int] = {}
    for code, name, channels, targets in QUEUES:
        qid = conn.execute(
            "INSERT INTO queues (jurisdiction_id, code, name, strategy, offer_timeout_seconds,"
            " is_default, is_supervisor, service_targets) VALUES (%s, %s, %s, 'longest_idle',"
            " 30, %s, false, %s) RETURNING id",
            (jid, code, name, code == "web", _json(targets)),
        ).fetchone()[0]
        for channel in channels:
            queues[channel] = qid
    supervisors_queue = conn.execute(
        "INSERT INTO queues (jurisdiction_id, code, name, strategy, offer_timeout_seconds,"
        " is_default, is_supervisor, service_targets) VALUES (%s, %s, %s, 'longest_idle', 30,"
        " false, true, '{}') RETURNING id",
        (jid, *SUPERVISOR_QUEUE),
    ).fetchone()[0]
    # Agents 1..36 take contacts; then supervisors; the last one is an admin.
    conn.execute(
        "INSERT INTO agents (id, email, name, password_hash, role, languages, active, created_at,"
        " skills, capacity, presence, presence_changed_at, phone, voice_device, failed_logins,"
        " session_epoch)"
        " SELECT a, 'agent' || a || '@bench.example', 'Agent ' || a, '',"
        " CASE WHEN a <= %(w)s THEN 'agent' WHEN a < %(n)s THEN 'supervisor' ELSE 'admin' END,"
        " '[\"en\"]', true, now() - interval '4 years', '[]', '{}', 'offline', now(), '',"
        " 'browser', 0, 0 FROM generate_series(1, %(n)s) AS a",
        {"w": WORKING_AGENTS, "n": agents},
    )
    _setval(conn, "agents")
    conn.execute(
        "INSERT INTO agent_jurisdictions (agent_id, jurisdiction_id)"
        " SELECT a, %s FROM generate_series(1, %s::int) AS a",
        (jid, agents),
    )
    conn.execute(
        "INSERT INTO agent_queues (agent_id, queue_id) SELECT a, q FROM generate_series(1, %s)"
        " AS a, unnest(%s::int[]) AS q",
        (WORKING_AGENTS, sorted(set(queues.values()))),
    )
    conn.execute(
        "INSERT INTO agent_queues (agent_id, queue_id) SELECT a, %s"
        " FROM generate_series(%s::int, %s::int) AS a",
        (supervisors_queue, WORKING_AGENTS + 1, agents),
    )
    return {
        "jurisdiction_id": jid,
        "departments": len(departments),
        "service_types": types,
        "queues": queues,
        "supervisors_queue": supervisors_queue,
        "agents": agents,
        "supervisor_id": WORKING_AGENTS + 1,
    }


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


# A local time drawn over the last ``days`` days with the sample's hours of the day; a time
# still to come today is moved a week back (same weekday and hour). The condition on ``g``
# (the row) makes the subquery correlated, so it is drawn again for every row.
LOCAL_TIME = """
    (SELECT CASE WHEN t > now() THEN t - interval '7 days' ELSE t END
     FROM (SELECT ((%(today)s::date - floor(random() * %(days)s)::int)::timestamp
                   + make_interval(hours => (%(hours)s::int[])[1 + floor(random() * %(q)s)::int])
                   + random() * interval '1 hour') AT TIME ZONE %(tz)s AS t) AS lt
     WHERE g IS NOT NULL)
"""


def generate(
    url: str, dist: dict[str, Any], *, cases: int, interactions: int, agents: int, years: float
) -> dict[str, Any]:
    """Migrate the empty database at ``url``, then fill it; returns what was made and how
    long each step took."""
    import psycopg

    from contactcenter import migrate

    migrate.upgrade(url.replace("postgresql://", "postgresql+psycopg://"))
    rng = random.Random(311)
    timings: dict[str, float] = {}
    out: dict[str, Any] = {"timings_s": timings}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET work_mem = '256MB'")
        ref = reference_data(conn, dist, agents, rng)
        jid = ref["jurisdiction_id"]
        out.update({k: v for k, v in ref.items() if k != "service_types"})
        out["service_types"] = len(ref["service_types"])
        today = conn.execute("SELECT (now() AT TIME ZONE %s)::date", (TIMEZONE,)).fetchone()[0]
        channels = contact_channels(dist["channels"])
        out["channels"] = channels
        names = quantized(dist["types"], rng)
        params: dict[str, Any] = {
            "j": jid,
            "n": cases,
            "q": QUANTA,
            "tz": TIMEZONE,
            "today": today,
            "days": max(1, int(years * 365)),
            "hours": quantized({int(h): w for h, w in dist["hours"].items()}, rng),
            "types": [ref["service_types"][name][0] for name in names],
            "depts": [ref["service_types"][name][1] for name in names],
            "targets": [ref["service_types"][name][2] for name in names],
            "channels": quantized(channels, rng),
            "districts": [d or None for d in quantized(dist["districts"], rng)],
            "close": quantized(list(dist["close_seconds"]), rng),
            "open_share": dist["open_share"],
            "chs": list(CHANNEL_WORK),
            "kinds": [w[0] for w in CHANNEL_WORK.values()],
            "wait": [w[1] for w in CHANNEL_WORK.values()],
            "abandon": [w[2] for w in CHANNEL_WORK.values()],
            "hmin": [w[3] for w in CHANNEL_WORK.values()],
            "hmean": [w[4] for w in CHANNEL_WORK.values()],
            "t1": [w[5] for w in CHANNEL_WORK.values()],
            "t2": [w[6] for w in CHANNEL_WORK.values()],
            "roc": [w[7] for w in CHANNEL_WORK.values()],
            "queues": [ref["queues"][ch] for ch in CHANNEL_WORK],
            "supq": ref["supervisors_queue"],
            "short": SHORT_ABANDON_SHARE,
            "callback": CALLBACK_SHARE,
            "self_served": SELF_SERVED_SHARE,
            "s_supp": SURVEY["suppressed"],
            "s_sent": SURVEY["suppressed"] + SURVEY["sent"],
            "s_ans": SURVEY["suppressed"] + SURVEY["sent"] * SURVEY["answered"],
            "agents": agents,
            "working": WORKING_AGENTS,
        }
        conn.execute(
            "CREATE FUNCTION pg_temp.draw(bigint, int) RETURNS float8 LANGUAGE sql IMMUTABLE"
            " AS $$ SELECT (hashint8extended($1, $2) & 2147483647)::float8 / 2147483648.0 $$"
        )

        def step(name: str, sql: str, extra: dict[str, Any] | None = None) -> int:
            print(f"  {name} ...", end="", flush=True)
            t0 = time.perf_counter()
            rows = conn.execute(sql, {**params, **(extra or {})}).rowcount
            timings[name] = time.perf_counter() - t0
            print(f" {rows:,} rows in {timings[name]:.1f} s", flush=True)
            return int(rows)

        started = time.perf_counter()
        with bulk_load(conn, BIG_TABLES):
            out["cases"] = step("cases", CASES_SQL.replace("{local_time}", LOCAL_TIME))
            out["work_items"] = step("work items (contacts)", WORK_SQL)
            _setval(conn, "work_items")
            out["escalations"] = step("work items (escalations)", ESCALATIONS_SQL)
            out["first_interactions"] = step("interactions (first contact)", FIRST_SQL)
            out["calls"] = step("calls (phone cases)", CALLS_SQL)
            base = conn.execute("SELECT max(id) FROM interactions").fetchone()[0] or 0
            cbase = conn.execute("SELECT max(id) FROM calls").fetchone()[0] or 0
            ivr = round(
                conn.execute("SELECT count(*) FROM calls").fetchone()[0] * SELF_SERVED_SHARE
            )
            extra = {"base": base, "cbase": cbase, "ivr": ivr}
            out["ivr_interactions"] = step(
                "interactions (IVR calls)",
                IVR_INTERACTIONS_SQL.replace("{local_time}", LOCAL_TIME),
                extra,
            )
            out["ivr_calls"] = step("calls (IVR)", IVR_CALLS_SQL, extra)
            extra["base"] = base + ivr
            extra["cbase"] = cbase + ivr
            out["callback_interactions"] = step(
                "interactions (callbacks)", CALLBACK_INTERACTIONS_SQL, extra
            )
            out["callback_calls"] = step("calls (callbacks)", CALLBACK_CALLS_SQL, extra)
            _setval(conn, "interactions")
            _setval(conn, "calls")
            made = conn.execute("SELECT count(*) FROM interactions").fetchone()[0]
            follow = max(0, interactions - made)
            out["follow_ups"] = step(
                "interactions (follow-ups)",
                FOLLOW_UPS_SQL,
                {"each": follow // max(cases, 1), "extra": follow % max(cases, 1)},
            )
            out["offers"] = step("offers", OFFERS_SQL)
            out["presence_changes"] = step("presence changes", PRESENCE_SQL)
            out["surveys"] = step("satisfaction surveys", SURVEYS_SQL)
            for table in BIG_TABLES:
                _setval(conn, table)
            t0 = time.perf_counter()
            print("  indexes and constraints ...", end="", flush=True)
        timings["indexes"] = time.perf_counter() - t0
        print(f" {timings['indexes']:.1f} s", flush=True)
        conn.execute(
            "UPDATE agents a SET presence = p.presence, presence_changed_at = p.created_at"
            " FROM (SELECT DISTINCT ON (agent_id) agent_id, presence, created_at"
            "       FROM agent_presence_changes ORDER BY agent_id, created_at DESC) AS p"
            " WHERE p.agent_id = a.id"
        )
        out["interactions"] = conn.execute("SELECT count(*) FROM interactions").fetchone()[0]
        out["generate_s"] = time.perf_counter() - started
    return out


CASES_SQL = """
INSERT INTO cases (id, jurisdiction_id, tracking_number, status, priority, service_type_id,
                   department_id, origin_channel, language, description, address_text, due_at,
                   created_at, updated_at, resolved_at, closed_at, district, attributes,
                   duplicate_of_id, duplicate_status, reopened_count, sla_breached, satisfaction)
SELECT g, %(j)s,
       lpad((g / 10000)::text, 4, '0') || '-' || lpad((g %% 10000)::text, 4, '0'),
       CASE WHEN d.done IS NULL THEN (CASE WHEN d.r < 0.3 THEN 'open' ELSE 'in_progress' END)
            ELSE 'closed' END,
       'normal', (%(types)s::int[])[d.k], (%(depts)s::int[])[d.k], (%(channels)s::text[])[d.c],
       'en', '', '', d.due, d.created, coalesce(d.done, d.created), d.done, d.done,
       (%(districts)s::text[])[d.di], '{}',
       CASE WHEN d.dup AND g > 1 THEN g - 1 END,
       CASE WHEN d.dup AND g > 1 THEN 'confirmed' WHEN d.r2 < 0.03 THEN 'rejected' END,
       CASE WHEN d.done IS NOT NULL AND d.r3 < 0.005 THEN 2
            WHEN d.done IS NOT NULL AND d.r3 < 0.04 THEN 1 ELSE 0 END,
       d.due IS NOT NULL AND coalesce(d.done, now()) > d.due,
       CASE WHEN d.done IS NOT NULL AND pg_temp.draw(g, 1) >= %(s_supp)s
                 AND pg_temp.draw(g, 1) < %(s_ans)s THEN
            CASE WHEN pg_temp.draw(g, 2) < 0.15 THEN 1 WHEN pg_temp.draw(g, 2) < 0.23 THEN 2
                 WHEN pg_temp.draw(g, 2) < 0.35 THEN 3 WHEN pg_temp.draw(g, 2) < 0.60 THEN 4
                 ELSE 5 END END
FROM generate_series(1, %(n)s) AS g
CROSS JOIN LATERAL (
    SELECT k, c, di, r, r2, r3, dup, created,
           created + (%(targets)s::float8[])[k] * interval '1 day' AS due,
           CASE WHEN r < %(open_share)s OR closing > now() THEN NULL ELSE closing END AS done
    FROM (SELECT k, c, di, r, r2, r3, dup, created,
                 created + make_interval(secs => (%(close)s::float8[])[t]) AS closing
          FROM (SELECT 1 + floor(random() * %(q)s)::int AS k,
                       1 + floor(random() * %(q)s)::int AS c,
                       1 + floor(random() * %(q)s)::int AS di,
                       1 + floor(random() * %(q)s)::int AS t,
                       random() AS r, random() AS r2, random() AS r3, random() < 0.02 AS dup,
                       {local_time} AS created,
                       g AS dep) AS draws) AS drawn
) AS d
"""

# One contact per case, on the case's channel, in its channel's queue. Waits, abandons
# (a quarter within 5 s), handle times, transfers and resolution on contact are drawn per
# channel; what has not happened yet by now is still waiting or assigned. A phone caller who
# asks for a callback (draw 3) keeps the work item and is answered by the callback later.
WORK_SQL = """
INSERT INTO work_items (id, jurisdiction_id, case_id, kind, channel, queue_id, priority,
                        required_skills, language, targets, target_index, target_started_at,
                        state, agent_id, created_at, assigned_at, first_assigned_at,
                        completed_at, updated_at, transfers, resolved_on_contact)
SELECT id, %(j)s, id, kind, ch, queue, 0, '[]', 'en', '[]', 0, created,
       CASE WHEN cancelled THEN (CASE WHEN left_at <= now() THEN 'cancelled' ELSE 'waiting' END)
            WHEN assigned > now() THEN 'waiting'
            WHEN completed > now() THEN 'assigned' ELSE 'completed' END,
       CASE WHEN NOT cancelled AND assigned <= now() THEN agent END,
       created,
       CASE WHEN NOT cancelled AND assigned <= now() THEN assigned END,
       CASE WHEN NOT cancelled AND assigned <= now() THEN assigned END,
       CASE WHEN cancelled AND left_at <= now() THEN left_at
            WHEN NOT cancelled AND completed <= now() THEN completed END,
       CASE WHEN cancelled THEN least(left_at, now()) WHEN completed <= now() THEN completed
            WHEN assigned <= now() THEN assigned ELSE created END,
       CASE WHEN cancelled OR completed > now() THEN 0 WHEN rt < t2 THEN 2 WHEN rt < t1 THEN 1
            ELSE 0 END,
       NOT cancelled AND completed <= now() AND rr < roc
FROM (
    SELECT c.id, c.created_at AS created, c.origin_channel AS ch,
           (%(kinds)s::text[])[ci] AS kind, (%(queues)s::int[])[ci] AS queue,
           random() < (%(abandon)s::float8[])[ci]
               AND NOT (ci = 1 AND pg_temp.draw(c.id, 3) < %(callback)s) AS cancelled,
           c.created_at + CASE WHEN random() < %(short)s THEN random() * 5
                               ELSE 5 - 60 * ln(1 - random()) END * interval '1 second'
               AS left_at,
           c.created_at + (-(%(wait)s::float8[])[ci] * ln(1 - random())
                           + CASE WHEN ci = 1 AND pg_temp.draw(c.id, 3) < %(callback)s
                                  THEN 300 + random() * 1800 ELSE 0 END)
                          * interval '1 second' AS assigned,
           (%(hmin)s::float8[])[ci] - (%(hmean)s::float8[])[ci] * ln(1 - random()) AS handle,
           random() AS rt, random() AS rr,
           (%(t1)s::float8[])[ci] AS t1, (%(t2)s::float8[])[ci] AS t2,
           (%(roc)s::float8[])[ci] AS roc,
           12 * (CASE WHEN lh < 11 THEN 0 WHEN lh < 15 THEN floor(random() * 2)::int
                      WHEN lh < 19 THEN 1 + floor(random() * 2)::int ELSE 2 END)
               + 1 + floor(random() * 12)::int AS agent
    FROM cases c
    CROSS JOIN LATERAL (
        SELECT coalesce(array_position(%(chs)s::text[], c.origin_channel::text), 6) AS ci,
               extract(hour FROM c.created_at AT TIME ZONE %(tz)s) AS lh
    ) AS p
) AS w
CROSS JOIN LATERAL (SELECT assigned + handle * interval '1 second' AS completed) AS x
"""

# A supervisor's escalation for 2 % of the closed cases: work, but not a contact.
ESCALATIONS_SQL = """
INSERT INTO work_items (jurisdiction_id, case_id, kind, channel, queue_id, priority,
                        required_skills, language, targets, target_index, target_started_at,
                        state, agent_id, created_at, assigned_at, first_assigned_at,
                        completed_at, updated_at, transfers, resolved_on_contact)
SELECT %(j)s, c.id, 'escalation', c.origin_channel, %(supq)s, 1, '[]', 'en', '[]', 0, e.at,
       'completed', %(working)s + 1 + (c.id %% (%(agents)s - %(working)s)), e.at,
       e.at + interval '10 minutes', e.at + interval '10 minutes', e.at + interval '40 minutes',
       e.at + interval '40 minutes', 0, false
FROM cases c
CROSS JOIN LATERAL (SELECT c.created_at + (c.closed_at - c.created_at) / 2 AS at) AS e
WHERE c.closed_at IS NOT NULL AND pg_temp.draw(c.id, 5) < 0.02
  AND e.at + interval '40 minutes' < now()
"""

FIRST_SQL = """
INSERT INTO interactions (id, jurisdiction_id, case_id, channel, direction, from_address,
                          to_address, body, media_urls, delivery_status, error_code, created_at,
                          updated_at, processed_at, subject, thread_refs, automated)
SELECT c.id, %(j)s, c.id, c.origin_channel, 'inbound', '', '', '', '[]', 'received', '',
       c.created_at, c.created_at, c.created_at, '', '[]', false
FROM cases c
"""

CALLS_SQL = """
INSERT INTO calls (id, jurisdiction_id, interaction_id, call_sid, direction, language, menu_path,
                   outcome, status, draft, queue_id, work_item_id, agent_id, queued_at,
                   answered_at, wait_seconds, talk_seconds, duration_seconds, callback_number,
                   callback_requested_at, callback_attempts, recording_url, recording_sid,
                   transcription_status, created_at, updated_at, ended_at)
SELECT w.id, %(j)s, w.id, 'CA' || lpad(w.id::text, 32, '0'), 'inbound', 'en', '["report"]',
       CASE WHEN cb AND w.assigned_at IS NULL THEN 'callback'
            WHEN cb AND pg_temp.draw(w.id, 4) >= 0.8 THEN 'failed'
            WHEN w.state = 'cancelled' THEN 'abandoned'
            WHEN w.assigned_at IS NOT NULL THEN 'answered' ELSE 'in_queue' END,
       CASE WHEN w.state IN ('cancelled', 'completed') OR cb THEN 'completed'
            ELSE 'in-progress' END,
       '{}', w.queue_id, w.id, w.agent_id, w.created_at,
       CASE WHEN NOT cb THEN w.assigned_at END,
       CASE WHEN cb THEN 30 + (w.id %% 90)
            ELSE round(extract(epoch FROM coalesce(w.assigned_at,
                                                   w.completed_at) - w.created_at))::int END,
       CASE WHEN (NOT cb OR pg_temp.draw(w.id, 4) < 0.8) AND w.completed_at IS NOT NULL
                 AND w.assigned_at IS NOT NULL
            THEN round(extract(epoch FROM w.completed_at - w.assigned_at) * 0.8)::int END,
       CASE WHEN w.completed_at IS NOT NULL
            THEN round(extract(epoch FROM w.completed_at - w.created_at))::int END,
       CASE WHEN cb THEN '+1212555' || lpad((w.id %% 10000)::text, 4, '0') ELSE '' END,
       CASE WHEN cb THEN w.created_at + (30 + (w.id %% 90)) * interval '1 second' END,
       CASE WHEN cb AND w.assigned_at IS NOT NULL THEN 1 ELSE 0 END, '', '', '',
       w.created_at, w.updated_at, w.completed_at
FROM work_items w
CROSS JOIN LATERAL (SELECT pg_temp.draw(w.id, 3) < %(callback)s AS cb) AS d
WHERE w.kind = 'call'
"""

IVR_INTERACTIONS_SQL = """
INSERT INTO interactions (id, jurisdiction_id, channel, direction, from_address, to_address,
                          body, media_urls, delivery_status, error_code, created_at, updated_at,
                          processed_at, subject, thread_refs, automated)
SELECT %(base)s + g, %(j)s, 'voice', 'inbound', '', '', '', '[]', 'received', '', t.at, t.at,
       t.at, '', '[]', false
FROM generate_series(1, %(ivr)s) AS g
CROSS JOIN LATERAL (SELECT {local_time} AS at, g AS dep) AS t
"""

# Nine in ten IVR-only calls heard what they needed (self-served); the rest hung up in the menu.
IVR_CALLS_SQL = """
INSERT INTO calls (id, jurisdiction_id, interaction_id, call_sid, direction, language, menu_path,
                   outcome, status, draft, callback_number, callback_attempts, recording_url,
                   recording_sid, transcription_status, duration_seconds, created_at,
                   updated_at, ended_at)
SELECT %(cbase)s + g, %(j)s, i.id, 'CA' || lpad((%(cbase)s + g)::text, 32, '0'), 'inbound', 'en',
       '["status"]', CASE WHEN g %% 10 = 0 THEN 'hung_up' ELSE 'self_served' END, 'completed',
       '{}', '', 0, '', '', '', 40 + g %% 140, i.created_at,
       i.created_at + (40 + g %% 140) * interval '1 second',
       i.created_at + (40 + g %% 140) * interval '1 second'
FROM generate_series(1, %(ivr)s) AS g
JOIN interactions i ON i.id = %(base)s + g
"""

# The callback: an outbound call, child of the call that asked, when an agent took the work;
# four in five reach the resident (the call that asked is then answered, with the talk time,
# as the app records it; the others failed).
CALLBACK_INTERACTIONS_SQL = """
INSERT INTO interactions (id, jurisdiction_id, case_id, agent_id, channel, direction,
                          from_address, to_address, body, media_urls, delivery_status,
                          error_code, created_at, updated_at, processed_at, subject, thread_refs,
                          automated)
SELECT %(base)s + p.id, %(j)s, w.case_id, w.agent_id, 'voice', 'outbound', '', '', '', '[]',
       'delivered', '', w.assigned_at, w.assigned_at, w.assigned_at, '', '[]', false
FROM calls p JOIN work_items w ON w.id = p.work_item_id
WHERE p.callback_requested_at IS NOT NULL AND w.assigned_at IS NOT NULL
"""

CALLBACK_CALLS_SQL = """
INSERT INTO calls (id, jurisdiction_id, interaction_id, call_sid, direction, parent_call_id,
                   language, menu_path, outcome, status, draft, queue_id, work_item_id, agent_id,
                   answered_at, talk_seconds, duration_seconds, callback_number,
                   callback_attempts, recording_url, recording_sid, transcription_status,
                   created_at, updated_at, ended_at)
SELECT %(cbase)s + p.id, %(j)s, %(base)s + p.id,
       'CA' || lpad((%(cbase)s + p.id)::text, 32, '0'), 'outbound', p.id, 'en', '[]',
       CASE WHEN ok THEN 'answered' ELSE 'failed' END,
       CASE WHEN ok THEN 'completed' ELSE 'no-answer' END, '{}', p.queue_id, w.id, w.agent_id,
       CASE WHEN ok THEN w.assigned_at + interval '12 seconds' END,
       CASE WHEN ok AND w.completed_at IS NOT NULL
            THEN round(extract(epoch FROM w.completed_at - w.assigned_at) * 0.8)::int END,
       CASE WHEN ok AND w.completed_at IS NOT NULL
            THEN round(extract(epoch FROM w.completed_at - w.assigned_at))::int ELSE 25 END,
       '', 0, '', '', '', w.assigned_at, coalesce(w.completed_at, w.assigned_at),
       coalesce(w.completed_at, w.assigned_at + interval '25 seconds')
FROM calls p JOIN work_items w ON w.id = p.work_item_id
CROSS JOIN LATERAL (SELECT pg_temp.draw(p.id, 4) < 0.8 AS ok) AS d
WHERE p.callback_requested_at IS NOT NULL AND w.assigned_at IS NOT NULL
"""

# The rest of the interactions: each case's later messages, spread between its creation and
# its closing (or now), alternately to and from the resident (by text for phone and app
# cases); the last one to a closed case's resident is the automatic closing notice.
FOLLOW_UPS_SQL = """
INSERT INTO interactions (jurisdiction_id, case_id, channel, direction, from_address, to_address,
                          body, media_urls, delivery_status, error_code, created_at, updated_at,
                          processed_at, subject, thread_refs, automated)
SELECT %(j)s, c.id,
       CASE WHEN c.origin_channel IN ('sms', 'email', 'webchat') THEN c.origin_channel
            ELSE 'sms' END,
       CASE WHEN n %% 2 = 1 THEN 'outbound' ELSE 'inbound' END, '', '', '', '[]',
       CASE WHEN n %% 2 = 1 THEN 'delivered' ELSE 'received' END, '', f.at, f.at, f.at, '',
       '[]', n %% 2 = 1 AND n = k.k AND c.closed_at IS NOT NULL
FROM cases c
CROSS JOIN LATERAL (SELECT %(each)s + (c.id <= %(extra)s)::int AS k) AS k
CROSS JOIN LATERAL generate_series(1, k.k) AS n
CROSS JOIN LATERAL (
    SELECT c.created_at + (coalesce(c.closed_at, now()) - c.created_at) * n / (k.k + 1.0) AS at
) AS f
"""

# Every answered contact was offered to the agent who took it (a few seconds before); one in
# eight was first offered to another agent who declined it or let it time out.
OFFERS_SQL = """
INSERT INTO offers (jurisdiction_id, work_item_id, agent_id, state, created_at, expires_at,
                    answered_at)
SELECT %(j)s, w.id,
       CASE WHEN n = 0 THEN w.agent_id ELSE 1 + (w.agent_id %% %(working)s) END,
       CASE WHEN n = 0 THEN 'accepted' WHEN d.r < 0.06 THEN 'declined' ELSE 'timed_out' END,
       o.at, o.at + interval '30 seconds',
       CASE WHEN n = 0 THEN w.assigned_at WHEN d.r < 0.06 THEN o.at + interval '6 seconds' END
FROM work_items w
CROSS JOIN LATERAL (SELECT random() AS r WHERE w.id IS NOT NULL) AS d
CROSS JOIN LATERAL generate_series(0, CASE WHEN d.r < 0.12 THEN 1 ELSE 0 END) AS n
CROSS JOIN LATERAL (
    SELECT w.assigned_at - (2 + 30 * n + (w.id %% 9)) * interval '1 second' AS at
) AS o
WHERE w.assigned_at IS NOT NULL AND w.agent_id IS NOT NULL
"""

# Each agent works five days a week (days off rotate), in their shift (agents 1-12 from 7:00,
# 13-24 from 11:00, 25-36 from 15:00; supervisors one in each): available, a break (away),
# busy for half an hour (a meeting), available, offline after eight hours.
PRESENCE_SQL = """
INSERT INTO agent_presence_changes (agent_id, presence, previous, reason, created_at)
SELECT a, e.presence, e.previous, '', t.at
FROM generate_series(1, %(agents)s - 1) AS a
CROSS JOIN generate_series(0, %(days)s) AS d
CROSS JOIN LATERAL (
    SELECT CASE WHEN a <= %(working)s THEN (a - 1) / 12 ELSE (a - %(working)s - 1) %% 3 END AS grp
) AS s
CROSS JOIN (VALUES (0, 'available', 'offline'), (120, 'away', 'available'),
                   (135, 'available', 'away'), (240, 'busy', 'available'),
                   (270, 'available', 'busy'), (480, 'offline', 'available')) AS e(m, presence,
                                                                                 previous)
CROSS JOIN LATERAL (
    SELECT ((%(today)s::date - d)::timestamp + make_interval(hours => 7 + 4 * s.grp,
                                                          mins => e.m + (a + d) %% 7))
           AT TIME ZONE %(tz)s AS at
) AS t
WHERE (d + a) %% 7 NOT IN (0, 1) AND t.at <= now()
"""

# A survey by text or email points at a message of its case (delivered: it counts as sent).
SURVEYS_SQL = """
INSERT INTO satisfaction_surveys (id, jurisdiction_id, case_id, channel, address, token, state,
                                  score, comment, interaction_id, sent_at, expires_at,
                                  answered_at)
SELECT c.id, %(j)s, c.id,
       CASE WHEN c.origin_channel IN ('sms', 'email', 'webchat') THEN c.origin_channel
            ELSE 'sms' END,
       '', 's' || c.id,
       CASE WHEN u < %(s_supp)s THEN 'suppressed' WHEN c.satisfaction IS NOT NULL THEN 'answered'
            WHEN s.at + interval '7 days' < now() THEN 'expired' ELSE 'sent' END,
       c.satisfaction, '', CASE WHEN c.origin_channel <> 'webchat' THEN c.id END, s.at,
       s.at + interval '7 days',
       CASE WHEN c.satisfaction IS NOT NULL
            THEN least(now(), s.at + (5 + (c.id %% 120)) * interval '1 minute') END
FROM cases c
CROSS JOIN LATERAL (SELECT pg_temp.draw(c.id, 1) AS u) AS d
CROSS JOIN LATERAL (SELECT least(now(), c.closed_at + interval '2 minutes') AS at) AS s
WHERE c.closed_at IS NOT NULL AND d.u < %(s_sent)s
"""
