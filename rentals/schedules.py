SCHEDULES = [
    {"name": "rentals.send_reminders", "func": "rentals.tasks.send_reminders", "minutes": 5},
]
