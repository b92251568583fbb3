"""The scheduler benchmark's two DAG shapes, as Tributary's scheduler suite runs them: 10
sequential no-op tasks (t0 → … → t9) and a 200-task fan-out (root → part_0 … part_197 → join).
Each task is a Python callable that does nothing, so what is measured is Airflow's own cost of
scheduling, starting and recording a task."""

from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

CHAIN_LENGTH = 10
FAN_WIDTH = 198


def noop():
    pass


def no_op_task(task_id):
    return PythonOperator(task_id=task_id, python_callable=noop, retries=0)


with DAG("chain", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_runs=1):
    previous = None
    for index in range(CHAIN_LENGTH):
        current = no_op_task(f"t{index}")
        if previous is not None:
            previous >> current
        previous = current

with DAG("fan", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_runs=1):
    root = no_op_task("root")
    join = no_op_task("join")
    for index in range(FAN_WIDTH):
        root >> no_op_task(f"part_{index}") >> join
