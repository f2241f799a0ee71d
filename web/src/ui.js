// ui.js - the few DOM helpers the screens share: mounting a screen from its
// <template>, the one error alert (#error), the polite status line (#status)
// and a busy state for forms while a request is in flight.

const errorBox = document.getElementById('error');
const statusBox = document.getElementById('status');
const view = document.getElementById('view');

// Replaces the current screen with a fresh copy of <template id="tpl-NAME">.
// Only one screen is in the document at a time, so labels such as "Email"
// are never ambiguous. Returns the screen's root element.
export function mount(name) {
  const tpl = document.getElementById(`tpl-${name}`);
  const root = tpl.content.firstElementChild.cloneNode(true);
  view.replaceChildren(root);
  document.getElementById('loading').hidden = true;
  return root;
}

export function unmount() {
  view.replaceChildren();
}

// Shows one error message (plain text) in the alert; keeps it in sight on a
// long page.
export function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
  const r = errorBox.getBoundingClientRect();
  if (r.top < 0 || r.bottom > window.innerHeight) {
    errorBox.scrollIntoView({ block: 'nearest' });
  }
}

export function clearError() {
  errorBox.textContent = '';
  errorBox.hidden = true;
}

export function setStatus(message) {
  statusBox.textContent = message;
}

// Runs fn with the form marked busy, so a double click cannot send a
// request twice: a second submit while busy is ignored. The buttons get
// aria-disabled rather than disabled, which would drop the keyboard focus.
// Errors propagate to the caller.
export async function busy(form, fn) {
  if (form.getAttribute('aria-busy') === 'true') {
    return undefined;
  }
  const buttons = form.querySelectorAll('button');
  form.setAttribute('aria-busy', 'true');
  buttons.forEach((b) => b.setAttribute('aria-disabled', 'true'));
  try {
    return await fn();
  } finally {
    form.removeAttribute('aria-busy');
    buttons.forEach((b) => b.removeAttribute('aria-disabled'));
  }
}

// Marks an input invalid (or valid again) for assistive technology and CSS.
export function invalid(input, isInvalid) {
  if (isInvalid) {
    input.setAttribute('aria-invalid', 'true');
  } else {
    input.removeAttribute('aria-invalid');
  }
}

export function formatBytes(n) {
  if (n < 1024) {
    return `${n} B`;
  }
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
