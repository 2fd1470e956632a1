"""Demo data for `manage.py demo`: a team, three logins and sandbox provider accounts.

Idempotent: a second run finds what the first created and changes nothing
that users may have edited since.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import Membership, Team
from accounts.roles import Role

TEAM_NAME = "Demo team"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    note: str


LOGINS = (
    DemoLogin("owner", "smsdesk-owner", "team owner: manages members and provider accounts"),
    DemoLogin("member", "smsdesk-member", "team member: orders, cancels and rents numbers"),
    DemoLogin(
        "alex",
        "smsdesk-alex",
        "not in the team yet: invite alex@demo.smsdesk.local from Members, then open the "
        "link (shown there without EMAIL_URL, else mailed) logged in as alex",
    ),
)

# Sandbox path prefix and currency per provider kind.
SANDBOX_ACCOUNTS = (
    ("smspool", "SMSPool (sandbox)", "/smspool", "USD"),
    ("numpool", "NumPool (sandbox)", "/numpool/api/v1", "USD"),
    ("smscode", "SMSCode (sandbox)", "/smscode", "IDR"),
    ("smsactivate", "SMS-Activate (sandbox)", "/smsactivate/stubs/handler_api.php", "USD"),
)


def _user(login: DemoLogin):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=login.username, defaults={"email": f"{login.username}@demo.smsdesk.local"}
    )
    if created:
        user.set_password(login.password)
        user.save()
    return user


@transaction.atomic
def create_demo_team() -> Team:
    """Create (or find) the demo team with its owner and member."""
    owner, member, _alex = (_user(login) for login in LOGINS)
    team = Team.objects.filter(memberships__user=owner, name=TEAM_NAME).first()
    if team is None:
        from accounts.services import team_create

        team = team_create(name=TEAM_NAME, owner=owner)
    Membership.objects.get_or_create(team=team, user=member, defaults={"role": Role.MEMBER})
    if not owner.is_superuser:
        owner.is_staff = owner.is_superuser = True
        owner.save(update_fields=["is_staff", "is_superuser"])
    return team


def create_sandbox_accounts(team: Team) -> list:
    """One provider account of each kind pointing at the sandbox (existing ones kept)."""
    from providers.models import ProviderAccount
    from providers.services import provider_account_create

    owner = team.owners().first().user
    accounts = []
    for kind, label, prefix, currency in SANDBOX_ACCOUNTS:
        # A removed one stays removed: the demo adds a new account in its place.
        account = (
            ProviderAccount.objects.live().filter(team=team, kind=kind, is_sandbox=True).first()
        )
        if account is None:
            account = provider_account_create(
                team=team,
                actor=owner,
                api_key=f"sbx_demo_{kind}_key",
                kind=kind,
                label=label,
                base_url=settings.SANDBOX_URL.rstrip("/") + prefix,
                currency=currency,
                enabled=True,
            )
        accounts.append(account)
    return accounts


# --- the demo's own sandbox ------------------------------------------------------------------

# The sandbox the demo starts answers /control only to this checkout's token (the header
# X-Sandbox-Token), so a demo can tell its own sandbox from somebody else's on the port.
SANDBOX_TOKEN_FILE = Path(settings.BASE_DIR) / "var" / "sandbox.token"


def sandbox_token(path: Path | None = None) -> str:
    """This checkout's sandbox token (made once, readable by its owner only)."""
    path = Path(path or SANDBOX_TOKEN_FILE)
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


def sandbox_control_headers(path: Path | None = None) -> dict[str, str]:
    """Headers for the demo sandbox's /control endpoints (deliver a code, ...)."""
    return {"X-Sandbox-Token": sandbox_token(path)}
