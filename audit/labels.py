"""Audit actions in words: "member.spend_limit_changed" reads "Spend limit changed".

Actions stay stored as their raw dotted names (they are what filters and exports
match on); pages show these labels. An action without an entry here still reads
as words: its verb part spelled out, with the entity in front when the verb
alone would not say what changed ("order.placed" -> "Order placed").
"""

from __future__ import annotations

LABELS = {
    "api_key.used": "API key used",
    "order.cancel_dropped": "Scheduled cancel dropped",
    "order.cannot_confirm": "Purchase could not be confirmed",
    "order.canceled": "Order cancelled",
    "order.failover": "Switched to the next provider",
    "order.orphan_found": "Unknown order found at the provider",
    "order.otp_received": "Code received",
    "order.resend_requested": "Another code requested",
    "order.unconfirmed": "Purchase not confirmed yet",
    "order.auto_replace_failed": "Automatic replacement failed",
    "order.auto_replaced": "Replaced automatically",
    "provider.added": "Provider account added",
    "provider.tested": "Provider account tested",
    "provider.updated": "Provider account changed",
    "rental.rented": "Number rented",
    "rental.auto_extend_changed": "Auto-extend changed",
    "rental.auto_extended": "Extended automatically",
    "rental.woken": "Rental woken",
    "sync.wake": "Polling woken",
    "sync.watchdog": "Polling restarted",
    "webhook.secret_replaced": "Webhook secret replaced",
    "webhook.test": "Webhook tested",
    "webhook.test_sent": "Webhook test sent",
}


def action_label(action: str) -> str:
    """The words for a raw audit action ("" stays "")."""
    action = str(action or "")
    if action in LABELS:
        return LABELS[action]
    entity, _dot, verb = action.rpartition(".")
    words = verb.replace("_", " ").strip()
    if not words:
        return action
    if entity and " " not in words:
        words = f"{entity.replace('_', ' ')} {words}"
    return words[:1].upper() + words[1:]
