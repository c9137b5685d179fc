"""The refresh loop of the pymilvus documentation, as a user would run it against Milvus.

    python doc_example.py --uri http://127.0.0.1:19530 --collection products [--token root:Milvus]

Starts a refresh of an external collection, polls its progress printing "state: progress%" until the job
ends, then lists the collection's jobs. Exits 0 when the job completed, 1 when it failed.
"""
import argparse
import sys
import time

from pymilvus import MilvusClient


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()

    client = MilvusClient(uri=args.uri, token=args.token)

    job_id = client.refresh_external_collection(collection_name=args.collection)
    print(f"Refresh job started: {job_id}")

    while True:
        progress = client.get_refresh_external_collection_progress(job_id=job_id)
        print(f"{progress.state}: {progress.progress}%")
        if progress.state == "RefreshCompleted":
            break
        if progress.state == "RefreshFailed":
            print(f"Refresh failed: {progress.reason}")
            break
        time.sleep(args.interval)

    jobs = client.list_refresh_external_collection_jobs(collection_name=args.collection)
    for job in jobs:
        print(f"Job {job.job_id}: {job.state} ({job.progress}%)")
    client.close()
    return 0 if progress.state == "RefreshCompleted" else 1


if __name__ == "__main__":
    sys.exit(main())
