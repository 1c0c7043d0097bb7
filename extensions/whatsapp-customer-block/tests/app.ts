/**
 * Our app as the block's `fetch` sees it: answers by method and path, taken from
 * tests/fixtures (the API's own answers, checked by tests/test_extension.py in the app's suite),
 * and every request it received.
 */
import {vi} from 'vitest';

export interface Received {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** Makes a fresh answer each time (a Response body can be read only once). */
export type Answer = () => Response | Promise<Response>;

export const json =
  (body: unknown, status = 200): Answer =>
  () =>
    new Response(JSON.stringify(body), {status, headers: {'Content-Type': 'application/json'}});

/** The app never answers: the block stays in its loading state. */
export const never: Answer = () => new Promise<Response>(() => {});

/** Nothing answers at all, as when the network is down. */
export const offline: Answer = () => Promise.reject(new TypeError('Failed to fetch'));

/** A fetch answering `routes["GET /api/..."]`; a list is served in turn, its last answer repeating. */
export function fakeApp(routes: Record<string, Answer | Answer[]>) {
  const received: Received[] = [];
  const served: Record<string, number> = {};
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    const url = String(input);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    received.push({method, url, headers, body: init.body ? JSON.parse(String(init.body)) : undefined});
    const route = `${method} ${url}`;
    const answers = ([] as Answer[]).concat(routes[route] ?? []);
    if (!answers.length) throw new Error(`the block requested ${route}, which the test did not expect`);
    const n = served[route] ?? 0;
    served[route] = n + 1;
    return answers[Math.min(n, answers.length - 1)]!();
  });
  return {fetch: fetch as unknown as typeof globalThis.fetch, received};
}
