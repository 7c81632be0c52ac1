/**
 * Threshold ladders for panels: the colors a value takes from each level up, named by which way is bad
 * (`higherIsWorse({ orange: 15, red: 60 })`) rather than spelled out as a color array per panel.
 */

/** A color for values at or above `from` (the first step has from = null: minus infinity). */
export type Step = readonly [color: 'green' | 'orange' | 'red' | 'blue' | 'text', from: number | null];

/** One neutral color: a count or a rate with no good or bad level. */
export const COUNT: readonly Step[] = [['blue', null]];

/** Higher is worse: green, then orange from `orange` and red from `red` (each only when given). */
export function higherIsWorse(levels: { orange?: number; red?: number }): readonly Step[] {
  return ladder('green', [
    ['orange', levels.orange],
    ['red', levels.red],
  ]);
}

/** Higher is better: red, then orange from `orange` and green from `green` (each only when given). */
export function higherIsBetter(levels: { orange?: number; green?: number }): readonly Step[] {
  return ladder('red', [
    ['orange', levels.orange],
    ['green', levels.green],
  ]);
}

function ladder(base: Step[0], above: readonly (readonly [Step[0], number | undefined])[]): Step[] {
  const steps: Step[] = [[base, null]];
  for (const [color, from] of above) if (from !== undefined) steps.push([color, from]);
  return steps;
}
