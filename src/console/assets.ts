import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reply } from '../lib/http.ts';
import { invalidRequest, notFound } from './errors.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** The package root: the nearest folder above this file with rtcmon's package.json (src/ or a build). */
function packageRoot(): string {
  for (let d = here; ; d = dirname(d)) {
    const p = join(d, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'rtcmon')
      return d;
    if (dirname(d) === d) throw new Error(`rtcmon's package.json not found above ${here}`);
  }
}

/** Where the console's files are: its browser modules, uPlot from node_modules, the shipped dashboards. */
export interface AssetDirs {
  readonly web: string;
  readonly uplot: string;
  readonly dashboards: string;
}

export function assetDirs(dashboardsDir: string): AssetDirs {
  const root = packageRoot();
  // Next to this module (src/console/web), or the source copy when this module was compiled elsewhere.
  const web = [join(here, 'web'), join(root, 'src', 'console', 'web')].find((d) =>
    existsSync(join(d, 'index.html')),
  );
  if (!web) throw new Error(`the console's web files (index.html) are not found under ${here}`);
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot/package.json'));
  return { web, uplot: join(uplot, 'dist'), dashboards: resolve(dashboardsDir || join(root, 'dashboards')) };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * A read-only file server for one folder: only names of plain characters, never outside the folder,
 * only the listed types. Files are read once and kept (they ship with the package and do not change).
 */
export function staticFiles(dir: string, opts: { cache: boolean }) {
  const kept = new Map<string, Reply>();
  return (name: string): Reply => {
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(name) || name.split('/').includes('..'))
      throw invalidRequest(`bad file name ${JSON.stringify(name)}`);
    const hit = kept.get(name);
    if (hit) return hit;
    const path = resolve(dir, name);
    const type = TYPES[extname(path)];
    if (!path.startsWith(dir + sep) || !type || !existsSync(path) || !statSync(path).isFile())
      throw notFound(`no file ${name}`);
    const reply: Reply = {
      status: 200,
      headers: {
        'content-type': type,
        'cache-control': opts.cache ? 'public, max-age=300' : 'no-cache',
        'x-content-type-options': 'nosniff',
      },
      body: readFileSync(path),
    };
    kept.set(name, reply);
    return reply;
  };
}

/** Names of the dashboard files (`*.json`) in a folder, sorted. */
export function dashboardFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
}
