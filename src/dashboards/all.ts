import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { fleetOverview } from './fleet-overview.ts';

/** Every shipped dashboard and the file (under dashboards/) it is committed as. */
export const DASHBOARDS: readonly { readonly file: string; readonly build: () => Dashboard }[] = [
  { file: 'fleet-overview.json', build: fleetOverview },
];

/** The committed form: two-space JSON with a final newline. */
export function render(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
