"""Shared helpers of the agent-protocol tests: the REST view of the
marketplace (to compare with what the protocol clients see) and a tiny
runner that reports each check by name."""

import asyncio
import json
import os
import sys
import traceback
import uuid

import httpx

URL = os.environ["PINCHWORK_URL"].rstrip("/")
ADMIN_KEY = os.environ.get("PINCHWORK_ADMIN_KEY", "")


def rest(method, path, key=None, body=None, admin=False):
    """One REST call; returns (status, parsed JSON or None)."""
    headers = {"Accept": "application/json"}
    if admin:
        headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    elif key:
        headers["Authorization"] = f"Bearer {key}"
    response = httpx.request(method, URL + path, headers=headers, json=body, timeout=60)
    text = response.text.strip()
    return response.status_code, (json.loads(text) if text else None)


def register(name):
    """A fresh agent: (agent_id, api_key)."""
    status, body = rest("POST", "/v1/register", body={"name": f"{name}-{uuid.uuid4().hex[:6]}"})
    assert status == 201, (status, body)
    return body["agent_id"], body["api_key"]


def balance(key):
    status, body = rest("GET", "/v1/me/credits", key=key)
    assert status == 200, (status, body)
    return body["balance"]


def run(checks):
    """Runs each async check in order; exits 1 if any failed."""
    failed = []
    for check in checks:
        try:
            asyncio.run(check())
            print(f"ok    {check.__name__}", flush=True)
        except BaseException:  # noqa: BLE001 - report every failure, then exit 1
            failed.append(check.__name__)
            print(f"FAIL  {check.__name__}", flush=True)
            traceback.print_exc()
    if failed:
        print(f"{len(failed)} of {len(checks)} failed: {', '.join(failed)}", flush=True)
        sys.exit(1)
    print(f"all {len(checks)} passed", flush=True)
