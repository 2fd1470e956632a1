# The watchdog restarts pollers; it is not the polling clock (see orders.sync).
SCHEDULES = [
    {"name": "orders.watchdog", "func": "orders.tasks.watchdog", "minutes": 1},
]
