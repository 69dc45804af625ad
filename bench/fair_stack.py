"""The process layout shared by bench/run_latency.py and bench/run_breakdown.py.

* the product: ``cytasks dev`` itself, in a subprocess (embedded Postgres, the Temporal dev
  server and UI, then one worker and the API in one process sharing one Temporal client,
  the API served by uvicorn over HTTP on loopback);
* the baseline: ``bench/bare_workflow.py`` in a subprocess of its own (its own client and
  worker, configured like the product's), on the same Temporal server;
* the target of the tool calls: a tiny JSON server (``bench/target_server.py``) in a third
  subprocess, hit by the product's ``app::http::request`` and by the baseline's activity alike;
* this process: the load generator only (an httpx client for the API, a Temporal client
  for the baseline).

``CYTASKS_WORKFLOW_SANDBOX`` (and any other ``CYTASKS_*`` variable) set in the environment
reaches both worker processes, so the two are always configured alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-fair-key"
TERMINAL = {"completed", "failed", "cancelled", "timed_out"}

SCRIPTS = {
    "http3": (
        "url = input.url\n"
        'a = app::http::request("GET", url)\n'
        'b = app::http::request("GET", url)\n'
        'c = app::http::request("GET", url)\n'
        "return [a.status, b.status, c.status]"
    ),
    "http3log": (
        "url = input.url\n"
        'log("first")\n'
        'a = app::http::request("GET", url)\n'
        'log("second")\n'
        'b = app::http::request("GET", url)\n'
        'log("third")\n'
        'c = app::http::request("GET", url)\n'
        "return [a.status, b.status, c.status]"
    ),
    "http3local": (
        "url = input.url\n"
        'a = app::http::request("GET", url, timeout=5)\n'
        'b = app::http::request("GET", url, timeout=5)\n'
        'c = app::http::request("GET", url, timeout=5)\n'
        "return [a.status, b.status, c.status]"
    ),
    "none": "return []",
    "sleep0": "sleep(0)\nreturn []",
}


def _cytasks() -> list[str]:
    script = Path(sys.executable).parent / "cytasks"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from cli.main import main; main()"]


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        env=env,
        cwd=REPO_ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen | None, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class FairStack:
    """``async with FairStack() as stack``: the three subprocesses above, ready to use."""

    def __init__(self, keep_logs: bool = False) -> None:
        from devstack.ports import find_free_ports

        self.api_port, self.temporal_port, self.ui_port, self.target_port = find_free_ports(4)
        self._tmp = tempfile.TemporaryDirectory(prefix="cytasks-bench-fair-")
        self.dir = Path(self._tmp.name)
        self.keep_logs = keep_logs
        self.dev: subprocess.Popen | None = None
        self.bare: subprocess.Popen | None = None
        self.target: subprocess.Popen | None = None
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.temporal_address = f"127.0.0.1:{self.temporal_port}"
        self.target_url = f"http://127.0.0.1:{self.target_port}/echo"
        self.sandbox = os.environ.get("CYTASKS_WORKFLOW_SANDBOX", "false")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["CYTASKS_API_KEY"] = API_KEY
        return env

    async def start(self) -> "FairStack":
        env = self.env()
        self.target = _spawn(
            [sys.executable, str(REPO_ROOT / "bench" / "target_server.py"), str(self.target_port)],
            env,
            self.dir / "target.log",
        )
        self.dev = _spawn(
            [
                *_cytasks(), "dev", "--data-dir", str(self.dir / "data"), "--api-port", str(self.api_port),
                "--temporal-port", str(self.temporal_port), "--ui-port", str(self.ui_port),
            ],
            env,
            self.dir / "dev.log",
        )
        await self._wait_http(f"{self.api_url}/healthz", self.dev, "cytasks dev", 180)
        await self._wait_http(self.target_url, self.target, "the target server", 30)
        self.bare = _spawn(
            [sys.executable, str(REPO_ROOT / "bench" / "bare_workflow.py"), "--address", self.temporal_address],
            env,
            self.dir / "bare.log",
        )
        deadline = time.monotonic() + 60
        while b"bare worker ready" not in (self.dir / "bare.log").read_bytes():
            if self.bare.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bare worker did not start:\n" + self.log("bare"))
            await asyncio.sleep(0.1)
        return self

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    async def _wait_http(self, url: str, process: subprocess.Popen, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{what} exited:\n" + self.log("dev" if process is self.dev else "target"))
                try:
                    if (await http.get(url)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what} not ready within {timeout:g} s")
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for process in (self.bare, self.dev, self.target):
            await asyncio.to_thread(_stop, process)
        if not self.keep_logs:
            self._tmp.cleanup()

    async def __aenter__(self) -> "FairStack":
        try:
            return await self.start()
        except BaseException:
            await self.stop()
            raise

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    # -- clients -----------------------------------------------------------------------

    def api_client(self, connections: int = 10) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {API_KEY}"},
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            timeout=120,
        )

    async def temporal_client(self):
        from temporalio.client import Client

        return await Client.connect(self.temporal_address)


CLIENTS = ("wait", "poll")
"""How a client gets a run's end: ``wait`` asks for it in the execute request (``POST
/v1/tasks/execute?wait=30``, the API's one-round-trip answer for a short run), ``poll`` sends
the execute request, then long-polls ``GET /v1/task-runs/{id}?wait=30``."""


async def product_run(http: httpx.AsyncClient, kind: str, url: str, client: str = "poll") -> dict:
    """Run the ad-hoc script and wait for its end as ``client`` says (``CLIENTS``). Answers the
    run resource plus the client's wall-clock times (``time.time()``): ``t_post``,
    ``t_accepted`` (the execute request's answer) and ``t_seen`` (terminal status received)."""
    t_post = time.time()
    params = {"wait": 30} if client == "wait" else None
    response = await http.post("/v1/tasks/execute", json={"script": SCRIPTS[kind], "input": {"url": url}}, params=params)
    t_accepted = time.time()
    response.raise_for_status()
    location = response.headers["location"]
    body = response.json()
    if body["status"] in TERMINAL:
        if body["status"] != "completed":
            raise RuntimeError(f"bench run ended {body['status']}: {body.get('error')}")
        return {**body, "t_post": t_post, "t_accepted": t_accepted, "t_seen": t_accepted}
    while True:
        try:
            body = (await http.get(location, params={"wait": 30})).json()
        except httpx.TransportError:  # a keep-alive connection closed under us: GET again
            continue
        if body["status"] in TERMINAL:
            t_seen = time.time()
            if body["status"] != "completed":
                raise RuntimeError(f"bench run ended {body['status']}: {body.get('error')}")
            return {**body, "t_post": t_post, "t_accepted": t_accepted, "t_seen": t_seen}


async def bare_run(client, kind: str, url: str, index: int = 0):
    """``start_workflow`` + ``result()`` of the baseline; answers (handle, t_start, t_done)."""
    from bench.bare_workflow import BARE_QUEUE, BareWorkflow

    t_start = time.time()
    handle = await client.start_workflow(
        BareWorkflow.run,
        args=[kind, url],
        id=f"bench-bare-{kind}-{time.time_ns()}-{index}",
        task_queue=BARE_QUEUE,
        request_eager_start=True,  # as the product's API asks; honoured only with a local worker
    )
    await handle.result()
    return handle, t_start, time.time()


def run_and_report(parser: argparse.ArgumentParser, measure, print_report) -> None:
    """A fair benchmark's command line: its own options, then ``--json`` (the result as JSON)
    or the printed report."""
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
