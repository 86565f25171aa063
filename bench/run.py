#!/usr/bin/env python3
"""Dateline against nginx, side by side, on one generated archive.

One command (`bench/run`) builds Dateline, generates an archive (`dateline bench archive`,
seeded), imports, indexes and threads it, starts Dateline, copies the very bytes of the pages it
serves into files that nginx serves, and drives both with wrk at the same connections, page by
page, in alternating rounds. Then it publishes stories through the API under load and times how long
each takes to show on the home page, its section front and the feed. It writes
bench/REPORT.md.

Every number is measured in this run on this machine; medians over the rounds.
"""

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-long-enough"


def log(message):
    print(f"[bench] {message}", flush=True)


def need(tool, package):
    if shutil.which(tool):
        return
    log(f"installing {package} (for {tool})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", package], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def get(url, headers=None, timeout=10):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, dict(response.headers), response.read()


def api(base, method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_for(url, limit=120):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            status, _, _ = get(url, timeout=2)
            if status == 200:
                return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.01)
    raise SystemExit(f"{url} did not answer within {limit} s")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * UNITS[m.group(2)]


def wrk(url, seconds, connections, threads):
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(0)}\n{out}")
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors.group(0) if errors else ""}


def bare_axum(binary, file, path, args):
    """The same bytes from memory through a bare axum handler (`dateline bench static`)."""
    target, content_type = file
    server = subprocess.Popen([binary, "bench", "static", "--file", target, "--content-type",
                               content_type, "--listen", "127.0.0.1:18082"],
                              stdout=subprocess.DEVNULL)
    try:
        wait_for("http://127.0.0.1:18082/", limit=10)
        return wrk("http://127.0.0.1:18082" + path, args.seconds, args.connections, args.threads)
    finally:
        stop(server)


def stop(server, timeout=20):
    """Asks a server to stop, and kills it if it has not within `timeout` seconds."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000,
                        help="articles in the generated archive (default 100,000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per page")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--publishes", type=float, default=5.0,
                        help="publishes a second during the publishing run")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dateline-bench"),
                        help="where the archive, database and nginx files go (kept for reruns)")
    parser.add_argument("--binary", type=Path, help="a built dateline binary (else built here)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "REPORT.md")
    args = parser.parse_args()

    need("wrk", "wrk")
    need("nginx", "nginx-light")
    binary = args.binary
    if binary is None:
        log("building dateline (release)")
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "dateline"],
                       cwd=ROOT, check=True)
        binary = ROOT / "target" / "release" / "dateline"
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    n = args.articles
    archive = work / f"archive-{n}.jsonl"
    pristine = work / f"dateline-{n}.db"
    port, nginx_port = 18080, 18081

    def configure(db):
        path = db.with_suffix(".toml")
        path.write_text(
            f'database = "{db}"\nlisten = "127.0.0.1:{port}"\n'
            f'[limits]\nmax_connections = 4096\nmax_connections_per_client = 4096\n'
            f'[cache]\nmemory_mb = 512\n')
        return path

    config = configure(pristine)
    db = pristine
    facts = {}
    if not archive.exists():
        log(f"generating {n} articles")
        subprocess.run([binary, "bench", "archive", "--articles", str(n), "--out", archive],
                       check=True)
    if not db.exists():
        log(f"importing {n} articles")
        start = time.monotonic()
        subprocess.run([binary, "import", "--config", config, archive], check=True,
                       env=dict(os.environ, DATELINE_LOG="warn"))
        facts["import_seconds"] = time.monotonic() - start
        log("indexing")
        start = time.monotonic()
        subprocess.run([binary, "reindex", "--config", config], check=True)
        facts["index_seconds"] = time.monotonic() - start
        log("threading")
        facts["thread_seconds"] = thread_archive(binary, config, pristine)
        facts["loaded_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        (work / f"load-{n}.json").write_text(json.dumps(facts))
    else:
        loaded = work / f"load-{n}.json"
        if loaded.exists():
            facts.update(json.loads(loaded.read_text()))
            facts.setdefault("loaded_at", time.strftime(
                "%Y-%m-%d %H:%M UTC", time.gmtime(loaded.stat().st_mtime)))
            facts["reused"] = True

    # Each run serves a copy of the archive as imported, so runs do not see each other's stories.
    run_db = work / "run" / "dateline.db"
    shutil.rmtree(run_db.parent, ignore_errors=True)
    run_db.parent.mkdir()
    subprocess.run(["sqlite3", pristine, f".backup '{run_db}'"], check=True)
    shutil.copytree(pristine.with_suffix(".index"), run_db.with_suffix(".index"))
    config = configure(run_db)
    base = f"http://127.0.0.1:{port}"
    log("starting dateline")
    start = time.monotonic()
    server = subprocess.Popen([binary, "serve", "--config", config],
                              stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "w"))
    try:
        facts["cold_start"] = wait_for(base + "/")
        run(args, binary, config, base, server, work, nginx_port, facts)
    finally:
        stop(server)


def thread_archive(binary, config, db, limit=3600):
    """Serves the imported archive until its threader has placed every article (story threads
    follow the stream, as a site's do after an import), so that the measured runs start from a
    site at rest rather than one still threading its archive. Answers the seconds it took."""
    start = time.monotonic()
    server = subprocess.Popen([binary, "serve", "--config", config],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            time.sleep(2)
            if server.poll() is not None:
                raise SystemExit("dateline serve stopped while threading the archive")
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                (done, end) = conn.execute(
                    "SELECT (SELECT position FROM stream_positions WHERE consumer = 'threads'), "
                    "(SELECT MAX(position) FROM changes)").fetchone()
            if done is not None and done >= end:
                return time.monotonic() - start
            if time.monotonic() - start > limit:
                raise SystemExit(f"the threader did not catch up in {limit} s ({done} of {end})")
            log(f"threading: {done or 0:,} of {end:,} records")
    finally:
        stop(server)


def run(args, binary, config, base, server, work, nginx_port, facts):
    # The pages: the newest story, the home page, the biggest section, the home feed, a search.
    _, _, home = get(base + "/")
    article = re.search(rb'class="story lead">.*?<a href="(/n3/[^"]+)"', home, re.S).group(1).decode()
    headline = re.search(rb'<h1[^>]*>(.*?)</h1>', get(base + article)[2], re.S).group(1).decode()
    word = max(re.findall(r"[a-z]{5,}", headline.lower()) or ["world"], key=len)
    pages = {
        "article": article,
        "home": "/",
        "section": "/section/world",
        "feed": "/feed.rss",
        "search": f"/search?q={word}",
    }
    # Kept pages are read twice: the first read renders and keeps, the second is a hit.
    kept = {}
    files = {}
    root = work / "nginx-root"
    shutil.rmtree(root, ignore_errors=True)
    for name, path in pages.items():
        get(base + path)
        _, headers, body = get(base + path)
        kept[name] = {k.lower(): v for k, v in headers.items()}.get("x-cache") == "hit"
        file = path.split("?")[0]
        target = root / file.lstrip("/")
        if file.endswith("/"):
            target = target / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        files[name] = (target, headers.get("Content-Type") or headers.get("content-type"))
        facts.setdefault("bytes", {})[name] = len(body)
    nginx_conf = work / "nginx.conf"
    nginx_conf.write_text(f"""
worker_processes {os.cpu_count()};
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  open_file_cache max=1000;
  types {{ text/html html; application/rss+xml rss; }}
  default_type text/html;
  server {{
    listen 127.0.0.1:{nginx_port};
    root {root};
    index index.html;
    location / {{ try_files $uri $uri/ =404; }}
  }}
}}
""")
    nginx = subprocess.Popen(["nginx", "-c", str(nginx_conf), "-p", str(work)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{nginx_port}/")
        for name, path in pages.items():
            ours = get(base + path)[2]
            theirs = get(f"http://127.0.0.1:{nginx_port}{path}")[2]
            if ours != theirs:
                raise SystemExit(f"{name}: nginx does not serve Dateline's bytes")
        results = {name: {"dateline": [], "nginx": [], "axum": []} for name in pages}
        servers = ["dateline", "nginx", "axum"]
        for r in range(args.rounds):
            for name, path in pages.items():
                order = servers[r % 3:] + servers[:r % 3]
                for who in order:
                    if who == "axum":
                        result = bare_axum(binary, files[name], path, args)
                    else:
                        url = (base if who == "dateline"
                               else f"http://127.0.0.1:{nginx_port}") + path
                        result = wrk(url, args.seconds, args.connections, args.threads)
                    results[name][who].append(result)
                    log(f"round {r + 1} {name:8} {who:8} {result['rps']:>10.0f} req/s "
                        f"p50 {result['p50']:.2f} ms p99 {result['p99']:.2f} ms {result['errors']}")
        publishing = publish_under_load(args, binary, config, base)
        facts["rss_mib"] = rss_mib(server.pid)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=20)
    report(args, pages, kept, results, publishing, facts)


def publish_under_load(args, binary, config, base):
    """Publishes stories at the given rate while wrk loads the home page, and times how long
    each takes from the publish's answer to being on the home page, its section and the feed."""
    subprocess.run([binary, "user", "--config", config, "add", "bencher", "--role", "editor",
                    "--desk", "world"], input=PASSWORD + "\n", text=True, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status, body = api(base, "POST", "/api/v1/tokens",
                       body={"username": "bencher", "password": PASSWORD})
    if status != 201:
        raise SystemExit(f"no API token: {status} {body}")
    token = body["token"]
    seconds = max(args.seconds, 10)
    load = threading.Thread(target=wrk, args=(base + "/", seconds + 2, args.connections,
                                              args.threads))
    load.start()
    time.sleep(1)
    timings = {"home": [], "section": [], "feed": []}
    lock = threading.Lock()
    watchers = []

    def watch(headline, published_at):
        for name, path in (("home", "/"), ("section", "/section/world"), ("feed", "/feed.rss")):
            def poll(name=name, path=path):
                deadline = published_at + 30
                while time.monotonic() < deadline:
                    if headline.encode() in get(base + path)[2]:
                        with lock:
                            timings[name].append((time.monotonic() - published_at) * 1000)
                        return
                    time.sleep(0.002)
            t = threading.Thread(target=poll)
            t.start()
            watchers.append(t)

    count = int(seconds * args.publishes)
    interval = 1 / args.publishes
    next_at = time.monotonic()
    for i in range(count):
        headline = f"Bench story {i} at {time.time():.3f}"
        status, created = api(base, "POST", "/api/v1/articles", token,
                              {"headline": headline, "section": "world",
                               "body": f"<p>{headline}.</p>"})
        if status != 201:
            raise SystemExit(f"create: {status} {created}")
        status, done = api(base, "POST", f"/api/v1/articles/{created['id']}/actions", token,
                           {"action": "publish"})
        if status != 200:
            raise SystemExit(f"publish: {status} {done}")
        watch(headline, time.monotonic())
        next_at += interval
        time.sleep(max(0, next_at - time.monotonic()))
    for t in watchers:
        t.join()
    load.join()
    return {"count": count, "timings": timings}


def fmt_ratio(x):
    return f"{x:.2f}x"


def report(args, pages, kept, results, publishing, facts):
    lines = []
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}"
    lines.append("# Dateline against nginx: the benchmark's report\n")
    lines.append(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine}, "
                 f"by `bench/run --articles {args.articles}` "
                 f"({args.rounds} alternating rounds of {args.seconds} s per page and server, "
                 f"wrk with {args.threads} threads and {args.connections} connections; medians). "
                 "nginx serves the very bytes Dateline served for each page, from files.\n")
    lines.append("| page | Dateline req/s | nginx req/s | ratio | p50 | p99 | nginx p50 | nginx p99 "
                 "| bare axum req/s | ratio to bare axum | kept |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, path in pages.items():
        d = results[name]["dateline"]
        g = results[name]["nginx"]
        rps = statistics.median(x["rps"] for x in d)
        nrps = statistics.median(x["rps"] for x in g)
        arps = statistics.median(x["rps"] for x in results[name]["axum"])
        lines.append(
            f"| {name} | {rps:,.0f} | {nrps:,.0f} | {fmt_ratio(rps / nrps)} | "
            f"{statistics.median(x['p50'] for x in d):.2f} ms | "
            f"{statistics.median(x['p99'] for x in d):.2f} ms | "
            f"{statistics.median(x['p50'] for x in g):.2f} ms | "
            f"{statistics.median(x['p99'] for x in g):.2f} ms | "
            f"{arps:,.0f} | {fmt_ratio(rps / arps)} | "
            f"{'yes' if kept[name] else 'no'} |")
    lines.append("")
    lines.append("*Dateline* answers from its page cache (*kept*: the page was in the cache; search "
                 "results are not kept, and render each time). *nginx* serves the same bytes from "
                 "files (`sendfile`, no access log, two workers). *bare axum* answers the same "
                 "bytes from memory with a one-line axum handler (`dateline bench static`): the "
                 "cost of serving the bytes with nothing of Dateline's work, so the ratio to it is "
                 "what the cache itself costs.\n")
    lines.append("Pages: " + ", ".join(f"{k} `{v}` ({facts['bytes'][k]:,} bytes)"
                                       for k, v in pages.items()) + ".\n")
    t = publishing["timings"]
    lines.append(f"## Publishing under load\n")
    lines.append(f"{publishing['count']} stories published through the API at "
                 f"{args.publishes:g} a second while wrk loaded the home page with "
                 f"{args.connections} connections; the time from each publish's answer to the "
                 "story on the page (polled every 2 ms):\n")
    lines.append("| page | seen | p50 | p99 | max |")
    lines.append("| --- | --- | --- | --- | --- |")
    for name, values in t.items():
        lines.append(f"| {name} | {len(values)} of {publishing['count']} | "
                     f"{percentile(values, 50):.1f} ms | {percentile(values, 99):.1f} ms | "
                     f"{max(values) if values else float('nan'):.1f} ms |")
    lines.append("")
    lines.append("## The archive and the process\n")
    lines.append(f"- Archive: {args.articles:,} generated articles (`dateline bench archive`).")
    if "import_seconds" in facts:
        lines.append(f"- Import: {facts['import_seconds']:.1f} s, "
                     f"{args.articles / facts['import_seconds']:,.0f} articles a second; "
                     f"indexing (`dateline reindex`): {facts['index_seconds']:.1f} s.")
    if "thread_seconds" in facts:
        lines.append(f"- Story threads: the server's threader placed the archive in "
                     f"{facts['thread_seconds']:.1f} s, before the runs (each run serves a copy "
                     f"of the archive as imported, indexed and threaded).")
    if facts.get("reused"):
        lines.append(f"- The import, indexing and threading above were measured when the archive "
                     f"was loaded ({facts['loaded_at']}, by the binary of then); this run served "
                     f"that archive again (`--work`).")
    lines.append(f"- Cold start (process start to the first home page): "
                 f"{facts['cold_start'] * 1000:.0f} ms.")
    lines.append(f"- Resident memory after the run: {facts['rss_mib']:.0f} MiB.")
    lines.append("")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
