"""A picture pushed into a group through its 群机器人: base64 and md5, within 2 MB, through the outbox."""

from __future__ import annotations

import base64
import hashlib

import pytest

from bot.db import session_scope
from bot.outbox import OutboxWriter
from bot.replies import GroupImage, reply_from_dict, reply_to_dict
from bot.wecom.outbound import GROUP_IMAGE_BYTES, render_group_image
from tests.conftest import run_jobs

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_the_image_is_sent_base64_with_its_md5():
    body = render_group_image(PNG)
    assert body["msgtype"] == "image"
    assert base64.b64decode(body["image"]["base64"]) == PNG
    assert body["image"]["md5"] == hashlib.md5(PNG).hexdigest()


def test_a_picture_over_two_megabytes_is_refused_before_sending():
    with pytest.raises(ValueError, match="at most 2 MB"):
        render_group_image(b"x" * (GROUP_IMAGE_BYTES + 1))


def test_a_group_image_round_trips_the_outbox_and_reaches_the_group(runtime, standin, tmp_path):
    picture = tmp_path / "chart.png"
    picture.write_bytes(PNG)
    reply = GroupImage("leaders-robot", str(picture))
    assert reply_from_dict(reply_to_dict(reply)) == reply
    with session_scope(runtime.session_factory) as session:
        outbox = OutboxWriter(session, runtime.clock)
        outbox.add("ignored", reply, key="digest:test:image")
        rows = outbox.scheduled()
    runtime.enqueue_rows(rows)
    run_jobs(runtime)
    [sent] = standin.groups("leaders-robot")
    assert sent["msgtype"] == "image" and sent["body"]["image"]["md5"] == hashlib.md5(PNG).hexdigest()
