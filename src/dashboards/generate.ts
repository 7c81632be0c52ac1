/**
 * `npm run dashboards`: writes every dashboard to dashboards/<file> (the committed JSON that Grafana
 * provisioning and `rtcmon console` read). `--check` writes nothing and exits 1 when a file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DASHBOARDS, render } from './all.ts';

export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboards/', import.meta.url));

/** Files whose committed content differs from what the builders produce now. */
export function staleFiles(): string[] {
  return DASHBOARDS.filter(({ file, build }) => {
    let committed = '';
    try {
      committed = readFileSync(DASHBOARD_DIR + file, 'utf8');
    } catch {}
    return committed !== render(build());
  }).map((d) => d.file);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length) {
      process.stderr.write(`stale dashboards (run npm run dashboards): ${stale.join(', ')}\n`);
      process.exit(1);
    }
  } else {
    for (const { file, build } of DASHBOARDS) {
      writeFileSync(DASHBOARD_DIR + file, render(build()));
      process.stdout.write(`wrote dashboards/${file}\n`);
    }
  }
}
