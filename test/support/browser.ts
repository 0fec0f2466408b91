/**
 * A minimal browser for end-to-end tests: a cookie jar, manual redirects, and
 * HTML forms filled and posted the way a person's browser would.
 */
export interface Page {
  readonly url: string;
  readonly status: number;
  readonly html: string;
  readonly headers: Headers;
}

export interface Form {
  readonly action: string;
  readonly method: string;
  readonly fields: Record<string, string>;
  /** What a browser would send, in order: inputs (checkboxes and radios only when checked) and textareas. */
  readonly entries: [string, string][];
}

/**
 * Cookies by name, as Set-Cookie headers leave them: an expired or emptied
 * cookie is dropped. Paths and domains are not kept apart (one host, and the
 * server ignores cookies it did not ask for).
 */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** The Cookie request header, or undefined when the jar is empty. */
  header(): string | undefined {
    return this.cookies.size ? [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') : undefined;
  }

  store(setCookie: string): void {
    const [pair = '', ...attributes] = setCookie.split(';');
    const separator = pair.indexOf('=');
    const name = pair.slice(0, separator).trim();
    const value = pair.slice(separator + 1).trim();
    const expired = attributes.some((attribute) => {
      const [key = '', val = ''] = attribute.trim().split('=');
      return (key.toLowerCase() === 'max-age' && Number(val) <= 0) || (key.toLowerCase() === 'expires' && Date.parse(val) < Date.now());
    });
    if (expired || value === '') this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

export class Browser {
  private readonly cookies = new CookieJar();
  /** Sent with every request (e.g. X-Forwarded-For to stand for another client IP). */
  readonly headers: Record<string, string> = {};

  /** Requests `url`, following redirects until a page, or until a redirect to `stopAt` (returned as its URL). */
  async open(url: string, options: { stopAt?: string; init?: RequestInit } = {}): Promise<Page> {
    let current = url;
    let init: RequestInit | undefined = options.init;
    for (let hops = 0; hops < 20; hops += 1) {
      const response = await this.fetch(current, init);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, current).toString();
        await response.body?.cancel();
        if (options.stopAt && next.startsWith(options.stopAt)) {
          return { url: next, status: response.status, html: '', headers: response.headers };
        }
        current = next;
        init = undefined;
        continue;
      }
      return { url: current, status: response.status, html: await response.text(), headers: response.headers };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /**
   * Fills the form whose action contains `actionIncludes` and submits it like a
   * browser. A name in `values` replaces every field of that name (a list: several, as checkboxes).
   */
  async submit(
    page: Page,
    actionIncludes: string,
    values: Record<string, string | string[]> = {},
    options: { stopAt?: string } = {},
  ): Promise<Page> {
    const form = findForm(page, actionIncludes);
    const body = new URLSearchParams(form.entries.filter(([name]) => !Object.hasOwn(values, name)));
    for (const [name, value] of Object.entries(values)) for (const item of [value].flat()) body.append(name, item);
    return this.open(new URL(form.action, page.url).toString(), {
      ...options,
      init: { method: form.method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
    });
  }

  /** A cookie's current value, as the browser holds it. */
  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.headers)) headers.set(name, value);
    const cookie = this.cookies.header();
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) this.cookies.store(cookie);
    return response;
  }
}

export function findForm(page: Pick<Page, 'url' | 'status' | 'html'>, actionIncludes: string): Form {
  for (const match of page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attributes = match[1] ?? '';
    const action = decodeEntities(/action="([^"]*)"/i.exec(attributes)?.[1] ?? '');
    if (!action.includes(actionIncludes)) continue;
    const method = (/method="([^"]*)"/i.exec(attributes)?.[1] ?? 'get').toUpperCase();
    const fields: Record<string, string> = {};
    const entries: [string, string][] = [];
    for (const control of (match[2] ?? '').matchAll(/<input\b([^>]*)>|<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/gi)) {
      const attributes = control[1] ?? control[2] ?? '';
      const name = /name="([^"]*)"/i.exec(attributes)?.[1];
      if (!name) continue;
      const value = decodeEntities(control[1] !== undefined ? (/value="([^"]*)"/i.exec(attributes)?.[1] ?? '') : (control[3] ?? ''));
      fields[decodeEntities(name)] = value;
      // A browser sends a checkbox or radio button only when it is checked ("on" when it has no value).
      const checkable = /type="(checkbox|radio)"/i.test(attributes);
      if (checkable && !/\schecked\b/i.test(attributes)) continue;
      entries.push([decodeEntities(name), checkable && !/value="/i.test(attributes) ? 'on' : value]);
    }
    return { action, method, fields, entries };
  }
  throw new Error(`no form with action containing ${actionIncludes} at ${page.url} (status ${page.status}):\n${page.html.slice(0, 2000)}`);
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number.parseInt(dec, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Records each request the browser sends from now on as `METHOD /path` (to count a flow's HTTP hops). */
export function recordRequests(browser: Browser): string[] {
  const sent: string[] = [];
  const send = browser.fetch.bind(browser);
  browser.fetch = (url, init) => {
    sent.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
    return send(url, init);
  };
  return sent;
}

/** The interaction uids among recorded requests (`/interaction/UID...`), in order, each once. */
export function interactionsIn(sent: readonly string[]): string[] {
  return [...new Set(sent.flatMap((request) => /\/interaction\/([^/]+)/.exec(request)?.[1] ?? []))];
}
