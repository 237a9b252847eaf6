"""Where a notice goes: a :class:`Channel` sends one message and raises if it did not arrive.

:class:`WebhookChannel` POSTs the message as JSON, signed: ``X-Gridgov-Signature:
sha256=HEX`` is HMAC-SHA256, keyed with the subscription's secret, of
``TIMESTAMP + "." + BODY`` (``X-Gridgov-Timestamp``, Unix seconds), so a receiver can refuse
forged and replayed calls. ``Idempotency-Key`` names the notice: a delivery is retried after a
failure, so a receiver may see the same notice twice and should drop the second. Anything but a
2xx answer (redirects included) is a failure.

SMS and WeChat template messages plug in behind the same interface (:class:`SmsChannel`,
:class:`WeChatTemplateChannel`): a subscription names them with ``{"channel": "sms", ...}``; they
are outlines until a gateway contract exists and fail permanently, so their notices land in the
dead letters instead of being retried.

Example:
    >>> body = b'{"case": "ZY1"}'
    >>> signature("s3cret", "1700000000", body)
    'sha256=...'
    >>> verify("s3cret", "1700000000", body, signature("s3cret", "1700000000", body))
    True
    >>> verify("other", "1700000000", body, signature("s3cret", "1700000000", body))
    False
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Protocol

USER_AGENT = "gridgov-notify/1"


class DeliveryError(Exception):
    """A message did not arrive; the queue tries again later."""


class PermanentDeliveryError(DeliveryError):
    """A message cannot arrive however often it is tried (no such subscription, a gateway not
    built): the job goes to the dead letters at once."""


class Channel(Protocol):
    def send(self, message: dict) -> None:
        """Deliver ``message`` (JSON-ready); raise :class:`DeliveryError` if it did not arrive."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does with ``X-Gridgov-Signature`` (constant-time comparison)."""
    return hmac.compare_digest(signature(secret, timestamp, body), header or "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is answered as an HTTPError: not delivered


class WebhookChannel:
    def __init__(self, url: str, secret: str, timeout_s: float = 10.0):
        if not secret:
            raise PermanentDeliveryError(f"webhook {url}: no secret to sign with "
                                         "(GRIDGOV_NOTIFY_SECRET or the subscription's \"secret\")")
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, message: dict) -> None:
        body = json.dumps(message, ensure_ascii=False, sort_keys=True).encode("utf-8")
        timestamp = str(int(time.time()))
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Gridgov-Timestamp": timestamp,
            "X-Gridgov-Signature": signature(self.secret, timestamp, body),
            "Idempotency-Key": str(message.get("id", "")),
        })
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                status = response.status
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook {self.url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"webhook {self.url} unreachable: {reason}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook {self.url} answered HTTP {status}")


class SmsChannel:
    """An SMS gateway (e.g. a provincial government SMS platform or a cloud SMS service).

    Plug one in here: keep ``config`` (``{"channel": "sms", "gateway": ..., "template": ...}``),
    look up the recipient's phone (the unit's duty phone, never a reporter's number from the
    case), fill the template with ``message["text"]`` or its fields, call the gateway, and raise
    :class:`DeliveryError` on a refusal or a time-out (the queue retries)."""

    def __init__(self, config: dict, timeout_s: float = 10.0):
        self.config = config
        self.timeout_s = timeout_s

    def send(self, message: dict) -> None:
        raise PermanentDeliveryError("the SMS gateway is not connected yet (gridgov.jobs.channels."
                                     "SmsChannel)")


class WeChatTemplateChannel:
    """WeChat official-account template messages (订阅/模板消息) to a follower.

    Plug it in here: ``config`` holds the gateway and template id; map the reporter's account
    (``message["reporter_account"]``) or the unit to an openid, fill the template's keywords
    (工单编号, 状态, 时间) from the message, and raise :class:`DeliveryError` when the gateway
    refuses (the queue retries)."""

    def __init__(self, config: dict, timeout_s: float = 10.0):
        self.config = config
        self.timeout_s = timeout_s

    def send(self, message: dict) -> None:
        raise PermanentDeliveryError("the WeChat template-message gateway is not connected yet "
                                     "(gridgov.jobs.channels.WeChatTemplateChannel)")


def channel_for(target: str | dict, default_secret: str = "", timeout_s: float = 10.0) -> Channel:
    """The channel a subscription's value describes (see ``NotifySettings``)."""
    if isinstance(target, str):
        return WebhookChannel(target, default_secret, timeout_s)
    kind = target.get("channel", "webhook")
    if kind == "sms":
        return SmsChannel(target, timeout_s)
    if kind == "wechat":
        return WeChatTemplateChannel(target, timeout_s)
    return WebhookChannel(target["url"], target.get("secret") or default_secret, timeout_s)
