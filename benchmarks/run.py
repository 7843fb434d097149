"""`make bench`: every benchmark in one run, a table on stdout and benchmarks/results.json.

    python benchmarks/run.py [--quick] [--skip throughput,scale,fresh]
        (--quick: scale at 1k and 10k chunks only, fresh build at 10k only; a skipped benchmark keeps its last
        figures in results.json)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from common import HERE

from cityqa.settings import Settings

DEFAULT_BACKEND = Settings().embed_backend


def step(name: str, args: list[str]) -> dict:
    print(f"bench: {name}…", file=sys.stderr, flush=True)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr[-3000:], file=sys.stderr)
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    result = json.loads(out.stdout[out.stdout.index("{"):])
    result["bench_s"] = round(time.perf_counter() - start, 1)
    return result


def table(results: dict) -> str:
    rows = [("figure", "cityqa", "baseline", "ratio", "target", "met")]
    c = results.get("coldstart", {})
    if "cityqa_s" in c:
        rows.append(("cold start `ask` (s)", f"{c['cityqa_s']:.2f}", f"{c['baseline_s']:.2f}", f"{c['speedup']:.1f}x",
                     "<=3 s, >=3x", _ok(c["cityqa_s"] <= 3 and c["speedup"] >= 3)))
    lat = results.get("latency", {})
    if "p50_ms" in lat:
        rows.append(("warm latency p50 (ms)", f"{lat['p50_ms']:.1f}", f"{lat['baseline_p50_ms']:.1f}",
                     f"{lat['baseline_p50_ms'] / lat['p50_ms']:.2f}x", "<=50 ms", _ok(lat["p50_ms"] <= 50)))
        rows.append(("warm latency p95 (ms)", f"{lat['p95_ms']:.1f}", f"{lat['baseline_p95_ms']:.1f}", "", "<=100 ms",
                     _ok(lat["p95_ms"] <= 100)))
    rows += _draft_rows(results.get("draft", {}))
    rows += _squad_rows(results.get("squad", {}))
    rows += _typo_rows(results.get("typos", {}))
    thr = results.get("throughput", {}).get("rows", {})
    if thr:
        base = thr["baseline"]
        for backend in ("torch", "onnx", "onnx-int8"):
            row = thr[backend]
            label = f"{backend} (default)" if backend == DEFAULT_BACKEND else backend
            rows.append((f"ingest {label} (chunks/s)", f"{row['chunks_per_s']:.1f}", f"{base['chunks_per_s']:.1f}",
                         f"{row['speedup_vs_baseline']:.1f}x", ">=1.5x", _ok(row["speedup_vs_baseline"] >= 1.5)))
            rows.append((f"ingest {backend} (MB/s)", f"{row['mb_per_s']:.3f}", f"{base['mb_per_s']:.3f}",
                         f"{row['mb_per_s'] / base['mb_per_s']:.2f}x", ">=1.0x",
                         _ok(row["mb_per_s"] >= base["mb_per_s"])))
            if "baseline_256" in thr:
                whole = thr["baseline_256"]["mb_per_s"]
                rows.append(("  against 256-token nodes (all text embedded)", f"{row['mb_per_s']:.3f}", f"{whole:.3f}",
                             f"{row['mb_per_s'] / whole:.2f}x", "", ""))
            rows.append((f"hit@1 {backend}", f"{row['hit@1']:.3f}", "", "", "within 0.01 of torch",
                         _ok(abs(row["hit@1"] - thr["torch"]["hit@1"]) <= 0.01)))
    scale = results.get("scale", {}).get("scale", [])
    # "within 0.05 of the small corpus": the shipped report alone (throughput.py scores each backend on it),
    # else the smallest scale size
    shipped = thr.get(DEFAULT_BACKEND, {}).get("hit@1") if thr else None
    small = shipped if shipped is not None else scale[0]["hit@1"] if scale else None
    target = f"within 0.05 of {small:.3f}" if small is not None else "within 0.05"
    for r in scale:
        n = r["chunks"]
        rows.append((f"{n} chunks: ingest s / index MiB", f"{r['ingest_s']:.0f} / {r['index_mib']:.0f}", "", "",
                     "", ""))
        rows.append((f"{n} chunks: BM25 build s (share)", f"{r['bm25_build_s']:.1f} ({r['bm25_share_of_ingest']:.0%})",
                     "", "", "", ""))
        rows.append((f"{n} chunks: open s (BM25 load s)", f"{r['open_s']:.1f} ({r['load_bm25_s']:.1f})", "", "", "",
                     ""))
        rows.append((f"{n} chunks: p50 / p95 ms", f"{r['p50_ms']:.0f} / {r['p95_ms']:.0f}", "", "", "p95<=100",
                     _ok(r["p95_ms"] <= 100)))
        rows.append((f"{n} chunks: RSS MiB", f"{r['rss_mib']:.0f}", "", "", "<=2048", _ok(r["rss_mib"] <= 2048)))
        rows.append((f"{n} chunks: hit@1", f"{r['hit@1']:.3f}", "", "", target,
                     _ok(small is not None and abs(r["hit@1"] - small) <= 0.05)))
    rows += _fresh_rows(results.get("fresh", {}))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _fresh_rows(fresh: dict) -> list[tuple[str, ...]]:
    """Builds of distinct generated text with an empty embedding cache (scale.py --fresh), one size per process."""
    rows = []
    for key in sorted(fresh, key=lambda k: int(k) if k.isdigit() else 0):
        r = fresh[key].get("scale", [{}])[0] if isinstance(fresh[key], dict) else {}
        if "ingest_s" not in r:
            continue
        n, base = r["chunks"], r.get("baseline_mb_per_s")
        rows.append((f"fresh {n} chunks: build s, MB/s", f"{r['ingest_s']:.0f} s, {r['mb_per_s']:.3f}",
                     f"{r['baseline_build_s']:.0f} s, {base:.3f}" if base else "", f"{r['mb_per_s'] / base:.2f}x"
                     if base else "", "<=600 s at 100k" if n >= 90_000 else "", _ok(r["ingest_s"] <= 600)
                     if n >= 90_000 else ""))
        rows.append((f"fresh {n} chunks: build RSS MiB, index MiB, open s", f"{r['build_peak_rss_mib']}, "
                     f"{r['index_mib']:.0f}, {r['open_s']:.1f}", "", "", "RSS<=1536" if n >= 90_000 else "",
                     _ok(r["build_peak_rss_mib"] <= 1536) if n >= 90_000 else ""))
        rows.append((f"fresh {n} chunks: p50 / p95 ms, hit@1, one-file update s",
                     f"{r['p50_ms']:.0f} / {r['p95_ms']:.0f}, {r['hit@1']:.3f}, {r['incr_s']:.1f}", "", "",
                     "p95<=100", _ok(r["p95_ms"] <= 100)))
    return rows


def _draft_rows(draft: dict) -> list[tuple[str, ...]]:
    """A whole draft checked warm (about 60 sentences), and one claim at a time."""
    if "check_s" not in draft:
        return []
    return [
        (f"draft of {draft['sentences']} sentences ({draft['checked']} checked): s", f"{draft['check_s']:.2f}", "", "",
         "<=15 s", _ok(draft["check_s"] <= 15)),
        ("one claim checked warm p95 (ms)", f"{draft['claim_p95_ms']:.0f}", "", "", "<=150 ms",
         _ok(draft["claim_p95_ms"] <= 150)),
    ]


def _squad_rows(squad: dict) -> list[tuple[str, ...]]:
    """Held-out SQuAD articles: cityqa against the two sentence baselines in the same run."""
    systems = squad.get("systems")
    if not systems:
        return []
    ours, bm25, dense = systems["cityqa"], systems["bm25-sentence"], systems["dense-sentence"]
    best = max(bm25["evidence_cited"], dense["evidence_cited"])
    where = f"SQuAD held out ({', '.join(squad['articles'])}; {squad['questions']} q)"
    return [
        (f"{where}: evidence cited", f"{ours['evidence_cited']:.3f}", f"{best:.3f} (best sentence baseline)",
         f"{ours['evidence_cited'] / best:.2f}x", ">=0.78, ahead", _ok(ours["evidence_cited"] >= 0.78 and
                                                                   ours["evidence_cited"] > best)),
        ("  false not found", f"{ours['false_not_found']:.3f}", "0 (never abstain)", "", "<=0.10",
         _ok(ours["false_not_found"] <= 0.10)),
        ("  unanswerable abstained", f"{ours['unanswerable_abstained']:.3f}", "0", "", ">=0.50",
         _ok(ours["unanswerable_abstained"] >= 0.5)),
        ("  expected calibration error", f"{ours['ece']:.3f}", "", "", "", ""),
    ]


def _typo_rows(typos: dict) -> list[tuple[str, ...]]:
    """The same held-out articles typed as new users type: one typo per question (spelling correction on against
    off), all in lower case (capitals restored against not)."""
    runs = typos.get("runs")
    if not runs:
        return []
    right = runs["typed right"]["evidence_cited"]
    rows = []
    for label, on, off, what in (("with a typo per question", "typos, corrected", "typos, not corrected",
                                  "uncorrected"),
                                 ("typed in lower case", "lower case, capitals restored", "lower case, as typed",
                                  "as typed")):
        if on not in runs:  # a results file from before the lower-case runs
            continue
        a, b = runs[on], runs[off]
        rows += [
            (f"  {label}: evidence cited", f"{a['evidence_cited']:.3f}", f"{b['evidence_cited']:.3f} ({what})",
             f"{a['evidence_cited'] / b['evidence_cited']:.2f}x", f"typed right: {right:.3f}", ""),
            (f"  {label}: false not found", f"{a['false_not_found']:.3f}", f"{b['false_not_found']:.3f} ({what})",
             "", "", ""),
        ]
    return rows


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scale benchmark without the 100k size")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks to skip")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    # a skipped benchmark keeps the figures of the run that last measured it (each step records when)
    path = HERE / "results.json"
    results: dict = json.loads(path.read_text(encoding="utf-8")) if skip - {""} and path.is_file() else {}
    results["machine"] = {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()}
    for name in ("coldstart", "latency", "draft", "squad", "typos", "throughput"):
        if name not in skip:
            results[name] = step(name, []) | {"measured": time.strftime("%Y-%m-%d %H:%M")}
    if "scale" not in skip:
        sizes = "1000,10000" if args.quick else "1000,10000,100000"
        results["scale"] = step("scale", ["--sizes", sizes, "--out", str(HERE / "scale.json")]) | {
            "measured": time.strftime("%Y-%m-%d %H:%M")}
    if "fresh" not in skip:  # one size per process: the build's peak memory is its own
        sizes = (10_000,) if args.quick else (10_000, 100_000)
        results["fresh"] = {str(n): step("scale", ["--fresh", "--sizes", str(n), "--out",
                                                     str(HERE / f"scale-fresh-{n // 1000}k.json")])
                            | {"measured": time.strftime("%Y-%m-%d %H:%M")} for n in sizes}
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(table(results))
    names = ("coldstart", "latency", "draft", "squad", "typos", "throughput", "scale", "fresh")
    carried = [name for name in names if name in skip and name in results]
    if carried:
        print(f"\nnot run this time, figures from the run that last measured them: {', '.join(carried)}")
    machine = results["machine"]
    print(f"\n{machine['cpus']} CPUs; load average {machine['loadavg_at_start'][0]:.1f} at start, "
          f"{machine['loadavg_at_end'][0]:.1f} at end (other processes share the machine: see README)")
    print(f"\nwrote {HERE / 'results.json'}" + ("" if "scale" in skip else f" and {HERE / 'scale.png'}"))


if __name__ == "__main__":
    main()
