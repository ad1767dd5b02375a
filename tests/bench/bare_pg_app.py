"""The PostgreSQL bench's baseline: a bare Flask route that writes a row the way a minimal service would
(INSERT, UPDATE, COMMIT on a pooled psycopg2 connection) and answers a fixed JSON body as large as ours."""
import os
import uuid

from flask import Flask, Response
from psycopg2.pool import ThreadedConnectionPool

app = Flask("bare-pg")
BODY = open(os.environ["BENCH_BODY_FILE"], "rb").read()
POOL = ThreadedConnectionPool(1, 32, os.environ["BENCH_DSN"])


@app.get("/infinica-process-engine/rest/run")
def run() -> Response:
    conn = POOL.getconn()
    try:
        with conn.cursor() as cursor:
            key = str(uuid.uuid4())
            cursor.execute("INSERT INTO bench_runs (id, state, body) VALUES (%s, 'RUNNING', %s)", (key, "{}"))
            cursor.execute("UPDATE bench_runs SET state = 'FINISHED', body = %s WHERE id = %s", ('{"g": 1}', key))
        conn.commit()
    finally:
        POOL.putconn(conn)
    return Response(BODY, mimetype="application/json")
