"""The request log's cost in instructions (valgrind callgrind), which load cannot move.

The reference app runs in process (``scimkit.testing.ASGIClient``, lifespan entered) with its
request log on or off, and answers Entra's POSTs from 16 concurrent clients, as a server under
load would: first ``--fill`` of them (enough to fill the log: it keeps 10 000 records, so the
garbage collector sees a full log, and each new record evicts the oldest), then ``--requests``
more, the recorder drained every :data:`_DRAINED_EVERY` of them (a server's loop runs its
timer; this one's never would). The same program runs under callgrind with two request
counts; the difference of the totals divided by the difference of the counts is what one POST
costs, start-up and filling cancelled out. The figure includes the log's background recorder
and the garbage collector's work, which is why the log's share of it depends on what the log
keeps alive.

``python -m benchmarks.request_log_instructions`` prints instructions per POST with the log off
and on and the log's share (~15 min on an idle 2-core machine: four runs under valgrind, two at
a time). ``--child on|off`` is the program callgrind runs.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import logging
import re
import subprocess
import sys
from collections.abc import Sequence

from benchmarks._entra import sample_user, user_create_body
from benchmarks.bench_asgi import TOKEN, _client, _send
from benchmarks.run_ceiling import ROOT

__all__ = ["main"]

_CONCURRENCY = 16
_DRAINED_EVERY = 64
"""Requests per recorder batch: about what its 20 ms wait gathers at 3 000 POSTs a second."""
_COLLECTED = re.compile(rb"Collected : (\d+)")


async def _serve(logged: bool, requests: int) -> None:
    from reference_app.app import create_app
    from reference_app.settings import load_settings

    logging.disable(logging.CRITICAL)
    settings = load_settings({"tenants": [f"bench:{TOKEN}"]}, environ={})
    app = create_app(dataclasses.replace(settings, request_log=logged))
    client = _client(app)
    async with app.router.lifespan_context(app):
        sent = answered = 0
        recorder = app.state.activity

        async def client_loop(count: int) -> None:
            nonlocal sent, answered
            for _ in range(count):
                sent += 1
                user = sample_user(10_000_000 + sent)
                user.user_name = f"post{sent}@post.example"
                response = await _send(client, "POST", "/Users", user_create_body(user))
                assert response.status == 201
                answered += 1  # not ``sent``: other clients move it while this one waits
                # In process no request waits on the network, so the loop never reaches the
                # recorder's timer: without this the queue filled up, every request past
                # QUEUE_LIMIT was dropped, and the count saw no recording at all.
                if recorder is not None and answered % _DRAINED_EVERY == 0:
                    await recorder.flush()

        each = requests // _CONCURRENCY
        await asyncio.gather(*(client_loop(each) for _ in range(_CONCURRENCY)))
        if recorder is not None:
            await recorder.flush()
            assert recorder.dropped == 0, recorder.dropped


def _collected(side: str, requests: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    command += ["-m", "benchmarks.request_log_instructions", "--child", side]
    command += ["--requests", str(requests)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fill", type=int, default=10_400, help="POSTs before the counted ones")
    parser.add_argument("--requests", type=int, default=3_200, help="POSTs counted")
    parser.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        asyncio.run(_serve(args.child == "on", args.requests))
        return 0
    runs = [(side, args.fill + extra) for side in ("off", "on") for extra in (0, args.requests)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        totals = dict(zip(runs, pool.map(lambda run: _collected(*run), runs), strict=True))
    per = {
        side: (totals[side, args.fill + args.requests] - totals[side, args.fill]) / args.requests
        for side in ("off", "on")
    }
    print(f"POST, log off {per['off']:12.0f} instructions")
    print(f"POST, log on  {per['on']:12.0f} instructions")
    share = (per["on"] / per["off"] - 1) * 100
    print(f"the log adds  {per['on'] - per['off']:12.0f} ({share:+.1f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
