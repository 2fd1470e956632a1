"""Transport.stream_rows: a JSON array body decoded one element at a time as it arrives,
under the same budget, retries, redaction and error taxonomy as Transport.call."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses

from providers.errors import InvalidRequest, RateLimited, UpstreamUnavailable
from providers.http import Call, Response, Transport, json_array_items

KEY = "Zq7SECRETkey0123456789abcdefWXYZ"
ROWS = [
    {"service": i, "name": f"Ser, vice [{i}] {{x}} \u00e9\u20ac", "price": "0.5", "stock": i * 7}
    for i in range(40)
]
BODY = " [\n" + ",\n ".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n]\n"
# Over HTTP the body is read in 64 KiB pieces: several of them, so rows stream.
MANY = [
    {"service": i, "country": i % 150, "pool": 7, "price": "0.24", "stock": i} for i in range(6000)
]
BIG = json.dumps(MANY).encode()


def whole(response: Response) -> list:
    return response.json()


def transport(sleeps: list[float] | None = None, **kwargs) -> Transport:
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    return Transport(label="test", secrets=(KEY,), budget=None, sleep=sleep, **kwargs)


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


# --- the decoder --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_it_decodes_elements_split_anywhere(size):
    assert list(json_array_items(pieces(BODY, size))) == ROWS


@pytest.mark.parametrize(
    ("chunks", "items"),
    [
        pytest.param(["[", " ]"], [], id="an empty list split after ["),
        pytest.param(["[]"], [], id="an empty list"),
        pytest.param(["[12", "34, 5", "]"], [1234, 5], id="a number split in two"),
        pytest.param(["[1.", "5e", "2]"], [150.0], id="a float split twice"),
        pytest.param(["[tr", "ue, nu", "ll]"], [True, None], id="literals split"),
        pytest.param(['["a]",', ' "b,"]'], ["a]", "b,"], id="brackets inside strings"),
        pytest.param(["[[1, 2], ", "{}]  trailing"], [[1, 2], {}], id="nested, then ignored text"),
    ],
)
def test_it_decodes_any_element_across_chunk_boundaries(chunks, items):
    assert list(json_array_items(chunks)) == items


def test_it_reads_fractions_with_the_given_float_parser():
    assert list(json_array_items(['[{"price": 0.1', "0}]"], parse_float=Decimal)) == [
        {"price": Decimal("0.10")}
    ]


@pytest.mark.parametrize(
    ("chunks", "wording"),
    [
        pytest.param(['[{"a": 1}, {"b"'], "ended before", id="cut inside an element"),
        pytest.param(['[{"a": 1},'], "ended before", id="cut after a comma"),
        pytest.param(["[1, 2"], "ended before", id="cut after a number"),
        pytest.param([""], "ended before", id="nothing at all"),
        pytest.param(['{"a": 1}'], "not a JSON list", id="an object"),
        pytest.param(["<html>busy</html>"], "not a JSON list", id="an HTML page"),
        pytest.param(['[{"a": 1} {"b": 2}]'], "not a JSON list", id="a missing comma"),
    ],
)
def test_it_raises_upstream_unavailable_for_a_body_that_is_not_a_whole_list(chunks, wording):
    with pytest.raises(UpstreamUnavailable, match=wording):
        list(json_array_items(chunks))


def test_it_yields_the_rows_before_the_cut():
    rows = json_array_items(['[{"a": 1}, {"a": 2}, {"a"'])
    assert next(rows) == {"a": 1} and next(rows) == {"a": 2}
    with pytest.raises(UpstreamUnavailable):
        next(rows)


# --- over HTTP --------------------------------------------------------------------------


class Upstream:
    """A real HTTP server whose answer each test writes (`answer(handler)`)."""

    def __init__(self) -> None:
        self.answer: Callable[[BaseHTTPRequestHandler], None] = lambda handler: None
        self.requests = 0
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream.requests += 1
                upstream.answer(self)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms/all_stock"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def head(handler, length: int | None, status: int = 200, kind: str = "application/json") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    if length is not None:
        handler.send_header("Content-Length", str(length))
    handler.send_header("Connection", "close")
    handler.end_headers()


def call(url: str) -> Call:
    return Call("POST", url, data={"key": KEY})


def test_it_yields_rows_before_the_rest_of_the_body_is_sent(upstream):
    data = BIG
    half = data.index(b"},", len(data) // 2) + 2
    rest_sent = threading.Event()
    may_send = threading.Event()

    def answer(handler):
        head(handler, len(data))
        handler.wfile.write(data[:half])
        handler.wfile.flush()
        may_send.wait(5)
        handler.wfile.write(data[half:])
        rest_sent.set()

    upstream.answer = answer
    rows = transport().stream_rows(call(upstream.url), whole)
    first = next(rows)
    assert first == MANY[0] and not rest_sent.is_set()
    may_send.set()
    assert [first, *rows] == MANY


@pytest.mark.parametrize("declared", [True, False], ids=["short of Content-Length", "closed"])
def test_a_body_cut_off_halfway_raises_from_the_iterator(upstream, caplog, declared):
    data = BIG
    cut = data.index(b"}", len(data) // 2) - 3  # inside a row

    def answer(handler):
        head(handler, len(data) if declared else None)
        handler.wfile.write(data[:cut])

    upstream.answer = answer
    rows = transport().stream_rows(call(upstream.url), whole)
    seen = []
    with pytest.raises(UpstreamUnavailable) as caught:
        for row in rows:
            seen.append(row)
    assert seen == MANY[: len(seen)] and 0 < len(seen) < len(MANY)
    assert upstream.requests == 1  # nothing is retried once rows have streamed
    assert caught.value.retryable and KEY not in caplog.text


def test_a_body_cut_off_before_its_first_row_is_retried_like_any_read(upstream):
    data = BODY.encode()  # less than one piece: the cut comes before any row

    def answer(handler):
        head(handler, len(data))
        handler.wfile.write(data[: len(data) // 2])

    upstream.answer = answer
    with pytest.raises(UpstreamUnavailable):
        transport().stream_rows(call(upstream.url), whole)
    assert upstream.requests == 3


def test_a_stalled_body_raises_from_the_iterator(upstream):
    data = BIG
    done = threading.Event()

    def answer(handler):
        head(handler, len(data))
        handler.wfile.write(data[: len(data) // 2])
        handler.wfile.flush()
        done.wait(5)

    upstream.answer = answer
    rows = transport(timeout=(2.0, 0.3)).stream_rows(call(upstream.url), whole)
    try:
        assert next(rows) == MANY[0]
        with pytest.raises(UpstreamUnavailable, match="broke off"):
            list(rows)
    finally:
        done.set()


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


URL = "https://upstream.test/sms/all_stock"


def test_an_html_page_is_handled_as_for_a_whole_answer(mocked):
    sleeps: list[float] = []
    mocked.add(responses.POST, URL, body="<html><body>Checking your browser</body></html>")
    with pytest.raises(UpstreamUnavailable, match="HTML page"):
        transport(sleeps).stream_rows(call(URL), whole)
    assert len(mocked.calls) == 3 and len(sleeps) == 2  # retried like any read


def test_it_retries_a_503_before_streaming(mocked):
    mocked.add(responses.POST, URL, body="busy", status=503)
    mocked.add(responses.POST, URL, body=BODY)
    assert list(transport().stream_rows(call(URL), whole)) == ROWS
    assert len(mocked.calls) == 2


def test_a_429_is_rate_limited(mocked):
    mocked.add(responses.POST, URL, body="slow down", status=429, headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as caught:
        transport().stream_rows(call(URL), whole)
    assert caught.value.retry_after == 30


def test_an_answer_that_is_not_a_list_goes_through_parse(mocked):
    mocked.add(responses.POST, URL, json={"0": {"a": 1}, "1": {"a": 2}})
    rows = transport().stream_rows(call(URL), lambda response: response.json().values())
    assert list(rows) == [{"a": 1}, {"a": 2}]


def test_an_error_envelope_is_parsed_and_scrubbed(mocked, caplog):
    caplog.set_level(logging.DEBUG)
    mocked.add(responses.POST, URL, json={"success": 0, "message": f"bad key {KEY}"}, status=403)

    def parse(response: Response) -> list:
        raise InvalidRequest(response.json()["message"])

    with pytest.raises(InvalidRequest) as caught:
        transport().stream_rows(call(URL), parse)
    assert KEY not in caught.value.message and KEY not in caplog.text


def test_it_refuses_the_sandbox_when_disabled(mocked, settings):
    settings.SANDBOX_ENABLED = False
    mocked.add(responses.POST, URL, body=BODY, headers={"X-Smsdesk-Sandbox": "1"})
    with pytest.raises(InvalidRequest, match="sandbox"):
        transport().stream_rows(call(URL), whole)
