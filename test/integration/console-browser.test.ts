import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { silentLogger } from '../../src/lib/logger.ts';
import { PARTS } from '../../src/stack/main.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { createStack, type Stack } from '../../src/stack/start.ts';
import { drewData, launchChromium, type PanelDraw, readPanels } from './console-browser-helpers.ts';
import { until } from './dispatcher-helpers.ts';

/**
 * `rtcmon console` in real headless Chromium against the real stack (`rtcmon stack`: ClickHouse, adapter,
 * node_exporter, exporter with the demo fleet, Prometheus, dispatcher with demo clients, console), as
 * `npm start` runs it. Screenshots of every page go to the artifacts folder printed at the start.
 */
const ARTIFACTS = resolve('.run', `console-browser-${new Date().toISOString().replace(/[:.]/g, '-')}`);

interface Running {
  stack: Stack;
  console: string;
  dispatcher: string;
  token: string;
}

/** The whole system as `rtcmon stack` (npm start) starts it, every part on a free port. */
async function startStack(runDir: string): Promise<Running> {
  const stack = createStack({
    runDir,
    logger: silentLogger,
    scrapeInterval: '5s',
    prometheusPort: 0,
    parts: PARTS,
    ports: 'free',
  });
  await stack.start();
  const ep: Record<string, string> = Object.assign({}, ...stack.started.map((s) => s.part.endpoints));
  const token = /drain token ([0-9a-f]+)/.exec(ep.dispatcher ?? '')?.[1] ?? '';
  const r = {
    stack,
    console: (ep.console ?? '').replace(/\/$/, ''),
    dispatcher: new URL((ep.dispatcher ?? '').split(' ')[0] ?? '').origin,
    token,
  };
  assert.ok(r.console && token, `console or drain token missing in ${JSON.stringify(ep)}`);
  return r;
}

const row = (p: PanelDraw) =>
  `${p.state.padEnd(7)} ${p.type.padEnd(10)} series ${String(p.series).padStart(3)}  pixels ${String(p.colouredPixels).padStart(6)}  rows ${String(p.rows).padStart(3)}  ${p.title}`;

describe('rtcmon console in headless Chromium against the real stack', () => {
  let dir: string;
  let stack: Running | undefined;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  let dashboards: { uid: string; title: string }[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    process.stdout.write(`# console screenshots: ${ARTIFACTS}\n`);
    dir = mkdtempSync(join(tmpdir(), 'rtcmon-console-browser-'));
    // The stack's configs and logs stay beside the screenshots (its data is removed at the end).
    stack = await startStack(join(ARTIFACTS, 'stack'));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
    dashboards = (
      (await (await fetch(`${stack.console}/api/dashboards`)).json()) as { dashboards: typeof dashboards }
    ).dashboards;
    // The demo fleet is in the dispatcher's snapshot: the stack has scraped it.
    await until(
      'the demo fleet in the dispatcher',
      async () => {
        const r = (await (await fetch(`${stack!.dispatcher}/api/v1/servers`)).json()) as {
          servers: unknown[];
        };
        return r.servers.length >= 4 ? true : undefined;
      },
      120_000,
      1000,
    );
  });

  after(async () => {
    await browser?.close();
    await stack?.stack.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const data of ['clickhouse', 'prometheus/data'])
      rmSync(join(ARTIFACTS, 'stack', data), { recursive: true, force: true });
  });

  it('draws data in every panel of every shipped dashboard', async () => {
    assert.ok(dashboards.length >= 1, 'the console lists no dashboard');
    const empty: string[] = [];
    for (const d of dashboards) {
      await page.goto(`${stack!.console}/#/d/${encodeURIComponent(d.uid)}?from=now-15m&to=now`);
      let drawn = await readPanels(page);
      // A one-server dashboard shows the first server by default (as Grafana does): choose a simulated one,
      // the demo servers with every signal (Janus reports no histograms of its own).
      for (const sel of await page.locator('.vars select:not([multiple])').all()) {
        const values = await sel
          .locator('option')
          .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
        const sim = values.find((v) => v.startsWith('sim-'));
        if (sim && (await sel.inputValue()) !== sim) {
          await sel.selectOption(sim);
          process.stdout.write(`# ${d.uid}: ${await sel.getAttribute('name')}=${sim}\n`);
          drawn = await readPanels(page, drawn.gen);
        }
      }
      // Rates need two scrapes in their window: right after start-up some panels may still be empty.
      const deadline = Date.now() + 120_000;
      while (!drawn.panels.every(drewData) && Date.now() < deadline) {
        await sleep(5000);
        await page.click('button[title^="Refresh now"]');
        drawn = await readPanels(page, drawn.gen);
      }
      process.stdout.write(`# ${d.title} (${d.uid}): ${drawn.panels.length} panels\n`);
      for (const p of drawn.panels) process.stdout.write(`#   ${row(p)}\n`);
      await page.screenshot({ path: join(ARTIFACTS, `dashboard-${d.uid}.png`), fullPage: true });
      for (const p of drawn.panels.filter((x) => !drewData(x)))
        empty.push(`${d.uid} / ${p.title}: ${p.state} ${p.text.slice(0, 120)}`);
    }
    assert.deepEqual(empty, [], 'panels without data');
  });

  it('changes the data when a variable or the time range changes', async () => {
    // The fleet overview (variables region and server), else the first dashboard.
    const d = dashboards.find((x) => x.uid.includes('fleet-overview')) ?? dashboards[0]!;
    await page.goto(`${stack!.console}/#/d/${encodeURIComponent(d.uid)}?from=now-15m&to=now`);
    const before = await readPanels(page);
    const select = page.locator('.vars select').first();
    const name = await select.getAttribute('name');
    const options = await select
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter((v) => v !== '$__all'));
    assert.ok(name && options.length >= 1, 'the first dashboard has no variable with values');
    await select.selectOption(options[0]!);
    const afterVar = await readPanels(page, before.gen);
    const changedByVar = afterVar.panels.filter((p, i) => p.sig !== before.panels[i]?.sig);
    process.stdout.write(
      `# ${name}=${options[0]}: ${changedByVar.length} of ${afterVar.panels.length} panels changed\n`,
    );
    assert.ok(changedByVar.length > 0, `no panel changed with ${name}=${options[0]}`);
    assert.ok(page.url().includes(`var-${name}=${encodeURIComponent(options[0]!)}`), page.url());
    assert.ok(afterVar.panels.every(drewData), 'a panel lost its data with one variable value');
    await page.screenshot({ path: join(ARTIFACTS, `dashboard-${d.uid}-${name}.png`), fullPage: true });

    // A young stack holds only minutes of data: 15 m and 5 m would show the same points at the same
    // 15 s step. 24 h asks for a coarser step (and reads ClickHouse through remote read), so every chart's
    // points must change.
    await page.selectOption('#range', 'now-24h');
    const afterRange = await readPanels(page, afterVar.gen);
    const charts = afterRange.panels.filter((p) => p.type === 'timeseries' || p.type === 'heatmap');
    const unchanged = charts.filter((p) => p.sig === afterVar.panels.find((q) => q.title === p.title)?.sig);
    process.stdout.write(
      `# range now-24h: ${charts.length - unchanged.length} of ${charts.length} charts changed\n`,
    );
    assert.ok(charts.length > 0);
    assert.deepEqual(
      unchanged.map((p) => p.title),
      [],
      'charts whose data did not change with the range',
    );
    assert.ok(page.url().includes('from=now-24h'));
  });

  it('lists the demo fleet, filters it from the keyboard, and drains and undrains from the UI', async () => {
    const s = stack!;
    const servers = async () =>
      (
        (await (await fetch(`${s.dispatcher}/api/v1/servers`)).json()) as {
          servers: { id: string; drained: boolean; excluded: { reason: string } | null }[];
        }
      ).servers;
    const ids = (await servers()).map((x) => x.id);
    await page.goto(`${s.console}/#/fleet`);
    await page.waitForFunction(
      (n) => Number(document.querySelector('.fleet')?.getAttribute('data-loaded')) >= n,
      ids.length,
    );
    const shown = await page
      .locator('.vt-row:not([hidden])')
      .evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.id));
    process.stdout.write(`# fleet page lists ${shown.length}: ${shown.join(', ')}\n`);
    for (const id of ids) assert.ok(shown.includes(id), `${id} is not on the fleet page`);
    await page.screenshot({ path: join(ARTIFACTS, 'fleet.png') });

    // Keyboard: "/" focuses the filter.
    const target = ids.find((x) => x.startsWith('sim-')) ?? ids[0]!;
    await page.locator('main').focus();
    await page.keyboard.press('/');
    await page.keyboard.type(target);
    await page.waitForFunction(() => document.querySelectorAll('.vt-row:not([hidden])').length === 1);
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');

    // Drain from the UI: the token dialog, then the dispatcher's own list and its answers show it.
    await page.click(`button[aria-label="Drain ${target}"]`);
    await page.fill('dialog input[type=password]', s.token);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`.vt-row[data-id="${target}"][data-state="drained"]`);
    await page.screenshot({ path: join(ARTIFACTS, 'fleet-drained.png') });
    const drained = (await servers()).find((x) => x.id === target);
    assert.equal(drained?.drained, true);
    const answers = [];
    for (let k = 0; k < 12; k++) {
      const r = await fetch(`${s.dispatcher}/api/v1/allocate`, {
        method: 'POST',
        body: JSON.stringify({ room: `console-test-${Date.now()}-${k}` }),
      });
      answers.push(
        (await r.json()) as { server: { id: string } | null; excluded: { id: string; reason: string }[] },
      );
    }
    assert.ok(
      answers.every((a) => a.server?.id !== target),
      `${target} still chosen for a new room`,
    );
    assert.ok(
      answers.every((a) => a.excluded.some((x) => x.id === target && x.reason === 'drained')),
      'the answers do not list the drained server as excluded (drained)',
    );
    // Undrain: the token is kept for the tab, so no dialog this time.
    await page.click(`button[aria-label="Undrain ${target}"]`);
    await page.waitForSelector(`.vt-row[data-id="${target}"]:not([data-state="drained"])`);
    assert.equal((await servers()).find((x) => x.id === target)?.drained, false);
  });

  it('explains an allocation on the why page', async () => {
    await page.goto(`${stack!.console}/#/why`);
    await page.fill('#why-room', `console-why-test-${Date.now()}`);
    await page.click('form button[type=submit]');
    await page.waitForSelector('.why-answer[data-answered]');
    const verdict = await page.locator('.verdict').innerText();
    const candidates = await page.locator('table.candidates tbody tr').count();
    process.stdout.write(`# why: ${verdict} (${candidates} candidates listed)\n`);
    assert.equal(await page.locator('.why-answer').getAttribute('data-answered'), 'ok');
    assert.ok(candidates >= 1);
    await page.screenshot({ path: join(ARTIFACTS, 'why.png'), fullPage: true });
  });

  it('logged no console errors on any page', () => {
    assert.deepEqual(errors, []);
  });

  it('says which upstream is unreachable instead of drawing empty charts', async () => {
    const port = await freePort();
    const closed = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let lone: ManagedProcess | undefined;
    try {
      lone = await startRole({
        role: 'console',
        url,
        logDir: dir,
        name: 'console-unreachable',
        args: [
          `--web.listen-address=127.0.0.1:${port}`,
          `--prometheus.url=http://127.0.0.1:${closed}`,
          `--dispatcher.url=http://127.0.0.1:${closed}`,
          '--log.level=warn',
        ],
      });
      const p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await p.goto(`${url}/#/d/${encodeURIComponent(dashboards[0]!.uid)}`);
      await p.waitForSelector('#banner:not([hidden])');
      await p.waitForFunction(() => document.querySelector('.grid')?.getAttribute('data-gen'));
      const banner = await p.locator('#banner').innerText();
      const states = await p
        .locator('section.panel')
        .evaluateAll((ps) => ps.map((x) => (x as HTMLElement).dataset.state));
      process.stdout.write(`# unreachable banner: ${banner.replace(/\n/g, ' | ')}\n`);
      assert.match(banner, new RegExp(`Prometheus at http://127\\.0\\.0\\.1:${closed} is unreachable`));
      assert.ok(
        states.every((x) => x === 'error'),
        `panel states: ${states.join(',')}`,
      );
      await p.goto(`${url}/#/fleet`);
      await p.waitForFunction(() => /dispatcher at .* is unreachable/.test(document.body.innerText));
      await p.screenshot({ path: join(ARTIFACTS, 'unreachable.png') });
      await p.close();
    } finally {
      await lone?.stop();
    }
  });
});
