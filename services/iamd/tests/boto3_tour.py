"""A tour of iamd through boto3, as a script using the AWS SDK for Python would make it, for
tests/boto3_tour.rs: plain `boto3.client('iam', endpoint_url=...)` calls, paginators over every
paged listing (pages smaller than the listing, so several), the IAM waiters, and errors told
apart by `ClientError.response['Error']['Code']` and by the client's modeled exception classes.

Every answer the clients receive (each page, each waiter poll) is also checked against AWS's
model by `aws_sdk_client.Conformance`; what does not conform is printed as `shape_problems`.

Reads one JSON object on stdin (secrets never go on the command line):
    {"endpoint": "http://127.0.0.1:<port>", "access_key": ..., "secret_key": ...}
and prints one JSON object of what it saw (see `main`).
"""

import json
import sys

import boto3
from botocore.exceptions import ClientError, WaiterError

sys.dont_write_bytecode = True  # no __pycache__ beside the tests
from aws_sdk_client import Conformance  # noqa: E402 (after the line above)

conformance = Conformance()


def client(service, spec, access_key=None, secret_key=None):
    return conformance.attach(
        boto3.client(
            service,
            endpoint_url=spec["endpoint"],
            region_name="us-east-1",
            aws_access_key_id=access_key or spec["access_key"],
            aws_secret_access_key=secret_key or spec["secret_key"],
        )
    )


def document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def failure(iam, call, **params):
    """The error a call fails with: its code, HTTP status, message, and the name of the
    exception class boto3 raised (a modeled one, `NoSuchEntityException`..., when the code is
    one the model declares; plain `ClientError` otherwise)."""
    try:
        getattr(iam, call)(**params)
    except ClientError as error:
        modeled = [
            name
            for name in dir(iam.exceptions)
            if isinstance(getattr(iam.exceptions, name), type)
            and issubclass(getattr(iam.exceptions, name), ClientError)
            and getattr(iam.exceptions, name) is not ClientError
            and isinstance(error, getattr(iam.exceptions, name))
        ]
        return {
            "code": error.response["Error"]["Code"],
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
            "message": error.response["Error"].get("Message"),
            "exception": modeled[0] if modeled else type(error).__name__,
        }
    raise AssertionError(f"{call} {params} succeeded")


def pages(iam, operation, key, name_of, **params):
    """Every page a paginator yields: for each, the names it holds, `IsTruncated` and whether
    it carried a `Marker`."""
    found = []
    for page in iam.get_paginator(operation).paginate(**params):
        items = page[key] if isinstance(key, str) else [i for k in key for i in page.get(k, [])]
        found.append(
            {
                "names": [name_of(item) for item in items],
                "truncated": page["IsTruncated"],
                "marker": "Marker" in page,
            }
        )
    return found


def main():
    spec = json.load(sys.stdin)
    iam = client("iam", spec)
    sts = client("sts", spec)
    seen = {}

    root = sts.get_caller_identity()
    account = root["Account"]
    seen["root_identity"] = {k: root[k] for k in ("Account", "Arn", "UserId")}
    seen["waiter_names"] = sorted(iam.waiter_names)

    # Users, in a path of their own, one tagged; the waiter finds each at once.
    for n in range(1, 6):
        iam.create_user(UserName=f"tour-{n}", Path="/tour/", Tags=[{"Key": "n", "Value": str(n)}])
    iam.get_waiter("user_exists").wait(UserName="tour-5", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    seen["list_users"] = pages(
        iam, "list_users", "Users", lambda u: u["UserName"], PathPrefix="/tour/", PaginationConfig={"PageSize": 2}
    )
    # boto3's own resumption: at most 3 users, then a token to go on from.
    first = iam.get_paginator("list_users").paginate(
        PathPrefix="/tour/", PaginationConfig={"PageSize": 2, "MaxItems": 3}
    ).build_full_result()
    rest = iam.get_paginator("list_users").paginate(
        PathPrefix="/tour/", PaginationConfig={"PageSize": 2, "StartingToken": first["NextToken"]}
    ).build_full_result()
    seen["list_users_resumed"] = [
        [u["UserName"] for u in first["Users"]],
        [u["UserName"] for u in rest["Users"]],
        "NextToken" in rest,
    ]
    seen["user_tags"] = iam.list_user_tags(UserName="tour-3")["Tags"]
    iam.tag_user(UserName="tour-2", Tags=[{"Key": k, "Value": k.upper()} for k in ("a", "b", "c")])
    seen["list_user_tags"] = pages(
        iam, "list_user_tags", "Tags", lambda t: t["Key"], UserName="tour-2", PaginationConfig={"PageSize": 2}
    )

    # A group with members, listed through get_group's paginator (in name order, whatever their
    # ids are).
    iam.create_group(GroupName="tourists", Path="/tour/")
    for n in (4, 1, 5, 3, 2):
        iam.add_user_to_group(GroupName="tourists", UserName=f"tour-{n}")
    seen["get_group"] = pages(
        iam, "get_group", "Users", lambda u: u["UserName"], GroupName="tourists", PaginationConfig={"PageSize": 2}
    )

    # Customer policies, with versions: the sixth version is over IAM's limit of five.
    arns = []
    for n in range(1, 4):
        created = iam.create_policy(
            PolicyName=f"tour-policy-{n}",
            Path="/tour/",
            PolicyDocument=document(allow(f"s3:Get{n}*")),
            Description=f"policy {n}",
            Tags=[{"Key": "n", "Value": str(n)}],
        )
        arns.append(created["Policy"]["Arn"])
    iam.get_waiter("policy_exists").wait(PolicyArn=arns[0], WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    for n in range(2, 6):
        iam.create_policy_version(
            PolicyArn=arns[0], PolicyDocument=document(allow(f"s3:List{n}*")), SetAsDefault=True
        )
    seen["policy_versions"] = pages(
        iam,
        "list_policy_versions",
        "Versions",
        lambda v: [v["VersionId"], v["IsDefaultVersion"]],
        PolicyArn=arns[0],
        PaginationConfig={"PageSize": 2},
    )
    seen["default_document"] = iam.get_policy_version(PolicyArn=arns[0], VersionId="v5")["PolicyVersion"][
        "Document"
    ]
    seen["list_policies"] = pages(
        iam,
        "list_policies",
        "Policies",
        lambda p: p["PolicyName"],
        Scope="Local",
        PathPrefix="/tour/",
        PaginationConfig={"PageSize": 2},
    )

    # Roles, one with an inline policy and tags.
    trust = document(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
    )
    for n in range(1, 4):
        iam.create_role(RoleName=f"tour-role-{n}", Path="/tour/", AssumeRolePolicyDocument=trust)
    iam.get_waiter("role_exists").wait(RoleName="tour-role-3", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    iam.put_role_policy(RoleName="tour-role-1", PolicyName="inline", PolicyDocument=document(allow("sqs:*")))
    iam.tag_role(RoleName="tour-role-1", Tags=[{"Key": "team", "Value": "tour"}])
    iam.attach_role_policy(RoleName="tour-role-1", PolicyArn=arns[1])
    seen["list_roles"] = pages(
        iam, "list_roles", "Roles", lambda r: r["RoleName"], PathPrefix="/tour/", PaginationConfig={"PageSize": 2}
    )
    role = iam.get_role(RoleName="tour-role-1")["Role"]
    seen["role"] = {"Tags": role.get("Tags"), "trust": role["AssumeRolePolicyDocument"]}
    seen["role_policies"] = iam.list_role_policies(RoleName="tour-role-1")["PolicyNames"]

    # Attachments (made out of order) and inline policies of a user.
    for arn in (arns[2], arns[0], arns[1]):
        iam.attach_user_policy(UserName="tour-1", PolicyArn=arn)
    iam.put_user_policy(UserName="tour-1", PolicyName="own", PolicyDocument=document(allow("s3:GetObject")))
    seen["attached_user_policies"] = pages(
        iam,
        "list_attached_user_policies",
        "AttachedPolicies",
        lambda p: p["PolicyName"],
        UserName="tour-1",
        PaginationConfig={"PageSize": 2},
    )
    seen["user_policy"] = iam.get_user_policy(UserName="tour-1", PolicyName="own")["PolicyDocument"]
    seen["entities_for_policy"] = pages(
        iam,
        "list_entities_for_policy",
        ["PolicyGroups", "PolicyUsers", "PolicyRoles"],
        lambda e: e.get("UserName") or e.get("GroupName") or e.get("RoleName"),
        PolicyArn=arns[1],
        PaginationConfig={"PageSize": 1},
    )
    # Every attached policy, AWS's and the account's, one a page.
    iam.attach_role_policy(RoleName="tour-role-2", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    seen["attached_policies"] = pages(
        iam,
        "list_policies",
        "Policies",
        lambda p: p["PolicyName"],
        Scope="All",
        OnlyAttached=True,
        PaginationConfig={"PageSize": 1},
    )

    # The whole account, a few entities a page.
    seen["account_authorization_details"] = pages(
        iam,
        "get_account_authorization_details",
        ["UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"],
        lambda e: e.get("UserName") or e.get("GroupName") or e.get("RoleName") or e.get("PolicyName"),
        PaginationConfig={"PageSize": 4},
    )

    # The simulator, two evaluation results a page.
    seen["simulate_principal_policy"] = pages(
        iam,
        "simulate_principal_policy",
        "EvaluationResults",
        lambda r: [r["EvalActionName"], r["EvalDecision"]],
        PolicySourceArn=f"arn:aws:iam::{account}:user/tour/tour-1",
        ActionNames=["s3:GetObject", "s3:Get1Thing", "s3:List5Things", "s3:PutObject", "iam:CreateUser"],
        PaginationConfig={"PageSize": 2},
    )

    # A user of no permissions, with a key made through the API: refused, yet knows who it is.
    iam.create_user(UserName="tour-nobody")
    key = iam.create_access_key(UserName="tour-nobody")["AccessKey"]
    seen["new_key"] = {"status": key["Status"], "secret_length": len(key["SecretAccessKey"])}
    nobody_iam = client("iam", spec, key["AccessKeyId"], key["SecretAccessKey"])
    nobody_sts = client("sts", spec, key["AccessKeyId"], key["SecretAccessKey"])
    identity = nobody_sts.get_caller_identity()
    seen["user_identity"] = {k: identity[k] for k in ("Account", "Arn", "UserId")}
    seen["nobody_user_id"] = iam.get_user(UserName="tour-nobody")["User"]["UserId"]
    iam.create_access_key(UserName="tour-nobody")

    # Errors, by code and by modeled exception class.
    seen["errors"] = {
        "NoSuchEntity": failure(iam, "get_user", UserName="tour-ghost"),
        "EntityAlreadyExists": failure(iam, "create_user", UserName="tour-1"),
        "MalformedPolicyDocument": failure(
            iam, "put_user_policy", UserName="tour-1", PolicyName="bad", PolicyDocument='{"Statement": ['
        ),
        "LimitExceeded (policy versions)": failure(
            iam, "create_policy_version", PolicyArn=arns[0], PolicyDocument=document(allow("s3:List6*"))
        ),
        "LimitExceeded (access keys)": failure(iam, "create_access_key", UserName="tour-nobody"),
        "DeleteConflict (attached policy)": failure(iam, "delete_policy", PolicyArn=arns[1]),
        "DeleteConflict (user in a group)": failure(iam, "delete_group", GroupName="tourists"),
        "AccessDenied": failure(nobody_iam, "create_user", UserName="tour-mallory"),
        "AccessDenied (read)": failure(nobody_iam, "list_users"),
        "ValidationError": failure(iam, "create_user", UserName="not a valid name!"),
    }

    # A waiter for what never comes: it keeps polling through NoSuchEntity, then gives up.
    try:
        iam.get_waiter("user_exists").wait(UserName="tour-ghost", WaiterConfig={"Delay": 0, "MaxAttempts": 2})
        seen["waiter_gave_up"] = None
    except WaiterError as error:
        seen["waiter_gave_up"] = {
            "reason": error.kwargs.get("reason"),
            "last_code": error.last_response.get("Error", {}).get("Code"),
        }

    seen["shape_problems"] = conformance.take()
    print(json.dumps(seen, default=str))


if __name__ == "__main__":
    main()
