"""URLs, curl lines, and the requests transport against a real local server."""

from __future__ import annotations

import pytest

from harness.errors import TargetError
from harness.http import HttpRequest, RequestsTransport, build_url, curl
from tests.fakes import CannedServer, closed_port_url


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/agents/ag_1/", "/v1/agents/ag_1/"),
        ("/v1/agents/ag_1%2F", "/v1/agents/ag_1%2F"),
        ("/v1/agents/./ag_1;x=1", "/v1/agents/./ag_1;x=1"),
        ("/v1/agents/ag_1?x=", "/v1/agents/ag_1?x="),
        ('/v1/agents/{"id":"a b"}', "/v1/agents/%7B%22id%22:%22a%20b%22%7D"),
        ("/v1/agents/аg_1", "/v1/agents/%D0%B0g_1"),
    ],
)
def test_paths_are_sent_as_written_except_what_http_cannot_carry(path, expected):
    assert build_url("http://h:1/", path) == "http://h:1" + expected


def test_query_pairs_repeat_names_and_join_a_query_in_the_path():
    url = build_url(
        "http://h", "/a?x=1", [["id", "a"], ["id", "b"], ["n", 1], ["v", None]]
    )

    assert url == "http://h/a?x=1&id=a&id=b&n=1&v=null"


def test_curl_quotes_for_the_shell_and_leaves_placeholders_to_it():
    request = HttpRequest(
        "POST",
        "http://h/x",
        (
            ("Authorization", "Bearer TOKEN"),
            ("X-Note", "it's"),
            ("Content-Length", "9"),
        ),
        b'{"t": "TOKEN"}',
    )

    line = curl(request, {"TOKEN": "$ATTACKER_TOKEN"})

    assert line == (
        "curl -sS -i -X POST http://h/x -H 'Authorization: Bearer '\"$ATTACKER_TOKEN\" "
        "-H 'X-Note: it'\"'\"'s' --data-binary '{\"t\": \"'\"$ATTACKER_TOKEN\"'\"}'"
    )


def test_the_transport_sends_and_reads_back_over_http():
    with CannedServer(status=201, body=b'{"ok": true}') as server:
        transport = RequestsTransport(timeout=5)
        response = transport.send(HttpRequest("POST", server.url + "/x", (), b"{}"))
        transport.close()

    assert response.status == 201
    assert response.json() == {"ok": True}
    assert response.header("content-type") == "application/json"


def test_an_unreachable_target_is_a_target_error_with_the_fix():
    transport = RequestsTransport(timeout=2)

    with pytest.raises(TargetError, match="--tg-base-url"):
        transport.send(HttpRequest("GET", closed_port_url() + "/health"))
    transport.close()
