"""Gunicorn's access log keeps no invitation token."""

from datetime import timedelta
from types import SimpleNamespace

from loyaltysite.access_log import AccessLogWithoutTokens


def _atoms(path: str, referer: str = "-") -> dict:
    log = AccessLogWithoutTokens.__new__(AccessLogWithoutTokens)
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"{path}?score=9",
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": referer,
    }
    response = SimpleNamespace(status="302 Found", sent=0, headers=[])
    return log.atoms(response, [("REFERER", referer)], environ, timedelta(milliseconds=12))


def test_an_invitation_token_is_not_logged():
    token = "q5Rk2-secret_Token"
    atoms = _atoms(f"/i/{token}/", referer=f"https://surveys.example.com/i/{token}/")

    assert atoms["U"] == "/i/…/"
    assert atoms["r"] == "POST /i/…/?score=9 HTTP/1.1"
    assert token not in atoms["f"] + atoms["{referer}i"]
    assert atoms["s"] == "302"


def test_an_unsubscribe_token_is_not_logged_and_other_paths_are_kept():
    assert _atoms("/unsubscribe/abc123/")["U"] == "/unsubscribe/…/"
    assert _atoms("/s/PublicSlug123/thanks/")["U"] == "/s/PublicSlug123/thanks/"
