"""Compileo's documented Python client functions, copied from seeds/compileo-jobs-api.txt unchanged
except for the base URL (http://localhost:8000 -> BASE_URL, set by the tests)."""

# ruff: noqa
# mypy: ignore-errors

import json
import time

import requests

BASE_URL = "http://localhost:8000"


def monitor_job_completion(job_id, max_attempts=60, poll_interval=5):
    """Monitor job until completion with exponential backoff."""
    attempt = 0

    while attempt < max_attempts:
        try:
            response = requests.get(f"{BASE_URL}/api/v1/jobs/status/{job_id}")
            response.raise_for_status()

            job_status = response.json()

            print(
                f"Job {job_id}: {job_status['status']} - {job_status['progress']:.1f}% - {job_status['current_step']}"
            )

            if job_status["status"] in ["completed", "failed", "cancelled"]:
                return job_status

            # Exponential backoff with jitter
            sleep_time = min(poll_interval * (2**attempt), 30)  # Max 30 seconds
            time.sleep(sleep_time)
            attempt += 1

        except requests.exceptions.RequestException as e:
            print(f"Error polling job status: {e}")
            time.sleep(poll_interval)
            attempt += 1

    raise TimeoutError(f"Job {job_id} did not complete within {max_attempts * poll_interval} seconds")


def wait_for_job_change(job_id, current_status=None, timeout=30):
    """Wait for job status change using long polling."""
    params = {"timeout": timeout}
    if current_status:
        params["current_status"] = current_status

    response = requests.get(f"{BASE_URL}/api/v1/jobs/status/{job_id}/poll", params=params)
    response.raise_for_status()

    return response.json()


def stream_job_updates(job_id):
    """Stream real-time job updates using server-sent events."""
    response = requests.get(f"{BASE_URL}/api/v1/jobs/status/{job_id}/stream", stream=True)

    for line in response.iter_lines():
        if line.startswith(b"data: "):
            data = line[6:].decode("utf-8")  # Remove 'data: ' prefix
            try:
                update = json.loads(data)
                print(f"Job Update: {update}")

                # Handle different update types
                if "error" in update:
                    print(f"Error: {update['error']}")
                    break
                elif update.get("status") in ["completed", "failed", "cancelled"]:
                    print("Job finished")
                    break

            except json.JSONDecodeError:
                continue


def monitor_job_with_recovery(job_id):
    """Monitor job with automatic error recovery."""
    try:
        # First, try to get initial status
        status_response = requests.get(f"{BASE_URL}/api/v1/jobs/status/{job_id}")
        status_response.raise_for_status()
        job_status = status_response.json()

        # If job failed, try to restart
        if job_status["status"] == "failed":
            print(f"Job {job_id} failed: {job_status.get('error', 'Unknown error')}")
            restart_response = requests.post(f"{BASE_URL}/api/v1/jobs/restart/{job_id}")
            if restart_response.status_code == 200:
                print("Job restarted successfully")
                return monitor_job_completion(job_id)
            else:
                print("Failed to restart job")

        # If job is cancelled, ask user if they want to restart
        elif job_status["status"] == "cancelled":
            user_input = input(f"Job {job_id} was cancelled. Restart? (y/n): ")
            if user_input.lower() == "y":
                restart_response = requests.post(f"{BASE_URL}/api/v1/jobs/restart/{job_id}")
                if restart_response.status_code == 200:
                    return monitor_job_completion(job_id)

        # For running or pending jobs, monitor normally
        elif job_status["status"] in ["running", "pending"]:
            return monitor_job_completion(job_id)

        # For completed jobs, return status
        elif job_status["status"] == "completed":
            return job_status

    except requests.exceptions.HTTPError as e:
        if e.response.status_code == 404:
            print(f"Job {job_id} not found")
        else:
            print(f"HTTP error: {e}")
    except requests.exceptions.ConnectionError:
        print("Connection error - check if API server is running")
    except Exception as e:
        print(f"Unexpected error: {e}")

    return None


def check_queue_health():
    """Check overall queue health and performance."""
    try:
        response = requests.get(f"{BASE_URL}/api/v1/jobs/queue/stats")
        response.raise_for_status()
        stats = response.json()

        # Check for concerning metrics
        alerts = []

        if stats["failed_jobs"] > stats["total_jobs"] * 0.1:  # >10% failure rate
            alerts.append(f"High failure rate: {stats['failed_jobs']}/{stats['total_jobs']} jobs failed")

        if stats["cpu_usage_percent"] > 90:
            alerts.append(f"High CPU usage: {stats['cpu_usage_percent']}%")

        if stats["memory_usage_mb"] > 1000:  # >1GB
            alerts.append(f"High memory usage: {stats['memory_usage_mb']}MB")

        if stats["pending_jobs"] > 10:
            alerts.append(f"Large pending queue: {stats['pending_jobs']} jobs waiting")

        if not alerts:
            print("Queue health: GOOD")
            print(f"Active jobs: {stats['running_jobs']}")
            print(f"Workers: {stats.get('active_workers', 'unknown')}")
        else:
            print("Queue health: WARNING")
            for alert in alerts:
                print(f"  - {alert}")

        return stats

    except Exception as e:
        print(f"Failed to check queue health: {e}")
        return None
