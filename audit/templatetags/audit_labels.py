"""`{% load audit_labels %}` then `{{ event.action|action_label }}`."""

from django import template

from audit.labels import action_label as _action_label

register = template.Library()


@register.filter
def action_label(action) -> str:
    return _action_label(action)
