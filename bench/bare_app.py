"""The floor for bench/service.py: a bare Flask app with labelaudit's routes and auth.

Each route parses the JSON body as labelaudit's would and answers a small fixed JSON;
basic auth is checked the same constant-time way. Served by gunicorn with the settings
``labelaudit serve`` uses, it is what the framework and server cost on their own.
"""

from __future__ import annotations

import base64
import hmac
import os
from typing import Any

from flask import Flask, Response, jsonify, request

USER = os.environ.get("BASIC_AUTH_USER", "")
PASSWORD = os.environ.get("BASIC_AUTH_PASS", "")

app = Flask("bare")


@app.before_request
def check_auth() -> Any:
    if not USER:
        return None
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
        return Response('{"error": "auth"}', 401, mimetype="application/json")
    return None


@app.get("/health")
def health() -> Any:
    return jsonify(status="UP", model_class="bare")


@app.post("/setup")
def setup() -> Any:
    body = request.get_json(force=True)
    return jsonify(model_version="bare-0", project=str(body.get("project")))


@app.post("/predict")
def predict() -> Any:
    body = request.get_json(force=True)
    results = [{"result": [], "score": 0.0, "model_version": "bare-0"} for _ in body["tasks"]]
    return jsonify(results=results)


@app.post("/webhook")
def webhook() -> Any:
    body = request.get_json(force=True)
    return jsonify(status="ignored", action=body.get("action"))
