import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../lib/logger.ts';
import { dashboardFiles } from './assets.ts';
import { notFound } from './errors.ts';

/** One dashboard as the list shows it. */
export interface DashboardEntry {
  readonly uid: string;
  readonly title: string;
  readonly file: string;
  readonly tags: readonly string[];
}

interface Loaded {
  readonly entry: DashboardEntry;
  /** The file's text, sent to the browser as is: the console keeps no copy of the queries. */
  readonly json: string;
}

/** A Grafana dashboard in a file: the model itself, or wrapped as the HTTP API writes it (`{dashboard}`). */
function modelOf(doc: unknown): Record<string, unknown> | undefined {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const o = doc as Record<string, unknown>;
  if (Array.isArray(o.panels)) return o;
  return modelOf(o.dashboard);
}

/**
 * Reads the dashboards folder at every call (files are small; an edited dashboard shows on reload).
 * Files that are not Grafana dashboards are skipped with a warning, never served half-parsed.
 */
export function createDashboards(dir: string, logger: Logger) {
  const load = (): Loaded[] => {
    const out: Loaded[] = [];
    const seen = new Set<string>();
    for (const file of dashboardFiles(dir)) {
      let text: string;
      let model: Record<string, unknown> | undefined;
      try {
        text = readFileSync(join(dir, file), 'utf8');
        model = modelOf(JSON.parse(text));
      } catch (err) {
        logger.warn({ file, err: (err as Error).message }, 'dashboard file skipped: not valid JSON');
        continue;
      }
      if (!model) {
        logger.debug({ file }, 'not a dashboard (no panels): skipped');
        continue;
      }
      const uid = typeof model.uid === 'string' && model.uid ? model.uid : file.replace(/\.json$/, '');
      if (seen.has(uid)) {
        logger.warn({ file, uid }, 'dashboard skipped: its uid is taken by another file');
        continue;
      }
      seen.add(uid);
      out.push({
        entry: {
          uid,
          title: typeof model.title === 'string' ? model.title : uid,
          file,
          tags: Array.isArray(model.tags) ? model.tags.filter((t): t is string => typeof t === 'string') : [],
        },
        json: JSON.stringify(model),
      });
    }
    return out;
  };
  return {
    dir,
    list: (): DashboardEntry[] => load().map((d) => d.entry),
    get(uid: string): string {
      const d = load().find((x) => x.entry.uid === uid);
      if (!d) throw notFound(`no dashboard with uid ${JSON.stringify(uid)} in ${dir}`);
      return d.json;
    },
  };
}

export type Dashboards = ReturnType<typeof createDashboards>;
