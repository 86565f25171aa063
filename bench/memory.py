#!/usr/bin/env python3
"""The server's resident memory on an archive already imported, indexed and threaded.

Starts `BINARY serve --config CONFIG`, reads every sitemap the sitemap index names, waits,
then reads article pages the sitemaps list (a seeded random sample, several clients at once),
and prints the process's resident memory after each step: in all, anonymous (the heap: page
cache, threader, database caches) and file-backed (the search index's mapped files, which the
system may take back). The server is stopped at the end.

    bench/memory --binary target/release/dateline --config /tmp/m1/m.toml

The archive: `dateline bench archive --articles 1000000 --out m.jsonl`, `dateline import
--config m.toml m.jsonl`, then `dateline serve --config m.toml` until the `threads` and
`search-index` lags of `/metrics` are 0 and so is `dateline_neighbour_lists_missing` (the
graph of related stories is grown while the server is idle; while it grows it reads the search
index's postings, which then count as file-backed memory). Each step says how many lists were
still missing.
"""

import argparse
import concurrent.futures
import random
import re
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile"):
                fields[name] = int(value.split()[0]) // 1024
    return fields


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the dateline binary")
    parser.add_argument("--config", required=True, help="the archive's config file (its listen address is used)")
    parser.add_argument("--pages", type=int, default=20000, help="article pages read (default 20000)")
    parser.add_argument("--clients", type=int, default=8, help="clients reading at once (default 8)")
    parser.add_argument("--wait", type=int, default=60, help="seconds waited after the sitemaps (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with open(args.config, "rb") as f:
        listen = tomllib.load(f).get("listen", "127.0.0.1:8080")
    base = f"http://{listen}"
    server = subprocess.Popen([args.binary, "serve", "--config", args.config],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        while True:
            try:
                get(base + "/")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() - started > 60:
                    sys.exit(f"the server did not answer on {base} (exit {server.poll()})")
                time.sleep(0.1)

        def report(step):
            m = memory(server.pid)
            scrape = get(base + "/metrics").decode()
            missing = re.search(r"^dateline_neighbour_lists_missing (\d+)", scrape, re.M)
            missing = f"{int(missing.group(1)):,}" if missing else "not known yet"
            kept = re.search(r"^dateline_page_cache_bytes (\d+)", scrape, re.M)
            kept = int(kept.group(1)) // (1 << 20) if kept else 0
            print(f"{step:<28} resident {m['VmRSS']:>6,} MB  anonymous {m['RssAnon']:>6,} MB  "
                  f"file-backed {m['RssFile']:>6,} MB  page cache {kept:>4,} MB  "
                  f"lists missing {missing}", flush=True)

        report("first home page")
        index = get(base + "/sitemap.xml").decode()
        articles = []
        for loc in re.findall(r"<loc>([^<]+)</loc>", index):
            path = re.sub(r"^https?://[^/]+", "", loc)
            if "/sitemaps/articles-" in path:
                articles += re.findall(r"<loc>([^<]+)</loc>", get(base + path).decode())
        report(f"{len(articles):,} in sitemaps")
        time.sleep(args.wait)
        report(f"{args.wait} s later")
        sample = random.Random(args.seed).sample(articles, min(args.pages, len(articles)))
        paths = [re.sub(r"^https?://[^/]+", "", u) for u in sample]
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            failed = sum(1 for ok in pool.map(lambda p: bool(get(base + p)), paths) if not ok)
        report(f"{len(paths):,} article pages")
        if failed:
            sys.exit(f"{failed} pages answered nothing")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
