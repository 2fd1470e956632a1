"""`{% quick_picks team user service country %}`: the order form's favourites and recent
pairs, and a star for the pair in the form (orders/quickpicks.py)."""

from __future__ import annotations

from django import template

from orders import quickpicks

register = template.Library()


@register.inclusion_tag("orders/quick_picks.html")
def quick_picks(team, user, service_text="", country_text=""):
    from providers.picks import find_country, find_service

    service = find_service(service_text, team=team) if service_text else None
    country = find_country(country_text, team=team) if country_text else None
    current = None
    if service is not None and country is not None:
        starred = quickpicks.is_favourite(team=team, user=user, service=service, country=country)
        current = {"service": service_text, "country": country_text, "starred": starred}
    return {
        "team": team,
        "picks": quickpicks.quick_picks(team=team, user=user),
        "current": current,
    }
