#!/usr/bin/env python3
"""Latency of a periodic probe, as a load balancer or monitor sees it.

    probe.py <url> <seconds> [per-second, default 100]

Sends GET <url> at a fixed rate over one keep-alive connection and measures
each answer from the moment the request was due (not when it was sent), so a
stall that delays later requests counts against them too (no coordinated
omission). Prints "p50 <ms> p99 <ms> max <ms> (<n> probes, <errors> errors)".
"""
import http.client
import sys
import time
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
seconds = float(sys.argv[2])
rate = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
interval = 1.0 / rate


def connect():
    return http.client.HTTPConnection(url.hostname, url.port, timeout=10)


conn = connect()
latencies, errors = [], 0
start = time.monotonic()
due = start
while due < start + seconds:
    now = time.monotonic()
    if now < due:
        time.sleep(due - now)
    try:
        conn.request("GET", url.path or "/")
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        errors += 1
        conn.close()
        conn = connect()
    latencies.append(time.monotonic() - due)
    due += interval

latencies.sort()


def pct(p):
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000


print(f"p50 {pct(0.50):.2f} ms p99 {pct(0.99):.2f} ms max {latencies[-1] * 1000:.2f} ms "
      f"({len(latencies)} probes, {errors} errors)")
