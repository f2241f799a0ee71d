// index.mjs - the "hello" example function: greets the caller by name. It
// answers both a direct Invoke (the event is {"name": ...}) and a function-URL
// request (payload format 2.0, where the name comes from ?name= or a JSON
// body), and falls back to the caller's Cognito identity, then "stranger".

const MAX_NAME = 100;

// A usable name: a non-empty string after trimming, capped so a caller cannot
// make the greeting arbitrarily large.
function cleanName(value) {
  if (typeof value !== 'string') {
    return null;
  }
  const name = value.trim().slice(0, MAX_NAME);
  return name === '' ? null : name;
}

// The "name" field of a function-URL request's JSON body, if it has one.
function nameFromBody(event) {
  if (typeof event.body !== 'string' || event.body === '') {
    return null;
  }
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? cleanName(parsed.name) : null;
  } catch {
    return null; // not JSON: no name, not an error
  }
}

function greeting(name, identityId, context) {
  return {
    message: `Hello, ${name}!`,
    name,
    identityId,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    remainingMs: context.getRemainingTimeInMillis(),
  };
}

export const handler = async (event, context) => {
  const ev = event && typeof event === 'object' ? event : {};
  const isUrlRequest = Boolean(ev.requestContext && ev.requestContext.http);

  let name;
  let identityId = context.identity?.cognitoIdentityId ?? null;
  if (isUrlRequest) {
    // With IAM auth, a function URL names the caller's Cognito identity here.
    identityId = ev.requestContext.authorizer?.iam?.cognitoIdentity?.identityId ?? identityId;
    name = cleanName(ev.queryStringParameters?.name) ?? nameFromBody(ev);
  } else {
    name = cleanName(ev.name);
  }
  name = name ?? identityId ?? 'stranger';

  console.log(`hello invoked for ${name}`);
  const result = greeting(name, identityId, context);
  if (!isUrlRequest) {
    return result;
  }
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(result),
  };
};
