"""Peer "Airflow" of the scheduler suite: Apache Airflow 3 runs the two DAG shapes of
bench/peers/airflow/dags.py with its own scheduler, DAG processor and API server (which task
processes report to), the LocalExecutor with as many slots as Tributary's suite gives its
scheduler, and its own metadata database (SQLite in a fresh AIRFLOW_HOME). Each DAG is triggered
with `airflow dags trigger`; the figures come from the metadata database: a run's time from
being queued to its end, and per task the time from a dependency's end to the task's start,
the measure the Tributary side uses. A warm-up run of the chain comes first, as on that side.

    .tools/airflow-venv/bin/python bench/peers/airflow_bench.py --home DIR --slots 8 --out result.json
"""

import argparse
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime

DAGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "airflow")
BIN = os.path.dirname(sys.executable)


def log(line):
    print(f"[airflow] {line}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse(value):
    return datetime.fromisoformat(value.replace(" ", "T").replace("+00:00", "")) if value else None


def wait_for(condition, what, timeout, processes):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {process.returncode} while waiting for {what}")
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{what}: not within {timeout} s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    home = os.path.abspath(args.home)
    os.makedirs(home, exist_ok=True)
    database = os.path.join(home, "airflow.db")
    port = free_port()
    env = dict(
        os.environ,
        AIRFLOW_HOME=home,
        AIRFLOW__CORE__DAGS_FOLDER=DAGS,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM=str(args.slots),
        AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=str(args.slots),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{database}",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
        AIRFLOW__API__SECRET_KEY=secrets.token_hex(32),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
    )
    airflow = os.path.join(BIN, "airflow")
    started = time.monotonic()
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log(f"metadata database ready in {time.monotonic() - started:.1f} s")

    processes = {}
    for name, command in [("api-server", ["api-server", "--port", str(port)]), ("scheduler", ["scheduler"]), ("dag-processor", ["dag-processor"])]:
        with open(os.path.join(home, f"{name}.log"), "w") as out:
            processes[name] = subprocess.Popen([airflow, *command], env=env, stdout=out, stderr=subprocess.STDOUT)
    db = sqlite3.connect(database, timeout=30)
    query = lambda sql, *params: db.execute(sql, params).fetchall()
    try:
        wait_for(lambda: len(query("SELECT dag_id FROM dag WHERE dag_id IN ('chain', 'fan') AND NOT is_paused")) == 2, "both DAGs parsed", 300, processes)
        log(f"DAGs parsed, components up in {time.monotonic() - started:.1f} s")

        def run(dag_id, run_id):
            subprocess.run([airflow, "dags", "trigger", dag_id, "--run-id", run_id], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def finished():
                rows = query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
                return rows and rows[0][0] in ("success", "failed") and rows[0][0]

            state = wait_for(finished, f"{dag_id} run {run_id}", 1800, processes)
            if state != "success":
                raise RuntimeError(f"{dag_id} run {run_id}: {state}")
            queued, start, end = query("SELECT queued_at, start_date, end_date FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)[0]
            tasks = {
                task: (parse(s), parse(e))
                for task, s, e in query("SELECT task_id, start_date, end_date FROM task_instance WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
            }
            seconds = (parse(end) - parse(queued)).total_seconds()
            log(f"{dag_id} {run_id}: {seconds:.2f} s from queued to end")
            return seconds, tasks

        ms = lambda a, b: (b - a).total_seconds() * 1000
        run("chain", "warm-up")
        chain_seconds, chain = run("chain", "measured")
        gaps = sorted(ms(chain[f"t{i}"][1], chain[f"t{i + 1}"][0]) for i in range(9))
        fan_seconds, fan = run("fan", "measured")
        middle = [span for task, span in fan.items() if task.startswith("part_")]
        result = {
            "store": f"Airflow {subprocess.run([airflow, 'version'], env=env, capture_output=True, text=True).stdout.strip()}, LocalExecutor, SQLite metadata",
            "chainSeconds": chain_seconds,
            "chainGapMeanMs": sum(gaps) / len(gaps),
            "chainGapMedianMs": gaps[len(gaps) // 2],
            "chainGapMaxMs": gaps[-1],
            "fanSeconds": fan_seconds,
            "fanTasksPerSecond": len(fan) / fan_seconds,
            "fanRootToFirstMs": ms(fan["root"][1], min(s for s, _ in middle)),
            "fanLastToJoinMs": ms(max(e for _, e in middle), fan["join"][0]),
        }
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    finally:
        db.close()
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
