"""A 10 MB data store through `POST /run` against lxml and `json` on the same document (issue 15).

The store is issue 15's: 1,289 entries, 28,370 values, 2,570 of them XML (an order of six lines each),
the rest text. Ours: a served SQLite node runs start → end with it as processParams and answers in the
standard form (XML in, XML out; JSON in, JSON out). Baselines, in the bench's process: lxml parsing and
serializing the same XML document; `json.loads` + `json.dumps` of the same JSON. The two take turns.
Memory: the worker's resident size before the first call, its peak over the calls and two seconds after
them, each against the document's size; and what stays above its size after its first call of each form
(what those set up once: imports, caches). Goals: ≥ 0.5× lxml, ≥ 0.5× json; peak ≤ 3× the document, returned after.
Then SOAP `run` with the same store as processParams, for its time and memory (the memory goal is the same).
"""
from __future__ import annotations

import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import requests
from lxml import etree

from tests.bench.scale import _worker, serve

DAT = "http://www.infinica.com/datastore"
PASS = ('<process xmlns="http://www.infinica.com/process-engine" version="4"><startElement id="s"/>'
        '<endElement id="e"/></process>')
ENTRIES, VALUES, XML_VALUES = 1289, 28370, 2570


def document() -> bytes:
    """The store in the standard XML form, about 10 MB."""
    rnd = random.Random(7)
    out = io.StringIO()
    out.write(f'<dataStore xmlns="{DAT}"><values>')
    counts = [VALUES // ENTRIES + (1 if e < VALUES % ENTRIES else 0) for e in range(ENTRIES)]
    every = VALUES // XML_VALUES
    value_id, xml_left, entries = 0, XML_VALUES, []
    for count in counts:
        ids = []
        for _ in range(count):
            value_id += 1
            if xml_left and value_id % every == 0:
                xml_left -= 1
                lines = "".join(f'<line no="{j}"><sku>SKU-{rnd.randint(1, 99999)}</sku><qty>{rnd.randint(1, 9)}</qty>'
                                f'<text>{"lorem ipsum " * 8}</text></line>' for j in range(6))
                out.write(f'<value id="{value_id}" type="application/xml"><content><order xmlns="urn:shop" '
                          f'id="{value_id}">{lines}</order></content></value>')
            else:
                out.write(f'<value id="{value_id}" type="text/plain"><content>value {value_id} '
                          f'{"x" * rnd.randint(100, 300)}</content></value>')
            ids.append(value_id)
        entries.append(ids)
    out.write("</values><entries>")
    for number, ids in enumerate(entries):
        out.write(f'<entry name="entry{number}">' + "".join(f"<value>{i}</value>" for i in ids) + "</entry>")
    out.write("</entries></dataStore>")
    return out.getvalue().encode()


def _rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def report(rounds: int = 5) -> str:
    xml = document()
    with tempfile.TemporaryDirectory(prefix="pe-bench-store-") as temp:
        folder = Path(temp)
        (folder / "pass.ipd").write_text(PASS)
        process, base = serve(folder, f"sqlite:///{folder / 'bench.db'}", "store")
        try:
            worker = _worker(process)
            session = requests.Session()
            url = f"{base}/run?processUri=pass.ipd"

            def ours(body: bytes, kind: str) -> None:
                answer = session.post(url, data=body, timeout=300, headers={
                    "Content-Type": kind, "Accept": kind, "X-Infinica-Datastore-Mode": "standard"})
                if answer.status_code != 200:
                    raise RuntimeError(f"POST /run answered {answer.status_code}: {answer.text[:300]}")

            before = _rss_kb(worker, "VmRSS")
            ours(xml, "application/xml")
            first = _rss_kb(worker, "VmHWM")  # a fresh worker's first call
            answer = session.post(url, data=xml, timeout=300, headers={
                "Content-Type": "application/xml", "Accept": "application/json",
                "X-Infinica-Datastore-Mode": "standard"}).json()
            as_json = json.dumps({"dataStore": answer["processExecutionSnapshot"]["pipeline"]}).encode()
            del answer
            ours(as_json, "application/json")
            time.sleep(2)
            warm = _rss_kb(worker, "VmRSS")  # after the first call of each form: what they set up once
            times: dict[str, list[float]] = {"xml": [], "lxml": [], "json": [], "stdlib": []}
            for _ in range(rounds):
                times["xml"].append(_timed(lambda: ours(xml, "application/xml")))
                times["lxml"].append(_timed(lambda: etree.tostring(etree.fromstring(xml))))
                times["json"].append(_timed(lambda: ours(as_json, "application/json")))
                times["stdlib"].append(_timed(lambda: json.dumps(json.loads(as_json))))
            peak = _rss_kb(worker, "VmHWM")
            time.sleep(2)  # the worker hands memory back a second after its last large call
            after = _rss_kb(worker, "VmRSS")
            one_call = {}  # each form's single call: the high-water mark reset first, from memory handed back
            for kind, body in (("xml", xml), ("json", as_json)):
                time.sleep(2)
                start = _rss_kb(worker, "VmRSS")
                Path(f"/proc/{worker}/clear_refs").write_text("5")
                ours(body, f"application/{kind}")
                one_call[kind] = _rss_kb(worker, "VmHWM") - start
            # SOAP `run` with the store as processParams (the envelope is parsed whole, by spyne)
            envelope = (f'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><run xmlns='
                        f'"http://www.infinica.com/process-engine"><processUri>pass.ipd</processUri><processParams>'
                        f'{xml.decode()}</processParams></run></e:Body></e:Envelope>').encode()
            soap_url = url.split("/rest/")[0] + "/soap"
            time.sleep(2)
            soap_start = _rss_kb(worker, "VmRSS")
            Path(f"/proc/{worker}/clear_refs").write_text("5")
            soap_times = []
            for _ in range(rounds):
                started = time.perf_counter()
                answer = session.post(soap_url, data=envelope, timeout=300, headers={
                    "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
                soap_times.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise RuntimeError(f"SOAP run answered {answer.status_code}: {answer.text[:300]}")
            soap_peak = _rss_kb(worker, "VmHWM")
            time.sleep(2)
            soap_after = _rss_kb(worker, "VmRSS")
        finally:
            process.terminate()
            process.wait(timeout=40)
    t = {k: median(v) for k, v in times.items()}
    size_kb = len(xml) / 1024
    return "\n".join([
        f"10 MB data store ({len(xml) / 1e6:.1f} MB XML, {len(as_json) / 1e6:.1f} MB JSON; {ENTRIES:,} entries, "
        f"{VALUES:,} values, {XML_VALUES:,} XML) through POST /run, standard form in and out, median of {rounds}",
        f"  XML:  ours {t['xml']:.3f} s   lxml parse + serialize {t['lxml']:.3f} s   {t['lxml'] / t['xml']:.2f}x  (goal >= 0.5)",
        f"  JSON: ours {t['json']:.3f} s   json loads + dumps     {t['stdlib']:.3f} s   "
        f"{t['stdlib'] / t['json']:.2f}x  (goal >= 0.5)",
        f"  worker memory: {before / 1024:.0f} MB before, peak {peak / 1024:.0f} MB "
        f"(+{(peak - before) / size_kb:.1f}x the document), {after / 1024:.0f} MB after "
        f"(+{(after - before) / size_kb:.1f}x; +{(after - warm) / size_kb:.1f}x above the worker after its first call of "
        f"each form)  (goal: peak <= 3x, returned after)",
        f"  one call's peak: a fresh worker's first (XML) +{(first - before) / size_kb:.1f}x; later calls, above "
        f"the worker's size before them: XML +{one_call['xml'] / size_kb:.1f}x, JSON +{one_call['json'] / size_kb:.1f}x",
        f"  SOAP run, the store as processParams: {median(soap_times):.3f} s ({t['lxml'] / median(soap_times):.2f}x "
        f"lxml); {rounds} calls peak +{(soap_peak - soap_start) / size_kb:.1f}x above the worker's size before them, "
        f"+{(soap_after - soap_start) / size_kb:.1f}x after",
    ])


if __name__ == "__main__":
    print(report(*(int(a) for a in sys.argv[1:2])))
