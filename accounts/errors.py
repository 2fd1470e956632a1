"""The error every member-facing action raises when it cannot be done."""

from __future__ import annotations


class ActionError(Exception):
    """An action a member asked for that could not be done.

    `message` says what happened in plain words and `next_step` what to do about
    it; both are shown to the member. `category` names the cause for code and
    tests; `retry_after` says when trying again may help.
    """

    def __init__(
        self,
        message: str,
        *,
        next_step: str = "",
        category: str = "",
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.next_step = next_step
        self.category = category
        self.retry_after = retry_after
