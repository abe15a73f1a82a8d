"""What every H5 form needs: a CSRF check (signed double submit), a one-time nonce, checked photos.

CSRF: the browser holds a random value in a SameSite=Strict, HttpOnly cookie; each form carries a
token signed with the link key naming that value, its link and a fresh nonce. A post is honoured
only when the cookie and the signed token agree, so another site can neither read nor forge the
pair. The nonce is claimed once in Redis (SET NX EX): a second submit of the same form changes
nothing, even when both arrive at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Request, Response
from redis import Redis, RedisError
from werkzeug.datastructures import FileStorage

from bot.weblinks import FormToken, Link, LinkRefused, WebLinks

COOKIE = "ztc_h5_csrf"
MAX_PHOTOS = 3
JPEG, PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
NO_CSRF = "页面已失效（缺少安全校验），请重新打开链接填写。"
SUBMITTED = "此表单已经提交过，没有重复提交。请回到企业微信查看结果。"


def browser_value(request: Request) -> tuple[str, bool]:
    """This browser's CSRF cookie value, and whether it is new (then it must be set)."""
    value = request.cookies.get(COOKIE, "")
    if 16 <= len(value) <= 64 and value.isascii():
        return value, False
    return secrets.token_urlsafe(24), True


def set_browser_cookie(response: Response, value: str, max_age: int, *, secure: bool) -> None:
    """The cookie of the double submit: only for /h5, never sent by another site's form."""
    response.set_cookie(
        COOKIE, value, max_age=max_age, path="/h5", secure=secure, httponly=True, samesite="Strict"
    )


def new_form(links: WebLinks, link: Link, browser: str) -> str:
    """A form token for one rendering of a form (a fresh nonce each time)."""
    return links.form_token(link, secrets.token_urlsafe(16), browser)


def check_form(links: WebLinks, link: Link, request: Request) -> FormToken:
    """The posted form's token, if it is signed for this link and matches this browser's cookie."""
    token, cookie = request.form.get("csrf", ""), request.cookies.get(COOKIE, "")
    if not token or not cookie:
        raise LinkRefused(NO_CSRF, 403)
    form = links.read_form(token, link)
    if not secrets.compare_digest(form.browser, cookie):
        raise LinkRefused(NO_CSRF, 403)
    return form


def claim_once(redis: Redis, prefix: str, nonce: str, ttl: int) -> None:
    """Take the form's nonce (once for ever, as long as the form could be valid); a repeat is refused."""
    try:
        fresh = redis.set(f"{prefix}:h5:form:{nonce}", "1", nx=True, ex=ttl)
    except RedisError as exc:
        raise LinkRefused("系统繁忙，请稍后再提交。", 503) from exc
    if not fresh:
        raise LinkRefused(SUBMITTED, 409)


@dataclass(frozen=True)
class Photo:
    """An uploaded photo, checked: its bytes and its file extension."""

    data: bytes
    suffix: str


def read_photos(files: list[FileStorage], limit: int) -> list[Photo]:
    """The chosen photos (empty file inputs skipped): at most 3, JPEG or PNG by their bytes, ≤ limit each."""
    chosen = [f for f in files if f.filename]
    if len(chosen) > MAX_PHOTOS:
        raise LinkRefused(f"最多上传{MAX_PHOTOS}张照片。", 400)
    photos = []
    for upload in chosen:
        data = upload.stream.read(limit + 1)
        if len(data) > limit:
            raise LinkRefused(
                f"照片「{upload.filename}」超过{limit // (1024 * 1024) or 1}MB，请压缩后再上传。", 413
            )
        photos.append(Photo(data, _suffix(data, upload.filename or "")))
    return photos


def _size(limit: int) -> str:
    """「5MB」, 「10KB」."""
    return f"{limit / (1024 * 1024):g}MB" if limit >= 1024 * 1024 else f"{limit // 1024}KB"


def _suffix(data: bytes, name: str) -> str:
    # The bytes decide, not the name or the browser's content type (both are the sender's say-so).
    if data.startswith(JPEG):
        return ".jpg"
    if data.startswith(PNG):
        return ".png"
    raise LinkRefused(f"「{name}」不是照片：只能上传 JPEG 或 PNG 格式的图片。", 415)


def store_photos(photos: list[Photo], folder: Path, stem: str) -> list[Path]:
    """Write the photos as <folder>/<stem>-<n>.<ext>; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, photo in enumerate(photos, start=1):
        path = folder / f"{stem}-{n}{photo.suffix}"
        path.write_bytes(photo.data)
        paths.append(path)
    return paths
