from __future__ import annotations

from django.db import models


class EngineLease(models.Model):
    """A lease on one engine-wide role (the dispatcher): who holds it and until when.

    Several task clusters on several machines cooperate: whichever claims the row
    with a conditional UPDATE runs the role; the others leave it alone.
    """

    name = models.CharField(max_length=40, primary_key=True)
    owner = models.CharField(max_length=64, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.owner or 'free'}"
