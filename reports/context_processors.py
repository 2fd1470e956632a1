from accounts.roles import Permission


def low_balance(request):
    """For owners and managers of the current team: the provider accounts below their
    low-balance alert level (read only when a template shows the banner)."""
    membership = getattr(request, "membership", None)
    if membership is None or not membership.can(Permission.MANAGE_PROVIDERS):
        return {}

    def accounts():
        from reports.balances import low_balance_accounts

        return low_balance_accounts(membership.team)

    return {"low_balance_accounts": accounts}
