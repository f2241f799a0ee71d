// auth.js - the signed-out screens: sign in, create an account, confirm the
// e-mail address, reset a forgotten password, and choose a new password
// (users made with AdminCreateUser). All of it goes through Amplify v6 with
// the user pool's default SRP sign-in; the app never sees a password hash.

import {
  signIn,
  signUp,
  confirmSignUp,
  autoSignIn,
  resendSignUpCode,
  resetPassword,
  confirmResetPassword,
  confirmSignIn,
} from 'aws-amplify/auth';
import { mount, showError, clearError, setStatus, busy, invalid } from './ui.js';
import { authMessage } from './errors.js';
import { passwordRules, missingRules, liveRules } from './password.js';

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

// cfg: the app's settings; onSignedIn: called once a sign-in completes.
// Returns show(screen) to open a screen ('signin', 'signup', ...).
export function authScreens(cfg, onSignedIn) {
  const rules = passwordRules(cfg.passwordPolicy);
  // What the screens share: the address being worked on, and the password
  // typed at sign-up or sign-in, kept in memory only until the confirmation
  // code signs the user in.
  const state = { email: '', password: '', destination: '' };

  function focusFirst(root) {
    const input = root.querySelector('input:not([type=hidden])');
    if (input) {
      input.focus();
    }
  }

  function wireLinks(root) {
    root.querySelectorAll('[data-go]').forEach((btn) => {
      btn.addEventListener('click', () => {
        clearError();
        setStatus('');
        show(btn.dataset.go);
      });
    });
  }

  function readEmail(input) {
    const email = input.value.trim();
    if (!EMAIL_RE.test(email)) {
      invalid(input, true);
      input.focus();
      showError(email === '' ? 'Enter your email.' : 'Enter a valid email address, like name@example.com.');
      return null;
    }
    invalid(input, false);
    return email;
  }

  function checkNewPassword(input) {
    const missing = missingRules(rules, input.value);
    if (missing) {
      invalid(input, true);
      input.focus();
      showError(`Your password still needs ${missing}.`);
      return false;
    }
    invalid(input, false);
    return true;
  }

  // Acts on what signIn, autoSignIn or confirmSignIn returned.
  async function afterSignIn(out) {
    const step = out.nextStep && out.nextStep.signInStep;
    if (out.isSignedIn || step === 'DONE') {
      state.password = '';
      clearError();
      setStatus('Signed in.');
      await onSignedIn();
      return;
    }
    switch (step) {
      case 'CONFIRM_SIGN_UP':
        show('confirm');
        showError('This account is not confirmed yet. Enter the code from the confirmation e-mail, or ask for a new one.');
        return;
      case 'CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED':
        state.password = '';
        show('newpass');
        return;
      case 'RESET_PASSWORD':
        state.password = '';
        show('reset');
        showError('This account needs a new password. Send yourself a code to set one.');
        return;
      default:
        state.password = '';
        show('signin');
        showError(`This account needs a sign-in step this app does not support (${step}).`);
    }
  }

  async function doSignIn(email, password) {
    state.email = email;
    state.password = password;
    try {
      await afterSignIn(await signIn({ username: email, password }));
    } catch (err) {
      if (err.name === 'UserAlreadyAuthenticatedException') {
        await onSignedIn();
        return;
      }
      if (err.name === 'UserNotConfirmedException') {
        await afterSignIn({ isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_UP' } });
        return;
      }
      throw err;
    }
  }

  const screens = {
    signin(root) {
      const form = root.querySelector('form');
      form.email.value = state.email;
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(form, async () => {
          const email = readEmail(form.email);
          if (!email) {
            return;
          }
          if (form.password.value === '') {
            invalid(form.password, true);
            form.password.focus();
            showError('Enter your password.');
            return;
          }
          clearError();
          setStatus('Signing in…');
          if (email !== state.email) {
            state.destination = '';
          }
          try {
            await doSignIn(email, form.password.value);
          } catch (err) {
            setStatus('');
            showError(authMessage(err));
            if (form.isConnected) {
              form.password.select();
              form.password.focus();
            }
          }
        });
      });
      return state.email ? form.password : form.email;
    },

    signup(root) {
      const form = root.querySelector('form');
      form.email.value = state.email;
      liveRules(root.querySelector('#password-rules'), form.password, rules);
      // A "still needs ..." error goes away once the password meets every rule.
      form.password.addEventListener('input', () => {
        if (form.password.getAttribute('aria-invalid') === 'true' && !missingRules(rules, form.password.value)) {
          invalid(form.password, false);
          clearError();
        }
      });
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(form, async () => {
          const email = readEmail(form.email);
          if (!email || !checkNewPassword(form.password)) {
            return;
          }
          clearError();
          setStatus('Creating your account…');
          const password = form.password.value;
          try {
            const out = await signUp({
              username: email,
              password,
              options: { userAttributes: { email }, autoSignIn: true },
            });
            state.email = email;
            state.password = password;
            const step = out.nextStep.signUpStep;
            if (step === 'CONFIRM_SIGN_UP') {
              state.destination = out.nextStep.codeDeliveryDetails?.destination || email;
              setStatus('Account created. Enter the confirmation code.');
              show('confirm');
            } else if (step === 'COMPLETE_AUTO_SIGN_IN') {
              setStatus('Account created. Signing in…');
              await afterSignIn(await autoSignIn());
            } else {
              setStatus('Account created. Signing in…');
              await doSignIn(email, password);
            }
          } catch (err) {
            setStatus('');
            showError(authMessage(err));
          }
        });
      });
      return form.email.value ? form.password : form.email;
    },

    confirm(root) {
      const form = root.querySelector('form');
      root.querySelector('.confirm-to').textContent = state.destination || state.email;
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(form, async () => {
          const code = form.code.value.trim();
          if (code === '') {
            invalid(form.code, true);
            form.code.focus();
            showError('Enter the confirmation code.');
            return;
          }
          clearError();
          setStatus('Confirming…');
          let out;
          try {
            out = await confirmSignUp({ username: state.email, confirmationCode: code });
          } catch (err) {
            setStatus('');
            invalid(form.code, true);
            showError(authMessage(err));
            form.code.select();
            form.code.focus();
            return;
          }
          invalid(form.code, false);
          setStatus('Email confirmed. Signing in…');
          try {
            if (out.nextStep.signUpStep === 'COMPLETE_AUTO_SIGN_IN') {
              await afterSignIn(await autoSignIn());
            } else if (state.password) {
              await doSignIn(state.email, state.password);
            } else {
              setStatus('Email confirmed. Sign in with your password.');
              show('signin');
            }
          } catch (err) {
            state.password = '';
            show('signin');
            setStatus('Email confirmed. Sign in with your password.');
            showError(authMessage(err));
          }
        });
      });
      root.querySelector('[data-action=resend]').addEventListener('click', (e) => {
        busy(e.currentTarget.parentElement, async () => {
          clearError();
          try {
            const out = await resendSignUpCode({ username: state.email });
            state.destination = out.destination || state.destination;
            setStatus(`We sent a new code to ${state.destination || state.email}.`);
          } catch (err) {
            showError(authMessage(err));
          }
        });
      });
      return form.code;
    },

    reset(root) {
      const [sendForm, setForm] = root.querySelectorAll('form');
      sendForm.email.value = state.email;
      sendForm.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(sendForm, async () => {
          const email = readEmail(sendForm.email);
          if (!email) {
            return;
          }
          clearError();
          setStatus('Sending a code…');
          try {
            const out = await resetPassword({ username: email });
            state.email = email;
            if (out.nextStep.resetPasswordStep === 'DONE') {
              setStatus('Your password is reset. Sign in.');
              show('signin');
              return;
            }
            const to = out.nextStep.codeDeliveryDetails?.destination || email;
            setStatus(`If ${email} has an account, a code is on its way to ${to}.`);
            setForm.hidden = false;
            setForm.code.focus();
          } catch (err) {
            setStatus('');
            showError(authMessage(err));
          }
        });
      });
      setForm.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(setForm, async () => {
          const email = readEmail(sendForm.email);
          if (!email) {
            return;
          }
          const code = setForm.code.value.trim();
          if (code === '') {
            invalid(setForm.code, true);
            setForm.code.focus();
            showError('Enter the code.');
            return;
          }
          invalid(setForm.code, false);
          if (!checkNewPassword(setForm.password)) {
            return;
          }
          clearError();
          setStatus('Setting your new password…');
          const password = setForm.password.value;
          try {
            await confirmResetPassword({ username: email, confirmationCode: code, newPassword: password });
          } catch (err) {
            setStatus('');
            if (err.name === 'CodeMismatchException' || err.name === 'ExpiredCodeException') {
              invalid(setForm.code, true);
              setForm.code.select();
              setForm.code.focus();
            }
            showError(authMessage(err));
            return;
          }
          setStatus('Password changed. Signing in…');
          try {
            await doSignIn(email, password);
          } catch (err) {
            show('signin');
            setStatus('Password changed. Sign in with your new password.');
            showError(authMessage(err));
          }
        });
      });
      return sendForm.email;
    },

    newpass(root) {
      const form = root.querySelector('form');
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(form, async () => {
          if (!checkNewPassword(form.password)) {
            return;
          }
          clearError();
          setStatus('Setting your new password…');
          try {
            await afterSignIn(await confirmSignIn({ challengeResponse: form.password.value }));
          } catch (err) {
            setStatus('');
            showError(authMessage(err));
          }
        });
      });
      return form.password;
    },
  };

  // Opens a screen; focus goes to its first field to be filled.
  function show(name) {
    const root = mount(name);
    wireLinks(root);
    const focus = screens[name](root);
    (focus || root).focus();
    if (!focus) {
      focusFirst(root);
    }
  }

  return { show, reset: () => Object.assign(state, { email: '', password: '', destination: '' }) };
}
