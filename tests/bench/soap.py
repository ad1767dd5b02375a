"""SOAP `run` beside REST `GET /run` of the same start → assign → end definition, on one server.

Both doors make the same engine call; the difference is the protocol: Spyne parsing a SOAP envelope
and writing one, against Flask reading a query string and writing JSON. The same asyncio client keeps
the same number of connections busy with each, taking turns in five rounds, in one run.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import requests

from tests.bench.rest import GET_RUN, _stop, alternate, load, serve_ours

ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:pe="http://www.infinica.com/process-engine" xmlns:dat="http://www.infinica.com/datastore">'
    '<soap:Body><pe:run><pe:processUri>one.ipd</pe:processUri><pe:processParams><dat:dataStore>'
    '<dat:entry name="name" type="text/plain"><dat:value>bench</dat:value></dat:entry>'
    '</dat:dataStore></pe:processParams></pe:run></soap:Body></soap:Envelope>').encode()
SOAP_PATH = "/infinica-process-engine/soap"


def soap_request() -> bytes:
    head = (f"POST {SOAP_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f'SOAPAction: "run"\r\nContent-Length: {len(ENVELOPE)}\r\n\r\n')
    return head.encode() + ENVELOPE


def report(seconds: float, connections: int = 8) -> str:
    with tempfile.TemporaryDirectory(prefix="pe-bench-soap-") as temp:
        ours, port = serve_ours(Path(temp))
        try:
            answer = requests.post(f"http://127.0.0.1:{port}{SOAP_PATH}", data=ENVELOPE, timeout=10,
                                   headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"run"'})
            if answer.status_code != 200 or b'state="FINISHED"' not in answer.content:
                raise RuntimeError(f"SOAP run did not finish: {answer.status_code} {answer.text[:500]}")
            load(port, 2, connections)  # warm-up, both doors
            load(port, 2, connections, soap_request())
            rest, soap, (ratio,) = alternate((port, port), 2 * seconds, connections,
                                             asked=(GET_RUN, soap_request()))
        finally:
            _stop(ours)
    return "\n".join([
        f"run (start -> assign -> end), one server, gunicorn gthread, 1 worker, {connections} keep-alive connections",
        f"  REST GET /run               {rest[0]:8.1f} req/s   p50 {rest[1]:6.2f} ms   p99 {rest[2]:6.2f} ms   1.00x",
        f"  SOAP run                    {soap[0]:8.1f} req/s   p50 {soap[1]:6.2f} ms   p99 {soap[2]:6.2f} ms   "
        f"{ratio:.2f}x  (goal >= 0.6; the median of 5 alternating rounds' ratios)",
    ])
