# Retries of webhook deliveries that failed: picked up once a minute (webhooks.services).
SCHEDULES = [
    {"name": "webhooks.deliver_due", "func": "webhooks.tasks.deliver_due", "minutes": 1},
]
