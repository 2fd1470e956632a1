"""The reports and load harnesses: the obvious-way report adds up to what the real one
books, wrk's figures are read back in ms, and the Lua script alternates users and
pages (no timings checked)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from bench import load, reports
from reports import costs


@pytest.mark.django_db
def test_the_naive_report_sums_what_the_cost_report_sums():
    call_command(
        "generate_data", "--teams", "1", "--orders", "300", "--days", "20", stdout=StringIO()
    )
    team = reports.pick_teams()["largest"]
    until = timezone.localdate()
    since = until - timedelta(days=89)
    real = costs.cost_report(team, since=since, until=until)
    naive = reports.naive_report(team, since, until)
    assert naive["totals"]["charges"] + naive["totals"]["refunds"] == pytest.approx(
        real.totals.net, abs=Decimal("0.01")
    )
    assert sum(naive["spend"]["day"].values()) == pytest.approx(
        real.totals.net, abs=Decimal("0.01")
    )
    ok = sum(v[0] for v in naive["outcomes"]["provider"].values())
    assert ok == real.with_code


def test_wrk_figures_are_read_in_ms_and_errors_add_up():
    line = (
        'WRK_JSON {"requests": 300, "duration_us": 30000000, "bytes": 3072000, '
        '"connect_errors": 0, "read_errors": 1, "write_errors": 0, "status_errors": 2, '
        '"timeouts": 0, "p50_us": 12000, "p90_us": 40000, "p95_us": 55500, "p99_us": 90000, '
        '"max_us": 120000, "mean_us": 20000}'
    )
    figures = load.parse_wrk("Running 30s test\n" + line + "\n")
    assert figures["requests_per_second"] == 10.0
    assert (figures["p50_ms"], figures["p95_ms"], figures["p99_ms"]) == (12.0, 55.5, 90.0)
    assert figures["non_200_or_errors"] == 3
    assert figures["kb_per_request"] == 10.0
    with pytest.raises(RuntimeError):
        load.parse_wrk("no figures")


def test_the_lua_script_pairs_each_user_with_their_own_pages():
    people = [
        {"cookie": f"sessionid=s{n}", "board": f"/b{n}", "reports": f'/r{n}?q="x"'}
        for n in range(2)
    ]
    script = load.lua_script(people, ("board", "reports"))
    for pair in (
        '{"sessionid=s0", "/b0"}',
        '{"sessionid=s1", "/b1"}',
        '{"sessionid=s1", "/r1?q=\\"x\\""}',
    ):
        assert pair in script
    assert '{"sessionid=s0", "/b1"}' not in script
    assert "function done(summary, latency, requests)" in script


@pytest.mark.django_db
def test_the_bench_checks_the_rolled_up_report_against_the_raw_one():
    from reports.models import DailyRollup

    call_command(
        "generate_data", "--teams", "1", "--orders", "300", "--days", "20", stdout=StringIO()
    )
    team = reports.pick_teams()["largest"]
    assert DailyRollup.objects.filter(team=team).exists()  # generate_data rolled it up
    assert reports.backfill()["answer"].startswith("rolled up already")
    until = timezone.localdate()
    assert reports.same_report(team, until - timedelta(days=89), until)
    DailyRollup.objects.all().delete()
    done = reports.backfill()  # a database generated before the roll-up: backfilled
    assert done["command"] == "python manage.py rollup_costs"
    assert DailyRollup.objects.filter(team=team).exists()
