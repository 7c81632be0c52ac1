/**
 * bench/console: how fast `rtcmon console` draws, beside the floor, in the same run.
 *
 * 1. Fleet overview (dashboards/fleet-overview.json) with a simulated fleet of 100 and 1,000 servers scraped
 *    by a real Prometheus: time from navigation until every panel has drawn (headless Chromium), beside
 *    - the floor: Prometheus' HTTP API answering the very queries the page sent (variable queries first, in
 *      order, then every panel query at once), answers read and parsed;
 *    - Debian's Prometheus classic graph page (/classic/graph) drawing the same panel queries (same
 *      expressions, same steps) in the same browser.
 *    Each side is checked: every console panel drew data, every floor answer is a success with series, and
 *    every classic graph finished without an error.
 * 2. Frame time while scrolling the fleet page over 10,000 servers (a real dispatcher process over a
 *    stand-in Prometheus API, as bench/dispatch does), beside a plain table of the same 10,000 rows.
 *
 *   node --import tsx bench/console/main.ts [--runs=5] [--warmup=75s]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../../src/lib/config.ts';
import { type NodeExporter, startNodeExporter } from '../../src/stack/servers/node-exporter.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { drewData, launchChromium, readPanels } from '../../test/integration/console-browser-helpers.ts';
import { startFakePrometheus } from '../dispatch/fake-prometheus.ts';

const arg = (name: string, def: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const RUNS = Number(arg('runs', '5'));
const WARMUP_MS = parseDuration(arg('warmup', '75s'));
const FLEETS = [100, 1000];
const SCRAPE = '5s';
const RANGE = 'now-15m';
const DASHBOARD = 'rtcmon-fleet-overview';
const VIEWPORT = { width: 1600, height: 1000 };
const SCROLL_SERVERS = 10_000;
const SCROLL_FRAMES = 300;
const SCROLL_PX_PER_FRAME = 90;

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const ms = (x: number) => `${x.toFixed(0)} ms`;

console.log(
  `bench/console: runs ${RUNS} per side, fleets ${FLEETS.join(' and ')} simulated servers, scrape ${SCRAPE}, warm-up ${WARMUP_MS / 1000} s, range ${RANGE}, viewport ${VIEWPORT.width}x${VIEWPORT.height}, Chromium headless; scroll: ${SCROLL_SERVERS} servers, ${SCROLL_FRAMES} frames of ${SCROLL_PX_PER_FRAME} px`,
);
console.log(`load average at start: ${load()}`);

const dir = mkdtempSync(join(tmpdir(), 'rtcmon-bench-console-'));
const browser = await launchChromium();
const started: { stop(): Promise<void> }[] = [];
const stopAll = async () => {
  for (const s of started.reverse()) await s.stop().catch(() => {});
  started.length = 0;
};

async function startConsole(
  promUrl: string,
  dispatcherUrl: string,
): Promise<{ url: string; proc: ManagedProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startRole({
    role: 'console',
    url,
    logDir: dir,
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      `--prometheus.url=${promUrl}`,
      `--prometheus.scrape-interval=${SCRAPE}`,
      `--dispatcher.url=${dispatcherUrl}`,
      '--log.level=warn',
    ],
  });
  return { url, proc };
}

try {
  // --- 2. the 10,000-server fleet page ---------------------------------------------------------------------
  {
    const fake = await startFakePrometheus(SCROLL_SERVERS);
    started.push({ stop: () => fake.close() });
    const dport = await freePort();
    const dispatcherUrl = `http://127.0.0.1:${dport}`;
    const dispatcher = await startRole({
      role: 'dispatcher',
      url: dispatcherUrl,
      logDir: dir,
      // A 10,000-server refresh on a loaded machine can take longer than the default 5 s timeout.
      args: [
        `--web.listen-address=127.0.0.1:${dport}`,
        `--prometheus.url=${fake.url}`,
        '--prometheus.timeout=60s',
        '--snapshot.interval=60s',
        '--log.level=warn',
      ],
      readyTimeoutMs: 180_000,
    });
    started.push(dispatcher);
    const c = await startConsole(fake.url, dispatcherUrl);
    started.push(c.proc);
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(`${c.url}/#/fleet?refresh=`);
    await page.waitForFunction(
      (n) => Number(document.querySelector('.fleet')?.getAttribute('data-loaded')) >= n,
      SCROLL_SERVERS,
      { timeout: 120_000 },
    );
    // tsx names the functions it compiles with a __name helper the page does not have.
    const scroll = async (sel: string) => {
      await page.evaluate('window.__name = (f) => f');
      return page.evaluate(
        ({ sel, frames, px }) =>
          new Promise<{ deltas: number[]; rows: number; end: number }>((done) => {
            const el = document.querySelector(sel) as HTMLElement;
            const deltas: number[] = [];
            let last = performance.now();
            let k = 0;
            const step = () => {
              const now = performance.now();
              if (k > 0) deltas.push(now - last);
              last = now;
              if (k++ >= frames) {
                done({ deltas, rows: el.querySelectorAll('[role=row], tr').length, end: el.scrollTop });
                return;
              }
              el.scrollTop += px;
              requestAnimationFrame(step);
            };
            requestAnimationFrame(step);
          }),
        { sel, frames: SCROLL_FRAMES, px: SCROLL_PX_PER_FRAME },
      );
    };
    const consoleRows = await page.locator('.vt-row:not([hidden])').count();
    const mine = await scroll('.vt');
    // The peer: the same 10,000 rows (the same dispatcher answer) in one plain table, scrolled the same way.
    await page.goto(`${c.url}/-/healthy`);
    await page.evaluate(async (u) => {
      const r = (await (await fetch(u)).json()) as {
        servers: {
          id: string;
          region: string;
          zone: string;
          state: string;
          participants: number;
          capacity: number;
          load: number;
          score: number;
          notes: string[];
          dataAgeMs: number;
        }[];
      };
      const box = document.createElement('div');
      box.id = 'plain';
      box.style.cssText = 'height: 850px; overflow-y: auto; font: 14px system-ui';
      const rows = r.servers
        .map(
          (s) =>
            `<tr><td>${s.id}</td><td>${s.region}/${s.zone}</td><td>${s.state}</td><td>${s.participants} / ${s.capacity}</td><td>${(s.load * 100).toFixed(0)}%</td><td>${s.score.toFixed(3)}</td><td>${s.notes[0] ?? ''}</td><td>${s.dataAgeMs}</td><td><button>Drain</button></td></tr>`,
        )
        .join('');
      box.innerHTML = `<table><tbody>${rows}</tbody></table>`;
      document.body.replaceChildren(box);
    }, `${c.url}/api/dispatcher/servers`);
    const plain = await scroll('#plain');
    const stats = (d: number[]) => {
      const s = [...d].sort((a, b) => a - b);
      return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, p95 ${s[Math.floor(s.length * 0.95)]!.toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms, frames over 20 ms: ${s.filter((x) => x > 20).length}/${s.length}`;
    };
    console.log(
      `\nfleet page, ${SCROLL_SERVERS} servers listed, scrolled ${SCROLL_FRAMES} frames (load average ${load()}):`,
    );
    console.log(
      `  rtcmon console (virtualised, ${consoleRows} row elements, scrolled to ${mine.end} px): frame time ${stats(mine.deltas)}`,
    );
    console.log(
      `  plain table of the same rows (${plain.rows} row elements, scrolled to ${plain.end} px): frame time ${stats(plain.deltas)}`,
    );
    await page.close();
    await stopAll();
  }

  // --- 1. the fleet overview -----------------------------------------------------------------------------
  const nodeExporter: NodeExporter = await startNodeExporter({ logDir: dir });
  started.push(nodeExporter);
  for (const n of FLEETS) {
    const eport = await freePort();
    const exporter = await startRole({
      role: 'exporter',
      url: `http://127.0.0.1:${eport}`,
      logDir: dir,
      name: `exporter-${n}`,
      args: [
        `--web.listen-address=127.0.0.1:${eport}`,
        `--sim.servers=${n}`,
        '--sim.capacity=200',
        '--sim.churn-period=60s',
        '--sim.regions=eu-west,us-east',
        '--sim.zones=a,b',
        '--log.level=warn',
      ],
    });
    const prom: Prometheus = await startPrometheus({
      dir: join(dir, `prometheus-${n}`),
      logDir: dir,
      scrapeInterval: SCRAPE,
      jobs: [
        { job: 'rtcmon-exporter', targets: [`127.0.0.1:${eport}`] },
        { job: 'node', targets: [nodeExporter.address], labels: { host: hostname() } },
      ],
    });
    const c = await startConsole(prom.url, `http://127.0.0.1:${await freePort()}`);
    started.push(exporter, prom, c.proc);
    await sleep(WARMUP_MS);

    const consoleMs: number[] = [];
    const floorMs: number[] = [];
    const classicMs: number[] = [];
    const notes: string[] = [];
    for (let r = 0; r < RUNS; r++) {
      // The console, from navigation to every panel drawn.
      const page = await browser.newPage({ viewport: VIEWPORT });
      // What the page asked Prometheus: variable queries (GET) and the panels' batches (POST).
      const sent: string[] = [];
      page.on('request', (q) => {
        const u = new URL(q.url());
        if (u.pathname === '/api/prom/batch')
          for (const x of (
            JSON.parse(q.postData() ?? '{}') as {
              queries: { kind: string; params: Record<string, string> }[];
            }
          ).queries)
            sent.push(`${u.origin}/api/prom/${x.kind}?${new URLSearchParams(x.params)}`);
        else if (u.pathname.startsWith('/api/prom/')) sent.push(q.url());
      });
      await page.goto(`${c.url}/#/d/${DASHBOARD}?from=${RANGE}&to=now`);
      const drawn = await readPanels(page, 0, 120_000);
      const settled = await page.evaluate(
        () => (window as unknown as { __rtcmon: { last: { settledMs: number } } }).__rtcmon.last.settledMs,
      );
      const withData = drawn.panels.filter(drewData).length;
      consoleMs.push(settled);
      await page.close();

      // The floor: Prometheus answering the same queries, variables first (in order), then the panels at once.
      const toProm = (u: string) => {
        const url = new URL(u);
        return `${prom.url}/api/v1/${url.pathname.replace('/api/prom/', '')}${url.search}`;
      };
      const isVar = (u: string) => /\/api\/prom\/(series|label\/)/.test(u);
      const vars = sent.filter(isVar).map(toProm);
      const panels = sent.filter((u) => !isVar(u)).map(toProm);
      const t0 = performance.now();
      let answered = 0;
      for (const u of vars) {
        const j = (await (await fetch(u)).json()) as { status: string; data: unknown[] };
        if (j.status === 'success' && j.data.length > 0) answered++;
      }
      const got = await Promise.all(
        panels.map(
          async (u) => (await (await fetch(u)).json()) as { status: string; data: { result: unknown[] } },
        ),
      );
      floorMs.push(performance.now() - t0);
      answered += got.filter((j) => j.status === 'success' && j.data.result.length > 0).length;

      // Prometheus' own classic graph page drawing the same panel queries (same expressions and steps).
      const g = new URLSearchParams();
      panels.forEach((u, i) => {
        const q = new URL(u).searchParams;
        g.set(`g${i}.expr`, q.get('query') ?? '');
        const range = u.includes('/query_range');
        g.set(`g${i}.tab`, range ? '0' : '1');
        if (range) {
          g.set(`g${i}.range_input`, RANGE.replace('now-', ''));
          g.set(`g${i}.step_input`, q.get('step') ?? '');
        }
      });
      const cp = await browser.newPage({ viewport: VIEWPORT });
      await cp.goto(`${prom.url}/classic/graph?${g}`);
      // The classic page is a peer, not the subject: when it never shows completion, say so and go on.
      let cv: { t: number; failed: number; wrappers: number } = { t: Number.NaN, failed: 0, wrappers: 0 };
      try {
        const classic = await cp.waitForFunction(
          (count) => {
            const wrappers = Array.from(
              document.querySelectorAll('.graph_wrapper, [id^=graph_wrapper]'),
            ) as HTMLElement[];
            if (wrappers.length < count) return false;
            let done = 0;
            let failed = 0;
            for (const w of wrappers) {
              const spinning = Array.from(w.querySelectorAll('.spinner')).some(
                (s) => (s as HTMLElement).offsetParent !== null,
              );
              const err = Array.from(w.querySelectorAll('.error')).some(
                (s) => (s as HTMLElement).offsetParent !== null && s.textContent,
              );
              const graphDrawn = w.querySelectorAll('.graph svg path').length > 0;
              const tableDrawn = w.querySelectorAll('.console tbody tr, .console tr').length > 0;
              if (err) failed++;
              if (!spinning && (graphDrawn || tableDrawn || err)) done++;
            }
            return done >= count ? { t: performance.now(), failed, wrappers: wrappers.length } : false;
          },
          panels.length,
          { timeout: 120_000, polling: 'raf' },
        );
        cv = (await classic.jsonValue()) as { t: number; failed: number; wrappers: number };
      } catch (err) {
        notes.push(
          `run ${r + 1}: the classic graph page did not show completion (${(err as Error).message.split('\n')[0]})`,
        );
      }
      classicMs.push(cv.t);
      await cp.close();
      notes.push(
        `run ${r + 1}: console ${ms(settled)} (${withData}/${drawn.panels.length} panels drew data), floor ${ms(floorMs.at(-1)!)} (${vars.length} variable + ${panels.length} panel queries, ${answered}/${vars.length + panels.length} with data), classic ${ms(cv.t)} (${cv.wrappers} graphs, ${cv.failed} errors)`,
      );
    }
    const cm = median(consoleMs);
    const fm = median(floorMs);
    const km = median(classicMs);
    console.log(`\nfleet overview, ${n} servers (load average ${load()}):`);
    for (const l of notes) console.log(`  ${l}`);
    console.log(
      `  median of ${RUNS}: rtcmon console ${ms(cm)} · floor (Prometheus HTTP API, same queries) ${ms(fm)} · Prometheus classic graph page ${ms(km)}`,
    );
    console.log(
      `  console / floor = ${(cm / fm).toFixed(2)}× (target ≤ 1.5×); console / classic page = ${(cm / km).toFixed(2)}×`,
    );
    for (const s of [c.proc, prom, exporter]) {
      await s.stop();
      started.splice(started.indexOf(s), 1);
    }
  }
} finally {
  await browser.close();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
