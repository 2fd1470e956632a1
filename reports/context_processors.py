from accounts.roles import Permission


def low_balance(request):
    """For owners and managers of the current team: the provider accounts below their
    low-balance alert level (read only when a template shows the banner)."""
    membership = getattr(request, "membership", None)
    if membership is None or not membership.can(Permission.MANAGE_PROVIDERS):
        return {}

    found: list = []

    def accounts():
        # Read once per response, however often the template asks.
        if not found:
            from reports.balances import low_balance_accounts

            found.append(low_balance_accounts(membership.team))
        return found[0]

    return {"low_balance_accounts": accounts}
