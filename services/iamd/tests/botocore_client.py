"""Sends GraphQL requests to iamd signed by botocore, AWS's own SigV4 signer (used by tests/botocore.rs).

Reads one JSON object on stdin (secrets never go on the command line):
    {"url": "http://127.0.0.1:<port>/graphql", "access_key": ..., "secret_key": ...,
     "requests": [{"form": "header" | "query" | "query-unbound", "query": ..., "variables": {...}}]}
and prints one JSON array on stdout, one {"status": <HTTP status>, "body": <JSON or text>} per request.

Forms:
- "header": botocore.auth.SigV4Auth, the `Authorization` header form every AWS SDK sends.
- "query": botocore.auth.SigV4QueryAuth, the presigned form. For a non-S3 service botocore moves a
  request body into the query string (as for form-encoded query APIs), which a GraphQL POST cannot
  use; so the body is left out of the botocore request and bound to the signature instead by a
  signed `X-Amz-Content-SHA256` header, which botocore's canonical request takes as the payload hash.
- "query-unbound": the same presigned URL signed with no body and no body hash, then sent with the
  body anyway: the signature covers an empty payload, so the server must refuse it.
"""

import hashlib
import json
import sys
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "iam"
REGION = "us-east-1"


def signed(form, url, credentials, body):
    """The (url, headers) of a POST of `body` to `url`, signed by botocore in `form`."""
    headers = {"Content-Type": "application/json"}
    if form == "header":
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        SigV4Auth(credentials, SERVICE, REGION).add_auth(request)
    elif form == "query":
        headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        request = AWSRequest(method="POST", url=url, headers=headers)
        SigV4QueryAuth(credentials, SERVICE, REGION, expires=300).add_auth(request)
    elif form == "query-unbound":
        request = AWSRequest(method="POST", url=url, headers=headers)
        SigV4QueryAuth(credentials, SERVICE, REGION, expires=300).add_auth(request)
    else:
        raise ValueError(f"unknown signing form {form!r}")
    prepared = request.prepare()
    # The framing header is urllib's to set: botocore counted the body it signed, which for the
    # presigned forms is none.
    headers = {name: value for name, value in prepared.headers.items() if name.lower() != "content-length"}
    return prepared.url, headers


def send(url, headers, body):
    http_request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(http_request, timeout=30) as response:
            status, text = response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode("utf-8")
    try:
        return {"status": status, "body": json.loads(text)}
    except ValueError:
        return {"status": status, "body": text}


def main():
    spec = json.load(sys.stdin)
    credentials = Credentials(spec["access_key"], spec["secret_key"], spec.get("session_token"))
    replies = []
    for item in spec["requests"]:
        body = json.dumps({"query": item["query"], "variables": item.get("variables", {})}).encode("utf-8")
        url, headers = signed(item["form"], spec["url"], credentials, body)
        replies.append(send(url, headers, body))
    json.dump(replies, sys.stdout)


if __name__ == "__main__":
    main()
