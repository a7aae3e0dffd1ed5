"""Calls iamd's AWS wire API through botocore's own clients (the ones the aws CLI and boto3 use),
for tests/aws_api.rs: botocore serializes each request from AWS's service model and parses the
answer with it, so a call that succeeds here is one the AWS tools can make.

Reads one JSON object on stdin (secrets never go on the command line):
    {"endpoint": "http://127.0.0.1:<port>", "access_key": ..., "secret_key": ...,
     "calls": [{"service": "iam" | "sts", "operation": "create_user", "params": {...}}]}
and prints one JSON array, one {"response": {...}} or {"error": {"code", "message", "status"}} per
call (ResponseMetadata left out).
"""

import json
import sys

import botocore.session
from botocore.exceptions import ClientError


def main():
    spec = json.load(sys.stdin)
    session = botocore.session.get_session()
    clients = {}
    results = []
    for call in spec["calls"]:
        service = call["service"]
        if service not in clients:
            clients[service] = session.create_client(
                service,
                region_name="us-east-1",
                endpoint_url=spec["endpoint"],
                aws_access_key_id=spec["access_key"],
                aws_secret_access_key=spec["secret_key"],
            )
        client = clients[service]
        try:
            response = getattr(client, call["operation"])(**call.get("params", {}))
            response.pop("ResponseMetadata", None)
            results.append({"response": response})
        except ClientError as error:
            results.append({"error": {
                "code": error.response["Error"]["Code"],
                "message": error.response["Error"].get("Message"),
                "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
            }})
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
