"""A local OpenAI-compatible HTTP server for the tests: the real openai client talks
to it over HTTP on a free loopback port.

It speaks POST /v1/chat/completions (text answers, tool calls, errors such as 429
and 500, and a slow mode that outlasts the client's timeout) and POST
/v1/embeddings (deterministic hashed bag-of-words vectors, so that similar texts
have similar vectors). Each test scripts the next answers; every request body is
recorded for asserts.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.peers.http import serve_in_thread

EMBEDDING_DIMENSIONS = 64
DEFAULT_REPLY = "Hello from the test model."


def embedding_of(text: str) -> list[float]:
    from apps.bot.knowledge import tokens

    vector = [0.0] * EMBEDDING_DIMENSIONS
    for token in tokens(text):
        digest = hashlib.sha256(token.encode()).digest()
        vector[digest[0] % EMBEDDING_DIMENSIONS] += 1.0
    return vector


class FakeOpenAI:
    def __init__(self):
        self.requests: list[dict] = []
        self._script: deque = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._ids = itertools.count(1)
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self._server = server
        self._thread = serve_in_thread(server, name="fake-openai")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
        self._release.set()
        self._release = threading.Event()

    # --- scripting the next answers ---------------------------------------------------
    def reply(self, text: str, *, prompt_tokens: int = 120, completion_tokens: int = 30) -> None:
        self._script.append(("reply", {"text": text, "prompt_tokens": prompt_tokens,
                                       "completion_tokens": completion_tokens}))

    def tool(self, name: str, arguments: dict, *, text: str | None = None) -> None:
        self._script.append(("tool", {"name": name, "arguments": arguments, "text": text}))

    def error(self, status: int, message: str = "test error") -> None:
        self._script.append(("error", {"status": status, "message": message}))

    def slow(self, seconds: float = 30.0) -> None:
        """Answer after `seconds` (or when the test ends): the client times out first."""
        self._script.append(("slow", {"seconds": seconds}))

    def chat_requests(self) -> list[dict]:
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    # --- the server -------------------------------------------------------------------
    def _next(self):
        with self._lock:
            return self._script.popleft() if self._script else ("reply", {"text": DEFAULT_REPLY,
                                                                          "prompt_tokens": 100,
                                                                          "completion_tokens": 10})

    def _completion(self, body: dict, message: dict, *, prompt_tokens=100, completion_tokens=10) -> dict:
        return {
            "id": f"chatcmpl-test{next(self._ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append({"path": self.path, "body": body,
                                          "authorization": self.headers.get("Authorization", "")})
                if self.path.endswith("/embeddings"):
                    inputs = body.get("input")
                    inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
                    self._send(200, {
                        "object": "list", "model": body.get("model"),
                        "data": [{"object": "embedding", "index": i, "embedding": embedding_of(text)}
                                 for i, text in enumerate(inputs)],
                        "usage": {"prompt_tokens": 5 * len(inputs), "total_tokens": 5 * len(inputs)},
                    })
                    return
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                kind, data = fake._next()
                if kind == "error":
                    self._send(data["status"], {"error": {"message": data["message"], "type": "server_error",
                                                          "code": None}})
                elif kind == "slow":
                    fake._release.wait(data["seconds"])
                    self._send(200, fake._completion(body, {"role": "assistant", "content": "too late"}))
                elif kind == "tool":
                    call = {"id": f"call_{next(fake._ids)}", "type": "function",
                            "function": {"name": data["name"], "arguments": json.dumps(data["arguments"])}}
                    self._send(200, fake._completion(body, {"role": "assistant", "content": data["text"],
                                                            "tool_calls": [call]}))
                else:
                    self._send(200, fake._completion(body, {"role": "assistant", "content": data["text"]},
                                                     prompt_tokens=data["prompt_tokens"],
                                                     completion_tokens=data["completion_tokens"]))

        return Handler
