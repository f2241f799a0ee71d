"""app.py - the "echo" example function: returns the event it was given along
with what the runtime knows about the invoke, which makes it handy for
checking what a caller actually sends and who cloudlet thinks the caller is.
"""


def handler(event, context):
    # context.identity is an object even for anonymous calls (as on AWS); the
    # guard keeps the function working on runtimes that leave it None.
    identity_id = context.identity.cognito_identity_id if context.identity else None
    print("echo invoked by %s (request %s)" % (identity_id or "anonymous", context.aws_request_id))
    return {
        "event": event,
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "remainingMs": context.get_remaining_time_in_millis(),
        "identityId": identity_id,
    }
