import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's Chromium (PLATFORM.md): never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** Flags headless Chromium needs on these machines (PLATFORM.md). */
export const HEADLESS_FLAGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Headless Chromium with those flags (playwright gives it a fresh temporary profile). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [...HEADLESS_FLAGS],
  });
}

/** What a dashboard page drew: one entry per panel. */
export interface PanelDraw {
  title: string;
  type: string;
  state: string;
  series: number;
  /** Saturated pixels on the panel's canvases (series strokes, heatmap cells); axes and grid are grey. */
  colouredPixels: number;
  /** Visible text of the panel body (stat values, table cells). */
  text: string;
  /** Table body rows / bar gauge bars. */
  rows: number;
  /** Fingerprint of the data the panel got (series, points, time span, sum). */
  sig: string;
}

/** Waits for the dashboard's next settled load (generation > `afterGen`) and reads every panel. */
export async function readPanels(
  page: Page,
  afterGen = 0,
  timeoutMs = 60_000,
): Promise<{ gen: number; panels: PanelDraw[] }> {
  await page.waitForFunction(
    (g) => Number(document.querySelector('.grid')?.getAttribute('data-gen') ?? 0) > g,
    afterGen,
    { timeout: timeoutMs },
  );
  return page.evaluate(() => {
    const panels = Array.from(document.querySelectorAll<HTMLElement>('section.panel')).map((p) => {
      let coloured = 0;
      for (const c of Array.from(p.querySelectorAll('canvas'))) {
        const ctx = c.getContext('2d');
        if (!ctx || !c.width || !c.height) continue;
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
          const r = d[i]!;
          const g = d[i + 1]!;
          const b = d[i + 2]!;
          if (d[i + 3]! > 60 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
        }
      }
      return {
        title: p.querySelector('h3')?.textContent ?? '',
        type: p.dataset.type ?? '',
        state: p.dataset.state ?? '',
        series: Number(p.dataset.series ?? 0),
        colouredPixels: coloured,
        text: (p.querySelector('.body') as HTMLElement | null)?.innerText.trim() ?? '',
        rows: p.querySelectorAll('tbody tr, .bar').length,
        sig: p.dataset.sig ?? '',
      };
    });
    return { gen: Number(document.querySelector('.grid')?.getAttribute('data-gen') ?? 0), panels };
  });
}

/** True when a panel shows data the way its type draws it (not an empty canvas, not "No data"). */
export function drewData(p: PanelDraw): boolean {
  if (p.state !== 'drawn' || p.series <= 0) return false;
  if (p.type === 'stat' || p.type === 'gauge' || p.type === 'singlestat') return /\d/.test(p.text);
  if (p.type === 'table' || p.type === 'bargauge' || p.type === 'piechart') return p.rows > 0;
  if (p.type === 'text') return true;
  return p.colouredPixels > 20;
}
