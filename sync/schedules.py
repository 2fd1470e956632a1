# The watchdog keeps the dispatcher running; it is not the polling clock (see sync.engine).
SCHEDULES = [
    {"name": "sync.watchdog", "func": "sync.tasks.watchdog", "minutes": 1},
]
