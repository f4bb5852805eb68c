"""HTTP to a model server: one JSON request at a time, bounded in time and size, plain sentences for every
failure, and a way to break off the request in flight from another thread."""
from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import threading
import time
import urllib.parse
from typing import Any

# Making the connection cannot be broken off from another thread, so it is bounded on its own (a closing
# window waits at most this long for a computer that does not answer).
CONNECT_SECONDS = 10.0
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a full-vocabulary answer of a 256k-token model is about 20 MB
_LOCAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
                        "192.168.0.0/16", "169.254.0.0/16", "::1/128", "fe80::/10", "fc00::/7"))


class ServerError(Exception):
    """The model server could not be used; the message is one plain sentence for the person."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status where the server answered with an error


def check_address(url: str, allow_other_hosts: bool = False) -> str:
    """The base address, normalised: http(s) on this computer or the local network, anywhere if allowed."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise ServerError(f"A model server address must start with http:// or https://, not {url.strip()!r}.")
    if parts.username or parts.password:
        raise ServerError("Put the API key in its own box, not in the model server's address.")
    host = (parts.hostname or "").lower()
    if not host:
        raise ServerError(f"The model server address {url.strip()!r} has no computer name in it.")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ServerError(f"The port in {url.strip()!r} is not a number from 1 to 65535.") from None
    if not allow_other_hosts and not _is_local(host):
        raise ServerError(f"{host} is not on this computer or your local network, so Synthscope will not send "
                          "your text there unless you allow it (tick “Allow a server outside this computer "
                          "and the local network”, or give --allow-other-hosts).")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):  # people paste the OpenAI base address; the client adds /v1 itself
        path = path[:-3]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # other names are not looked up: the answer could change after this check
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _LOCAL_NETWORKS if network.version == address.version)


class HttpChannel:
    """Requests to one server; each returns or fails within timeout × (retries + 1) seconds."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0, retries: int = 1,
                 allow_other_hosts: bool = False, cancelled: threading.Event | None = None) -> None:
        self.url = check_address(url, allow_other_hosts)
        # Set from another thread to break off what is in flight (interrupt() wakes a blocked read).
        self.cancelled = cancelled or threading.Event()
        self._live: socket.socket | None = None
        self._live_lock = threading.Lock()
        self.api_key, self.timeout, self.retries = api_key, float(timeout), max(0, int(retries))
        parts = urllib.parse.urlsplit(self.url)
        self._https, self._host, self._port, self._prefix = (parts.scheme == "https", parts.hostname or "",
                                                              parts.port, parts.path)

    def _malformed(self) -> ServerError:
        return ServerError(f"The model server at {self.url} sent an answer Synthscope cannot read.")

    def interrupt(self) -> None:
        """From another thread: set `cancelled` and break off the request in flight at once."""
        self.cancelled.set()
        with self._live_lock:
            live = self._live
        if live is not None:
            try:
                live.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed
                pass

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                answer = self._once(method, path, body)
                break
            except (_Dropped, ServerError) as dropped:
                if self.cancelled.is_set():
                    raise ServerCancelled(f"The request to the model server at {self.url} was stopped.") from None
                if isinstance(dropped, ServerError):
                    raise
                if attempt >= self.retries:
                    raise ServerError(str(dropped)) from None
                time.sleep(min(0.2 * 2 ** attempt, 1.0))
                attempt += 1
        if not isinstance(answer, dict):
            raise self._malformed()
        return answer

    def _once(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        deadline = time.monotonic() + self.timeout
        connection = (http.client.HTTPSConnection if self._https else http.client.HTTPConnection)(
            self._host, self._port, timeout=min(self.timeout, CONNECT_SECONDS))
        headers = {"Accept": "application/json", "Connection": "close", "Content-Type": "application/json",
                   **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})}
        data = None if body is None else json.dumps(body).encode()
        response = None
        try:
            if self.cancelled.is_set():
                raise ServerCancelled(f"The request to the model server at {self.url} was stopped.")
            connection.request(method, self._prefix + path, body=data, headers=headers)
            sock = connection.sock  # kept: the connection lets go of it once the answer says it will close
            with self._live_lock:
                self._live = sock
            if self.cancelled.is_set():  # set between the check above and the socket being known
                raise ServerCancelled(f"The request to the model server at {self.url} was stopped.")

            def remaining() -> float:  # each read is bounded by the socket timeout, all of them by this
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if sock is not None and sock.fileno() != -1:  # -1: the whole answer has been read
                    sock.settimeout(left)
                return left

            remaining()
            response = connection.getresponse()
            chunks: list[bytes] = []
            received = 0
            while remaining() and (chunk := response.read1(65536)):  # read1: one socket read at most
                chunks.append(chunk)
                received += len(chunk)
                if received > MAX_ANSWER_BYTES:
                    raise ServerError(f"The model server at {self.url} sent an answer larger than "
                                      f"{MAX_ANSWER_BYTES // 2**20} MB.")
            if response.length:  # http.client reports a body cut short only through what is left of it
                raise http.client.IncompleteRead(b"".join(chunks), response.length)
            payload, status = b"".join(chunks), response.status
        except TimeoutError:  # socket.timeout is TimeoutError
            raise ServerError(f"The model server at {self.url} did not answer within "
                              f"{self.timeout:g} seconds.") from None
        except ConnectionRefusedError:
            raise ServerError(f"Nothing is answering at {self.url}: is the model server running, "
                              "and on that port?") from None
        except socket.gaierror:
            raise ServerError(f"The computer name {self._host} could not be found on the network.") from None
        except (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionResetError,
                BrokenPipeError) as error:
            raise _Dropped(f"The model server at {self.url} closed the connection before its answer was "
                           "complete.") from error
        except (OSError, http.client.HTTPException) as error:
            reason = getattr(error, "strerror", None) or type(error).__name__
            raise ServerError(f"Could not talk to the model server at {self.url} ({reason}).") from None
        finally:
            with self._live_lock:
                self._live = None
            if response is not None:
                response.close()
            connection.close()
        if status >= 400:
            raise self._refusal(status, path, payload)
        try:
            return json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise ServerError(f"The model server at {self.url} sent an answer that is not JSON: is this "
                              "address really a model server?") from None

    def _refusal(self, status: int, path: str, payload: bytes) -> ServerError:
        if status in (401, 403):
            asked = "did not accept the API key" if self.api_key else "asks for an API key"
            return ServerError(f"The model server at {self.url} {asked} ({status}): enter its key in "
                               "File → Connect to a model server… (or give --api-key).", status)
        message = payload.decode("utf-8", errors="replace")
        try:
            answer = json.loads(message)
            error = answer.get("error", answer.get("detail", message)) if isinstance(answer, dict) else answer
            message = str(error.get("message", error) if isinstance(error, dict) else error)
        except ValueError:
            pass
        line = " ".join(message.split("\n")[0].split()) or http.client.responses.get(status, "error")
        line = line if len(line) <= 200 else line[:199] + "…"
        return ServerError(f"The model server at {self.url} refused {path} ({status}): {line}", status)


class ServerCancelled(ServerError):
    """The request was broken off from another thread (Stop, or the window closing)."""


class _Dropped(Exception):
    """The connection broke mid-answer: worth one more try."""
