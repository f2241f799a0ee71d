// invoke.js - the "Call a function" panel: pick a function, edit a JSON
// payload, Invoke it through the Lambda API with the user's temporary
// credentials and LogType Tail, and show the result, the time it took as
// the browser saw it, and the function's log.

import { InvokeCommand } from '@aws-sdk/client-lambda';
import { busy, showError, clearError, setStatus, invalid } from './ui.js';
import { serviceMessage } from './errors.js';

// A sample event per example function; other functions start with {}.
function samplePayload(fn, email) {
  switch (fn) {
    case 'hello':
      return { name: email };
    case 'echo':
      return { hello: 'world' };
    case 'shout':
      return { text: 'make some noise' };
    default:
      return {};
  }
}

// One line of JSON with a space after each colon: {"name": "ada@example.com"}.
function oneLine(obj) {
  const parts = Object.entries(obj).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return `{${parts.join(', ')}}`;
}

function base64ToText(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) {
    bytes[i] = bin.charCodeAt(i);
  }
  return new TextDecoder().decode(bytes);
}

function pretty(text) {
  if (text === '') {
    return '(no result)';
  }
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// The text shown for a function error: "Function error: <type>: <message>",
// then the stack trace if the runtime sent one.
function functionError(kind, text) {
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!body || typeof body !== 'object') {
    return `Function error: ${kind}: ${text}`;
  }
  const type = body.errorType || kind;
  const message = body.errorMessage ?? '';
  let out = `Function error: ${type}: ${message}`;
  if (Array.isArray(body.stackTrace) && body.stackTrace.length > 0) {
    out += `\n\n${body.stackTrace.map((l) => String(l).trimEnd()).join('\n')}`;
  }
  return out;
}

// root: the signed-in screen; cfg: the settings; who: { email };
// lambda: () => the session's LambdaClient.
export function invokePanel(root, cfg, who, lambda) {
  const form = root.querySelector('#invoke-form');
  const select = form.querySelector('#invoke-function');
  const payload = form.querySelector('#invoke-payload');
  const output = root.querySelector('#invoke-output');
  const out = (id) => root.querySelector(`[data-testid="invoke-${id}"]`);
  const el = { status: out('status'), duration: out('duration'), result: out('result'), log: out('log') };

  for (const name of cfg.functions) {
    select.append(new Option(name, name));
  }
  if (cfg.functions.length === 0) {
    select.append(new Option('(no functions on this server)', ''));
    select.disabled = true;
  }
  select.value = cfg.functions.includes('hello') ? 'hello' : cfg.functions[0] || '';
  const fill = () => {
    payload.value = oneLine(samplePayload(select.value, who.email));
    invalid(payload, false);
  };
  select.addEventListener('change', fill);
  fill();

  function render(ok, result, ms, log) {
    output.hidden = false;
    el.status.textContent = ok ? 'ok' : 'error';
    el.status.dataset.state = ok ? 'ok' : 'error';
    el.duration.textContent = ms === null ? '' : `${ms} ms`;
    el.result.textContent = result;
    el.log.textContent = log || '(no log)';
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      const fn = select.value;
      if (!fn) {
        showError('There is no function to call.');
        return;
      }
      const text = payload.value;
      try {
        JSON.parse(text);
      } catch (err) {
        invalid(payload, true);
        payload.focus();
        showError(`The payload is not valid JSON: ${err.message}`);
        return;
      }
      invalid(payload, false);
      clearError();
      setStatus(`Invoking ${fn}…`);
      const started = performance.now();
      try {
        const res = await lambda().send(
          new InvokeCommand({
            FunctionName: fn,
            Payload: new TextEncoder().encode(text),
            LogType: 'Tail',
          }),
        );
        const ms = Math.round(performance.now() - started);
        const body = res.Payload ? new TextDecoder().decode(res.Payload) : '';
        const log = res.LogResult ? base64ToText(res.LogResult) : '';
        if (res.FunctionError) {
          render(false, functionError(res.FunctionError, body), ms, log);
          setStatus(`${fn} failed after ${ms} ms.`);
        } else {
          render(true, pretty(body), ms, log);
          setStatus(`${fn} answered in ${ms} ms.`);
        }
      } catch (err) {
        const ms = Math.round(performance.now() - started);
        render(false, serviceMessage(err), ms, '');
        setStatus(`Calling ${fn} failed.`);
      }
    });
  });
}
