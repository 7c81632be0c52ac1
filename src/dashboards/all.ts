import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { dispatcherDashboard } from './dispatcher.ts';
import { fleetOverview } from './fleet-overview.ts';
import { mediaQuality } from './media-quality.ts';
import { serverDetail } from './server-detail.ts';
import { storagePipeline } from './storage-pipeline.ts';

/** Every shipped dashboard and the file (under dashboards/) it is committed as. */
export const DASHBOARDS: readonly { readonly file: string; readonly build: () => Dashboard }[] = [
  { file: 'fleet-overview.json', build: fleetOverview },
  { file: 'server-detail.json', build: serverDetail },
  { file: 'media-quality.json', build: mediaQuality },
  { file: 'dispatcher.json', build: dispatcherDashboard },
  { file: 'storage-pipeline.json', build: storagePipeline },
];

/** The committed form: two-space JSON with a final newline. */
export function render(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
