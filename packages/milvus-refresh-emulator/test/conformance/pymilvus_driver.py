"""A JSON-lines driver that lets the conformance tests run pymilvus calls one by one.

Reads one JSON command per line on stdin, writes one JSON answer per line on stdout:
  {"op": "connect", "uri": ..., "token": ..., "db_name": ..., "server_pem_path": ..., "server_name": ...}
  {"op": "refresh", "collection_name": ..., "external_source": ..., "external_spec": ..., "db_name": ...}
  {"op": "progress", "job_id": "<decimal string>"}
  {"op": "list", "collection_name": ..., "db_name": ...}
  {"op": "create_external", "collection_name": ..., "external_source": ..., "external_spec": ...}
  {"op": "describe", "collection_name": ...}
  {"op": "version"}
Answers are {"ok": true, "result": ...} or {"ok": false, "code": ..., "message": ..., "kind": ...}.
int64 values (job ids, times) are returned as decimal strings so nothing is lost in JSON.
"""
import json
import sys

from pymilvus import DataType, MilvusClient, MilvusException

client = None


def job(info):
    return {
        "job_id": str(info.job_id),
        "job_id_type": type(info.job_id).__name__,
        "collection_name": info.collection_name,
        "state": info.state,
        "progress": info.progress,
        "reason": info.reason,
        "external_source": info.external_source,
        "external_spec": getattr(info, "external_spec", None),
        "start_time": str(info.start_time),
        "end_time": str(info.end_time),
    }


def handle(cmd):
    global client
    op = cmd["op"]
    if op == "connect":
        kwargs = {k: v for k, v in cmd.items() if k in ("token", "db_name", "server_pem_path", "server_name") and v}
        client = MilvusClient(uri=cmd["uri"], **kwargs)
        return None
    if op == "version":
        return client.get_server_version()
    if op == "refresh":
        kwargs = {"db_name": cmd["db_name"]} if cmd.get("db_name") else {}
        job_id = client.refresh_external_collection(
            collection_name=cmd["collection_name"],
            external_source=cmd.get("external_source", ""),
            external_spec=cmd.get("external_spec", ""),
            **kwargs,
        )
        return {"job_id": str(job_id), "job_id_type": type(job_id).__name__}
    if op == "progress":
        return job(client.get_refresh_external_collection_progress(job_id=int(cmd["job_id"])))
    if op == "list":
        kwargs = {"db_name": cmd["db_name"]} if cmd.get("db_name") else {}
        return [job(j) for j in client.list_refresh_external_collection_jobs(collection_name=cmd.get("collection_name", ""), **kwargs)]
    if op == "create_external":
        schema = MilvusClient.create_schema(
            external_source=cmd.get("external_source", ""), external_spec=cmd.get("external_spec", "")
        )
        schema.add_field("id", DataType.INT64, external_field="id")
        schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=4, external_field="embedding")
        client.create_collection(collection_name=cmd["collection_name"], schema=schema)
        return None
    if op == "describe":
        d = client.describe_collection(collection_name=cmd["collection_name"])
        return json.loads(json.dumps(d, default=str))
    raise ValueError(f"unknown op {op}")


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            answer = {"ok": True, "result": handle(cmd)}
        except MilvusException as e:
            answer = {"ok": False, "kind": "MilvusException", "code": e.code, "message": e.message}
        except Exception as e:  # noqa: BLE001 - reported to the test, which decides
            answer = {"ok": False, "kind": type(e).__name__, "code": None, "message": str(e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
