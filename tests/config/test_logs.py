"""JSON logs: one object per line, with the request id or the task id, and no secrets."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, SimpleTestCase, TestCase, override_settings
from django_q.tasks import async_task

from config import logs
from config.middleware import RequestIdMiddleware

log = logging.getLogger("tests.config.logs")
KEY = "sbx_9f8e7d6c5b4a3210fedcba"  # never stored: the suite's key watch stays out


@pytest.fixture(autouse=True)
def warnings_back_to_pytest():
    """JsonFormatter routes Python warnings through logging; give them back to pytest."""
    yield
    logging.captureWarnings(False)


class Capture(logging.Handler):
    """Records as the production console handler sees them: through the context filter."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(logs.ContextFilter())
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))

    def __enter__(self):
        logging.getLogger().addHandler(self)
        self.level_before = log.level
        log.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self)
        log.setLevel(self.level_before)

    def ours(self) -> list[dict]:
        return [line for line in self.lines if line["logger"] == log.name]


def record(message: str, *args, **kwargs) -> logging.LogRecord:
    return logging.LogRecord(log.name, logging.INFO, __file__, 1, message, args, None, **kwargs)


class JsonFormatterTestCase(SimpleTestCase):
    def test_it_writes_one_json_object_with_the_basics(self):
        line = json.loads(logs.JsonFormatter().format(record("%s cycles sent", 3)))
        self.assertEqual(line["message"], "3 cycles sent")
        self.assertEqual((line["level"], line["logger"]), ("INFO", log.name))
        self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
        self.assertIn("pid", line)
        self.assertNotIn("\n", logs.JsonFormatter().format(record("two\nlines")))

    def test_it_keeps_no_key_from_a_url_or_a_traceback(self):
        url = f"https://hosting.example/stubs/handler_api.php?action=getBalance&api_key={KEY}"
        try:
            raise ConnectionError(f"Max retries exceeded with url: {url}")
        except ConnectionError:
            import sys

            entry = record("request to %s failed", url)
            entry.exc_info = sys.exc_info()
        out = logs.JsonFormatter().format(entry)
        self.assertNotIn(KEY[4:10], out)
        line = json.loads(out)
        self.assertIn("api_key=[redacted]", line["message"])
        self.assertIn("action=getBalance", line["message"])
        self.assertIn("api_key=[redacted]", line["exception"])

    def test_it_keeps_bearer_tokens_and_reset_links_out(self):
        text = logs.scrub(f"Authorization: Bearer {KEY} GET /accounts/reset/MQ/cz8b-a1b2c3d4e5/")
        self.assertNotIn(KEY, text)
        self.assertNotIn("a1b2c3d4e5", text)
        self.assertIn("/accounts/reset/MQ/[redacted]/", text)
        self.assertEqual(
            logs.scrub("/accounts/reset/MQ/set-password/"), "/accounts/reset/MQ/set-password/"
        )

    def test_it_leaves_the_engines_lease_token_alone(self):
        # tests/sync/test_two_clusters.py reads these lines back.
        text = "cycle account=7 token=web-1:4242:a1b2c3d4 from=1.000 to=2.000 requests=1"
        self.assertEqual(logs.scrub(text), text)
        self.assertEqual(logs.TextFormatter("%(message)s").format(record(text)), text)

    def test_it_leaves_out_extras_it_does_not_know(self):
        entry = record("Not Found: /x")
        entry.request = object()  # django.request attaches the whole request
        entry.status_code = 404
        line = json.loads(logs.JsonFormatter().format(entry))
        self.assertEqual(line["status_code"], 404)
        self.assertNotIn("request", line)


class RequestIdTestCase(SimpleTestCase):
    def middleware(self, view=None):
        def default_view(request):
            log.info("handling %s", request.path)
            return HttpResponse("ok")

        return RequestIdMiddleware(view or default_view)

    def test_every_line_of_a_request_carries_its_id_and_the_response_names_it(self):
        with Capture() as capture:
            response = self.middleware()(RequestFactory().get("/board"))
        request_id = response["X-Request-ID"]
        self.assertRegex(request_id, r"^[0-9a-f]{32}$")
        self.assertEqual([line["request_id"] for line in capture.ours()], [request_id])

    def test_each_request_gets_its_own_id_and_none_lingers_after(self):
        first = self.middleware()(RequestFactory().get("/"))["X-Request-ID"]
        second = self.middleware()(RequestFactory().get("/"))["X-Request-ID"]
        self.assertNotEqual(first, second)
        self.assertIsNone(logs.request_id.get())
        with Capture() as capture:
            log.info("outside any request")
        self.assertNotIn("request_id", capture.ours()[0])

    def test_the_id_is_reset_when_the_view_raises(self):
        def broken(request):
            raise RuntimeError("boom")

        with self.assertRaises(RuntimeError):
            self.middleware(broken)(RequestFactory().get("/"))
        self.assertIsNone(logs.request_id.get())

    @override_settings(TRUST_X_FORWARDED_FOR=True)
    def test_a_trusted_proxys_id_is_kept(self):
        nginx_id = "5f0c2b1e9a7d4c3b8e6f1a2d3c4b5a69"
        request = RequestFactory().get("/", headers={"X-Request-ID": nginx_id})
        self.assertEqual(self.middleware()(request)["X-Request-ID"], nginx_id)

    @override_settings(TRUST_X_FORWARDED_FOR=True)
    def test_a_malformed_id_is_replaced(self):
        forged = 'x" "level":"CRITICAL'
        response = self.middleware()(RequestFactory().get("/", headers={"X-Request-ID": forged}))
        self.assertRegex(response["X-Request-ID"], r"^[0-9a-f]{32}$")

    @override_settings(TRUST_X_FORWARDED_FOR=False)
    def test_a_clients_id_is_ignored_without_a_trusted_proxy(self):
        offered = "5f0c2b1e9a7d4c3b8e6f1a2d3c4b5a69"
        request = RequestFactory().get("/", headers={"X-Request-ID": offered})
        self.assertNotEqual(self.middleware()(request)["X-Request-ID"], offered)


class PortalRequestIdTestCase(TestCase):
    def test_the_portal_sets_it_on_every_response(self):
        for path in ("/health", "/accounts/login/", "/nowhere/"):
            self.assertRegex(self.client.get(path)["X-Request-ID"], r"^[0-9a-f]{32}$", path)

    def test_djangos_own_line_about_a_response_carries_its_id(self):
        # django.request logs 4xx/5xx after the middleware returned.
        with Capture() as capture:
            response = self.client.get("/nowhere/")
        lines = [line for line in capture.lines if line["logger"] == "django.request"]
        self.assertEqual(lines[0]["message"], "Not Found: /nowhere/")
        self.assertEqual(lines[0]["request_id"], response["X-Request-ID"])
        self.assertEqual(lines[0]["status_code"], 404)


def task_that_logs() -> str:
    logging.getLogger("tests.config.logs").info("inside the task")
    return "done"


class TaskIdTestCase(TestCase):
    def test_a_tasks_lines_carry_its_id(self):
        with Capture() as capture:
            log.info("before the task")  # connects the task signals, as a worker's first line
            task_id = async_task("tests.config.test_logs.task_that_logs", sync=True)
            log.info("after the task")
        lines = {line["message"]: line for line in capture.lines}
        self.assertEqual(lines["inside the task"]["task_id"], task_id)
        self.assertNotIn("task_id", lines["after the task"])
        self.assertTrue(re.fullmatch(r"[0-9a-f]{32}", task_id))
