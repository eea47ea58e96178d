"""Loopback Kubernetes API for rcert's push tests: kmock 0.8's KubernetesEmulator behind a
thin front that fixes the gaps that matter to a Secret-publishing client, plus a control
API for the tests.

    python kmock_launcher.py        # prints http://127.0.0.1:PORT on its first line

No real kube-apiserver (nor k3s, kind, envtest) installs from this machine's registries;
kmock is the most faithful emulator found there. Its gaps and what this front does:

  * /api and /api/v1 discovery report groupVersion "/v1"  -> rewritten to "v1" (kubectl).
  * /api/v1/namespaces[/NAME] answers 500                  -> namespaces are kept here:
    GET, list, POST, server-side apply; requests into a namespace that does not exist get
    404 "namespaces NS not found", as from a real API server.
  * error reasons "Object Not Found" / "Object Already Exists" -> NotFound / AlreadyExists,
    with kind Status and apiVersion v1.
  * server-side apply (PATCH application/apply-patch+yaml) on a missing object answers 404
    -> the object is created (POST to the collection) and 201 returned.
  * list responses lack kind / apiVersion                  -> added (e.g. SecretList, v1).
  * no resourceVersion is kept                              -> a counter per object here:
    shown on single-object reads, moved on by writes, and a merge patch that carries an
    older one answers 409 Conflict, as from a real API server.
  * apply merges instead of replacing: left as is; rcert always applies the same keys.
  * PUT is not routed: rcert does not use PUT.

Control API (not Kubernetes), for the tests:
  GET    /_rcert/requests  -> [{"method", "path", "content_type"}] of every API request so far
  POST   /_rcert/faults    <- {"method": "PATCH", "path": "tls-rancher-ingress", "status": 500,
                               "reason": "InternalError", "message": "...", "times": 1}
  DELETE /_rcert/faults    -> remove every fault
  POST   /_rcert/touches   <- {"method": "GET", "path": "daemonsets/cattle-node-agent", "times": 1}:
                               after answering a matching request, the object counts as
                               changed by someone else (its resourceVersion moves on)
  POST   /_rcert/delays    <- {"method": "PATCH", "path": "tls-rancher-ingress", "seconds": 3,
                               "times": 1}: the matching request is recorded at once and
                               answered after the delay (an interruption lands mid-request)
  POST   /_rcert/objects   <- {"resource": "v1/secrets", "objects": [{...}, ...]}: put objects
                               straight into the store (seeding thousands through the API
                               one request at a time takes minutes); their namespaces exist
  POST   /_rcert/resources <- {"resource": "cert-manager.io/v1/certificates", "kind": ...,
                               "singular": ..., "namespaced": true}: register a custom resource
"""

import asyncio
import json
import sys

import aiohttp.web
from aiohttp.test_utils import make_mocked_request

import kmock

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
REASONS = {"Object Not Found": "NotFound", "Object Already Exists": "AlreadyExists"}
HTTP_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                409: "Conflict", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
                503: "ServiceUnavailable", 504: "Timeout"}


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return aiohttp.web.json_response(body, status=code)


class Front:
    def __init__(self, emulator):
        self.emulator = emulator
        self.namespaces = {"default": self.namespace_object("default"),
                           "kube-system": self.namespace_object("kube-system")}
        self.requests = []
        self.faults = []
        self.versions = {}
        self.touches = []
        self.delays = []

    @staticmethod
    def namespace_object(name, labels=None):
        return {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}

    async def __call__(self, request):
        path = request.path
        if path.startswith("/_rcert/"):
            return await self.control(request)
        await request.read()
        self.requests.append({"method": request.method, "path": path,
                              "content_type": request.headers.get("Content-Type", "")})
        delay = self.matching(self.delays, request)
        if delay is not None:
            await asyncio.sleep(delay["seconds"])
        fault = self.matching_fault(request)
        if fault is not None:
            return status(fault["status"], fault.get("reason") or HTTP_REASONS.get(fault["status"], "Unknown"),
                          fault.get("message") or "injected by the test")
        parts = [p for p in path.split("/") if p]
        if parts[:3] == ["api", "v1", "namespaces"]:
            if len(parts) <= 4:
                return await self.namespace_request(request, parts)
            namespace = parts[3]
            if namespace not in self.namespaces:
                return status(404, "NotFound", f'namespaces "{namespace}" not found',
                              {"name": namespace, "kind": "namespaces"})
        conflict = await self.stale_merge_patch(request, parts)
        if conflict is not None:
            return conflict
        response = await self.emulator(request)
        if (request.method == "PATCH" and response.status == 404
                and request.headers.get("Content-Type", "").startswith(APPLY)):
            return await self.create_instead(request, parts)
        if request.method in ("PATCH", "PUT") and response.status in (200, 201):
            self.bump(path)
        answer = self.with_version(self.fixed(response, parts), request)
        self.apply_touches(request)
        return answer

    # resourceVersion, which kmock does not keep: a counter per object path, shown on
    # single-object reads and checked on merge patches that carry one (as the API server
    # does: 409 Conflict when the object changed since it was read).
    def version(self, path):
        return self.versions.get(path, "1")

    def bump(self, path):
        self.versions[path] = str(int(self.version(path)) + 1)

    async def stale_merge_patch(self, request, parts):
        if request.method != "PATCH" or not request.headers.get("Content-Type", "").startswith(MERGE):
            return None
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return None
        wanted = ((body or {}).get("metadata") or {}).get("resourceVersion")
        if wanted is None or wanted == self.version(request.path):
            return None
        kind, name = parts[-2], parts[-1]
        return status(409, "Conflict", f'Operation cannot be fulfilled on {kind} "{name}": the object has been '
                      "modified; please apply your changes to the latest version and try again",
                      {"name": name, "kind": kind})

    def apply_touches(self, request):
        for touch in self.touches:
            if touch.get("method", request.method) != request.method or touch["path"] not in request.path:
                continue
            if touch.get("times", 1) <= 0:
                continue
            touch["times"] = touch.get("times", 1) - 1
            self.bump(request.path)

    def with_version(self, response, request):
        if request.method != "GET" or response.status != 200:
            return response
        try:
            document = json.loads(response.body)
        except (ValueError, TypeError, AttributeError):
            return response
        if not isinstance(document, dict) or "items" in document or "metadata" not in document:
            return response
        document["metadata"]["resourceVersion"] = self.version(request.path)
        return aiohttp.web.json_response(document, status=200)

    def matching_fault(self, request):
        return self.matching(self.faults, request)

    @staticmethod
    def matching(rules, request):
        for fault in rules:
            if fault.get("method", request.method) != request.method:
                continue
            if fault.get("path", "") not in request.path:
                continue
            if fault.get("times") is not None:
                if fault["times"] <= 0:
                    continue
                fault["times"] -= 1
            return fault
        return None

    async def namespace_request(self, request, parts):
        if len(parts) == 3:
            if request.method == "GET":
                return aiohttp.web.json_response({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {},
                                                  "items": list(self.namespaces.values())})
            if request.method == "POST":
                body = json.loads(await request.read() or b"{}")
                name = body.get("metadata", {}).get("name", "")
                if name in self.namespaces:
                    return status(409, "AlreadyExists", f'namespaces "{name}" already exists',
                                  {"name": name, "kind": "namespaces"})
                self.namespaces[name] = self.namespace_object(name, body.get("metadata", {}).get("labels"))
                return aiohttp.web.json_response(self.namespaces[name], status=201)
            return status(405, "MethodNotAllowed", "method not allowed")
        name = parts[3]
        if request.method == "GET":
            if name not in self.namespaces:
                return status(404, "NotFound", f'namespaces "{name}" not found', {"name": name, "kind": "namespaces"})
            return aiohttp.web.json_response(self.namespaces[name])
        if request.method == "PATCH":
            created = name not in self.namespaces
            if created:
                self.namespaces[name] = self.namespace_object(name)
            return aiohttp.web.json_response(self.namespaces[name], status=201 if created else 200)
        return status(405, "MethodNotAllowed", "method not allowed")

    async def create_instead(self, request, parts):
        body = await request.read()
        collection = "/" + "/".join(parts[:-1])
        mocked = make_mocked_request("POST", collection, headers={"Content-Type": "application/json"})
        mocked._read_bytes = body
        response = await self.emulator(mocked)
        if response.status in (200, 201):
            return aiohttp.web.Response(body=response.body, status=201, content_type="application/json")
        return self.fixed(response, parts)

    def fixed(self, response, parts):
        body = getattr(response, "body", None)
        if not isinstance(body, (bytes, bytearray)):
            return response
        try:
            document = json.loads(body)
        except ValueError:
            return response
        changed = False
        if isinstance(document, dict):
            if document.get("groupVersion") == "/v1":
                document["groupVersion"] = "v1"
                changed = True
            if document.get("versions") == ["/v1"]:
                document["versions"] = ["v1"]
                changed = True
            if document.get("reason") in REASONS:
                reason = REASONS[document["reason"]]
                kind, name = parts[-2] if len(parts) > 1 else "", parts[-1] if parts else ""
                words = "not found" if reason == "NotFound" else "already exists"
                document.update({"kind": "Status", "apiVersion": "v1", "reason": reason,
                                 "message": f'{kind} "{name}" {words}',
                                 "details": {"name": name, "kind": kind}})
                changed = True
            if "items" in document and "kind" not in document and parts:
                plural = parts[-1]
                document["kind"] = plural[:-1].capitalize() + "List" if plural.endswith("s") else plural + "List"
                document["apiVersion"] = "v1" if parts[0] == "api" else "/".join(parts[1:3])
                changed = True
        if not changed:
            return response
        return aiohttp.web.json_response(document, status=response.status)

    async def control(self, request):
        if request.path == "/_rcert/requests":
            return aiohttp.web.json_response(self.requests)
        if request.path == "/_rcert/faults" and request.method == "POST":
            self.faults.append(await request.json())
            return aiohttp.web.json_response({"faults": len(self.faults)})
        if request.path == "/_rcert/objects" and request.method == "POST":
            body = await request.json()
            for obj in body["objects"]:
                meta = obj["metadata"]
                namespace = meta.get("namespace")
                if namespace and namespace not in self.namespaces:
                    self.namespaces[namespace] = self.namespace_object(namespace)
                self.emulator.objects[body["resource"], namespace, meta["name"]] = obj
            return aiohttp.web.json_response({"objects": len(body["objects"])})
        if request.path == "/_rcert/resources" and request.method == "POST":
            body = await request.json()
            self.emulator.resources[body["resource"]] = {
                "namespaced": body.get("namespaced", True), "kind": body["kind"],
                "singular": body["singular"], "verbs": ["get", "list", "watch", "create",
                "update", "patch", "delete"], "shortnames": [], "categories": [],
                "subresources": ["status"]}
            return aiohttp.web.json_response({"registered": body["resource"]})
        if request.path == "/_rcert/delays" and request.method == "POST":
            self.delays.append(await request.json())
            return aiohttp.web.json_response({"delays": len(self.delays)})
        if request.path == "/_rcert/touches" and request.method == "POST":
            self.touches.append(await request.json())
            return aiohttp.web.json_response({"touches": len(self.touches)})
        if request.path == "/_rcert/faults" and request.method == "DELETE":
            self.faults.clear()
            return aiohttp.web.json_response({"faults": 0})
        return aiohttp.web.json_response({"error": "unknown control path"}, status=404)


async def main():
    emulator = kmock.KubernetesEmulator()
    emulator.resources.load_bundled()
    # Inside its context, kmock renders its errors (404, 409, …) as responses instead of
    # raising them; on exit it re-raises what it rendered, which is of no interest here.
    try:
        async with emulator:
            await serve(emulator)
    except BaseException:  # noqa: BLE001 - the accumulated, already-answered errors
        pass


async def serve(emulator):
    front = Front(emulator)
    server = aiohttp.web.Server(front)
    runner = aiohttp.web.ServerRunner(server)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    # Stop when the test that started us goes away (stdin closes).
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
