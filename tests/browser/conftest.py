"""Real-browser tests: Chromium driven by Playwright against pytest-django's live server.

The browser talks real HTTP to the live server, which talks real HTTP to an
in-process sandbox; the test thread delivers codes in the sandbox and runs sync
cycles itself, exactly as the poller would.

Chromium comes from the system (`apt-get install chromium`), never from
`playwright install`. Without /usr/bin/chromium these tests skip, unless
REQUIRE_BROWSER=1 (CI), when they fail loudly instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Without the playwright package (it is in the dev group) there is nothing to
# collect here: the tests are left out, unless CI requires them.
try:
    import playwright  # noqa: F401
except ImportError:  # pragma: no cover
    if os.environ.get("REQUIRE_BROWSER") != "1":
        collect_ignore_glob = ["test_*.py"]

from tests.browser.helpers import DESKTOP, SCREENSHOTS

# Playwright's sync API keeps an event loop in the test thread; the ORM calls the
# tests make between browser steps are still plain synchronous code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


def _unavailable(reason: str):
    """Skip, or fail loudly when the environment promises a browser (CI)."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# What Chromium logs to the console when a page breaks its Content-Security-Policy
# ("Refused to execute inline script because it violates the following Content
# Security Policy directive...") or sends a Permissions-Policy it cannot read.
POLICY_MARKERS = ("Content Security Policy", "Content-Security-Policy", "Permissions-Policy")


@pytest.fixture
def policy_violations():
    """Console messages of every page in the test that report a policy violation."""
    return []


@pytest.fixture
def new_context(browser, live_server, policy_violations):
    """Make browser contexts (one per user) that all close after the test.

    Every page runs under the portal's real Content-Security-Policy; a violation
    reported on any of them fails the test at teardown.
    """
    contexts = []

    def record(message):
        if any(marker in message.text for marker in POLICY_MARKERS):
            policy_violations.append(f"{message.type}: {message.text} ({message.location})")

    def make(**options):
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.on("console", record)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not policy_violations, "policy violations in the console:\n" + "\n".join(
        policy_violations
    )


@pytest.fixture
def page(new_context, request):
    """One page in a fresh context; screenshotted into var/screenshots on failure."""
    the_page = new_context().new_page()
    yield the_page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and not the_page.is_closed():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        the_page.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name}.png"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- data ---------------------------------------------------------------------------------


@pytest.fixture
def team(transactional_db):
    """alice owns "Alpha QA", bob is a member, vic a viewer."""
    from accounts.models import Membership, Team
    from accounts.roles import Role
    from tests.base import make_user

    team = Team.objects.create(name="Alpha QA")
    for username, role in (("alice", Role.OWNER), ("bob", Role.MEMBER), ("vic", Role.VIEWER)):
        Membership.objects.create(team=team, user=make_user(username), role=role)
    return team
