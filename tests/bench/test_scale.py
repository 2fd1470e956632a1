"""The scale benchmark's bookkeeping (no cluster, no timings): worker time is counted
inside the window only, running tasks count up to the end, accounts come in whole
teams of the four kinds, and the reconstructed old poller keeps its lease rules."""

from __future__ import annotations

import pytest

from bench import scale
from bench.scale_probe import pair_events


def test_worker_time_is_clipped_to_the_window():
    tasks = [
        {"func": "sync.tasks.cycle", "started": 5.0, "stopped": 15.0},  # half inside
        {"func": "sync.tasks.cycle", "started": 12.0, "stopped": 13.0},
        {"func": "sync.tasks.dispatch", "started": 0.0, "stopped": 100.0},  # spans it
        {"func": "sync.tasks.cycle", "started": 25.0, "stopped": 30.0},  # after it
    ]
    assert scale.busy_seconds(tasks, 10.0, 20.0) == {
        "sync.tasks.cycle": 6.0,
        "sync.tasks.dispatch": 10.0,
    }


def test_a_task_without_its_stop_line_runs_until_the_log_is_read():
    events = [
        {"event": "start", "id": "a", "func": "f", "at": 1.0},
        {"event": "start", "id": "b", "func": "g", "at": 2.0},
        {"event": "stop", "id": "a", "func": "f", "at": 3.0, "success": True, "result": "ok"},
        {"event": "stop", "id": "c", "func": "h", "at": 4.0},  # started before the log
    ]
    tasks = {t["func"]: t for t in pair_events(events, end=10.0)}
    assert set(tasks) == {"f", "g"}
    assert (tasks["f"]["started"], tasks["f"]["stopped"], tasks["f"]["result"]) == (1.0, 3.0, "ok")
    assert (tasks["g"]["stopped"], tasks["g"]["result"]) == (10.0, "still running")


def test_accounts_come_in_whole_teams_of_the_four_kinds():
    layout = scale.accounts_layout(8)
    assert layout[:4] == [(0, "smspool"), (0, "smscode"), (0, "smsactivate"), (0, "numpool")]
    assert {team for team, _ in layout} == {0, 1}
    assert scale.accounts_layout(200)[-1] == (49, "numpool")


def test_share_of_the_limit_is_over_the_same_window():
    # SMSCode allows 300/min: 45 requests in 30 s is 30 % of it.
    assert scale.share_of_limit(45, "smscode", 30.0) == pytest.approx(0.30)


def test_options_from_the_command_line():
    options, _args = scale.parse(["--sizes", "4,12", "--engines", "engine", "--workers", "2"])
    assert (options.sizes, options.engines, options.workers) == ((4, 12), ("engine",), 2)
    with pytest.raises(SystemExit):
        scale.parse(["--engines", "nope"])


@pytest.mark.django_db
def test_the_old_poller_refuses_an_account_whose_lease_another_holds(monkeypatch):
    from bench import scale_legacy
    from bench.sync import make_member
    from providers.models import ProviderAccount

    account = ProviderAccount(team=make_member("Old").team, kind="smspool", label="P")
    account.set_api_key("key-1234")
    account.save()
    assert scale_legacy.claim_lease(account.pk, "other")
    enqueued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: enqueued.append(a))
    assert scale_legacy.poll_account(account.pk) == "another poller holds the lease"
    assert scale_legacy.ensure_poller(account.pk) is False
    scale_legacy.release_lease(account.pk, "other")
    assert scale_legacy.ensure_poller(account.pk) is True
    assert enqueued == [(scale_legacy.TASK, account.pk)]
