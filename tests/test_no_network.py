"""Nothing leaves the machine: ingest, ask, check and the chat app, in a fresh interpreter whose every non-loopback
connection, datagram and name lookup fails and is recorded, from before the first import (so import-time
phone-homes count too). The offline/telemetry environment variables are removed first: cityqa must switch them
off itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_app import free_port

from conftest import FIXTURE_CORPUS

SCRIPT = r'''
import ipaddress, json, socket, sys
attempts = []

def _local(host):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).split("%")[0].strip("[]")
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False

def _address_ok(sock, address):
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return True  # unix sockets, netlink: local by construction
    return _local(address[0])

_connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
_getaddrinfo, _create_connection = socket.getaddrinfo, socket.create_connection

def connect(self, address):
    if not _address_ok(self, address):
        attempts.append(["connect", repr(address)])
        raise OSError(101, "network disabled by test")
    return _connect(self, address)

def connect_ex(self, address):
    if not _address_ok(self, address):
        attempts.append(["connect_ex", repr(address)])
        return 101
    return _connect_ex(self, address)

def sendto(self, data, *args):
    address = args[-1]
    if not _address_ok(self, address):
        attempts.append(["sendto", repr(address)])
        raise OSError(101, "network disabled by test")
    return _sendto(self, data, *args)

def getaddrinfo(host, *args, **kwargs):
    if not _local(host):
        attempts.append(["getaddrinfo", repr(host)])
        raise socket.gaierror(socket.EAI_NONAME, "name lookup disabled by test")
    return _getaddrinfo(host, *args, **kwargs)

def create_connection(address, *args, **kwargs):
    if not _local(address[0]):
        attempts.append(["create_connection", repr(address)])
        raise OSError(101, "network disabled by test")
    return _create_connection(address, *args, **kwargs)

socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection

corpus, index, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
steps = []
from cityqa.cli import main as cli
assert cli(["ingest", "--corpus", corpus, "--index", index]) == 0; steps.append("cli ingest")
from cityqa import Assistant, Settings
assistant = Assistant.open(settings=Settings(corpus_dir=corpus, index_dir=index))
answer = assistant.ask("How many sister cities does Riverbend have?")
assert answer.citations, answer; steps.append("ask")
verdicts = assistant.check("Riverbend has four sister cities.")
assert verdicts; steps.append("check")
from cityqa.ui.app import build_app, launch_options
app = build_app(assistant)
options = {**launch_options(assistant.settings), "auth": None}
app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, **options)
url = app.local_url
steps.append("launch")
import urllib.request
with urllib.request.urlopen(url, timeout=30) as page:
    assert page.status == 200
from gradio_client import Client
client = Client(url, verbose=False)
messages, _, _ = client.predict("How many sister cities does Riverbend have?", "All documents", [], 6,
                                api_name="/ask")
assert "Riverbend" in str(messages[-1]); steps.append("chat")
client.predict("Riverbend has four sister cities.", api_name="/check"); steps.append("chat check")
client.predict(api_name="/reindex"); steps.append("chat reindex")
app.close()
print("RESULT" + json.dumps({"attempts": attempts, "steps": steps}))
'''

OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY",
                "GRADIO_ANALYTICS_ENABLED", "HF_HUB_DISABLE_PROGRESS_BARS", "TOKENIZERS_PARALLELISM")


@pytest.mark.slow
def test_nothing_leaves_the_machine(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "memo.txt").write_text("Port Alder opened a trade office in 2001.\n\nIt closed in 2009.\n")
    for path in FIXTURE_CORPUS.iterdir():
        (corpus / path.name).write_bytes(path.read_bytes())
    env = {key: value for key, value in os.environ.items() if key not in OFFLINE_VARS}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(corpus), str(tmp_path / "index"), str(free_port())],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    result = json.loads(lines[-1][len("RESULT"):])
    print(f"\nno network: steps {', '.join(result['steps'])}; non-loopback attempts: {result['attempts']}")
    assert result["steps"] == ["cli ingest", "ask", "check", "launch", "chat", "chat check", "chat reindex"]
    assert result["attempts"] == []
