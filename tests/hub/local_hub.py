"""A small Hub-compatible HTTP server on 127.0.0.1 for tests: the part of the Hugging Face Hub API that
huggingface_hub's create_repo, create_branch, upload_folder/create_commit, model_info/space_info, list_repo_files,
hf_hub_download/snapshot_download and Space variables use, with token checks.

Repositories live in memory as git-like histories: every commit is a full snapshot of the files, a branch names a
commit, and a commit is applied all at once or not at all. Every file is stored as a regular git blob (the preupload
answer is "regular", so clients send file bytes inline in the commit instead of through LFS or Xet).

    with LocalHub(tokens={"hf_write": ("alice", "write")}) as hub:
        os.environ["HF_ENDPOINT"] = hub.endpoint  # in a fresh process: huggingface_hub reads it at import
"""

import base64
import hashlib
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
# Front-matter values the Hub accepts (a subset of its lists, enough for hfnets cards and Spaces).
LICENSES = {"apache-2.0", "mit", "bsd-3-clause", "cc-by-4.0", "cc-by-sa-4.0", "openrail", "other", "unknown"}
PIPELINE_TAGS = {
    "image-classification",
    "unconditional-image-generation",
    "text-to-image",
    "text-generation",
    "image-to-image",
}
SPACE_SDKS = {"gradio", "streamlit", "docker", "static"}


@dataclass
class Commit:
    sha: str
    parent: str | None
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    sdk: str | None = None
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        sha = self.branches.get(revision, revision)
        return self.commits.get(sha)


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra or {}


def git_blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class LocalHub:
    """The server. `tokens` maps a token to (user name, "read" | "write"); `fail_next_commits` makes the next N
    commit requests fail after their body was received, as a dropped upload would."""

    def __init__(self, tokens: dict[str, tuple[str, str]] | None = None):
        self.tokens = dict(tokens or {})
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_next_commits = 0
        self._lock = threading.Lock()
        self._counter = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "LocalHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- inspection, for tests --------------------------------------------------------------------------------
    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def head(self, repo_id: str, repo_type: str = "model", branch: str = "main") -> Commit:
        repo = self.repo(repo_id, repo_type)
        return repo.commits[repo.branches[branch]]

    # -- state changes ----------------------------------------------------------------------------------------
    def _new_commit(self, repo: Repo, parent: Commit | None, files: dict[str, bytes], message: str) -> Commit:
        self._counter += 1
        digest = hashlib.sha1(f"{repo.repo_id}:{self._counter}:{message}".encode())
        for path in sorted(files):
            digest.update(path.encode() + git_blob_sha(files[path]).encode())
        commit = Commit(digest.hexdigest(), parent.sha if parent else None, message, files)
        repo.commits[commit.sha] = commit
        return commit

    def user_for(self, authorization: str | None) -> tuple[str, str] | None:
        if not authorization:
            return None
        token = authorization.removeprefix("Bearer ").strip()
        if token not in self.tokens:
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def readable(self, repo: Repo, user: tuple[str, str] | None) -> None:
        if repo.private and (user is None or repo.repo_id.split("/")[0] != user[0]):
            raise HubError(404, "Repository not found", "RepoNotFound")

    def writable(self, repo: Repo, user: tuple[str, str] | None) -> None:
        self.readable(repo, user)
        if user is None:
            raise HubError(401, "You must be authenticated to write to a repository", "RepoNotFound")
        if repo.repo_id.split("/")[0] != user[0] or user[1] != "write":
            raise HubError(403, f"You don't have the rights to write to {repo.repo_id}")

    def find(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def create_repo(self, body: dict, user: tuple[str, str] | None) -> dict:
        if user is None:
            raise HubError(401, "You must be authenticated to create a repository")
        if user[1] != "write":
            raise HubError(403, "This token cannot create repositories: it is read-only")
        namespace = body.get("organization") or user[0]
        if namespace != user[0]:
            raise HubError(403, f"You don't have the rights to create a repository under the namespace {namespace!r}")
        repo_type = body.get("type") or "model"
        repo_id = f"{namespace}/{body['name']}"
        if not re.fullmatch(r"[\w.-]{1,96}", body["name"]):
            raise HubError(400, f"Invalid repository name {body['name']!r}")
        if repo_type == "space" and body.get("sdk") not in SPACE_SDKS:
            raise HubError(400, f"A Space needs an sdk among {sorted(SPACE_SDKS)}")
        prefix = "" if repo_type == "model" else f"/{repo_type}s"
        url = f"{self.endpoint}{prefix}/{repo_id}"
        with self._lock:
            if (repo_type, repo_id) in self.repos:
                raise HubError(409, "You already created this repository", extra={"url": url})
            private = bool(body.get("private")) or body.get("visibility") in ("private", "protected")
            repo = Repo(repo_type, repo_id, private, body.get("sdk"))
            initial = self._new_commit(repo, None, {".gitattributes": b"*.safetensors filter=lfs\n"}, "initial commit")
            repo.branches["main"] = initial.sha
            self.repos[(repo_type, repo_id)] = repo
        return {"url": url, "name": repo_id}

    def commit(self, repo: Repo, revision: str, lines: list[dict], user: tuple[str, str] | None) -> dict:
        self.writable(repo, user)
        header = lines[0]["value"] if lines and lines[0].get("key") == "header" else None
        if header is None or not header.get("summary"):
            raise HubError(400, "A commit starts with a header line that holds a summary")
        with self._lock:
            if self.fail_next_commits > 0:
                self.fail_next_commits -= 1
                raise HubError(500, "Internal error while storing the commit (injected)")
            if revision not in repo.branches:
                raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            parent = repo.commits[repo.branches[revision]]
            if header.get("parentCommit") not in (None, parent.sha):
                raise HubError(412, "The branch moved since parentCommit: fetch it again and retry")
            files = dict(parent.files)
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value", {})
                if key == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "deletedFile":
                    if value["path"] not in files:
                        raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                    del files[value["path"]]
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {path: data for path, data in files.items() if not path.startswith(prefix)}
                else:
                    raise HubError(400, f"This Hub stores regular files only; cannot apply a {key!r} line")
            commit = self._new_commit(repo, parent, files, header["summary"])
            repo.branches[revision] = commit.sha
        prefix = "" if repo.repo_type == "model" else f"/{repo.repo_type}s"
        return {"commitUrl": f"{self.endpoint}{prefix}/{repo.repo_id}/commit/{commit.sha}", "commitOid": commit.sha}


def validate_yaml(content: str, repo_type: str) -> list[dict]:
    """The Hub's check of a README's front matter: errors as [{"message": ...}]."""
    match = re.match(r"^---\n(.*?)\n---\n", content, flags=re.DOTALL)
    if match is None:
        return []
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        return [{"message": f"invalid YAML: {error}"}]
    errors = []
    if not isinstance(meta, dict):
        return [{"message": "the front matter must be a mapping"}]
    if "license" in meta and meta["license"] not in LICENSES:
        errors.append({"message": f'"license" must be one of the Hub licenses, not {meta["license"]!r}'})
    if repo_type == "model" and "pipeline_tag" in meta and meta["pipeline_tag"] not in PIPELINE_TAGS:
        errors.append({"message": f'"pipeline_tag" {meta["pipeline_tag"]!r} is not a known task'})
    for key in ("tags", "datasets", "models"):
        if key in meta and not (isinstance(meta[key], list) and all(isinstance(v, str) for v in meta[key])):
            errors.append({"message": f'"{key}" must be a list of strings'})
    if repo_type == "space" and meta.get("sdk") not in SPACE_SDKS:
        errors.append({"message": f'"sdk" must be one of {sorted(SPACE_SDKS)}'})
    for entry in meta.get("model-index", []) or []:
        for result in entry.get("results", []):
            if not all(key in result for key in ("task", "dataset", "metrics")):
                errors.append({"message": "each model-index result needs task, dataset and metrics"})
            for metric in result.get("metrics", []):
                if not isinstance(metric.get("value"), (int, float)) or "type" not in metric:
                    errors.append({"message": f"a model-index metric needs a type and a numeric value: {metric}"})
    return errors


def _handler_for(hub: LocalHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, body: bytes = b"", headers: dict | None = None, content_type="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, payload, status: int = 200) -> None:
            self._send(status, json.dumps(payload).encode())

        def _dispatch(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            hub.requests.append((self.command, url.path))
            body = self._body() if self.command in ("POST", "PUT") else b""
            try:
                user = hub.user_for(self.headers.get("Authorization"))
                self._route(url, body, user)
            except HubError as error:
                headers = {"X-Error-Message": error.message}
                if error.code:
                    headers["X-Error-Code"] = error.code
                body = json.dumps({"error": error.message, **error.extra}).encode()
                self._send(error.status, body, headers)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

        def _route(self, url, body: bytes, user) -> None:
            parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
            query = urllib.parse.parse_qs(url.query)
            if parts[:2] == ["api", "whoami-v2"]:
                if user is None:
                    raise HubError(401, "You must be authenticated")
                return self._json({"type": "user", "name": user[0], "auth": {"accessToken": {"role": user[1]}}})
            if parts[:3] == ["api", "repos", "create"] and self.command == "POST":
                return self._json(hub.create_repo(json.loads(body), user))
            if parts[:2] == ["api", "validate-yaml"]:
                request = json.loads(body)
                errors = validate_yaml(request["content"], request.get("repoType", "model"))
                return self._json({"errors": errors, "warnings": []}, 400 if errors else 200)
            if parts[0] == "api" and len(parts) >= 4 and parts[1] in REPO_TYPES:
                repo = hub.find(REPO_TYPES[parts[1]], f"{parts[2]}/{parts[3]}")
                return self._api(repo, parts[4:], query, body, user)
            repo_type = "model"
            if parts[0] in ("datasets", "spaces"):
                repo_type, parts = REPO_TYPES[parts[0]], parts[1:]
            if len(parts) >= 5 and parts[2] == "resolve" and self.command in ("GET", "HEAD"):
                repo = hub.find(repo_type, f"{parts[0]}/{parts[1]}")
                hub.readable(repo, user)
                return self._file(repo, parts[3], "/".join(parts[4:]))
            raise HubError(404, f"No route for {self.command} {url.path}")

        def _api(self, repo: Repo, rest: list[str], query: dict, body: bytes, user) -> None:
            hub.readable(repo, user)
            if not rest or rest[0] == "revision":
                commit = self._commit(repo, rest[1] if rest else "main")
                return self._json(self._info(repo, commit))
            if rest[0] == "tree" and self.command == "GET":
                commit = self._commit(repo, rest[1])
                prefix = "/".join(rest[2:])
                return self._json(self._tree(commit, prefix, recursive="true" in query.get("recursive", [])))
            if rest[0] == "preupload" and self.command == "POST":
                hub.writable(repo, user)
                head = repo.resolve(rest[1])
                files = []
                for entry in json.loads(body)["files"]:
                    remote = head.files.get(entry["path"]) if head else None
                    files.append(
                        {
                            "path": entry["path"],
                            "uploadMode": "regular",
                            "shouldIgnore": False,
                            "oid": git_blob_sha(remote) if remote is not None else None,
                        }
                    )
                return self._json({"files": files})
            if rest[0] == "commit" and self.command == "POST":
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                return self._json(hub.commit(repo, rest[1], lines, user))
            if rest[0] == "branch" and self.command == "POST":
                hub.writable(repo, user)
                request = json.loads(body or b"{}")
                start = self._commit(repo, request.get("startingPoint") or "main")
                if rest[1] in repo.branches:
                    raise HubError(409, f"Reference refs/heads/{rest[1]} already exists")
                repo.branches[rest[1]] = start.sha
                return self._json({})
            if rest[0] == "refs" and self.command == "GET":
                branches = [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": s} for n, s in repo.branches.items()]
                return self._json({"branches": branches, "tags": [], "converts": []})
            if rest[0] == "variables" and repo.repo_type == "space":
                if self.command == "POST":
                    hub.writable(repo, user)
                    request = json.loads(body)
                    repo.variables[request["key"]] = request["value"]
                return self._json({key: {"value": value} for key, value in repo.variables.items()})
            raise HubError(404, f"No route for {self.command} {'/'.join(rest)}")

        def _commit(self, repo: Repo, revision: str) -> Commit:
            commit = repo.resolve(revision)
            if commit is None:
                raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            return commit

        def _info(self, repo: Repo, commit: Commit) -> dict:
            info = {
                "id": repo.repo_id,
                "modelId": repo.repo_id,
                "sha": commit.sha,
                "private": repo.private,
                "siblings": [{"rfilename": path} for path in sorted(commit.files)],
                "tags": [],
            }
            if repo.repo_type == "space":
                info |= {"sdk": repo.sdk, "runtime": {"stage": "BUILDING"}}
            return info

        def _tree(self, commit: Commit, prefix: str, recursive: bool) -> list[dict]:
            entries, folders = [], set()
            base = prefix.rstrip("/") + "/" if prefix else ""
            for path in sorted(commit.files):
                if not path.startswith(base):
                    continue
                relative = path[len(base) :]
                if "/" in relative and not recursive:
                    folders.add(base + relative.split("/")[0])
                    continue
                for i in range(relative.count("/")):
                    folders.add(base + "/".join(relative.split("/")[: i + 1]))
                content = commit.files[path]
                entries.append({"type": "file", "path": path, "size": len(content), "oid": git_blob_sha(content)})
            if prefix and not entries and not folders:
                raise HubError(404, f"{prefix} does not exist", "EntryNotFound")
            return [{"type": "directory", "path": folder, "oid": "0" * 40} for folder in sorted(folders)] + entries

        def _file(self, repo: Repo, revision: str, path: str) -> None:
            commit = self._commit(repo, revision)
            if path not in commit.files:
                raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
            content = commit.files[path]
            headers = {"X-Repo-Commit": commit.sha, "ETag": f'"{git_blob_sha(content)}"', "Accept-Ranges": "bytes"}
            status, payload = 200, content
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if match:
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else len(content) - 1
                status, payload = 206, content[start : end + 1]
                headers["Content-Range"] = f"bytes {start}-{start + len(payload) - 1}/{len(content)}"
            self._send(status, payload, headers, content_type="application/octet-stream")

    return Handler
