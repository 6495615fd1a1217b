"""The fault suite's trace of the send calls' writes (bench/chaos.py): with
SEND_TRACE_DIR set, every process started with this directory on PYTHONPATH
appends, for each Graph API send request it writes, the moment (time.time()) and
the number's phone number id to SEND_TRACE_DIR/writes-<pid>.log. The suite then
counts the busiest sliding second of a number at the writer as well as at the
simulator (which stamps an arrival when its loop reads it, late on a busy machine).
Nothing is traced without SEND_TRACE_DIR."""

import os

_DIR = os.environ.get("SEND_TRACE_DIR")

if _DIR:
    import importlib.abc
    import importlib.util
    import sys
    import time

    _TARGET = "apps.providers.meta.wire"
    _files: dict = {}

    def _out():
        pid = os.getpid()
        found = _files.get(pid)
        if found is None:
            found = _files[pid] = open(os.path.join(_DIR, f"writes-{pid}.log"), "a", buffering=1)  # noqa: SIM115
        return found

    def _patch(wire) -> None:
        exchange = wire._Connection.exchange

        async def traced(self, method, data, read_timeout):
            head = data[:300]
            if b"/messages HTTP/" in head:
                path = head.split(b" ", 2)[1].decode("latin-1")
                _out().write(f"{time.time():.6f} {path.rstrip('/').split('/')[-2]}\n")
            return await exchange(self, method, data, read_timeout)

        wire._Connection.exchange = traced

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != _TARGET:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                _patch(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Finder())
