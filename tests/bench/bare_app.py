"""The bench's baseline: a bare Flask route answering a fixed JSON body (as large as ours)."""
import os

from flask import Flask, Response

app = Flask("bare")
BODY = open(os.environ["BENCH_BODY_FILE"], "rb").read()


@app.get("/infinica-process-engine/rest/run")
def run() -> Response:
    return Response(BODY, mimetype="application/json")
