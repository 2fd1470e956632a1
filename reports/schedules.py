# The cost report's daily roll-up: closed days are rolled up within the hour after they
# settle (reports.rollup); the report computes the rest from raw rows meanwhile.
SCHEDULES = [
    {"name": "reports.rollup_costs", "func": "reports.tasks.rollup_costs", "minutes": 60},
]
