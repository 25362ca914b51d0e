"""Secret values in apply snapshots: taken out of the JSON before it is stored, and kept apart, encrypted.

Apply saves each record as IT Glue sends it with `include=passwords,...`: the embedded passwords come with their
values and OTP secrets. The stored snapshot (`audit.snapshots.record_json`) keeps everything restore and a person need
(names, usernames, urls, every attribute of the record) with each secret value replaced by "[encrypted]"; the values
go, as one Fernet token under the snapshot key (pipelines/cleanup/keys.py), to `audit.snapshots.secrets_encrypted`,
which is never published. A secret is any value whose key names one: password, passwd, otp, totp, secret, token,
api key, private key (IT Glue's `password`, `otp-secret`; anything alike in other included objects).
"""

import json
import re
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

PLACEHOLDER = "[encrypted]"
SECRET_NAME = re.compile(r"(^|[-_ ])(password|passwd|otp|totp|secret|token|api[-_ ]?key|private[-_ ]?key)s?([-_ ]|$)",
                         re.IGNORECASE)
# Named like a secret but holding none: when a password was changed, which category it is in.
NOT_SECRET = re.compile(r"(updated|created)[-_ ]at$|[-_ ](id|name|count)$|^(has|is)[-_ ]|[-_ ]enabled$",
                        re.IGNORECASE)

Path = list[str | int]


def is_secret_name(key: str) -> bool:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", key)  # otpSecret, apiKey -> otp-Secret, api-Key
    return bool(SECRET_NAME.search(words)) and not NOT_SECRET.search(words)


def split(document: Any) -> tuple[Any, list[tuple[Path, Any]]]:
    """(the document with every secret value replaced by PLACEHOLDER, [(where, value)] of the values taken out)."""
    found: list[tuple[Path, Any]] = []

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                # a value, not a structure: `relationships.passwords` lists ids, and nested objects are walked
                if is_secret_name(str(key)) and value not in (None, "") and not isinstance(value, dict | list):
                    found.append(([*path, key], value))
                    out[key] = PLACEHOLDER
                else:
                    out[key] = walk(value, [*path, key])
            return out
        if isinstance(node, list):
            return [walk(item, [*path, i]) for i, item in enumerate(node)]
        return node

    return walk(document, []), found


def merge(document: Any, values: list[tuple[Path, Any]]) -> Any:
    """Put the values `split` took out back where they were (the document is changed in place and returned)."""
    for path, value in values:
        node = document
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
    return document


def encrypt(cipher: Fernet, values: list[tuple[Path, Any]]) -> str:
    return cipher.encrypt(json.dumps(values, separators=(",", ":")).encode()).decode()


def decrypt(cipher: Fernet, token: str) -> list[tuple[Path, Any]] | None:
    """The values, or None when this key did not encrypt them (another installation's, or a lost key)."""
    try:
        return [(path, value) for path, value in json.loads(cipher.decrypt(token.encode()))]
    except InvalidToken:
        return None
