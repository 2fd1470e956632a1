from accounts.models import Membership


def teams(request):
    """The user's teams and the current one, for the navigation and switcher."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def my_memberships():
        return list(
            Membership.objects.filter(user=user).select_related("team").order_by("team__name")
        )

    membership = getattr(request, "membership", None)
    return {
        "my_memberships": my_memberships,
        "current_membership": membership,
        "current_team": membership.team if membership else None,
    }
