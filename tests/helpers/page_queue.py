"""Talks to a served page the way its browser does: POST gradio_api/queue/join, then read the session's event
stream (gradio_api/queue/data, server-sent events) until the answer comes. One PageClient is one browser
session; the load and cancel tests run several at once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx


class Busy(Exception):
    """The queue is full: the server answered 503, which the page shows as "busy, please try again"."""


class PageClient:
    def __init__(self, base: str, timeout: float = 60) -> None:
        self.base = base.rstrip("/")
        self.session = uuid.uuid4().hex[:12]
        self.http = httpx.Client(timeout=timeout)
        config = self.http.get(f"{self.base}/config").raise_for_status().json()
        self.fn_index = {d["api_name"]: d["id"] for d in config["dependencies"] if d.get("api_name")}

    def close(self) -> None:
        self.http.close()

    def upload(self, path: Path) -> dict[str, Any]:
        """The file as the page's upload component passes it to an event."""
        with open(path, "rb") as handle:
            response = self.http.post(f"{self.base}/gradio_api/upload", files={"files": (path.name, handle)})
        server_path = response.raise_for_status().json()[0]
        return {"path": server_path, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def join(self, api_name: str, data: list[Any]) -> str:
        """Queue one request; its event id, or Busy when the queue is full."""
        body = {"data": data, "fn_index": self.fn_index[api_name], "session_hash": self.session,
                "event_data": None, "trigger_id": None}
        response = self.http.post(f"{self.base}/gradio_api/queue/join", json=body)
        if response.status_code == 503:
            raise Busy(response.json().get("detail", ""))
        return response.raise_for_status().json()["event_id"]

    def messages(self) -> Iterator[dict[str, Any]]:
        """The session's messages (estimation, progress, process_generating, process_completed, ...)."""
        url = f"{self.base}/gradio_api/queue/data"
        with self.http.stream("GET", url, params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    yield message
                    if message.get("msg") == "close_stream":
                        return

    def call(self, api_name: str, data: list[Any]) -> dict[str, Any]:
        """Queue one request and wait for its answer: the process_completed message (see ["success"])."""
        event_id = self.join(api_name, data)
        for message in self.messages():
            if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                return message
        raise AssertionError(f"the event stream closed before {api_name} answered")

    def cancel(self, api_name: str, event_id: str) -> None:
        """What the page's Cancel button sends."""
        body = {"session_hash": self.session, "fn_index": self.fn_index[api_name], "event_id": event_id}
        self.http.post(f"{self.base}/gradio_api/cancel", json=body).raise_for_status()
