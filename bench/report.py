"""The Markdown twin of a results file: one table, each scenario against its baseline and target."""

from __future__ import annotations


def _num(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value != value:  # NaN
        return "-"
    if unit.startswith("ms") or isinstance(value, float) and abs(value) < 100:
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _cpu(s: dict) -> str:
    def one(found: dict | None, unit: str) -> str:
        return f"{found['total']:,.0f} {unit}" if found and "total" in found else "-"

    if s.get("cpu_ms"):
        return one(s["cpu_ms"], "ms") + (f" / {one(s['baseline'].get('cpu_ms'), 'ms')}" if s.get("baseline") else "")
    text = one(s.get("cpu_us"), "µs")
    if s.get("baseline") and s["baseline"].get("cpu_us"):
        text += f" / {one(s['baseline']['cpu_us'], 'µs')}"
    return text


def markdown(result: dict) -> str:
    m = result["machine"]
    counts = result["dataset"]["counts"]
    lines = [
        f"# Benchmark: scale `{result['scale']}`, {result['date']}",
        "",
        f"`{result['command']}` at commit {result['commit']}; {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
        f"load average {', '.join(str(x) for x in m['load_average_at_start'])} at the start (other work shares the "
        f"machine: single runs move by tens of percent). Load generator: {result['load_generator']}.",
        "",
        f"Dataset: {counts['gateway.station']:,} stations, {counts['cases.beneficiary']:,} beneficiaries, "
        f"{counts['cases.service_record']:,} service records, {counts['projects.attendance']:,} attendances, "
        f"{counts['cases.case']:,} cases, {counts['volunteers.volunteer']:,} volunteers, "
        f"{counts['volunteers.service_hours']:,} volunteer-hour records, {result['dataset']['from']} to "
        f"{result['dataset']['to']}; loaded in {result['dataset'].get('load_s', '?')} s.",
        "",
        "| # | scenario | result | baseline | ratio | p50 ms | p99 ms | errors | CPU per request | target | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result["scenarios"]:
        base = s.get("baseline")
        lines.append(" | ".join([
            f"| {s['id']}", s["name"], f"{_num(s['value'], s['unit'])} {s['unit']}",
            f"{_num(base['value'], s['unit'])} ({base['name']})" if base else "-",
            f"{s['ratio']:.2f}" if s.get("ratio") is not None else "-",
            _num(s.get("p50_ms"), "ms"), _num(s.get("p99_ms"), "ms"), str(s.get("errors", "-")), _cpu(s),
            s["target"]["text"], "yes" if s["target"]["met"] else "**no**"]) + " |")
    lines += ["", "CPU per request: the CPU time all of our processes and PostgreSQL spent in the measured run, "
              "divided by the requests (records for 5a/5b, answers for 3a/4); the baseline's after the slash. "
              "It moves much less with other work on the machine than requests per second do.", "", "Details:", ""]
    lines += [f"- {s['id']}: {s['detail']}" for s in result["scenarios"] if s.get("detail")]
    lines.append("")
    return "\n".join(lines)
