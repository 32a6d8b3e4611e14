import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { startReceiver } from '../support/receiver';
import type { Receiver } from '../support/receiver';
import { uniqueName } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/*
 * The tenant portal in a real browser (Debian's chromium, driven by playwright-core) against the whole service on
 * real Redis and Temporal. The portal is served from portal/dist, which `npm run build` (and bootstrap --test)
 * makes.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const WAIT_MS = 30_000;

describe('tenant portal in a real browser', () => {
  let stack: TestStack;
  let browser: Browser;
  const receivers: Receiver[] = [];

  before(async () => {
    assert.ok(CHROMIUM, 'chromium is not installed: run node scripts/bootstrap.mjs --test (apt package chromium)');
    assert.ok(existsSync(path.join(ROOT, 'portal', 'dist', 'index.html')), 'portal/dist is missing: run npm run build');
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await Promise.all(receivers.map((r) => r.close()));
    await stack?.stop();
  });

  const tenantId = (label: string) => uniqueName(label).replace(/[^A-Za-z0-9_-]/g, '_');

  async function tenantWithKey(label: string): Promise<{ id: string; key: string }> {
    const id = tenantId(label);
    assert.equal((await stack.api('POST', '/v1/tenants', { id })).status, 201);
    const key = await stack.api('POST', `/v1/tenants/${id}/api-keys`, { name: 'portal test' });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    return { id, key: key.body.key as string };
  }

  async function newPage(width: number): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, timezoneId: 'Asia/Tokyo' });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    // Outside the API's own answers, nothing the portal loads may fail (a missing asset), and
    // nothing may be blocked by its Content Security Policy.
    page.on('response', (res) => {
      if (res.status() >= 400 && !new URL(res.url()).pathname.startsWith('/v1/'))
        pageProblems.push(`${res.status()} ${res.url()}`);
    });
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) pageProblems.push(msg.text());
    });
    return page;
  }
  const pageProblems: string[] = [];

  /** axe-core's serious and critical violations on the page as it is now. */
  async function seriousViolations(page: Page): Promise<string[]> {
    await page.evaluate(AXE_SOURCE);
    const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as {
      violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[];
    };
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }

  const nav = (page: Page, name: string) =>
    page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

  async function signIn(page: Page, key: string): Promise<void> {
    await page.goto(`${stack.apiUrl}/portal/`);
    await page.getByRole('heading', { name: 'Sign in to the webhook portal' }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'sign-in page');
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    // Focus moves from the gone sign-in form to the page's heading, not to <body>.
    await waitUntil(page, `document.activeElement?.tagName === 'H1'`);
  }

  it('serves the portal with a CSP and the other security headers', async () => {
    const res = await fetch(`${stack.apiUrl}/portal/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.ok(res.headers.get('strict-transport-security'));
  });

  it('signs in with a tenant key, manages an endpoint with a live dry run, sends, retries and rotates', async () => {
    const a = await tenantWithKey('portal-a');
    const b = await tenantWithKey('portal-b');
    const other = await stack.api(
      'POST',
      `/v1/tenants/${b.id}/endpoints`,
      { url: 'http://127.0.0.1:9/tenant-b-secret-hook', eventTypes: ['order.*'] },
      b.key,
    );
    assert.equal(other.status, 201);
    // Fails the first request (answered 500 with a body the attempt keeps), then accepts.
    const hook = await startReceiver((_req, index) =>
      index === 0 ? { status: 500, body: 'receiver exploded' } : { status: 200 },
    );
    receivers.push(hook);

    const page = await newPage(1280);
    await signIn(page, a.key);
    await page.getByText('No endpoints yet').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'empty endpoint list');
    // Nothing the browser keeps outlives the tab.
    assert.deepEqual(await page.evaluate('[localStorage.length, sessionStorage.length, document.cookie]'), [0, 0, '']);

    await page.getByRole('button', { name: 'New endpoint' }).click();
    await page.getByLabel('URL').fill(hook.url);
    await page.getByLabel('Event types').fill('order.created');
    await page.getByLabel('Description').fill('orders to the ERP');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const shownSecret = (await page.getByTestId('secret-value').textContent())?.trim() ?? '';
    assert.ok(shownSecret.length > 20, 'the secret is shown once after creation');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByTestId('secret-value').waitFor({ state: 'detached' });

    // The endpoint page: subscription editor with the dry run beside it.
    await page.getByRole('heading', { name: 'orders to the ERP', level: 1 }).waitFor();
    const endpointId = new URL(page.url()).hash.split('/').pop() ?? '';
    assert.ok(endpointId.length > 0, page.url());
    await page.getByLabel('Sample data (JSON)').fill('{"total": 5}');
    const dryRun = page.getByRole('status', { name: 'Dry run result' });
    await dryRun
      .getByText('Would be delivered')
      .waitFor()
      .catch(async (err: unknown) => {
        throw new Error(`dry run shows: ${await dryRun.textContent()}`, { cause: err });
      });
    await page.getByLabel('Filter (JSON)').fill('{"data.total": {"$gt": 10}}');
    await dryRun.getByText('Not delivered: the filter does not match').waitFor();
    await page.getByLabel('Filter (JSON)').fill('{"data.total": {"$gt": 1}}');
    await dryRun.getByText('Would be delivered').waitFor();
    await page.getByLabel('Transform (JSONata)').fill('{"amount": data.total}');
    await page.getByTestId('dry-run-body').getByText('{"amount":5}').waitFor();
    assert.match((await page.getByTestId('dry-run-headers').textContent()) ?? '', /signature/i);
    await page.getByRole('button', { name: 'Save subscription' }).click();
    await page.getByText('Saved').waitFor();
    const saved = await stack.api('GET', `/v1/tenants/${a.id}/endpoints/${endpointId}`, undefined, a.key);
    assert.deepEqual(saved.body.filter, { 'data.total': { $gt: 1 } });
    assert.equal(saved.body.transform, '{"amount": data.total}');
    assert.deepEqual(await seriousViolations(page), [], 'endpoint page');
    await page.screenshot({ path: path.join(ROOT, 'docs', 'portal-1280.png'), fullPage: true });

    // One attempt only, so the first (failing) answer fails the delivery and the retry is the user's.
    const patched = await stack.api('PATCH', `/v1/tenants/${a.id}/endpoints/${endpointId}`, {
      retryPolicy: { maximumAttempts: 1 },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));

    // A test event goes to this endpoint only, not to the tenant's other endpoints subscribed to its type.
    const bystanderHook = await startReceiver(() => ({ status: 200 }));
    receivers.push(bystanderHook);
    const bystander = await stack.api('POST', `/v1/tenants/${a.id}/endpoints`, {
      url: bystanderHook.url,
      eventTypes: ['order.*'],
      description: 'bystander',
    });
    assert.equal(bystander.status, 201, JSON.stringify(bystander.body));
    await page.getByText('to this endpoint only').waitFor();
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('link', { name: 'View delivery' }).click();
    await page.getByRole('heading', { name: /^Delivery / }).waitFor();
    const attempts = page.getByRole('table', { name: `Attempts to ${endpointId}` });
    await attempts.getByRole('cell', { name: '500', exact: true }).waitFor();
    await attempts.getByText('receiver exploded').waitFor();
    await page.getByTestId('delivery-status').getByText('failed').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'delivery page');
    assert.equal(await page.getByRole('table', { name: /^Attempts to / }).count(), 1, 'one endpoint only');
    assert.equal(bystanderHook.requests.length, 0);
    assert.equal(
      (await stack.api('DELETE', `/v1/tenants/${a.id}/endpoints/${bystander.body.id as string}`)).status,
      204,
    );
    const eventId = decodeURIComponent(new URL(page.url()).hash.split('/').pop() ?? '');
    assert.ok(eventId.length > 0, page.url());

    // The deliveries list, filtered by status, event type and time, finds it; the filters can also exclude it.
    await nav(page, 'Deliveries').click();
    await page.getByRole('heading', { name: 'Deliveries', level: 1 }).waitFor();
    const list = page.getByRole('table', { name: 'Deliveries' });
    const row = list.getByRole('row').filter({ hasText: eventId });
    await page.getByLabel('Status').selectOption('failed');
    await row.getByText('failed').waitFor();
    await page.getByLabel('Event type').fill('order.created');
    await row.waitFor();
    await page.getByLabel('Event type').fill('invoice.paid');
    await page.getByText('No deliveries match these filters.').waitFor();
    await page.getByLabel('Event type').fill('');
    await row.waitFor();
    // A datetime-local value in the browser's zone (Asia/Tokyo here, not the machine's), an hour away.
    const localInput = (offsetMs: number) =>
      page.evaluate(
        `(() => { const d = new Date(Date.now() + ${offsetMs}); return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19); })()`,
      ) as Promise<string>;
    await page.getByLabel('Started from').fill(await localInput(3_600_000));
    await page.getByText('No deliveries match these filters.').waitFor();
    await page.getByLabel('Started from').fill(await localInput(-3_600_000));
    await row.waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'deliveries page');

    await row.getByRole('link', { name: eventId }).click();
    await page.getByRole('heading', { name: `Delivery ${eventId}` }).waitFor();
    await page.getByRole('button', { name: 'Retry failed deliveries' }).click();
    await attempts.getByRole('cell', { name: '200', exact: true }).waitFor();
    await page.getByTestId('delivery-status').getByText('delivered').waitFor();
    assert.equal(hook.requests.length, 2);

    // After the retry the list shows the event once, delivered, and no longer under failed.
    await nav(page, 'Deliveries').click();
    await page.getByLabel('Status').selectOption('delivered');
    await row.getByText('delivered').waitFor();
    assert.equal(await list.getByRole('row').filter({ hasText: eventId }).count(), 1);
    await page.getByLabel('Status').selectOption('failed');
    await page.getByText('No deliveries match these filters.').waitFor();
    await page.getByLabel('Status').selectOption('');
    await row.waitFor();
    await page.screenshot({ path: path.join(ROOT, 'docs', 'portal-deliveries-1280.png'), fullPage: true });

    // Rotate the secret: shown once, different from the first.
    await nav(page, 'Endpoints').click();
    await page.getByRole('link', { name: 'orders to the ERP' }).click();
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('button', { name: 'Rotate now' }).click();
    const rotated = (await page.getByTestId('secret-value').textContent())?.trim() ?? '';
    assert.ok(rotated.length > 20 && rotated !== shownSecret, 'a new secret is shown');
    await page.getByRole('button', { name: 'Copy' }).waitFor();
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByTestId('secret-value').waitFor({ state: 'detached' });

    // Health and lifecycle: disable (shown with its state), enable, and, at the end, delete.
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByTestId('endpoint-state').filter({ hasText: 'Disabled' }).waitFor();
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByTestId('endpoint-state').filter({ hasText: 'Enabled' }).waitFor();

    // Layout shift over the whole session (Chromium's layout-shift entries, input-driven ones excluded).
    const shift = Number(
      await page.evaluate(`new Promise((resolve) => {
        let sum = 0;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) if (!e.hadRecentInput) sum += e.value;
        }).observe({ type: 'layout-shift', buffered: true });
        setTimeout(() => resolve(sum), 500);
      })`),
    );
    assert.ok(shift < 0.1, `cumulative layout shift ${shift} is under 0.1`);

    // Tenant B's endpoint never appears anywhere tenant A looks.
    await nav(page, 'Endpoints').click();
    await page.getByRole('link', { name: 'orders to the ERP' }).waitFor();
    assert.ok(!(await page.content()).includes('tenant-b-secret-hook'));

    // 360 px: the same endpoint page, usable on a phone.
    const phone = await newPage(360);
    // Keyboard only: the key field is the first stop, Enter submits.
    await phone.goto(`${stack.apiUrl}/portal/`);
    await phone.keyboard.press('Tab');
    await phone.keyboard.type(a.key);
    await phone.keyboard.press('Enter');
    await phone.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    await phone.getByRole('link', { name: 'orders to the ERP' }).click();
    await phone.getByLabel('Sample data (JSON)').fill('{"total": 5}');
    await phone.getByRole('status', { name: 'Dry run result' }).getByText('Would be delivered').waitFor();
    const overflow = Number(await phone.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
    assert.ok(overflow <= 0, `no horizontal scrolling at 360 px (overflow ${overflow})`);
    await phone.screenshot({ path: path.join(ROOT, 'docs', 'portal-360.png'), fullPage: true });
    await phone.context().close();

    await page.getByRole('link', { name: 'orders to the ERP' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Delete endpoint' }).click();
    await page.getByText('No endpoints yet').waitFor();
    await page.context().close();
  });

  it('a portal link signs in as its tenant only, and an expired link is refused', async () => {
    const a = await tenantWithKey('link-a');
    const b = await tenantWithKey('link-b');
    await stack.api('POST', `/v1/tenants/${a.id}/endpoints`, {
      url: 'http://127.0.0.1:9/a-hook',
      eventTypes: ['x.y'],
      description: 'tenant A hook',
    });
    const link = await stack.api('POST', `/v1/tenants/${a.id}/portal-sessions`, {}, a.key);
    assert.equal(link.status, 201, JSON.stringify(link.body));
    assert.match(link.body.url, /^\/portal\/#session=wps_/);

    // The link's token carries tenant A's rights and nothing else.
    const token = link.body.token as string;
    assert.equal((await stack.api('GET', `/v1/tenants/${a.id}/endpoints`, undefined, token)).status, 200);
    assert.equal((await stack.api('GET', `/v1/tenants/${b.id}/endpoints`, undefined, token)).status, 404);
    assert.equal((await stack.api('POST', `/v1/tenants/${b.id}/api-keys`, {}, token)).status, 404);
    // It cannot mint a longer-lived link for itself.
    assert.equal((await stack.api('POST', `/v1/tenants/${a.id}/portal-sessions`, {}, token)).status, 404);
    // Nor can A's key mint one for B.
    assert.equal((await stack.api('POST', `/v1/tenants/${b.id}/portal-sessions`, {}, a.key)).status, 404);

    const page = await newPage(1280);
    await page.goto(`${stack.apiUrl}${link.body.url}`);
    await page.getByRole('link', { name: 'tenant A hook' }).waitFor();
    assert.ok(!page.url().includes('wps_'), 'the token is removed from the address bar');
    assert.deepEqual(await page.evaluate('[localStorage.length, sessionStorage.length]'), [0, 0]);

    const short = await stack.api('POST', `/v1/tenants/${a.id}/portal-sessions`, { ttlSeconds: 1 });
    assert.equal(short.status, 201);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await stack.api('GET', `/v1/tenants/${a.id}/endpoints`, undefined, short.body.token)).status, 401);
    const expired = await newPage(1280);
    await expired.goto(`${stack.apiUrl}${short.body.url}`);
    await expired.getByRole('alert').getByText('This portal link has expired or is not valid').waitFor();
    await expired.context().close();

    // Sign out ends the link on the server: the token no longer works anywhere.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    assert.equal((await stack.api('GET', `/v1/tenants/${a.id}/endpoints`, undefined, token)).status, 401);
    // Focus lands on the sign-in page's heading, not on <body>.
    await waitUntil(page, `document.activeElement?.tagName === 'H1'`);
    assert.equal(await focusedText(page), 'H1 Sign in to the webhook portal');
    await page.context().close();
  });

  /** Chromium's layout shift (input-driven entries excluded) while `act` runs, from the moment it starts. */
  async function layoutShiftDuring(page: Page, act: () => Promise<void>): Promise<number> {
    await page.evaluate(`(() => {
      window.__shift = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value;
      }).observe({ type: 'layout-shift' });
    })()`);
    await act();
    await page.waitForTimeout(500);
    return Number(await page.evaluate('window.__shift'));
  }

  /** Waits until `expression` is true in the page (waitForFunction cannot run under the portal's CSP). */
  async function waitUntil(page: Page, expression: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (await page.evaluate(expression)) return;
      await page.waitForTimeout(100);
    }
    assert.fail(`not true after 10 s: ${expression}`);
  }

  const focusedText = (page: Page) =>
    page.evaluate('[document.activeElement?.tagName, document.activeElement?.textContent?.trim()].join(" ")');

  it('a portal link opened in a tab already signed in switches to its tenant and clears the address bar', async () => {
    const a = await tenantWithKey('switch-a');
    const b = await tenantWithKey('switch-b');
    await stack.api('POST', `/v1/tenants/${b.id}/endpoints`, {
      url: 'http://127.0.0.1:9/b-hook',
      eventTypes: ['x.y'],
      description: 'tenant B hook',
    });
    const page = await newPage(1280);
    await signIn(page, a.key);
    // Same-page navigation to tenant B's link: B's session replaces A's, and the token leaves the URL at once.
    const link = await stack.api('POST', `/v1/tenants/${b.id}/portal-sessions`, {}, b.key);
    assert.equal(link.status, 201, JSON.stringify(link.body));
    // The address bar as it is once the hash change has been handled (this listener runs after the portal's).
    const setHash = (hash: string) =>
      page.evaluate(`new Promise((resolve) => {
        addEventListener('hashchange', () => resolve(location.href), { once: true });
        location.hash = ${JSON.stringify(hash)};
      })`);
    const address = await setHash(new URL(link.body.url, stack.apiUrl).hash);
    assert.ok(!String(address).includes('wps_'), `the token is removed from the address bar at once: ${address}`);
    await page.getByRole('link', { name: 'tenant B hook' }).waitFor();
    assert.ok(!page.url().includes('wps_'), page.url());
    assert.equal((await page.locator('.tenant').textContent())?.trim(), b.id);
    // The replaced session was an API key's: not a link, nothing to end, the key still works.
    assert.equal((await stack.api('GET', `/v1/tenants/${a.id}/endpoints`, undefined, a.key)).status, 200);

    // A second link replaces the first, and the replaced link's session is ended on the server too.
    const second = await stack.api('POST', `/v1/tenants/${b.id}/portal-sessions`, {}, b.key);
    assert.equal(second.status, 201, JSON.stringify(second.body));
    await setHash(new URL(second.body.url, stack.apiUrl).hash);
    await page.getByRole('link', { name: 'tenant B hook' }).waitFor();
    const endpointsOfB = `/v1/tenants/${b.id}/endpoints`;
    for (let i = 0; i < 50; i++) {
      if ((await stack.api('GET', endpointsOfB, undefined, link.body.token)).status === 401) break;
      await page.waitForTimeout(100);
    }
    assert.equal((await stack.api('GET', endpointsOfB, undefined, link.body.token)).status, 401, 'replaced link');
    assert.equal((await stack.api('GET', endpointsOfB, undefined, second.body.token)).status, 200, 'current link');

    // Focus moves to the page's heading after sign-in and after a route change.
    await waitUntil(page, `document.activeElement?.tagName === 'H1'`);
    assert.equal(await focusedText(page), 'H1 Endpoints', 'focus after signing in with the link');
    await nav(page, 'Deliveries').click();
    await page.getByRole('heading', { name: 'Deliveries', level: 1 }).waitFor();
    await waitUntil(page, `document.activeElement?.tagName === 'H1'`);
    assert.equal(await focusedText(page), 'H1 Deliveries');

    // A link that is not valid (expired, revoked) signs the tab out with the notice, token cleared too.
    assert.ok(!String(await setHash('#session=wps_not_a_real_token')).includes('wps_'));
    await page.getByRole('alert').getByText('This portal link has expired or is not valid').waitFor();
    await page.context().close();
  });

  it('the deliveries list drops a "Show more" page of a filter that is no longer current', async () => {
    const a = await tenantWithKey('stale-list');
    const page = await newPage(1280);
    await signIn(page, a.key);
    const summary = (eventId: string, status: string) => ({
      eventId,
      eventType: 'order.created',
      status,
      workflowStatus: 'COMPLETED',
      endpointIds: [],
      startedAt: new Date().toISOString(),
    });
    // The list's answers are scripted here; every later page of the unfiltered list is full and answers slowly.
    await page.route(/\/v1\/tenants\/[^/]+\/deliveries\?/, async (route) => {
      const url = new URL(route.request().url());
      const cursor = url.searchParams.get('cursor');
      let body: unknown;
      if (cursor) {
        await new Promise((r) => setTimeout(r, 1500));
        const n = Number(cursor.replace('page-', ''));
        body = {
          items: Array.from({ length: 25 }, (_, i) => summary(`evt_page_${n}_${i}`, 'delivered')),
          nextCursor: `page-${n + 1}`,
        };
      } else if (url.searchParams.get('status') === 'failed') body = { items: [summary('evt_failed_1', 'failed')] };
      else body = { items: [summary('evt_page_1', 'delivered')], nextCursor: 'page-2' };
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    });
    await nav(page, 'Deliveries').click();
    const list = page.getByRole('table', { name: 'Deliveries' });
    await list.getByText('evt_page_1').waitFor();

    // A slow "Show more" moves nothing the user sees when its rows arrive (the footer stays below the fold).
    const shift = await layoutShiftDuring(page, async () => {
      await page.getByRole('button', { name: 'Show more' }).click();
      await list.getByText('evt_page_2_24', { exact: true }).waitFor();
    });
    assert.ok(shift < 0.05, `layout shift of a slow "Show more": ${shift}`);
    // Focus moves to the first row that "Show more" loaded.
    await waitUntil(page, `document.activeElement?.textContent === 'evt_page_2_0'`);
    assert.equal(await focusedText(page), 'A evt_page_2_0');

    // The filter changes while page 3 is on its way: page 3 is not appended to the new list.
    await page.getByRole('button', { name: 'Show more' }).click();
    await page.getByLabel('Status').selectOption('failed');
    await list.getByText('evt_failed_1').waitFor();
    await page.waitForTimeout(2500);
    assert.deepEqual(
      await list.locator('tbody tr a').allTextContents(),
      ['evt_failed_1'],
      'only rows of the current filter',
    );
    await page.context().close();
  });

  it('the endpoint list pages with "Show more"', async () => {
    const a = await tenantWithKey('many-endpoints');
    for (let i = 0; i < 55; i++) {
      const res = await stack.api('POST', `/v1/tenants/${a.id}/endpoints`, {
        url: `http://127.0.0.1:9/hook-${i}`,
        eventTypes: ['x.y'],
        description: `hook ${String(i).padStart(2, '0')}`,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const page = await newPage(1280);
    await signIn(page, a.key);
    const cards = page.locator('ul.cards > li');
    await page.getByRole('link', { name: 'hook 00' }).waitFor();
    await page.getByRole('button', { name: 'Show more' }).click();
    await page.getByRole('link', { name: 'hook 54' }).waitFor();
    assert.equal(await cards.count(), 55);
    assert.equal(await page.getByRole('button', { name: 'Show more' }).count(), 0, 'no more pages');
    // The button went with the last page: focus moves to the first row it loaded, not to <body>.
    await waitUntil(page, `document.activeElement?.tagName === 'A'`);
    assert.equal(await focusedText(page), 'A hook 50');
    await page.context().close();
  });

  it('a delivery page says when no delivery exists, waits in words after a test event, and offers Try again', async () => {
    const a = await tenantWithKey('no-delivery');
    const ep = await stack.api('POST', `/v1/tenants/${a.id}/endpoints`, {
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['x.y'],
      description: 'ghost hook',
    });
    assert.equal(ep.status, 201);
    const page = await newPage(1280);
    await signIn(page, a.key);

    // Opened directly: an unknown event id is said at once, not a skeleton for a minute.
    await page.evaluate(`location.hash = '#/deliveries/evt_unknown_1'`);
    await page.getByText('No delivery found for event evt_unknown_1').waitFor({ timeout: 5000 });
    assert.equal(await page.locator('[aria-busy="true"]').count(), 0);

    // Right after "Send test event": it waits, in words, then gives up. The event id here is one that never starts.
    await page.route(/\/send-test$|\/events$/, (route) =>
      route.fulfill({
        status: 202,
        contentType: 'application/json',
        body: JSON.stringify({ id: 'evt_never_started', endpointId: ep.body.id }),
      }),
    );
    await page.evaluate(`location.hash = '#/endpoints/${ep.body.id as string}'`);
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('link', { name: 'View delivery' }).click();
    await page.getByText('Waiting for the delivery to start').waitFor();
    await page.getByText('No delivery found for event evt_never_started').waitFor({ timeout: 20_000 });

    // The API cannot be reached: the error comes with Try again, which works once it is back.
    await page.route(/\/deliveries\/evt_down$/, (route) => route.abort());
    await page.evaluate(`location.hash = '#/deliveries/evt_down'`);
    await page.getByRole('alert').getByText('The service cannot be reached').waitFor();
    await page.unroute(/\/deliveries\/evt_down$/);
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByText('No delivery found for event evt_down').waitFor();
    await page.context().close();
  });

  it('a failed save names the field: message beside it, aria-invalid, focus moved there', async () => {
    const a = await tenantWithKey('field-error');
    const ep = await stack.api('POST', `/v1/tenants/${a.id}/endpoints`, {
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['x.y'],
      description: 'field hook',
    });
    const page = await newPage(1280);
    await signIn(page, a.key);
    await page.evaluate(`location.hash = '#/endpoints/${ep.body.id as string}'`);
    const url = page.getByLabel('Receiver URL');
    await url.fill('ftp://example.com/hook');
    await page.getByRole('button', { name: 'Save details' }).click();
    await waitUntil(page, `document.activeElement?.id === 'ep-url'`);
    assert.equal(await url.getAttribute('aria-invalid'), 'true');
    const describedBy = (await url.getAttribute('aria-describedby')) ?? '';
    const message = await page.evaluate(
      `${JSON.stringify(describedBy)}.split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ')`,
    );
    assert.match(String(message), /scheme "ftp" is not allowed/);
    // Fixed and saved: the mark goes.
    await url.fill('http://127.0.0.1:9/fixed');
    await page.getByRole('button', { name: 'Save details' }).click();
    await page.getByText('Details saved').waitFor();
    assert.equal(await url.getAttribute('aria-invalid'), null);
    await page.context().close();
  });

  it('the delivery and deliveries pages at 360 px: no serious axe violation, no layout shift', async () => {
    const a = await tenantWithKey('phone-delivery');
    const hook = await startReceiver(() => ({ status: 500, body: 'receiver exploded with a long answer body' }));
    receivers.push(hook);
    const ep = await stack.api('POST', `/v1/tenants/${a.id}/endpoints`, {
      url: hook.url,
      eventTypes: ['order.created'],
      description: 'phone hook',
      retryPolicy: { maximumAttempts: 1 },
    });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    const published = await stack.api('POST', `/v1/tenants/${a.id}/events`, { type: 'order.created', data: { n: 1 } });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    const eventId = published.body.id as string;
    const attemptsDone = async () => {
      for (let i = 0; i < 100; i++) {
        const d = await stack.api('GET', `/v1/tenants/${a.id}/deliveries/${eventId}`);
        if (d.status === 200 && d.body.status === 'failed') return;
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.fail('the delivery did not fail');
    };
    await attemptsDone();

    const phone = await newPage(360);
    await signIn(phone, a.key);
    // The delivery answers slowly (as right after sending), so the page shows its placeholder first.
    await phone.route(new RegExp(`/deliveries/${eventId}$`), async (route) => {
      await new Promise((r) => setTimeout(r, 800));
      await route.continue();
    });
    const shift = await layoutShiftDuring(phone, async () => {
      await phone.evaluate(`location.hash = '#/deliveries/${eventId}'`);
      // While the placeholder shows, the footer is below the fold already: the content arriving cannot move it.
      await phone.locator('[aria-busy="true"]').first().waitFor();
      const footerTop = Number(await phone.evaluate('document.querySelector("footer").getBoundingClientRect().top'));
      assert.ok(footerTop >= 900, `the footer is below the fold (top ${footerTop})`);
      await phone
        .getByRole('table', { name: `Attempts to ${ep.body.id as string}` })
        .getByText('500')
        .waitFor();
    });
    assert.ok(shift < 0.05, `layout shift on the delivery page at 360 px: ${shift}`);
    assert.deepEqual(await seriousViolations(phone), [], 'delivery page at 360 px');
    await nav(phone, 'Deliveries').click();
    await phone.getByRole('table', { name: 'Deliveries' }).getByText(eventId).waitFor();
    assert.deepEqual(await seriousViolations(phone), [], 'deliveries page at 360 px');
    await phone.context().close();
  });

  it('a time range that ends before it starts is said beside "Started from", and not asked of the API', async () => {
    const a = await tenantWithKey('bad-range');
    const page = await newPage(1280);
    await signIn(page, a.key);
    await nav(page, 'Deliveries').click();
    await page.getByText('No deliveries yet.').waitFor();
    const asked: string[] = [];
    page.on('request', (req) => {
      if (req.url().includes('/deliveries?')) asked.push(req.url());
    });
    const localInput = (offsetMs: number) =>
      page.evaluate(
        `(() => { const d = new Date(Date.now() + ${offsetMs}); return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19); })()`,
      ) as Promise<string>;
    await page.getByLabel('Started until').fill(await localInput(-3_600_000));
    await page.getByLabel('Started from').fill(await localInput(3_600_000));
    const since = page.getByLabel('Started from');
    await waitUntil(page, `document.getElementById('f-since')?.getAttribute('aria-invalid') === 'true'`);
    const describedBy = (await since.getAttribute('aria-describedby')) ?? '';
    const message = await page.evaluate(
      `${JSON.stringify(describedBy)}.split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ')`,
    );
    assert.match(String(message), /before "Started until"/);
    await page.waitForTimeout(600);
    assert.equal(await page.getByRole('button', { name: 'Try again' }).count(), 0);
    const sent = asked.filter((u) => new URL(u).searchParams.has('since'));
    assert.deepEqual(sent, [], 'the reversed range is not asked of the API');
    // Corrected: the mark goes and the list is asked again.
    await since.fill(await localInput(-7_200_000));
    await page.getByText('No deliveries match these filters.').waitFor();
    assert.equal(await since.getAttribute('aria-invalid'), null);
    await page.context().close();
  });

  it('offers Try again only where retrying can help: not found and bad requests say so without it', async () => {
    const a = await tenantWithKey('no-retry');
    const page = await newPage(1280);
    await signIn(page, a.key);
    // A missing endpoint (404): a not-found state with a way back to the list.
    await page.evaluate(`location.hash = '#/endpoints/ep_doesnotexist'`);
    await page.getByText('No endpoint ep_doesnotexist').waitFor();
    await page.getByRole('link', { name: 'Back to endpoints' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Try again' }).count(), 0, 'not found');
    // A malformed event id (400): the message, without Try again.
    const refused = page.waitForResponse((res) => res.url().includes('/deliveries/%3Cimg'));
    await page.evaluate(`location.hash = '#/deliveries/' + encodeURIComponent('<img src=x>')`);
    assert.equal((await refused).status(), 400);
    await page.getByRole('alert').waitFor();
    await page.waitForTimeout(300);
    assert.equal(await page.getByRole('button', { name: 'Try again' }).count(), 0, 'bad request');
    // A server error (5xx) can pass: Try again is offered.
    await page.route(/\/endpoints\/ep_flaky$/, (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"x","message":"busy"}}' }),
    );
    await page.evaluate(`location.hash = '#/endpoints/ep_flaky'`);
    await page.getByRole('button', { name: 'Try again' }).waitFor();
    await page.context().close();
  });

  it('shows untrusted text with bidi controls made visible and isolated', async () => {
    const a = await tenantWithKey('bidi');
    const hook = await startReceiver(() => ({ status: 500, body: 'ok \u202Egnp.exe' }));
    receivers.push(hook);
    const ep = await stack.api('POST', `/v1/tenants/${a.id}/endpoints`, {
      url: hook.url,
      eventTypes: ['order.created'],
      description: 'spoof \u202Eyap',
      retryPolicy: { maximumAttempts: 1 },
    });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    const published = await stack.api('POST', `/v1/tenants/${a.id}/events`, { type: 'order.created', data: {} });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    const eventId = published.body.id as string;
    for (let i = 0; i < 100; i++) {
      const d = await stack.api('GET', `/v1/tenants/${a.id}/deliveries/${eventId}`);
      if (d.status === 200 && d.body.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 300));
    }
    const page = await newPage(1280);
    await signIn(page, a.key);
    await page.getByText('spoof ⟨U+202E⟩yap').waitFor();
    await page.evaluate(`location.hash = '#/deliveries/${eventId}'`);
    const attempts = page.getByRole('table', { name: `Attempts to ${ep.body.id as string}` });
    await attempts.getByText('ok ⟨U+202E⟩gnp.exe').waitFor();
    assert.ok(!String(await page.evaluate('document.body.textContent')).includes('\u202E'), 'no raw U+202E');
    // Isolated from the text around it (<bdi> or unicode-bidi: isolate).
    const isolated = await page.evaluate(
      `[...document.querySelectorAll('main *')].some((e) => e.textContent === 'ok ⟨U+202E⟩gnp.exe' && getComputedStyle(e).unicodeBidi === 'isolate')`,
    );
    assert.ok(isolated, 'the receiver answer is isolated');
    await page.context().close();
  });

  it('loaded every asset, with nothing blocked by the CSP', () => {
    assert.deepEqual(pageProblems, []);
  });
});

mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
