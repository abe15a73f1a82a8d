"""Photos filed on the web page reach the 包联部门's officials with the dispatch card, as chat photos do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import create_app
from bot.weblinks import Purpose
from tests.conftest import run_jobs
from tests.h5.test_pages import JPEG, PNG, file, link, open_form


@pytest.fixture
def client(runtime: Any, county: Any) -> Any:
    return create_app(runtime=runtime).test_client()


def test_a_web_filings_photos_are_sent_to_the_holding_departments_official(client, runtime, county, standin):
    fields = open_form(client, link(runtime, county.boss.id, Purpose.FILE))
    assert file(client, fields, [(PNG, "a.png"), (JPEG, "b.jpg")]).status_code == 200
    run_jobs(runtime)
    received = standin.messages("gxj_wu")
    assert [m["msgtype"] for m in received] == ["template_card", "image", "image"]
    assert "新诉求待接单" in str(received[0])
    uploaded = [standin.state.media[m["body"]["image"]["media_id"]] for m in received[1:]]
    assert [(u["type"], u["length"]) for u in uploaded] == [("image", len(PNG)), ("image", len(JPEG))]


def test_the_outbox_reads_a_relative_photo_path_under_the_var_dir(runtime):
    from bot.replies import Image

    photo = runtime.settings.var_dir / "h5-photos" / "x-1.png"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(PNG)
    assert runtime.deliverer._local("h5-photos/x-1.png") == photo
    assert runtime.deliverer._local(str(photo)) == photo  # an absolute path (a chart, an export) as written
    sent = runtime.deliverer._uploaded(Image(path="h5-photos/x-1.png"))
    assert isinstance(sent, Image) and sent.media_id and sent.media_id.startswith("standin-media-")
    assert Path(photo).is_file()
