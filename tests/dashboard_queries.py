#!/usr/bin/python3
"""dashboard_queries.py - runs every query of the Grafana dashboards in
contrib/grafana/ against real servers, as Grafana would send it (test_dashboards.c).

  dashboard_queries.py --graphite URL --influxdb URL --db NAME
                       --hosts h1,h2 --from EPOCH_S --until EPOCH_S
                       [--set VAR=VALUE ...] DASHBOARD.json ...

A dashboard whose variables' datasource type is "graphite" is queried through
graphite-web's render API (/render?target=...&format=json) and its variable
queries through /metrics/expand (expand(...)) or /metrics/find; "influxdb"
through InfluxDB 1.x's /query. Every target of every panel and every query
variable is executed. Substitutions, as Grafana makes them:
  $host          all the hosts: {h1,h2} for Graphite, (h1|h2) in InfluxQL
  $timeFilter    time >= FROMms and time <= UNTILms
  $__interval    max(the panel's min interval, range / maxDataPoints)
  other custom variables: --set VAR=VALUE (must be one of its options), or
                 their current value
A panel with timeFrom (e.g. "24h") is queried over the last timeFrom
(Graphite: from=-24h&until=now), the others over --from..--until.

Prints one line per query (Q), variable (V) and returned series (S), tab
separated:
  Q <kind> <panel> <refId> <query as sent>
  V <kind> <variable> <values, comma separated>
  S <kind> <panel> <refId> <series name> <non-null points> <mean> <median> <min> <max> <last>
and exits 1 (with the reason on stderr) when a query fails, returns no
series, or returns a series without a single non-null value, or when a
query variable does not list every host.
"""
import argparse
import json
import re
import statistics
import sys
import urllib.error
import urllib.parse
import urllib.request

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def get(url, params):
    full = url + "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(full, timeout=30) as r:
            return json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        raise RuntimeError("%s -> HTTP %d: %s" % (full, e.code, body[-3000:]))


def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", text)
    if not m:
        raise ValueError("interval %r" % text)
    mult = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return int(m.group(1)) * mult[m.group(2)]


def dashboard_kind(dash):
    for v in dash["templating"]["list"]:
        if v["type"] == "datasource":
            return v["query"]
    raise ValueError("no datasource variable in " + dash.get("title", "?"))


def substitute(text, values):
    # longest names first ($__interval before $__i..., $host before $h)
    for name in sorted(values, key=len, reverse=True):
        text = text.replace("${%s}" % name, values[name])
        text = text.replace("$" + name, values[name])
    if re.search(r"\$\{?\w", text.replace("$tag_", "")):
        fail("unsubstituted variable in " + text)
    return text


def stats_line(kind, panel, ref, name, values):
    vals = [v for v in values if v is not None]
    if not vals:
        fail("%s %s/%s: series %s has only null values" % (kind, panel, ref, name))
        return
    print("S\t%s\t%s\t%s\t%s\t%d\t%.10g\t%.10g\t%.10g\t%.10g\t%.10g" % (
        kind, panel, ref, name, len(vals), statistics.fmean(vals),
        statistics.median(vals), min(vals), max(vals), vals[-1]))


def influx_alias(alias, tags, measurement, column):
    if not alias:
        return "%s.%s {%s}" % (measurement, column,
                               ", ".join("%s: %s" % kv for kv in sorted(tags.items())))
    out = re.sub(r"\$tag_(\w+)", lambda m: tags.get(m.group(1), ""), alias)
    out = out.replace("$measurement", measurement).replace("$col", column)
    return out


def run(args, path):
    with open(path) as f:
        dash = json.load(f)
    kind = dashboard_kind(dash)
    hosts = args.hosts.split(",")
    values = {}
    for v in dash["templating"]["list"]:
        name = v["name"]
        if v["type"] == "custom":
            options = [o.strip() for o in v["query"].split(",")]
            value = args.set.get(name, v["current"]["value"])
            if value not in options:
                fail("%s: %s=%s is not one of %s" % (path, name, value, options))
            values[name] = value
        elif v["type"] == "query" and name == "host":
            values[name] = ("{%s}" % ",".join(hosts) if kind == "graphite"
                            else "(%s)" % "|".join(re.escape(h) for h in hosts))
            # the variable's own query: must list every host
            q = v["query"] if isinstance(v["query"], str) else v["query"]["query"]
            found = []
            if kind == "graphite":
                m = re.fullmatch(r"expand\((.*)\)", q)
                if m:
                    res = get(args.graphite + "/metrics/expand",
                              {"query": m.group(1)})["results"]
                else:
                    res = [n["id"] for n in get(args.graphite + "/metrics/find",
                                                {"query": q})]
            else:
                ans = get(args.influxdb + "/query", {"db": args.db, "q": q})
                res = [row[1] for s in ans["results"][0].get("series", [])
                       for row in s["values"]]
            rx = v.get("regex") or ""
            for r in res:
                if rx:
                    m = re.search(rx.strip("/"), r)
                    if not m:
                        continue
                    r = m.group(1) if m.groups() else m.group(0)
                found.append(r)
            print("Q\t%s\tvariable\t%s\t%s" % (kind, name, q))
            print("V\t%s\t%s\t%s" % (kind, name, ",".join(sorted(found))))
            for h in hosts:
                if h not in found:
                    fail("%s: variable %s (%s) lists %s, not %s" % (path, name, q, found, h))
        elif v["type"] == "datasource":
            if v["query"] not in ("graphite", "influxdb"):
                fail("%s: datasource type %s" % (path, v["query"]))
        else:
            fail("%s: variable %s of type %s not handled" % (path, name, v["type"]))

    n = 0
    for panel in dash["panels"]:
        title = panel["title"]
        if panel.get("datasource", {}).get("uid") != "${DS}":
            fail("%s: panel %s does not use the ${DS} variable" % (path, title))
        if panel.get("timeFrom"):
            rel = panel["timeFrom"]
            until = args.until
            frm = until - seconds(rel)
        else:
            rel = None
            frm, until = args.frm, args.until
        pv = dict(values)
        min_iv = substitute(panel.get("interval", "1s"), values) if panel.get("interval") else "1s"
        iv = max(seconds(min_iv), (until - frm) / panel.get("maxDataPoints", 1000))
        pv["__interval"] = "%ds" % max(1, round(iv))
        pv["__interval_ms"] = str(int(max(1, round(iv)) * 1000))
        pv["timeFilter"] = "time >= %dms and time <= %dms" % (frm * 1000, until * 1000)
        for t in panel["targets"]:
            ref = t["refId"]
            n += 1
            if kind == "graphite":
                target = substitute(t["target"], pv)
                params = {"target": target, "format": "json", "maxDataPoints": 1000}
                if rel:
                    params.update({"from": "-" + rel, "until": "now"})
                else:
                    params.update({"from": str(frm), "until": str(until)})
                print("Q\tgraphite\t%s\t%s\t%s" % (title, ref, target))
                try:
                    ans = get(args.graphite + "/render", params)
                except RuntimeError as e:
                    fail(str(e))
                    continue
                if not ans:
                    fail("graphite %s/%s: no series for %s" % (title, ref, target))
                for s in ans:
                    stats_line(kind, title, ref, s["target"], [p[0] for p in s["datapoints"]])
            else:
                q = substitute(t["query"], pv)
                print("Q\tinfluxdb\t%s\t%s\t%s" % (title, ref, q))
                try:
                    ans = get(args.influxdb + "/query", {"db": args.db, "q": q, "epoch": "ms"})
                except RuntimeError as e:
                    fail(str(e))
                    continue
                res = ans.get("results", [{}])[0]
                if "error" in res or "error" in ans:
                    fail("influxdb %s/%s: %s: %s" % (title, ref, q, res.get("error", ans.get("error"))))
                    continue
                series = res.get("series", [])
                if not series:
                    fail("influxdb %s/%s: no series for %s" % (title, ref, q))
                for s in series:
                    for c, col in enumerate(s["columns"][1:], start=1):
                        name = influx_alias(t.get("alias"), s.get("tags", {}), s["name"], col)
                        stats_line(kind, title, ref, name, [row[c] for row in s["values"]])
    if n == 0:
        fail(path + ": no panel targets")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--graphite")
    ap.add_argument("--influxdb")
    ap.add_argument("--db", default="collectd")
    ap.add_argument("--hosts", required=True)
    ap.add_argument("--from", dest="frm", type=int, required=True)
    ap.add_argument("--until", type=int, required=True)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("dashboards", nargs="+")
    args = ap.parse_args()
    args.set = dict(s.split("=", 1) for s in args.set)
    for path in args.dashboards:
        try:
            run(args, path)
        except Exception as e:  # a server that does not answer, bad JSON
            fail("%s: %s: %s" % (path, type(e).__name__, e))
    sys.stdout.flush()
    if failures:
        print("%d failure(s)" % len(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
