// errors.js - turns what Amplify, the AWS SDK and fetch throw into the
// sentence a user wants to read. Cognito and Lambda errors arrive with the
// service's error type as `name` (e.g. NotAuthorizedException); a request
// that never reached the server is a TypeError from fetch (SDK) or an
// AmplifyError named NetworkError.

export function isNetworkError(err) {
  if (!err) {
    return false;
  }
  if (err.name === 'NetworkError') {
    return true;
  }
  return err instanceof TypeError && /fetch|network|load failed/i.test(err.message || '');
}

function networkMessage() {
  return `Cannot reach the server at ${window.location.origin}. Check that cloudlet is running, then try again.`;
}

// Errors of the sign-up, sign-in, confirmation and password-reset screens.
export function authMessage(err) {
  if (isNetworkError(err)) {
    return networkMessage();
  }
  const message = (err && err.message) || String(err);
  switch (err && err.name) {
    case 'NotAuthorizedException':
      if (/attempts exceeded/i.test(message)) {
        return 'Too many failed sign-ins for this account. Wait a few minutes, then try again.';
      }
      if (/disabled/i.test(message)) {
        return 'This account is disabled.';
      }
      if (/revoked|expired|refresh token/i.test(message)) {
        return 'Your session has ended. Sign in again.';
      }
      return 'Incorrect email or password.';
    case 'UserNotFoundException':
      return 'Incorrect email or password.';
    case 'UsernameExistsException':
    case 'AliasExistsException':
      return 'An account with this email already exists.';
    case 'CodeMismatchException':
    case 'ExpiredCodeException':
      return 'That code is not right or has expired.';
    case 'TooManyFailedAttemptsException':
      return 'Too many wrong codes. Ask for a new code and try again.';
    case 'TooManyRequestsException':
    case 'LimitExceededException':
      return 'Too many attempts. Wait a few minutes, then try again.';
    case 'UserNotConfirmedException':
      return 'Confirm your email first: enter the code we sent you.';
    case 'InvalidPasswordException':
      return `That password is not accepted: ${message.replace(/^Password did not conform with policy:\s*/i, '')}`;
    case 'UserUnAuthenticatedException':
      return 'You are signed out. Sign in again.';
    default:
      return message;
  }
}

// Errors of the Lambda and S3 calls (the function's own errors are not
// exceptions: they come back in the Invoke answer).
export function serviceMessage(err) {
  if (isNetworkError(err)) {
    return networkMessage();
  }
  const message = (err && err.message) || String(err);
  switch (err && err.name) {
    case 'AccessDeniedException':
    case 'AccessDenied':
      return `Access denied: ${message}`;
    case 'TooManyRequestsException':
    case 'SlowDown':
      return `Throttled: too many calls at once. Try again in a moment. (${message})`;
    case 'ResourceNotFoundException':
      return `No such function: ${message}`;
    case 'RequestTooLargeException':
    case 'EntityTooLarge':
      return `Too large: ${message}`;
    case 'ExpiredToken':
    case 'ExpiredTokenException':
    case 'InvalidAccessKeyId':
    case 'UnrecognizedClientException':
    case 'CredentialsProviderError':
      return `Your credentials are no longer valid. Sign out and sign in again. (${message})`;
    default:
      return err && err.name && err.name !== 'Error' ? `${err.name}: ${message}` : message;
  }
}
