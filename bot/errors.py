"""Domain errors: services raise them, the dispatcher turns them into a Chinese reply."""


class DomainError(Exception):
    """A refusal the user should read; the message is the reply."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing named does not exist (or is not visible to this person)."""


class NotAllowed(DomainError):
    """The person's role or relation does not permit the action."""


class Invalid(DomainError):
    """The input is malformed; the message names what and why."""


class Conflict(DomainError):
    """The action does not fit the current state (e.g. done twice, stale card)."""
