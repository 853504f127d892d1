#!/usr/bin/env python3
"""Credentials and data for scripts/fuzz-api.sh, taken through the API the way clients do.

Usage: fuzz-seed.py BASE_URL PASSWORD CLIENT_ID CLIENT_SECRET (the accounts and the client
exist already: `admin create-user`, `admin create-client --developer`). Prints one JSON
object: the tokens of every credential kind, and the ids the fuzzer cannot guess (a pending
payment, a completed one) so it reaches the handlers behind them. Standard library only.
"""

import base64
import http.cookies
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE, PASSWORD, CLIENT_ID, CLIENT_SECRET = sys.argv[1:5]
REDIRECT = "http://127.0.0.1/cb"
# Every scope the server knows (crates/domain/src/scope.rs); the client registered them all
# and is official, so a TEP may carry each of them once the user has approved them.
ALL_SCOPES = (
    "user:read user:read:extended storage:read storage:write wallet:balance wallet:history "
    "wallet:pay webhook:send analytics:detailed system:notifications"
)
# A challenge for the consent request: no code is ever redeemed, approving records consent.
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(method, path, body=None, headers=None, form=None):
    """One request; returns (status, headers, body text). Never follows redirects."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def expect(status, wanted, what, text):
    if status not in wanted:
        sys.exit(f"fuzz-seed: {what} answered {status}: {text[:500]}")


def json_call(method, path, wanted, what, **kwargs):
    status, _, text = call(method, path, **kwargs)
    expect(status, wanted, what, text)
    return json.loads(text)


def bearer(token):
    return {"authorization": f"Bearer {token}"}


def basic():
    pair = f"{CLIENT_ID}:{CLIENT_SECRET}".encode()
    return {"authorization": "Basic " + base64.b64encode(pair).decode()}


def login(name):
    answer = json_call("POST", "/api/v1/auth/login", {200}, f"login {name}",
                       body={"login": name, "password": PASSWORD})
    return answer["session_token"]


def approve_all_scopes(session):
    """The user approves every scope for the client on the consent page (session cookie)."""
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
        "scope": ALL_SCOPES, "state": "fuzz", "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    })
    cookie = f"tmcp_session={session}"
    status, headers, page = call("GET", f"/oauth2/authorize?{query}", headers={"cookie": cookie})
    expect(status, {200}, "consent page", page)
    csrf_cookie = None
    for value in headers.get_all("set-cookie") or []:
        jar = http.cookies.SimpleCookie(value)
        if "tmcp_csrf" in jar:
            csrf_cookie = jar["tmcp_csrf"].value
    field = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if csrf_cookie is None or field is None:
        sys.exit("fuzz-seed: the consent page has no CSRF token")
    form = dict(urllib.parse.parse_qsl(query))
    form.update({"action": "approve", "csrf_token": field.group(1)})
    status, _, text = call("POST", "/oauth2/authorize", form=form,
                           headers={"cookie": f"{cookie}; tmcp_csrf={csrf_cookie}"})
    expect(status, {303}, "consent", text)


def token(form, what):
    return json_call("POST", "/oauth2/token", {200}, what, form=form, headers=basic())[
        "access_token"]


def main():
    admin = login("fuzzer")
    developer = login("fuzzdev")
    user = login("fuzzuser")
    # The two operations that end sessions get sessions of their own, taken now: by the end
    # the fuzzer has used up this address's login budget.
    end_session = login("fuzzer")
    logout = login("fuzzer")

    approve_all_scopes(user)
    tep = token({
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": user,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "scope": ALL_SCOPES,
    }, "token exchange")
    client_token = token({"grant_type": "client_credentials"}, "client credentials")

    # Money in the user's wallet, so payments can settle and be refunded.
    method = json_call("POST", "/wallet/v1/payment-methods", {201}, "payment method",
                       headers=bearer(user),
                       body={"type": "card", "provider": "sandbox",
                             "provider_method_id": "pm_sandbox_ok-fuzz"})
    # A second method for the operations that name one in their path (one removes it).
    spare = json_call("POST", "/wallet/v1/payment-methods", {201}, "payment method",
                      headers=bearer(user),
                      body={"type": "card", "provider": "sandbox",
                            "provider_method_id": "pm_sandbox_ok-fuzz-spare"})
    json_call("POST", "/wallet/v1/top-up", {201}, "top-up", headers=bearer(user),
              body={"amount": "1000.00", "currency": "USD",
                    "payment_method_id": method["id"], "idempotency_key": "fuzz-top-up"})

    def request_payment(key):
        return json_call("POST", "/api/v1/payments/request", {201}, "payment request",
                         headers=bearer(tep),
                         body={"amount": "1.00", "currency": "USD",
                               "description": "fuzz", "idempotency_key": key})["payment_id"]

    pending = request_payment("fuzz-pending")
    completed = request_payment("fuzz-completed")
    json_call("POST", f"/api/v1/payments/{completed}/authorize", {200}, "authorize",
              headers=bearer(tep), body={})

    # A published version, so the store's pages, installs, reviews and the package download
    # find the app; the user's review, a category and the payment method for the operations
    # that name them.
    boundary = "fuzzseedboundary"
    parts = [("version", "1.0.0", None), ("package", "fuzz package", "fuzz.pkg")]
    multipart = "".join(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
        + (f"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream" if filename else "")
        + f"\r\n\r\n{value}\r\n"
        for name, value, filename in parts) + f"--{boundary}--\r\n"
    request = urllib.request.Request(
        f"{BASE}/api/v1/developer/apps/{CLIENT_ID}/versions", data=multipart.encode(),
        method="POST", headers={**bearer(developer),
                                "content-type": f"multipart/form-data; boundary={boundary}"})
    try:
        with OPENER.open(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    expect(status, {201}, "package upload", text)
    json_call("POST", f"/api/v1/developer/apps/{CLIENT_ID}/submit", {200}, "submit",
              headers=bearer(developer), body={"version": "1.0.0"})
    json_call("POST", f"/api/v1/admin/apps/{CLIENT_ID}/approve", {200}, "approve",
              headers=bearer(admin))
    json_call("POST", f"/api/v1/store/apps/{CLIENT_ID}/install", {200, 201}, "install",
              headers=bearer(user))
    review = json_call("POST", f"/api/v1/store/apps/{CLIENT_ID}/reviews", {201}, "review",
                       headers=bearer(user), body={"rating": 4, "comment": "fuzz"})
    category = json_call("POST", "/api/v1/admin/categories", {201}, "category",
                         headers=bearer(admin),
                         body={"name": "fuzz", "display_name": "Fuzz"})

    json.dump({
        "review": review["review_id"], "category": category["id"], "payment_method": method["id"],
        "spare_payment_method": spare["id"],
        "admin": admin, "developer": developer, "user": user, "end_session": end_session,
        "logout": logout, "tep": tep, "client_token": client_token,
        "pending_payment": pending, "completed_payment": completed,
    }, sys.stdout)


main()
