"""The member API: personal API keys and the SMS-Activate-compatible gateway.

Everything here calls the same services as the portal (orders.services,
reports.ledger), so an order placed through a key is an order like any other:
on the live board, in the ledger, under the budget, in the audit log.
"""
