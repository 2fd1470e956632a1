"""A probe for the scale benchmark's task cluster: one JSON line when a worker starts a
task and one when it ends it (function, task id, time), in the file BENCH_TASK_LOG
names, so worker time can be counted for any engine, tasks still running at the end
included. Installed only by `bench.scale_settings`, never by the product.

django-q2 sends `pre_execute` and `post_execute_in_worker` in the worker process
for every task, saved or not (sync cycles are `save=False`).
"""

from __future__ import annotations

import json
import os
import time

from django.apps import AppConfig


class ProbeConfig(AppConfig):
    name = "bench"
    label = "bench_scale_probe"
    verbose_name = "Scale benchmark probe"

    def ready(self) -> None:
        path = os.environ.get("BENCH_TASK_LOG")
        if not path:
            return
        from django_q.signals import post_execute_in_worker, pre_execute

        def started(sender, func, task, **kwargs) -> None:
            write_event(path, "start", task)

        def stopped(sender, func, task, **kwargs) -> None:
            write_event(path, "stop", task)

        pre_execute.connect(started, weak=False, dispatch_uid="bench.scale_probe.start")
        post_execute_in_worker.connect(stopped, weak=False, dispatch_uid="bench.scale_probe.stop")


def write_event(path: str, event: str, task: dict) -> None:
    """Append one line; a single short write in append mode, so lines of several worker
    processes never interleave."""
    func = task.get("func")
    line = {
        "event": event,
        "id": task.get("id"),
        "func": func if isinstance(func, str) else getattr(func, "__name__", repr(func)),
        "args": [a for a in task.get("args", ()) if isinstance(a, int | str)][:2],
        "at": time.time(),
    }
    if event == "stop":
        line["success"] = bool(task.get("success"))
        line["result"] = str(task.get("result"))[:120]
    with open(path, "a") as out:
        out.write(json.dumps(line) + "\n")


def pair_events(events: list[dict], end: float) -> list[dict]:
    """Tasks from start and stop lines: func, started, stopped (`end` for a task still
    running when the log was read), success and result."""
    tasks: dict[str, dict] = {}
    for event in events:
        task = tasks.setdefault(
            event["id"],
            {
                "func": event["func"],
                "args": event.get("args", []),
                "started": None,
                "stopped": None,
            },
        )
        if event["event"] == "start":
            task["started"] = event["at"]
        else:
            task["stopped"] = event["at"]
            task["success"] = event.get("success")
            task["result"] = event.get("result", "")
    for task in tasks.values():
        if task["stopped"] is None:
            task["stopped"] = end
            task["result"] = "still running"
    return [t for t in tasks.values() if t["started"] is not None]


def ping() -> str:
    """A no-op task: its line in the log shows the cluster is up."""
    return "pong"
