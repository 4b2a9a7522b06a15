"""The CAPTCHA handshake as the crawler writes it and a human at the Sources page answers it."""

from __future__ import annotations

import json

import pytest

from narcwatch.crawler import captcha as handshake
from narcwatch.dashboards import captcha

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _request(data_dir, source="market-a", body=PNG, ext="png"):
    """A challenge written by the crawler's own code, exactly as a crawl would."""
    return handshake.ask(data_dir, source, "http://market-a.fictional.onion/login", body, ext)


@pytest.mark.parametrize("content, ok", [
    ("{not json", False), ("[]", False), (json.dumps({"id": "../../etc"}), False),
    (json.dumps({"id": "x" * 65}), False), (json.dumps({"id": "ok1"}), True),
    (json.dumps({"id": "ok1", "image": "/etc/passwd"}), True),  # image outside the folder dropped
    (json.dumps({"id": "other"}), False),  # id must match the file name
])
def test_read_request_is_total(data_dir, content, ok):
    folder = data_dir / "captcha" / "market-a"
    folder.mkdir(parents=True)
    (folder / "ok1.json").write_text(content)
    req = captcha.read_request(data_dir, "market-a")
    assert (req is not None) == ok
    if req is not None:
        assert req.image is None


@pytest.mark.parametrize("body, ext, ctype", [
    (PNG, "png", "image/png"), (b"\xff\xd8\xff\xe0" + b"0" * 20, "jpg", "image/jpeg"),
    (b"GIF89a....", "gif", "image/gif"), (b"<svg xmlns='http://www.w3.org/2000/svg'><text>ab</text></svg>", "svg",
                                         "image/svg+xml"),
    (b"MZ\x90\x00 not an image", "png", None), (b"<html><script>x</script>", "png", None),
])
def test_only_real_images_are_served(data_dir, body, ext, ctype):
    _request(data_dir, body=body, ext=ext)
    got = captcha.read_image(data_dir, captcha.read_request(data_dir, "market-a"))
    assert (got[1] if got else None) == ctype


def test_admin_sees_and_answers_a_captcha_the_crawl_then_reads(admin, data_dir):
    client, csrf = admin
    req = _request(data_dir)
    page = client.get("/sources")
    assert "waiting" in page.text and 'src="/sources/market-a/captcha"' in page.text
    assert 'href="http://market-a' not in page.text  # the URL is text only
    img = client.get("/sources/market-a/captcha")
    assert img.headers["content-type"] == "image/png" and img.content == PNG
    assert "sandbox" in img.headers["content-security-policy"]
    assert handshake.poll(req) is None
    r = client.post("/sources/market-a/captcha", data={"request_id": req.id, "answer": " x7k2p ", "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code == 303
    assert handshake.poll(req) == "x7k2p"  # what the waiting crawl reads
    assert not list((data_dir / "captcha").rglob("*.tmp"))  # atomic: no temporary left behind
    assert "answered, waiting for crawler" in client.get("/sources").text
    assert client.app.state.ctx.audit.entries(action="captcha_answer")[0].target == "market-a"


@pytest.mark.parametrize("form, status", [
    ({"request_id": "old-challenge", "answer": "x"}, 409),
    ({"request_id": None, "answer": "   "}, 400),
    ({"request_id": None, "answer": "a\x00b"}, 400),
])
def test_stale_or_bad_answers_are_refused(admin, data_dir, form, status):
    client, csrf = admin
    req = _request(data_dir)
    form = {**form, "request_id": form["request_id"] or req.id}
    r = client.post("/sources/market-a/captcha", data={**form, "csrf_token": csrf})
    assert r.status_code == status
    assert handshake.poll(req) is None


def test_crawl_status_and_unknown_sources_show(admin, data_dir):
    client, _ = admin
    _request(data_dir, source="market-z", body=None)
    page = client.get("/sources").text
    assert "HTTP 503 on /page/4" in page  # the store's crawl status for market-a
    assert 'data-source="market-z"' in page and "not configured" in page
