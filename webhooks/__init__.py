"""Signed webhooks: a team's endpoints hear of codes, finished orders and rental messages."""
