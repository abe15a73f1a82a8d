"""One person's data on request (issue 9 §4): export it all, or erase it without breaking the register.

- `subjects`: finding the person a request names; the pseudonym an erased person is known by.
- `holdings`: where the platform keeps a person's data (inbound log, outbox, audit trail, Redis).
- `export`: everything as one JSON document (`features` adds each feature's tables).
- `erasure`: pseudonymise the person, scrub his messages, keep the register's content.
"""

from bot.privacy.erasure import Erasure, erase_person, forget_in_redis
from bot.privacy.export import export_person, to_json
from bot.privacy.subjects import find_admin, find_subject, pseudonym

__all__ = [
    "Erasure",
    "erase_person",
    "export_person",
    "find_admin",
    "find_subject",
    "forget_in_redis",
    "pseudonym",
    "to_json",
]
