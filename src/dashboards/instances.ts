import { datasourceVariable, labelVariable } from './panels.ts';
import { matching } from './promql.ts';

/**
 * The scope of a dashboard over the replicas of one rtcmon role: `$datasource` and `$<name>`, a
 * multi-select over the instances that report `metric`. `matcher` selects the chosen instances, and
 * `rate`/`quantile` are bound to it.
 */
export function instances(name: string, label: string, metric: string) {
  const matcher = `instance=~"$${name}"`;
  return {
    matcher,
    variables: () => [datasourceVariable(), labelVariable(name, label, `label_values(${metric}, instance)`)],
    ...matching(matcher),
  };
}
