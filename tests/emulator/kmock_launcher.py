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
  * lists ignore limit, continue and fieldSelector, and carry resourceVersion "..."
                                                            -> lists are paged here (limit /
    continue, remainingItemCount), filtered by fieldSelector (type, metadata.name,
    metadata.namespace; = and !=; 400 for another field) and carry the store's
    resourceVersion; a continue token older than a compaction answers 410 Expired.
  * watch replays every object as ADDED and ignores resourceVersion -> watches are served
    here from an event log of every write: from the resourceVersion asked for, filtered as
    lists are, with BOOKMARK events when asked (allowWatchBookmarks), ended after
    timeoutSeconds; a resourceVersion older than a compaction gets an ERROR event 410
    Expired, as from a real API server.
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
  POST   /_rcert/compact      the event log is dropped (etcd compaction): a watch that resumes
                               from an older resourceVersion gets 410 Gone; open watches end
  POST   /_rcert/close-watches  open watches end (as when the API server restarts)

Run by hand (e.g. to try `rcert expiry --serve`): `python kmock_launcher.py < /dev/tty`
keeps it up until Ctrl-D; write a kubeconfig whose cluster `server:` is the printed URL
(no credentials needed), or `kubectl config set-cluster emu --server=URL`.
"""

import asyncio
import base64
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


def collection(parts):
    """(group/version prefix, plural, namespace, name) of a resource path, else None."""
    if parts[:2] == ["api", "v1"]:
        gv, rest = "api/v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        gv, rest = "apis/" + parts[1] + "/" + parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] == "namespaces":
        return None
    return gv, rest[0], namespace, rest[1] if len(rest) > 1 else None


def collection_parts(where):
    gv, plural, namespace, _ = where
    parts = gv.split("/")
    if namespace is not None:
        parts += ["namespaces", namespace]
    return parts + [plural]


def object_path(gv, plural, namespace, name):
    if namespace:
        return f"/{gv}/namespaces/{namespace}/{plural}/{name}"
    return f"/{gv}/{plural}/{name}"


def resource_path(resource):
    """kmock's resource key ("v1/secrets", "cert-manager.io/v1/certificates") as (gv, plural)."""
    parts = resource.split("/")
    if len(parts) == 2:
        return "api/" + parts[0], parts[1]
    return "apis/" + parts[0] + "/" + parts[1], parts[2]


# Fields the API server selects on: every object's metadata.name/namespace, a Secret's
# type, an Event's reason, type, source and involvedObject.*.
SELECTABLE_FIELDS = ("metadata.name", "metadata.namespace", "type", "reason", "source",
                     "reportingComponent")


def field_matcher(selector):
    """A predicate for a fieldSelector (type, metadata.name, metadata.namespace; = == !=),
    or None for a field the API server does not support."""
    tests = []
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            field, value = term.split("!=", 1)
            negate = True
        elif "=" in term:
            field, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            negate = False
        else:
            return None
        if field not in SELECTABLE_FIELDS and not field.startswith("involvedObject."):
            return None
        tests.append((field.split("."), value, negate))

    def matches(obj):
        for path, value, negate in tests:
            found = obj
            for key in path:
                found = found.get(key) if isinstance(found, dict) else None
            if (found == value) == negate:
                return False
        return True
    return matches


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
        self.rv = 1
        self.events = []          # [(rv, type, gv, plural, namespace, object)]
        self.compacted = 0        # resourceVersions up to this one are gone
        self.changed = asyncio.Condition()
        self.open_watches = set()  # asyncio.Event per open watch: set to end it

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
        self.requests.append({"method": request.method, "path": path, "query": request.query_string,
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
            # Listing or watching in a namespace that does not exist is an empty answer.
            listing = request.method == "GET" and len(parts) == 5
            if namespace not in self.namespaces and not listing:
                return status(404, "NotFound", f'namespaces "{namespace}" not found',
                              {"name": namespace, "kind": "namespaces"})
        conflict = await self.stale_merge_patch(request, parts)
        if conflict is not None:
            return conflict
        where = collection(parts)
        if request.method == "GET" and where is not None and where[3] is None:
            if request.query.get("watch") in ("true", "1"):
                return await self.watch(request, where)
            return await self.listed(request, parts, where)
        response = await self.emulator(request)
        if (request.method == "PATCH" and response.status == 404
                and request.headers.get("Content-Type", "").startswith(APPLY)):
            answer = await self.create_instead(request, parts)
            await self.record("ADDED", where, answer)
            return answer
        if request.method in ("PATCH", "PUT") and response.status in (200, 201):
            self.bump(path)
            await self.record("MODIFIED", where, response)
        if request.method == "POST" and response.status in (200, 201):
            await self.record("ADDED", where, response)
        if request.method == "DELETE" and response.status == 200 and where is not None and where[3]:
            await self.record("DELETED", where, response)
        answer = self.with_version(self.fixed(response, parts), request)
        self.apply_touches(request)
        return answer

    # Lists and watches as a real API server serves them (kmock ignores paging, field
    # selectors and resourceVersions): lists from kmock's store, filtered, sorted and
    # paged here; watches from the log of writes this front records.
    async def record(self, kind, where, response):
        if where is None:
            return
        try:
            document = json.loads(response.body)
        except (ValueError, TypeError, AttributeError):
            return
        if not isinstance(document, dict) or "metadata" not in document:
            return
        if where[2] and not document["metadata"].get("namespace"):
            document["metadata"]["namespace"] = where[2]
        await self.log_event(kind, where[0], where[1], document)

    async def log_event(self, kind, gv, plural, document):
        meta = document.setdefault("metadata", {})
        path = object_path(gv, plural, meta.get("namespace"), meta.get("name"))
        if kind == "MODIFIED" and path in self.versions:
            rv = int(self.versions[path])
        else:
            rv = self.bump(path)
        meta["resourceVersion"] = str(rv)
        self.events.append((rv, kind, gv, plural, meta.get("namespace"), document))
        async with self.changed:
            self.changed.notify_all()

    async def listed(self, request, parts, where):
        gv, plural, namespace, _ = where
        selector = request.query.get("fieldSelector", "")
        matches = field_matcher(selector)
        if matches is None:
            return status(400, "BadRequest", f'field label not supported: "{selector}"')
        token = request.query.get("continue")
        start = 0
        if token:
            try:
                position = json.loads(base64.b64decode(token))
                start, token_rv = int(position["start"]), int(position["rv"])
            except (ValueError, KeyError, TypeError):
                return status(400, "BadRequest", "continue key is not valid")
            if token_rv <= self.compacted:
                return status(410, "Expired", "The provided continue parameter is too old to display a "
                              "consistent list result. You can start a new list without the continue parameter.")
        # kmock answers the plain list (a watch=true query would make it stream).
        plain = make_mocked_request("GET", "/" + "/".join(parts))
        response = self.fixed(await self.emulator(plain), parts)
        if response.status != 200:
            return response
        document = json.loads(response.body)
        items = [item for item in document.get("items", []) if matches(item)]
        items.sort(key=lambda item: (item.get("metadata", {}).get("namespace") or "",
                                     item.get("metadata", {}).get("name") or ""))
        for item in items:
            meta = item.setdefault("metadata", {})
            meta["resourceVersion"] = self.version(object_path(gv, plural, meta.get("namespace"), meta.get("name")))
        limit = int(request.query.get("limit") or 0)
        page = items[start:start + limit] if limit > 0 else items[start:]
        metadata = {"resourceVersion": str(self.rv)}
        rest = len(items) - start - len(page)
        if limit > 0 and rest > 0:
            next_token = json.dumps({"start": start + len(page), "rv": self.rv}).encode()
            metadata["continue"] = base64.b64encode(next_token).decode()
            metadata["remainingItemCount"] = rest
        document["items"] = page
        document["metadata"] = metadata
        return aiohttp.web.json_response(document)

    async def watch(self, request, where):
        gv, plural, namespace, _ = where
        matches = field_matcher(request.query.get("fieldSelector", ""))
        if matches is None:
            return status(400, "BadRequest", "field label not supported")
        wanted = request.query.get("resourceVersion") or "0"
        try:
            since = int(wanted)
        except ValueError:
            return status(400, "BadRequest", f"invalid resource version: {wanted}")
        timeout = float(request.query.get("timeoutSeconds") or 1800)
        bookmarks = request.query.get("allowWatchBookmarks") == "true"
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)

        async def send(event):
            await response.write(json.dumps(event).encode() + b"\n")

        if since != 0 and since < self.compacted:
            await send({"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": f"too old resource version: {since} ({self.compacted})",
                "reason": "Expired", "code": 410}})
            return response
        closed = asyncio.Event()
        self.open_watches.add(closed)
        kind = plural[:-1].capitalize() if plural.endswith("s") else plural
        deadline = asyncio.get_running_loop().time() + timeout
        position = 0
        try:
            if since == 0:
                listed = json.loads((await self.listed(request, collection_parts(where), where)).body)
                for item in listed.get("items", []):
                    await send({"type": "ADDED", "object": item})
                since = self.rv
            while not closed.is_set():
                while position < len(self.events):
                    rv, kind_of_change, event_gv, event_plural, event_ns, obj = self.events[position]
                    position += 1
                    if rv <= since or event_gv != gv or event_plural != plural:
                        continue
                    if namespace is not None and event_ns != namespace:
                        continue
                    if matches(obj):
                        await send({"type": kind_of_change, "object": obj})
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    async with self.changed:
                        await asyncio.wait_for(self.changed.wait(), timeout=min(left, 1.0))
                except asyncio.TimeoutError:
                    if bookmarks and not closed.is_set():
                        await send({"type": "BOOKMARK", "object": {
                            "kind": kind, "apiVersion": gv.removeprefix("api/").removeprefix("apis/"),
                            "metadata": {"resourceVersion": str(self.rv)}}})
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.open_watches.discard(closed)
        return response

    # resourceVersion, which kmock does not keep: a counter per object path, shown on
    # single-object reads and checked on merge patches that carry one (as the API server
    # does: 409 Conflict when the object changed since it was read).
    def version(self, path):
        return self.versions.get(path, "1")

    def bump(self, path):
        self.rv += 1
        self.versions[path] = str(self.rv)
        return self.rv

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

    async def close_watches(self):
        count = len(self.open_watches)
        for closed in list(self.open_watches):
            closed.set()
        async with self.changed:
            self.changed.notify_all()
        return count

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
                gv, plural = resource_path(body["resource"])
                await self.log_event("ADDED", gv, plural, obj)
            return aiohttp.web.json_response({"objects": len(body["objects"])})
        if request.path == "/_rcert/compact" and request.method == "POST":
            # Everything up to now is compacted away: a watch that resumes from any
            # resourceVersion seen so far (bookmarks included) gets 410.
            self.rv += 1
            self.compacted = self.rv
            self.events.clear()
            await self.close_watches()
            return aiohttp.web.json_response({"compacted": self.compacted})
        if request.path == "/_rcert/close-watches" and request.method == "POST":
            return aiohttp.web.json_response({"closed": await self.close_watches()})
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
