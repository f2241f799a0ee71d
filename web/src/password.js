// password.js - the user pool's password rules, checked as the user types
// (the server checks them again; this only saves a round trip and shows
// what is missing).

// The rules of a password policy, each with a test and the words that
// complete "Your password needs: ...".
export function passwordRules(policy) {
  const rules = [
    {
      id: 'length',
      text: `at least ${policy.minimumLength} characters`,
      test: (pw) => [...pw].length >= policy.minimumLength,
    },
  ];
  if (policy.requireUppercase) {
    rules.push({ id: 'upper', text: 'an uppercase letter', test: (pw) => /[A-Z]/.test(pw) });
  }
  if (policy.requireLowercase) {
    rules.push({ id: 'lower', text: 'a lowercase letter', test: (pw) => /[a-z]/.test(pw) });
  }
  if (policy.requireNumbers) {
    rules.push({ id: 'number', text: 'a number', test: (pw) => /[0-9]/.test(pw) });
  }
  if (policy.requireSymbols) {
    rules.push({
      id: 'symbol',
      text: 'a symbol',
      test: (pw) => /[\^$*.[\]{}()?"!@#%&/\\,><':;|_~`=+-]/.test(pw),
    });
  }
  return rules;
}

// The rules a password fails, as a sentence fragment ("" when it passes).
export function missingRules(rules, pw) {
  return rules
    .filter((r) => !r.test(pw))
    .map((r) => r.text)
    .join(', ');
}

// Fills <ul id="password-rules"> with one <li data-ok> per rule and keeps it
// in step with the input.
export function liveRules(list, input, rules) {
  const items = rules.map((rule) => {
    const li = document.createElement('li');
    li.dataset.rule = rule.id;
    const mark = document.createElement('span');
    mark.className = 'mark';
    mark.setAttribute('aria-hidden', 'true');
    const text = document.createElement('span');
    text.textContent = rule.text.charAt(0).toUpperCase() + rule.text.slice(1);
    const state = document.createElement('span');
    state.className = 'sr-only';
    li.append(mark, text, state);
    list.append(li);
    return { rule, li, mark, state };
  });
  const update = () => {
    for (const { rule, li, mark, state } of items) {
      const ok = rule.test(input.value);
      li.dataset.ok = String(ok);
      mark.textContent = ok ? '✓' : '✗';
      state.textContent = ok ? ' (done)' : ' (missing)';
    }
  };
  input.addEventListener('input', update);
  update();
}
