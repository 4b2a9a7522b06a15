"""The CAPTCHA handshake as the crawler and a human at the Sources page see it."""

from __future__ import annotations

import json

import pytest

from narcwatch.dashboards import captcha

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _request(data_dir, source="market-a", rid="ch-1", image="market-a.png", body=PNG, **extra):
    folder = data_dir / "captcha"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{source}.request.json").write_text(json.dumps(
        {"id": rid, "source": source, "created_at": "2026-03-01T10:00:00+00:00", "image": image,
         "prompt": "type the <b>letters</b>", "url": "http://market-a.fictional.onion/login", **extra}))
    if image and body is not None:
        (folder / image).write_bytes(body)


@pytest.mark.parametrize("content, ok", [
    ("{not json", False), ("[]", False), (json.dumps({"id": "../../etc"}), False),
    (json.dumps({"id": "x" * 65}), False), (json.dumps({"id": "ok-1"}), True),
    (json.dumps({"id": "ok-2", "image": "../../secret.png"}), True),  # image dropped, request kept
])
def test_read_request_is_total(data_dir, content, ok):
    (data_dir / "captcha").mkdir(parents=True)
    (data_dir / "captcha" / "market-a.request.json").write_text(content)
    req = captcha.read_request(data_dir, "market-a")
    assert (req is not None) == ok
    if req is not None:
        assert req.image is None


@pytest.mark.parametrize("body, ctype", [(PNG, "image/png"), (b"\xff\xd8\xff\xe0" + b"0" * 20, "image/jpeg"),
                                         (b"<svg onload=alert(1)>", None), (b"GIF89a....", "image/gif")])
def test_only_real_images_are_served(data_dir, body, ctype):
    _request(data_dir, body=body)
    got = captcha.read_image(data_dir, captcha.read_request(data_dir, "market-a"))
    assert (got[1] if got else None) == ctype


def test_admin_sees_and_answers_a_captcha(admin, data_dir):
    client, csrf = admin
    _request(data_dir)
    page = client.get("/sources")
    assert "waiting" in page.text and 'src="/sources/market-a/captcha"' in page.text
    assert "type the &lt;b&gt;letters&lt;/b&gt;" in page.text
    assert 'href="http://market-a' not in page.text  # the URL is text only
    img = client.get("/sources/market-a/captcha")
    assert img.headers["content-type"] == "image/png" and img.content == PNG
    r = client.post("/sources/market-a/captcha", data={"request_id": "ch-1", "answer": " x7k2p ", "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code == 303
    answer = json.loads((data_dir / "captcha" / "market-a.answer.json").read_text())
    assert answer["request_id"] == "ch-1" and answer["answer"] == "x7k2p" and answer["answered_by"] == "root-admin"
    assert not list((data_dir / "captcha").glob(".*.tmp"))  # atomic: no temporary left behind
    assert "answered, waiting for crawler" in client.get("/sources").text
    assert client.app.state.ctx.audit.entries(action="captcha_answer")[0].target == "market-a"


@pytest.mark.parametrize("form, status", [
    ({"request_id": "old-challenge", "answer": "x"}, 409),
    ({"request_id": "ch-1", "answer": "   "}, 400),
    ({"request_id": "ch-1", "answer": "a\x00b"}, 400),
])
def test_stale_or_bad_answers_are_refused(admin, data_dir, form, status):
    client, csrf = admin
    _request(data_dir)
    r = client.post("/sources/market-a/captcha", data={**form, "csrf_token": csrf})
    assert r.status_code == status
    assert not (data_dir / "captcha" / "market-a.answer.json").exists()


def test_crawl_status_and_unknown_sources_show(admin, data_dir):
    client, _ = admin
    _request(data_dir, source="market-z", image="")
    page = client.get("/sources").text
    assert "HTTP 503 on /page/4" in page  # the store's crawl status for market-a
    assert 'data-source="market-z"' in page and "not configured" in page
