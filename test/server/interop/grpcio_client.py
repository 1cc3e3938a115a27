"""Python grpcio client (stubs from stock protoc + grpc_python_plugin) run by interop-python.test.ts.

Usage: grpcio_client.py <generated-dir> <target> <token>
Prints one JSON object with what each call saw; the test asserts on it.
"""
import json
import sys
import threading

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from mikcar.kv.v1 import kv_pb2, kv_pb2_grpc  # noqa: E402
from mikcar.queue.v1 import queue_pb2, queue_pb2_grpc  # noqa: E402

target, token = sys.argv[2], sys.argv[3]
md = [("authorization", f"Bearer {token}"), ("x-trace-id", "py-trace")]
out = {}
with grpc.insecure_channel(target) as ch:
    kv = kv_pb2_grpc.KvServiceStub(ch)
    kv.Set(kv_pb2.SetRequest(key="py", value=b"from-python"), metadata=md)
    resp, call = kv.Get.with_call(kv_pb2.GetRequest(key="py"), metadata=md)
    out["get"] = resp.value.decode()
    out["trace"] = dict(call.initial_metadata()).get("x-trace-id")
    try:
        kv.Get(kv_pb2.GetRequest(key="py-missing"), metadata=md)
    except grpc.RpcError as e:
        out["missing"] = {"code": e.code().name, "details": e.details()}
    try:
        kv.Get(kv_pb2.GetRequest(key="py"))
    except grpc.RpcError as e:
        out["anonymous"] = e.code().name
    big = b"xyz" * 20000
    kv.Set(kv_pb2.SetRequest(key="py-big", value=big), metadata=md, compression=grpc.Compression.Gzip)
    out["gzip"] = kv.Get(kv_pb2.GetRequest(key="py-big"), metadata=md, compression=grpc.Compression.Gzip).value == big
    q = queue_pb2_grpc.QueueServiceStub(ch)
    try:
        q.Pop(queue_pb2.PopRequest(queue="py-deadline", timeout_seconds=20), metadata=md, timeout=0.3)
    except grpc.RpcError as e:
        out["deadline"] = e.code().name
    stream = kv.Watch(kv_pb2.WatchRequest(prefix="py-watch/"), metadata=md)
    # The watch is in place only once the server has the call; keep writing until the first event shows.
    done = threading.Event()

    def writer():
        while not done.is_set():
            kv.Set(kv_pb2.SetRequest(key="py-watch/a", value=b"1"), metadata=md)
            done.wait(0.05)

    t = threading.Thread(target=writer)
    t.start()
    out["watch"] = next(stream).key
    done.set()
    t.join()
    stream.cancel()
print(json.dumps(out))
