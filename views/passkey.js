// Passkey forms (WebAuthn) on Gatehouse's pages. Without JavaScript the
// pages still work for everything else and say that a passkey needs it.
/* global SimpleWebAuthnBrowser */
/** The form's WebAuthn options: in the page, or fetched (a fresh challenge) from its options URL. */
const fetched = new WeakMap();
const optionsOf = (form) => {
  if (!form.dataset.passkeyOptionsUrl) return Promise.resolve(JSON.parse(form.dataset.passkeyOptions));
  // One challenge per page: the autofill request and the button share it.
  if (!fetched.has(form)) fetched.set(form, fetchOptions(form));
  return fetched.get(form);
};
const fetchOptions = async (form) => {
  const response = await fetch(form.dataset.passkeyOptionsUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: form.querySelector('input[name="csrf"]').value }),
  });
  if (!response.ok) throw new Error('options');
  return response.json();
};

const answerWith = (form, answer) => {
  form.querySelector('input[name="response"]').value = JSON.stringify(answer);
  form.dataset.answered = 'true';
  form.submit();
};

for (const form of document.querySelectorAll('form[data-passkey]')) {
  const status = form.querySelector('.passkey-status');
  const button = form.querySelector('button');
  if (!window.PublicKeyCredential || typeof SimpleWebAuthnBrowser === 'undefined') {
    if (status) status.textContent = 'This browser cannot use passkeys.';
    continue;
  }
  if (status) status.textContent = '';
  if (button) button.hidden = false;
  form.addEventListener('submit', async (event) => {
    if (form.dataset.answered) return;
    event.preventDefault();
    try {
      const optionsJSON = await optionsOf(form);
      const answer =
        form.dataset.passkey === 'register'
          ? await SimpleWebAuthnBrowser.startRegistration({ optionsJSON })
          : await SimpleWebAuthnBrowser.startAuthentication({ optionsJSON });
      answerWith(form, answer);
    } catch (error) {
      if (status) status.textContent = `The passkey did not answer (${error.name}). Try again.`;
    }
  });
}

// Conditional UI: where the browser supports it, the email field offers the
// user's passkeys as autofill (the login page's passwordless form).
const conditional = document.querySelector('form[data-passkey="authenticate"][data-conditional]');
if (conditional && window.PublicKeyCredential && typeof SimpleWebAuthnBrowser !== 'undefined') {
  SimpleWebAuthnBrowser.browserSupportsWebAuthnAutofill().then(async (supported) => {
    if (!supported) return;
    try {
      const answer = await SimpleWebAuthnBrowser.startAuthentication({
        optionsJSON: await optionsOf(conditional),
        useBrowserAutofill: true,
      });
      answerWith(conditional, answer);
    } catch {
      // Cancelled, or replaced by the button's own request: nothing to say.
    }
  });
}
