from django.conf import settings

from accounts.models import Membership


def teams(request):
    """The user's teams and the current one, for the navigation and switcher; and whether
    mail is configured (the login page offers reset by email only then)."""
    base = {"email_enabled": settings.EMAIL_ENABLED}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return base

    def my_memberships():
        return list(
            Membership.objects.filter(user=user).select_related("team").order_by("team__name")
        )

    membership = getattr(request, "membership", None)
    return {
        **base,
        "my_memberships": my_memberships,
        "current_membership": membership,
        "current_team": membership.team if membership else None,
    }
